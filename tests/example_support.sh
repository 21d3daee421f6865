# What the example tests share (sourced, not run): a scratch folder cleaned up at exit with
# the processes started, failing with the logs, retrying with a deadline, and installing
# this build into a scratch prefix to build an example against it as an outside project
# would. Sets scratch, prefix, bin and pids; the caller sets build_dir first.
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
  for log in "$scratch"/*.log; do echo "--- $log" >&2; cat "$log" >&2; done
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

prefix=$scratch/prefix
bin=$prefix/bin
cmake --install "$build_dir" --prefix "$prefix" >"$scratch/install.log"
export XDG_RUNTIME_DIR=$scratch/run XDG_STATE_HOME=$scratch/state
mkdir -p "$XDG_RUNTIME_DIR"

# build_example SOURCE_DIR NAME: configures and builds it against the scratch prefix, with
# Boost and nlohmann_json hidden (a plugin needs neither); the build folder is
# $scratch/NAME.
build_example() {
  cmake -S "$1" -B "$scratch/$2" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON \
    >"$scratch/$2-configure.log" 2>&1 || fail "configuring $2 without Boost and nlohmann_json"
  cmake --build "$scratch/$2" >"$scratch/$2-build.log" 2>&1 || fail "building $2"
}
