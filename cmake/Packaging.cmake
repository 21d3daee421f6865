# The Debian package (`make package`, or `cmake --build build --target package`): what
# `cmake --install` puts in place, plus man pages, the docs and a copyright file, under
# /usr. The programs link libevring statically and load nothing of this tree at run time,
# so they need no RUNPATH and run from wherever the package is installed or extracted
# (`evring demo` finds evring-writer and evring-reader beside itself). Included last from
# the top-level CMakeLists.txt, once every program target exists.

# The programs in the package (the package tests check each of them).
set(EVRING_PACKAGED_PROGRAMS evring evring-writer evring-reader)
if(TARGET evring-bench)
  list(APPEND EVRING_PACKAGED_PROGRAMS evring-bench)
  install(TARGETS evring-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Man pages from each program's --help and --version (help2man; scripts/install-deps.sh
# installs it). Not in the sanitizer and fuzz builds: their programs do not all start
# outside the tests' setup (TSan needs ASLR off), and those builds are never packaged.
find_program(EVRING_HELP2MAN help2man)
if(EVRING_HELP2MAN AND NOT EVRING_SANITIZE AND NOT EVRING_FUZZ)
  set(evring_man_descriptions
    "evring=the evring command: submit commands, query views, watch, stat, tail, demo and more"
    "evring-writer=the writer of an evring instance: commands in, events journaled and published"
    "evring-reader=a reader of an evring instance: one query view built from its events"
    "evring-bench=latency and throughput of evring's ring, writer and views, beside its peers")
  set(evring_man_pages)
  foreach(entry IN LISTS evring_man_descriptions)
    string(REGEX MATCH "^[^=]+" program "${entry}")
    string(REGEX REPLACE "^[^=]+=" "" description "${entry}")
    if(NOT program IN_LIST EVRING_PACKAGED_PROGRAMS)
      continue()  # evring-bench without EVRING_BUILD_BENCH
    endif()
    set(page ${PROJECT_BINARY_DIR}/man/${program}.1.gz)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${PROJECT_SOURCE_DIR}/cmake/man_page.sh $<TARGET_FILE:${program}> ${description}
        ${page}
      DEPENDS ${program} ${PROJECT_SOURCE_DIR}/cmake/man_page.sh
      COMMENT "Writing the man page of ${program}"
      VERBATIM)
    list(APPEND evring_man_pages ${page})
  endforeach()
  add_custom_target(evring_man_pages ALL DEPENDS ${evring_man_pages})
  install(FILES ${evring_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
elseif(NOT EVRING_HELP2MAN)
  message(STATUS "man pages: off (no help2man; scripts/install-deps.sh installs it)")
endif()

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
# The Grafana dashboard of docs/metrics.md, for importing.
install(FILES contrib/grafana/evring-dashboard.json
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/contrib/grafana)
install(FILES cmake/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(EVRING_PACKAGE_MAINTAINER
  "evring maintainers <maintainers@users.noreply.r-seed-752382d3.example>"
  CACHE STRING "The Maintainer field of the Debian package")

# Debian wants a changelog in every package's doc folder; the project's history is its git
# log, so this one names the version alone. Dated from SOURCE_DATE_EPOCH when it is set.
string(TIMESTAMP evring_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${PROJECT_BINARY_DIR}/changelog
  "evring (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
  "  * evring ${PROJECT_VERSION}, packaged with CPack (`make package`).\n\n"
  " -- ${EVRING_PACKAGE_MAINTAINER}  ${evring_changelog_date}\n")
execute_process(COMMAND gzip -9 -n -c ${PROJECT_BINARY_DIR}/changelog
  OUTPUT_FILE ${PROJECT_BINARY_DIR}/changelog.gz COMMAND_ERROR_IS_FATAL ANY)
install(FILES ${PROJECT_BINARY_DIR}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME evring)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "${EVRING_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "CQRS runtime over a lock-free shared-memory broadcast ring")
# The extended description, which CPack puts under the summary and indents.
list(JOIN EVRING_PACKAGED_PROGRAMS ", " evring_program_names)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "One writer process applies commands and publishes events into a lock-free
shared-memory ring and a journal; reader processes build query views from
them through plugins. This package holds the headers, the static library and
the CMake package for domain and view plugins built outside the tree, and the
programs ${evring_program_names}.")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends from the programs' shared libraries (dpkg-shlibdeps, in dpkg-dev, which
# build-essential brings), e.g. libnats3.0, libfmt9, libc6.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Nothing is dlopen'ed but the user's own plugins; what the programs start when asked:
# nats-server (`evring demo --remote`), gnuplot (`evring-bench --plot`), iox-roudi (the
# iceoryx peer of `evring-bench compare`). A compiler, CMake and the runtime component's
# dependencies: plugins and clients built against the package (find_package(evring)).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nats-server, gnuplot-nox, iceoryx, cmake (>= 3.22), \
g++ (>= 4:12), libboost-dev (>= 1.74), nlohmann-json3-dev, libzstd-dev")
set(CPACK_STRIP_FILES ON)
include(CPack)
