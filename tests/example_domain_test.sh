#!/usr/bin/env bash
# Installs this build into a scratch prefix, builds examples/inventory_domain against it as
# an outside project would (find_package(evring) with Boost and nlohmann_json hidden), then
# runs the installed evring-writer with that domain: accepts and rejects through the
# installed `evring cmd`, `evring tail` and the stats view describing its events with the
# domain's own describe() and type names, and tail's hex fallback, with one warning, when
# the library has moved. Usage: example_domain_test.sh BUILD_DIR|PREFIX EXAMPLE_DIR (PREFIX:
# an installed evring, e.g. an extracted package's usr/, instead of installing a build)
set -euo pipefail
build_dir=$1
example_dir=$2
instance="t-example-domain-$$"
# shellcheck source=example_support.sh
source "$(dirname "$0")/example_support.sh"
use_evring "$build_dir"

build_example "$example_dir" inventory_domain
domain=$scratch/inventory_domain/libinventory_domain.so
[[ -f $domain ]] || fail "the example built no $domain"

"$bin/evring-writer" --name "$instance" --domain "$domain" >"$scratch/writer.log" 2>&1 &
pids+=($!)
retry 20 "$bin/evring" cmd --name "$instance" stock apples 5 || fail "the writer did not start"
"$bin/evring" cmd --name "$instance" take apples 2 >"$scratch/cmd.out" || fail "take apples 2"
grep -qx 'seq=2' "$scratch/cmd.out" || fail "take apples 2 answered $(cat "$scratch/cmd.out")"

status=0
"$bin/evring" cmd --name "$instance" take apples 7 >"$scratch/reject.out" 2>&1 || status=$?
[[ $status == 3 ]] || fail "taking more than there is exited $status, expected 3"
expected="rejected: only 3 apples in stock, 7 asked for"
[[ $(cat "$scratch/reject.out") == "$expected" ]] ||
  fail "taking more than there is said $(cat "$scratch/reject.out"), expected $expected"

"$bin/evring" tail --name "$instance" --from 1 --count 2 >"$scratch/tail.out" 2>"$scratch/tail.err" ||
  fail "evring tail: $(cat "$scratch/tail.err")"
expected=$'seq=1 stocked item=apples count=5 level=5\nseq=2 taken item=apples count=2 level=3'
[[ $(cat "$scratch/tail.out") == "$expected" ]] ||
  fail "evring tail printed $(cat "$scratch/tail.out"), expected $expected"
[[ ! -s $scratch/tail.err ]] || fail "evring tail warned: $(cat "$scratch/tail.err")"

"$bin/evring-reader" --name "$instance" --view stats --id stats --from start \
  >"$scratch/reader.log" 2>&1 &
pids+=($!)
retry 20 "$bin/evring" query --name "$instance" --reader stats --after 2 summary ||
  fail "the stats reader did not start"
summary=$("$bin/evring" query --name "$instance" --reader stats --after 2 summary)
[[ $summary == *'"by_type":{"stocked":1,"taken":1}'* ]] ||
  fail "the stats view's by_type does not name the types: $summary"

# The library moved: tail still prints every event, in hex, after one line saying why.
mv "$domain" "$scratch/moved.so"
"$bin/evring" tail --name "$instance" --from 1 --count 2 >"$scratch/hex.out" 2>"$scratch/hex.err" ||
  fail "evring tail without the library: $(cat "$scratch/hex.err")"
grep -q '^seq=1 type=1 bytes=.* hex=' "$scratch/hex.out" ||
  fail "evring tail without the library printed $(cat "$scratch/hex.out")"
[[ $(wc -l <"$scratch/hex.err") == 1 ]] && grep -q "cannot load domain plugin $domain" "$scratch/hex.err" ||
  fail "evring tail without the library warned: $(cat "$scratch/hex.err")"
echo "example domain: built from the installed package, loaded by the installed writer, described by tail"
