#!/usr/bin/env bash
# docs/images/dashboard.png: the Grafana dashboard's panels (contrib/grafana/
# evring-dashboard.json) plotted with gnuplot. Grafana is not packaged in Debian 12, so:
# a demo instance under load (scripts/docs/demo_instance.sh), evring stat --serve,
# Debian's prometheus scraping it every second into a scratch folder, and each panel's own
# PromQL asked of Prometheus' HTTP API (dashboard_plot.py).
# Usage: scripts/docs/dashboard_picture.sh [SECONDS] [BUILD_BIN]   (default 150 s, build/bin)
# Needs prometheus, gnuplot and /usr/bin/python3 (apt-get install prometheus gnuplot-nox).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_TO_RUN=${1:-150}
BIN=$(cd "${2:-$ROOT/build/bin}" && pwd)
WORK=$(mktemp -d /tmp/evring-docs-dashboard.XXXXXX)
source "$ROOT/scripts/docs/demo_instance.sh"
SERVE_PID='' PROM_PID=''
cleanup() {
  [[ -n $PROM_PID ]] && kill "$PROM_PID" 2> /dev/null
  [[ -n $SERVE_PID ]] && kill "$SERVE_PID" 2> /dev/null
  demo_stop
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

DEMO_PAUSES=1 demo_start
"$BIN/evring" stat --name "$INSTANCE" --serve 127.0.0.1:0 > "$WORK/serve.txt" &
SERVE_PID=$!
for _ in $(seq 50); do grep -q http "$WORK/serve.txt" && break; sleep 0.1; done
TARGET=$(grep -o '127.0.0.1:[0-9]*' "$WORK/serve.txt")
PROM_PORT=$(free_port)
cat > "$WORK/prometheus.yml" << YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: evring
    honor_labels: true  # keep evring's instance label (the evring instance), not host:port
    static_configs:
      - targets: ["$TARGET"]
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" > "$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
START=$(date +%s)
sleep "$SECONDS_TO_RUN"
END=$(date +%s)
mkdir -p "$ROOT/docs/images"
/usr/bin/python3 "$ROOT/scripts/docs/dashboard_plot.py" "$ROOT/contrib/grafana/evring-dashboard.json" \
  "http://127.0.0.1:$PROM_PORT" "$INSTANCE" "$START" "$END" "$ROOT/docs/images/dashboard.png" "$WORK"
echo "wrote docs/images/dashboard.png"
