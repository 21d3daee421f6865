# What the example and package tests share (sourced, not run): a scratch folder cleaned up
# at exit with the processes started, failing with the logs, retrying with a deadline, and
# an installed evring to build an example against as an outside project would: this build
# installed into a scratch prefix, or a prefix already installed (an extracted package's
# usr/). Sets scratch and pids; use_evring sets prefix and bin, unpack_package deb and root.
scratch=$(mktemp -d /tmp/evring-example-XXXXXX)
pids=()

cleanup() {
  local status=$?
  # SIGTERM: the writer and reader stop cleanly and remove their segments and sockets.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf -- "$scratch"
  exit "$status"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*" >&2
  for log in "$scratch"/*.log; do
    [[ -f $log ]] || continue
    echo "--- $log" >&2
    cat "$log" >&2
  done
  exit 1
}

# retry SECONDS COMMAND...: until it exits 0.
retry() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# use_evring BUILD_DIR|PREFIX: a build folder (it has a CMakeCache.txt) is installed into
# $scratch/prefix; anything else is taken as an installed prefix.
use_evring() {
  if [[ -f $1/CMakeCache.txt ]]; then
    prefix=$scratch/prefix
    cmake --install "$1" --prefix "$prefix" >"$scratch/install.log" || fail "installing $1"
  else
    prefix=$(cd "$1" && pwd)
  fi
  bin=$prefix/bin
  [[ -x $bin/evring-writer ]] || fail "no evring-writer in $bin"
}

# unpack_package PACKAGE_DIR: the one evring_*.deb there, unpacked into $scratch/root as
# dpkg-deb -x does it. Sets deb and root.
unpack_package() {
  local debs=("$1"/evring_*.deb)
  if ((${#debs[@]} != 1)) || [[ ! -f ${debs[0]} ]]; then fail "expected one evring_*.deb in $1"; fi
  deb=${debs[0]}
  root=$scratch/root
  dpkg-deb --extract "$deb" "$root" || fail "dpkg-deb --extract $deb"
}

export XDG_RUNTIME_DIR=$scratch/run XDG_STATE_HOME=$scratch/state
mkdir -p "$XDG_RUNTIME_DIR"

# build_example SOURCE_DIR NAME [runtime]: configures and builds it against the scratch
# prefix, with Boost, nlohmann_json and zstd hidden (a plugin needs none of them) unless
# it is a program of the runtime component; the build folder is $scratch/NAME.
build_example() {
  local hidden=(-DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_zstd=ON)
  [[ ${3:-} == runtime ]] && hidden=()
  cmake -S "$1" -B "$scratch/$2" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    "${hidden[@]}" >"$scratch/$2-configure.log" 2>&1 || fail "configuring $2 ${hidden[*]}"
  cmake --build "$scratch/$2" >"$scratch/$2-build.log" 2>&1 || fail "building $2"
}
