#!/usr/bin/env bash
# The Debian package that `make package` builds, unpacked into a scratch root (dpkg-deb -x)
# and run from there: the installed `evring demo --keep` tours a fresh instance with the
# installed writer and readers (their /proc/PID/exe says so), the commands it prints to try
# next and to stop it work as printed, then the out-of-tree examples are built against the
# root's usr/ and run by its writer and reader (example_view_test.sh, example_domain_test.sh, example_client_test.sh).
# Usage: package_run_test.sh PACKAGE_DIR SOURCE_DIR
set -euo pipefail
package_dir=$1
source_dir=$2
instance="t-package-demo-$$"
# shellcheck source=example_support.sh
source "$(dirname "$0")/example_support.sh"

unpack_package "$package_dir"
use_evring "$root/usr"

mkdir -p "$scratch/demo"
"$bin/evring" demo --name "$instance" --commands 2000 --accounts 10 --latency-samples 50 \
  --dir "$scratch/demo" --keep >"$scratch/demo.log" 2>&1 || fail "the installed evring demo failed"
# Its processes are not our children: stop them by pid at exit as well.
mapfile -t started < <(sed -n 's/^  \(writer\|reader\) .* pid \([0-9]*\) .*/\2/p' \
  "$scratch/demo.log")
pids+=("${started[@]}")
((${#started[@]} == 4)) ||
  fail "the demo named ${#started[@]} processes, expected a writer and 3 readers"
for pid in "${started[@]}"; do
  exe=$(readlink "/proc/$pid/exe") || fail "demo process $pid is not running after --keep"
  [[ $exe == "$bin/evring-writer" || $exe == "$bin/evring-reader" ]] ||
    fail "the demo ran $exe, not the package's writer or reader in $bin"
done
grep -q 'the invariant holds' "$scratch/demo.log" || fail "the demo's bank invariant"

# The first two lines it offers to try: a command, then a query after its seq.
try_cmd=$(grep -m1 -o "$bin/evring cmd --name $instance [^#]*" "$scratch/demo.log") ||
  fail "the demo offered no evring cmd to try"
seq=$(eval "$try_cmd" | sed -n 's/^seq=//p')
[[ -n $seq ]] || fail "$try_cmd printed no seq"
try_query=$(grep -m1 -o "$bin/evring query --name $instance --reader bank-1 [^#]*" \
  "$scratch/demo.log") ||
  fail "the demo offered no evring query to try"
after_seq=$(sed "s/--after [0-9]*/--after $seq/" <<<"$try_query")
answer=$(eval "$after_seq")
[[ $answer == "{\"as_of_seq\":$seq,"* ]] || fail "$try_query answered $answer"

stop=$(sed -n 's/^To stop it: \(kill [0-9 ]*\).*/\1/p' "$scratch/demo.log")
[[ -n $stop ]] || fail "the demo said no way to stop it"
$stop
for pid in "${started[@]}"; do
  retry 20 test ! -e "/proc/$pid" || fail "demo process $pid did not stop on SIGTERM"
done
leftover=$(find /dev/shm -maxdepth 1 -name "evring.$instance.*")
[[ -z $leftover ]] || fail "the stopped demo left $leftover"

for example in view:hot_keys_view domain:inventory_domain client:kv_client; do
  kind=${example%%:*} name=${example#*:}
  "$(dirname "$0")/example_${kind}_test.sh" "$root/usr" "$source_dir/examples/$name" \
    >"$scratch/example-$kind.log" 2>&1 || fail "example $name against the package"
done
echo "package: the installed demo, its suggested commands and the three examples ran from $root"
