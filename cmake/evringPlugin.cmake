# evring_add_plugin(NAME SOURCES...): a domain or view plugin, loadable with
# `evring-writer --domain` or `evring-reader --view`. A MODULE library, lib<NAME>.so, built
# against the headers only (a plugin links nothing of evring), whose symbols stay hidden
# but for the entry point the EVRING_EXPORT_* macros mark.
function(evring_add_plugin name)
  if(NOT ARGN)
    message(FATAL_ERROR "evring_add_plugin(${name}): give the plugin's source files")
  endif()
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE evring::headers)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
endfunction()
