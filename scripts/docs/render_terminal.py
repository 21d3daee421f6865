#!/usr/bin/python3
"""Renders terminal text (the last screen of a capture: after the last clear-screen code)
into a PNG that looks like a terminal window, for docs/metrics.md.
Usage: render_terminal.py CAPTURE.txt OUT.png [TITLE]"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"


def last_screen(text):
    screens = text.split("\x1b[H\x1b[2J")
    screen = next((s for s in reversed(screens) if s.strip()), "")
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)  # other escape codes
    return [line.rstrip() for line in screen.replace("\r", "").split("\n")]


def main():
    lines = last_screen(open(sys.argv[1], encoding="utf-8", errors="replace").read())
    while lines and not lines[-1]:
        lines.pop()
    title = sys.argv[3] if len(sys.argv) > 3 else "evring stat --watch"
    font = ImageFont.truetype(FONT, 14)
    bold = ImageFont.truetype(BOLD, 14)
    char_w = font.getbbox("M")[2]
    line_h = 19
    cols = max(80, max(len(line) for line in lines))
    pad, bar = 14, 28
    image = Image.new("RGB", (cols * char_w + 2 * pad, len(lines) * line_h + 2 * pad + bar), "#1d1f21")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, image.width, bar], fill="#373b41")
    for i, color in enumerate(("#cc6666", "#f0c674", "#b5bd68")):
        draw.ellipse([10 + i * 18, 8, 22 + i * 18, 20], fill=color)
    draw.text((70, 6), title, font=font, fill="#c5c8c6")
    for row, line in enumerate(lines):
        y = bar + pad + row * line_h
        header = row == 0 or line.lstrip().startswith("ID ") or re.match(r"^\s+ID\s", line)
        lagging = line.startswith("*")
        fill = "#81a2be" if header else ("#f0c674" if lagging else "#c5c8c6")
        draw.text((pad, y), line, font=bold if header else font, fill=fill)
    image.save(sys.argv[2], optimize=True)


main()
