#!/usr/bin/env bash
# Installs this build into a scratch prefix, builds examples/hot_keys_view against it as an
# outside project would (find_package(evring), with Boost, nlohmann_json and zstd hidden: a
# plugin needs none of them), then runs the installed writer and reader with that view and
# checks its answers (example_client_test.sh builds a program of the runtime component).
# Usage: example_view_test.sh BUILD_DIR|PREFIX EXAMPLE_DIR (PREFIX: an installed evring, e.g. an
# extracted package's usr/, instead of installing a build)
set -euo pipefail
build_dir=$1
example_dir=$2
instance="t-example-view-$$"
# shellcheck source=example_support.sh
source "$(dirname "$0")/example_support.sh"
use_evring "$build_dir"

build_example "$example_dir" hot_keys_view

view=$scratch/hot_keys_view/libhot_keys_view.so
[[ -f $view ]] || fail "the example built no $view"

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
