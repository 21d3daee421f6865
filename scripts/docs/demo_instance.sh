# shellcheck shell=bash
# Sourced by the picture scripts of docs/metrics.md: a bank instance with four readers and
# a steady workload (deposits, overdrafts that are rejected, resent command ids, queries),
# all stopped and removed by demo_stop. Rejections are the point: every client line goes on. Needs BIN (the build's bin folder) and WORK (a
# scratch folder); sets INSTANCE.
INSTANCE=docs-metrics-$$
DEMO_PIDS=()

demo_start() {
  "$BIN/evring-writer" --name "$INSTANCE" --domain bank --journal "$WORK/journal" \
    --durability sync 2> "$WORK/writer.log" &
  DEMO_PIDS+=($!)
  for _ in $(seq 100); do "$BIN/evring" stat --name "$INSTANCE" > /dev/null 2>&1 && break; sleep 0.1; done
  local view
  for view in bank:balances stats:stats tail:audit bank:slow; do
    "$BIN/evring-reader" --name "$INSTANCE" --view "${view%%:*}" --id "${view##*:}" \
      --wait block --checkpoint-dir "$WORK/${view##*:}" > /dev/null 2> "$WORK/${view##*:}.log" &
    DEMO_PIDS+=($!)
  done
  SLOW_PID=$!
  for account in alice bob carol dave; do "$BIN/evring" cmd --name "$INSTANCE" open "$account" > /dev/null; done
  # Clients: deposits and transfers, overdrafts (rejected), a command id sent twice.
  local client
  for client in 1 2 3; do
    (
      i=0
      while :; do
        i=$((i + 1))
        "$BIN/evring" cmd --name "$INSTANCE" deposit alice 5 > /dev/null || true
        "$BIN/evring" cmd --name "$INSTANCE" transfer alice bob 3 > /dev/null || true
        "$BIN/evring" cmd --name "$INSTANCE" withdraw carol 1000000 > /dev/null 2>&1 || true
        "$BIN/evring" cmd --name "$INSTANCE" --id "c$client-$((i / 2))" deposit dave 1 > /dev/null 2>&1 || true
      done
    ) &
    DEMO_PIDS+=($!)
  done
  (
    while :; do
      "$BIN/evring" query --name "$INSTANCE" --reader balances balance alice > /dev/null 2>&1 || true
      "$BIN/evring" query --name "$INSTANCE" --reader balances top 3 > /dev/null 2>&1 || true
    done
  ) &
  DEMO_PIDS+=($!)
  # With DEMO_PAUSES=1 the slow reader stops now and then, and lags.
  [[ ${DEMO_PAUSES:-0} == 1 ]] || return 0
  (
    while :; do
      sleep 6
      kill -STOP "$SLOW_PID"
      sleep 4
      kill -CONT "$SLOW_PID"
    done
  ) &
  DEMO_PIDS+=($!)
}

demo_stop() {
  kill -CONT "$SLOW_PID" 2> /dev/null || true
  for ((i = ${#DEMO_PIDS[@]} - 1; i >= 0; i--)); do kill "${DEMO_PIDS[i]}" 2> /dev/null || true; done
  wait 2> /dev/null || true
  "$BIN/evring" rm --name "$INSTANCE" > /dev/null 2>&1 || true
}
