#!/usr/bin/env bash
# Runs the README's quick start exactly as written (its `build/bin/` pointed at this build,
# its instance renamed so that it meets no other), then checks every output the README
# shows: `# seq=N` and `# rejected: ...` after a command, and a `# {...}` line after one.
# Usage: readme_test.sh README BIN_DIR
set -euo pipefail
readme=$1
bin_dir=$(cd "$2" && pwd)
scratch=$(mktemp -d /tmp/evring-readme-XXXXXX)
instance="t-readme-$$"
trap 'pkill -TERM -f -- "--name $instance( |$)" 2>/dev/null || true; rm -rf -- "$scratch"' EXIT

# The first ```sh block after "## Quick start".
awk '/^## Quick start/ {section = 1} section && /^```sh$/ {inside = 1; next}
     inside && /^```$/ {exit} inside {print}' "$readme" >"$scratch/steps.sh"
[[ -s $scratch/steps.sh ]] || { echo "FAILED: no sh block under '## Quick start' in $readme"; exit 1; }

# What the README says each step prints, in order.
expected=()
while IFS= read -r line; do
  if [[ $line =~ ^#\ (.*)$ ]]; then
    expected+=("${BASH_REMATCH[1]}")
  elif [[ $line =~ \#\ (seq=[0-9]+)$ ]]; then
    expected+=("${BASH_REMATCH[1]}")
  elif [[ $line =~ \#\ (rejected:) ]]; then
    expected+=("rejected:*")
  fi
done <"$scratch/steps.sh"
((${#expected[@]} >= 3)) || { echo "FAILED: the quick start shows no outputs to check"; exit 1; }

sed -e "s|build/bin/|$bin_dir/|g" -e "s|--name shop\\b|--name $instance|g" \
  "$scratch/steps.sh" >"$scratch/run.sh"
export XDG_RUNTIME_DIR=$scratch/run XDG_STATE_HOME=$scratch/state
mkdir -p "$XDG_RUNTIME_DIR"
# The steps' own exit statuses vary (a rejection exits 3): the outputs are what we check.
(cd "$scratch" && bash "$scratch/run.sh" >"$scratch/out.txt" 2>"$scratch/err.txt") || true

mapfile -t printed <"$scratch/out.txt"
if ((${#printed[@]} != ${#expected[@]})); then
  echo "FAILED: the README shows ${#expected[@]} outputs, the steps printed ${#printed[@]}:"
  cat "$scratch/out.txt" "$scratch/err.txt"
  exit 1
fi
for i in "${!expected[@]}"; do
  # shellcheck disable=SC2053  # a glob on the right is meant ("rejected:*")
  if [[ ${printed[$i]} != ${expected[$i]} ]]; then
    echo "FAILED: step output $((i + 1)): the README shows '${expected[$i]}', the steps printed '${printed[$i]}'"
    cat "$scratch/err.txt"
    exit 1
  fi
done
# `kill %2 %1` stopped both cleanly: their segments are gone.
for _ in $(seq 100); do
  compgen -G "/dev/shm/evring.$instance.*" >/dev/null || break
  sleep 0.05
done
if compgen -G "/dev/shm/evring.$instance.*" >/dev/null; then
  echo "FAILED: the writer left its segments after the quick start's kill"
  exit 1
fi
echo "README quick start: ${#expected[@]} outputs as the README shows them"
