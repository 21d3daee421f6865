#!/usr/bin/env bash
# Installs this build into a scratch prefix, builds examples/hot_keys_view against it as an
# outside project would (find_package(evring)), then runs the installed writer and reader
# with that view and checks its answers. Usage: example_view_test.sh BUILD_DIR EXAMPLE_DIR
set -euo pipefail
build_dir=$1
example_dir=$2
scratch=$(mktemp -d /tmp/evring-example-XXXXXX)
instance="t-example-$$"
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
cmake --install "$build_dir" --prefix "$prefix" >"$scratch/install.log"
cmake -S "$example_dir" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$scratch/configure.log" 2>&1 || fail "configuring the example"
cmake --build "$scratch/build" >"$scratch/build.log" 2>&1 || fail "building the example"
view=$scratch/build/libhot_keys_view.so
[[ -f $view ]] || fail "the example built no $view"

export XDG_RUNTIME_DIR=$scratch/run XDG_STATE_HOME=$scratch/state
mkdir -p "$XDG_RUNTIME_DIR"
bin=$prefix/bin
"$bin/evring-writer" --name "$instance" --domain kv >"$scratch/writer.log" 2>&1 &
pids+=($!)
"$bin/evring" cmd --name "$instance" put a 1 >/dev/null 2>&1 ||
  retry 20 "$bin/evring" cmd --name "$instance" put a 1 || fail "the writer did not start"
"$bin/evring-reader" --name "$instance" --view "$view" --id hot >"$scratch/reader.log" 2>&1 &
pids+=($!)
retry 20 "$bin/evring" query --name "$instance" --reader hot writes a || fail "the reader did not start"

for words in "put a 2" "put b 1" "del a"; do
  "$bin/evring" cmd --name "$instance" $words >"$scratch/cmd.out" || fail "cmd $words"
done
last=$(sed -n 's/^seq=//p' "$scratch/cmd.out")

top=$("$bin/evring" query --name "$instance" --reader hot --after "$last" top 2)
expected="{\"as_of_seq\":$last,\"result\":[{\"key\":\"a\",\"writes\":3},{\"key\":\"b\",\"writes\":1}]}"
[[ $top == "$expected" ]] || fail "top 2 answered $top, expected $expected"

status=0
"$bin/evring" query --name "$instance" --reader hot top zero >"$scratch/bad.out" 2>&1 || status=$?
[[ $status == 2 ]] || fail "a bad query exited $status, expected 2"
grep -q 'not a whole number' "$scratch/bad.out" || fail "a bad query said: $(cat "$scratch/bad.out")"
echo "example view: built from the installed package, loaded, answered $top"
