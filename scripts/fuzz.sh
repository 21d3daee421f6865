#!/usr/bin/env bash
# Runs each fuzz target of a fuzz build (make fuzz-build) for SECONDS, one after another:
#   scripts/fuzz.sh BUILD_DIR SECONDS
# Each starts from its seeds (tests/fuzz/corpus/<target>, read only) plus what earlier runs
# found (BUILD_DIR/fuzz-corpus/<target>). A crash stops the run and leaves its input in
# BUILD_DIR/fuzz-crashes/; copy it into the seeds as crash-<what> once the bug is fixed. So
# does a hang: an input that runs for 10 s (-timeout; libFuzzer's own default is 20 minutes).
set -euo pipefail

build=${1:?usage: scripts/fuzz.sh BUILD_DIR SECONDS}
seconds=${2:?usage: scripts/fuzz.sh BUILD_DIR SECONDS}
seeds="$(dirname "$0")/../tests/fuzz/corpus"
targets=(ring_reader_fuzz segment_header_fuzz journal_recovery_fuzz domain_commands_fuzz
  view_queries_fuzz)

# What a target that crashed (or was killed) left in /dev/shm: its names end in its pid.
remove_leftovers() {
  local path pid
  for path in /dev/shm/evring.fuzz-*-* /dev/shm/evring-fuzz-journal.*; do
    [[ -e "$path" ]] || continue
    [[ "$path" =~ [-.]([0-9]+)(\.[a-z]+)?$ ]] || continue
    pid=${BASH_REMATCH[1]}
    kill -0 "$pid" 2>/dev/null || rm -rf -- "$path"
  done
  return 0
}
trap remove_leftovers EXIT

mkdir -p "$build/fuzz-crashes"
for target in "${targets[@]}"; do
  found="$build/fuzz-corpus/$target"
  mkdir -p "$found"
  echo "== fuzz $target for ${seconds} s"
  # -rss_limit_mb: the segment and journal targets map files; 2 GB is plenty, and stops a
  # leak from taking the machine. -timeout: one input takes microseconds, so 10 s is a hang.
  # Its last lines: the run's coverage and speed.
  if ! "$build/bin/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-crashes/$target-" "$found" "$seeds/$target" \
    >"$build/fuzz-crashes/$target.log" 2>&1; then
    tail -n 60 "$build/fuzz-crashes/$target.log"
    echo "== fuzz $target FAILED: the input is in $build/fuzz-crashes/ (replay: $build/bin/$target FILE)"
    exit 1
  fi
  remove_leftovers
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' \
    "$build/fuzz-crashes/$target.log" || true
done
