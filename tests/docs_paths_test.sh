#!/usr/bin/env bash
# The README's layout, docs/architecture.md and docs/ring.md name folders and files of the
# tree; each must exist, so the pages cannot drift from the code without a test failing.
#   README layout: each line of its ``` block under "## Layout" that starts with a folder
#                  (indented ones are inside the last less indented folder)
#   the docs:      each `path` in backquotes that names a source file or a folder, looked
#                  up at the root, under runtime/src, runtime/include and docs/; a bare
#                  file name (a table's "read first", beside its folder) anywhere in the tree
# Usage: docs_paths_test.sh SOURCE_DIR
set -euo pipefail
root=$(cd "$1" && pwd)
missing=()

# The README's layout block: "name/" at the start of a line, after its indentation.
parents=()
folders=0
folder_line='^( *)([A-Za-z0-9_./-]+)/ '
while IFS= read -r line; do
  [[ $line =~ $folder_line ]] || continue
  folders=$((folders + 1))
  depth=$(( ${#BASH_REMATCH[1]} / 2 ))
  parents=("${parents[@]:0:$depth}")
  parents+=("${BASH_REMATCH[2]}")
  path=$(IFS=/; echo "${parents[*]}")
  [[ -d $root/$path ]] || missing+=("README.md layout: $path/")
done < <(awk '/^## Layout/ {s = 1} s && /^```$/ {n++; if (n == 2) exit; next} s && n == 1 {print}' \
  "$root/README.md")
(( folders > 5 )) || missing+=("README.md: no layout block found under '## Layout'")

# Paths in backquotes in the docs.
for page in docs/architecture.md docs/ring.md docs/metrics.md; do
  while IFS= read -r path; do
    path=${path%/}
    found=no
    for base in "" runtime/src/ runtime/include/ runtime/include/evring/ docs/; do
      [[ -e $root/$base$path ]] && { found=yes; break; }
    done
    if [[ $found == no && $path != */* ]] &&
      [[ -n $(find "$root" -path "$root/build*" -prune -o -path "$root/.git" -prune -o \
        -name "$path" -print -quit) ]]; then
      found=yes
    fi
    [[ $found == yes ]] || missing+=("$page: $path")
  done < <(grep -o '`[A-Za-z0-9_./-]*\(/\|\.hpp\|\.cpp\|\.h\|\.md\)`' "$root/$page" | tr -d '`' |
    grep -v '^/' | grep -v '^<' | sort -u)
done

if (( ${#missing[@]} )); then
  printf 'FAILED: named in the docs but not in the tree: %s\n' "${missing[@]}"
  exit 1
fi
echo "the README's layout and docs/architecture.md, docs/ring.md name only what exists"
