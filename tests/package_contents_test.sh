#!/usr/bin/env bash
# The Debian package that `make package` builds, as dpkg sees it and unpacked: its control
# fields (the version is the project's; Depends names the package of every shared library
# the programs need), its file list (all under /usr, the programs, headers, library, CMake
# package, man pages and docs), nothing that names the source or build folder, no RUNPATH,
# each program's --version, and man pages that render with each program's flags.
# Usage: package_contents_test.sh PACKAGE_DIR VERSION PROGRAM,... SOURCE_DIR BUILD_DIR
set -euo pipefail
package_dir=$1
version=$2
IFS=, read -r -a programs <<<"$3"
source_dir=$4
build_dir=$5
# shellcheck source=example_support.sh
source "$(dirname "$0")/example_support.sh"

unpack_package "$package_dir"

field() { dpkg-deb --field "$deb" "$1"; }
[[ $(field Package) == evring ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" ]] || fail "Version: $(field Version), the project's is $version"
[[ $(field Architecture) == "$(dpkg --print-architecture)" ]] ||
  fail "Architecture: $(field Architecture)"
for name in Maintainer Section Description; do
  [[ -n $(field "$name") ]] || fail "no $name field"
done

dpkg-deb --contents "$deb" | awk '{print $NF}' >"$scratch/contents"
if grep -v '^\./usr/' "$scratch/contents" | grep -qvx '\./'; then
  fail "files outside /usr: $(grep -v '^\./usr/' "$scratch/contents" | grep -vx '\./')"
fi
expected=("${programs[@]/#/usr/bin/}" "${programs[@]/#/usr/share/man/man1/}"
  usr/include/evring/client.hpp usr/include/evring/view_abi.h usr/lib/libevring_runtime.a
  usr/lib/cmake/evring/evringConfig.cmake usr/lib/cmake/evring/evringPlugin.cmake
  usr/share/doc/evring/copyright usr/share/doc/evring/changelog.gz
  usr/share/doc/evring/README.md usr/share/doc/evring/docs/architecture.md)
for path in "${expected[@]}"; do
  [[ $path == usr/share/man/* ]] && path=$path.1.gz
  grep -qx "\./$path" "$scratch/contents" || fail "the package has no /$path"
done

for folder in "$source_dir" "$build_dir"; do
  if grep -rlF -- "$folder" "$root" >"$scratch/named"; then
    fail "files that name $folder: $(cat "$scratch/named")"
  fi
done

needed=()
for program in "${programs[@]}"; do
  binary=$root/usr/bin/$program
  if readelf --dynamic "$binary" | grep -E 'RPATH|RUNPATH'; then
    fail "$program has a RPATH or RUNPATH: the build's, not the package's"
  fi
  [[ $("$binary" --version) == "$program (evring) $version" ]] ||
    fail "$program --version printed $("$binary" --version)"
  # The libraries it names itself (NEEDED), where the loader finds them (ldd).
  for name in $(readelf --dynamic "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    needed+=("$(ldd "$binary" | awk -v name="$name" '$1 == name {print $3}')")
  done
done

# Every shared library a program names is in a package that Depends names (dpkg-shlibdeps).
depends=$(field Depends)
for library in $(printf '%s\n' "${needed[@]}" | sort -u); do
  [[ $library == /* ]] || fail "a program needs a library the loader cannot find: ${needed[*]}"
  owner=$(dpkg -S "$library" 2>/dev/null || dpkg -S "$(realpath "$library")" 2>/dev/null) ||
    fail "no Debian package owns $library"
  owner=${owner%%:*}
  sed 's/[,|]/\n/g' <<<"$depends" | awk '{print $1}' | grep -qxF -- "$owner" ||
    fail "Depends does not name $owner (for $library): $depends"
done

# Each page renders (man, else groff) with its NAME and the program's own flags; on a
# machine with neither, its roff source must have them (a title line and the flags).
render() {
  if command -v man >/dev/null; then
    MANWIDTH=100 MANPAGER=cat man --local-file "$1" 2>&1
  elif command -v groff >/dev/null; then
    zcat "$1" | groff -man -Tutf8 2>&1
  else
    zcat "$1" | grep -q '^\.TH ' && zcat "$1" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g'
  fi
}
check_page() {
  local page=$root/usr/share/man/man1/$1.1.gz
  shift
  render "$page" >"$scratch/page" || fail "$page does not render: $(cat "$scratch/page")"
  for text in NAME SYNOPSIS OPTIONS --help --version "$@"; do
    grep -qF -- "$text" "$scratch/page" || fail "the man page of $(basename "$page") has no $text"
  done
}
check_page evring COMMANDS "evring cmd" "evring demo" --after
check_page evring-writer --domain --durability
check_page evring-reader --view --from
if [[ " ${programs[*]} " == *" evring-bench "* ]]; then
  check_page evring-bench COMMANDS "evring-bench latency" --samples
fi
echo "package $(basename "$deb"): fields, files, no build paths, Depends, --version, man pages"
