#!/usr/bin/python3
"""Plots contrib/grafana/evring-dashboard.json's panels with gnuplot from a local
Prometheus: each panel's own PromQL, asked through Prometheus' HTTP API (query_range),
placed on the dashboard's grid. Not Grafana: a stand-in picture for docs/metrics.md.
Usage: dashboard_plot.py DASHBOARD.json PROMETHEUS_URL INSTANCE START END OUT.png WORKDIR"""
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request

dashboard_path, prometheus, instance, start, end, out_png, work = sys.argv[1:8]
start, end = float(start), float(end)
dashboard = json.load(open(dashboard_path))
STEP = 2
RATE_WINDOW = "10s"  # $__rate_interval for a 1 s scrape interval


def promql(expr):
    return (expr.replace("$instance", instance).replace("$reader", ".*")
            .replace("$__rate_interval", RATE_WINDOW))


def query_range(expr):
    url = prometheus + "/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": promql(expr), "start": start, "end": end, "step": STEP})
    with urllib.request.urlopen(url, timeout=30) as reply:
        body = json.load(reply)
    if body.get("status") != "success":
        raise SystemExit("prometheus refused " + promql(expr) + ": " + json.dumps(body))
    return body["data"]["result"]


def legend(fmt, labels):
    text = fmt
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    return text.replace('"', "'").replace("_", "\\_")


UNITS = {"s": "seconds", "bytes": "bytes", "percentunit": "ratio", "none": "", "short": ""}
WIDTH, ROW_PX = 1500, 34
rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
height = rows * ROW_PX + 40
script = [f'set terminal pngcairo size {WIDTH},{height} font "DejaVu Sans,9" background "#181b1f"',
          f'set output "{out_png}"', "set multiplot",
          'set border lc rgb "#8e8e8e"', 'set tics textcolor rgb "#c7d0d9"',
          'set key textcolor rgb "#c7d0d9" top left font ",8" samplen 1',
          'set title textcolor rgb "#e6e6e6" font ",10"', "set xdata time",
          'set timefmt "%s"', 'set format x "%H:%M:%S"', "set grid lc rgb '#2c3235'",
          "set lmargin 9", "set rmargin 2", "set tmargin 2", "set bmargin 2",
          'set label 1 "evring dashboard panels, plotted with gnuplot from Prometheus (not a Grafana screenshot)" at screen 0.01, screen 0.99 tc rgb "#8e8e8e" font ",9"']
colors = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#ca95e5"]
top = 1 - 30 / height
usable = 1 - 40 / height
for panel in dashboard["panels"]:
    grid = panel["gridPos"]
    x, y, w, h = grid["x"] / 24, grid["y"] / rows, grid["w"] / 24, grid["h"] / rows
    script.append(f"set origin {x},{top - (y + h) * usable}")
    script.append(f"set size {w},{h * usable}")
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    script.append(f'set title "{panel["title"]}"')
    series = []
    for target in panel["targets"]:
        for result in query_range(target["expr"]):
            name = f"{work}/p{panel['id']}_{len(series)}.dat"
            with open(name, "w") as data:
                for t, v in result["values"]:
                    if v not in ("NaN", "+Inf", "-Inf"):
                        data.write(f"{t} {v}\n")
            if os.path.getsize(name):
                series.append((name, legend(target.get("legendFormat", ""), result["metric"])))
    if panel["type"] == "stat":
        last = "-"
        if series:
            values = open(series[0][0]).read().split()
            last = values[-1] if values else "-"
            number = float(last)
            last = (f"{number / 1024:.0f} KiB" if unit == "bytes" else
                    f"{number * 100:.1f}%" if unit == "percentunit" else f"{number:g}")
        script += ["unset xtics", "unset ytics", "unset border", "unset grid", "unset key",
                   f'set label 2 "{last}" at graph 0.5, graph 0.45 center font ",22" tc rgb "#73bf69"',
                   "plot [0:1] [0:1] NaN notitle", "unset label 2", "set border", "set xtics",
                   "set ytics", "set grid", "set key", "set xtics format '%H:%M:%S'"]
        continue
    script.append(f'set ylabel "{UNITS.get(unit, unit)}" textcolor rgb "#c7d0d9"')
    script.append("set format y '%.2s%c'" if unit != "s" else "set format y '%.1s%cs'")
    if not series:
        script += ['set label 2 "no data" at graph 0.5, graph 0.5 center tc rgb "#8e8e8e"',
                   "plot [0:1] [0:1] NaN notitle", "unset label 2"]
        continue
    script.append(f"set xrange [{start}:{end}]")
    plots = [f'"{name}" using 1:2 with lines lw 1.5 lc rgb "{colors[i % len(colors)]}" title "{title}"'
             for i, (name, title) in enumerate(series)]
    script.append("plot " + ", ".join(plots))
script.append("unset multiplot")
open(f"{work}/dashboard.gp", "w").write("\n".join(script) + "\n")
subprocess.run(["gnuplot", f"{work}/dashboard.gp"], check=True)
# A palette of 64 colours keeps the picture small (docs assets stay under 200 KB).
from PIL import Image  # noqa: E402
Image.open(out_png).convert("RGB").quantize(colors=64).save(out_png, optimize=True)
