#!/usr/bin/env bash
# Writes the gzipped man page of one evring program with help2man, from its --help and
# --version; a program with subcommands (evring, evring-bench) gets each subcommand's
# --help in a COMMANDS section, since help2man reads only the top-level one. The program
# runs by its bare name from PATH, so no page names the build folder.
# Usage: man_page.sh PROGRAM_PATH "SHORT DESCRIPTION" OUTPUT.1.gz
set -euo pipefail
program_path=$1
description=$2
output=$3

program=$(basename "$program_path")
PATH="$(dirname "$program_path"):$PATH"
export PATH
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

# roff: a backslash is \e, and a line that starts with . or ' would be a request.
roff_text() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

subcommands=$("$program" --help | awk '/^Subcommands:/ {s = 1; next} s && /^  [a-z]/ {print $1}
  s && /^$/ {exit}')
{
  echo "[SEE ALSO]"
  echo "evring(1), evring-writer(1), evring-reader(1); README.md and docs/ in"
  echo "/usr/share/doc/evring."
  if [[ -n $subcommands ]]; then
    echo "[COMMANDS]"
    for subcommand in $subcommands; do
      echo ".SS \"$program $subcommand\""
      echo ".nf"
      "$program" "$subcommand" --help | roff_text
      echo ".fi"
    done
  fi
} >"$work/include"

help2man --no-info --section 1 --name "$description" --include "$work/include" \
  --output "$work/$program.1" "$program"
# -n: no name or time stamp inside, so the same program gives the same bytes.
gzip -9 -n -c "$work/$program.1" >"$output"
