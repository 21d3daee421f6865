#!/usr/bin/env bash
# docs/images/stat-watch.png: the real output of `evring stat --watch` on a demo instance
# under load (scripts/docs/demo_instance.sh), its last screen rendered to a PNG.
# Usage: scripts/docs/stat_watch_screenshot.sh [BUILD_BIN] (default: build/bin)
# Needs /usr/bin/python3 with PIL (apt-get install python3-pil fonts-dejavu-core).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "${1:-$ROOT/build/bin}" && pwd)
WORK=$(mktemp -d /tmp/evring-docs-watch.XXXXXX)
source "$ROOT/scripts/docs/demo_instance.sh"
trap 'demo_stop; rm -rf "$WORK"' EXIT
demo_start
sleep 4
kill -STOP "$SLOW_PID"  # caught lagging: the row stat marks with *
sleep 2
COLUMNS=118 timeout -s INT 3 "$BIN/evring" stat --name "$INSTANCE" --watch --interval 1s \
  > "$WORK/watch.txt" || true
mkdir -p "$ROOT/docs/images"
/usr/bin/python3 "$ROOT/scripts/docs/render_terminal.py" "$WORK/watch.txt" \
  "$ROOT/docs/images/stat-watch.png" "evring stat --name $INSTANCE --watch"
echo "wrote docs/images/stat-watch.png"
