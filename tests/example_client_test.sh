#!/usr/bin/env bash
# Builds examples/kv_client against an installed evring as an outside project would
# (find_package(evring COMPONENTS runtime)), runs it against the installed writer and a kv
# reader, and checks that asking for the runtime component without one of the libraries
# its link line names says which.
# Usage: example_client_test.sh BUILD_DIR|PREFIX EXAMPLE_DIR (PREFIX: an installed evring,
# e.g. an extracted package's usr/, instead of installing a build)
set -euo pipefail
build_dir=$1
example_dir=$2
instance="t-example-client-$$"
# shellcheck source=example_support.sh
source "$(dirname "$0")/example_support.sh"
use_evring "$build_dir"

mkdir -p "$scratch/wants_runtime"
cat >"$scratch/wants_runtime/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(wants_runtime LANGUAGES CXX)
find_package(evring 0.1 REQUIRED COMPONENTS runtime)
CMAKE
for dependency in Boost nlohmann_json zstd; do
  out=$scratch/wants_runtime-$dependency.out
  if cmake -S "$scratch/wants_runtime" -B "$scratch/wants_runtime/build-$dependency" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_DISABLE_FIND_PACKAGE_$dependency=ON >"$out" 2>&1; then
    fail "find_package(evring COMPONENTS runtime) passed with $dependency hidden"
  fi
  grep -q "$dependency" "$out" ||
    fail "find_package(evring COMPONENTS runtime) without $dependency said: $(cat "$out")"
done

build_example "$example_dir" kv_client runtime
client=$scratch/kv_client/kv_client
[[ -x $client ]] || fail "the example built no $client"

status=0
"$client" "$instance" kv a 1 >"$scratch/no-writer.out" 2>&1 || status=$?
[[ $status == 1 ]] || fail "kv_client without a writer exited $status, expected 1"
grep -q "$instance" "$scratch/no-writer.out" ||
  fail "kv_client without a writer said: $(cat "$scratch/no-writer.out")"

"$bin/evring-writer" --name "$instance" --domain kv >"$scratch/writer.log" 2>&1 &
pids+=($!)
"$bin/evring-reader" --name "$instance" --view kv --id kv >"$scratch/reader.log" 2>&1 &
pids+=($!)
retry 20 "$client" "$instance" kv a 1 || fail "kv_client never got an answer"

# Each answer is as of its own put's seq, so it holds that put's value.
for value in first second third; do
  out=$("$client" "$instance" kv greeting "$value") || fail "kv_client put greeting $value"
  [[ $out =~ ^seq\ ([0-9]+):\ (.*)$ ]] || fail "kv_client printed: $out"
  seq=${BASH_REMATCH[1]}
  [[ ${BASH_REMATCH[2]} == *"\"$value\""* ]] || fail "after put greeting $value: $out"
  [[ $seq -gt ${last_seq:-0} ]] || fail "seq $seq after ${last_seq:-0}"
  last_seq=$seq
done
from_cli=$("$bin/evring" query --name "$instance" --reader kv --after "$last_seq" get greeting)
[[ $from_cli == *'"third"'* ]] || fail "evring query after kv_client said: $from_cli"
echo "example client: built from the installed package, its writes read back: $out"
