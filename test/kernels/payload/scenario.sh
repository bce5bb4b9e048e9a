#!/bin/sh
# The activity the matrix asserts (test/kernels/scenario.ts), with plain shell tools.
# Prints "=== PID <case> <pid>" and "=== STAT <path> <inode> <size>" for the checks.
set -e
d=$SCENARIO_DIR
mkdir -p "$d"

# create + write + close through a shell redirection (dup2 releases the file)
sh -c 'echo hi > "$1/echo.txt"; echo "=== PID echo $$"' sh "$d"
# read it back with cat (exec keeps the pid that is printed)
sh -c 'echo "=== PID cat $$"; exec cat "$1/echo.txt" >/dev/null' sh "$d"
# a process that exits with the file still open
sh -c 'exec 3>"$1/open.txt"; echo data >&3; echo more >&3; echo "=== PID exit $$"' sh "$d"
# a deep path
deep="$d/$(printf 'level%02d/' $(seq 1 40))"
deep=${deep%/}
mkdir -p "$deep"
sh -c 'echo deep > "$1/deep.txt"; echo "=== PID deep $$"' sh "$deep"

for f in "$d/echo.txt" "$d/open.txt" "$deep/deep.txt"; do
  echo "=== STAT $f $(stat -c '%i %s' "$f")"
done
