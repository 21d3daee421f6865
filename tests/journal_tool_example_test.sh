#!/usr/bin/env bash
# evring journal export of a plugin domain's journal: examples/inventory_domain built
# against this build's installed package, run by the installed writer; the export, through
# the domain's own describe() (the library the journal's domain file names), equals
# `evring tail --from 1 --json` but for the command ids; with the library moved, every
# payload goes out whole in base64, flagged "described":false, after one warning.
# Usage: journal_tool_example_test.sh BUILD_DIR EXAMPLE_DIR
set -euo pipefail
build_dir=$1
example_dir=$2
instance="t-journal-example-$$"
# shellcheck source=example_support.sh
source "$(dirname "$0")/example_support.sh"
use_evring "$build_dir"

build_example "$example_dir" inventory_domain
domain=$scratch/inventory_domain/libinventory_domain.so
journal=$scratch/journal
"$bin/evring-writer" --name "$instance" --domain "$domain" --journal "$journal" \
  >"$scratch/writer.log" 2>&1 &
pids+=($!)
retry 20 "$bin/evring" cmd --name "$instance" --id first stock apples 5 || fail "the writer did not start"
"$bin/evring" cmd --name "$instance" --id second take apples 2 >/dev/null || fail "take apples 2"

"$bin/evring" tail --name "$instance" --from 1 --count 2 --json >"$scratch/tail.out" ||
  fail "evring tail --json"
"$bin/evring" journal export --name "$instance" >"$scratch/export.out" 2>"$scratch/export.err" ||
  fail "evring journal export: $(cat "$scratch/export.err")"
[[ ! -s $scratch/export.err ]] || fail "export warned: $(cat "$scratch/export.err")"
[[ $(jq -c 'del(.command_id)' "$scratch/export.out") == $(jq -c . "$scratch/tail.out") ]] ||
  fail "export printed $(cat "$scratch/export.out"), tail $(cat "$scratch/tail.out")"
[[ $(jq -r .command_id "$scratch/export.out" | paste -sd,) == first,second ]] ||
  fail "export's command ids: $(cat "$scratch/export.out")"
[[ $(jq -r .event.type "$scratch/export.out" | paste -sd,) == stocked,taken ]] ||
  fail "export did not describe the events with the plugin: $(cat "$scratch/export.out")"

# The library moved: every record still goes out, its payload whole, after one warning.
mv "$domain" "$scratch/moved.so"
"$bin/evring" journal export --journal "$journal" >"$scratch/raw.out" 2>"$scratch/raw.err" ||
  fail "export without the library: $(cat "$scratch/raw.err")"
[[ $(wc -l <"$scratch/raw.err") == 1 ]] && grep -q "cannot load domain plugin $domain" "$scratch/raw.err" ||
  fail "export without the library warned: $(cat "$scratch/raw.err")"
[[ $(jq -r '[.seq, .described, .event.bytes > 0, (.event.base64 | length > 0)] | @csv' \
  "$scratch/raw.out" | paste -sd' ') == '1,false,true,true 2,false,true,true' ]] ||
  fail "export without the library printed $(cat "$scratch/raw.out")"
echo "journal export: a plugin domain's events described by its library, and whole in base64 without it"
