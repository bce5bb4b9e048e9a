#!/bin/sh
# Starts the agent, runs the scenario, stops the agent with SIGTERM and prints what it
# wrote between markers. Used inside the guests and, unchanged, on the host.
# Environment: KFLOWD (agent), SCENARIO_DIR (where the scenario works).
KFLOWD=${KFLOWD:-/payload/kflowd}
export SCENARIO_DIR=${SCENARIO_DIR:-/tmp/kt} SCENARIO_PORT=${SCENARIO_PORT:-18080}
here=$(dirname "$0")
work=$(mktemp -d)
# a TCP connection open before the agent starts; after the start the client sends
# "after\n" through it and ends, closing it. nc ends at the end of its input or of the
# connection: fds 7 and 8 keep the inputs of client and server open till then.
pre=$((SCENARIO_PORT + 1))
mkfifo "$work/pre.client" "$work/pre.server"
# the cgroup the connection's processes run in (this script's)
echo "=== CGROUP pre $(sed -n 's/^0:://p' /proc/self/cgroup) -"
nc -l -p "$pre" <"$work/pre.server" >/dev/null &
echo "=== PID preserver $!"
exec 8>"$work/pre.server"
sleep 0.3
sh -c 'echo "=== PID preclient $$"; exec nc 127.0.0.1 "$1" <"$2"' sh "$pre" "$work/pre.client" &
preclient=$!
exec 7>"$work/pre.client"
echo before >&7
"$KFLOWD" -o json-min -p "http=tcp/$SCENARIO_PORT" >"$work/records" 2>"$work/stderr" &
agent=$!
# the agent never outlives this script, however it ends
trap 'kill $agent 2>/dev/null' EXIT
i=0
until grep -q "started in terminal mode" "$work/stderr"; do
  i=$((i + 1))
  if [ $i -gt 1200 ] || ! kill -0 $agent 2>/dev/null; then
    echo "=== AGENT FAILED TO START"
    cat "$work/stderr"
    # once more with libbpf's log, for the reason
    kill $agent 2>/dev/null
    "$KFLOWD" -V -o json-min 2>&1 </dev/null | grep -v "^libbpf: prog .*: relo #" | grep -i -A12 "fail\|error\|invalid\|BEGIN PROG LOAD LOG\|END PROG LOAD LOG\|too large" | tail -60
    exit 1
  fi
  sleep 0.1
done
echo after >&7
sleep 0.2
kill $preclient
exec 7>&- 8>&-
sh "$here/scenario.sh"
sleep 0.5
kill -TERM $agent
wait $agent
echo "=== AGENT RC $?"
# the scenario's cgroups, once no record can name them any more: what still runs in one
# goes back to the root, then they go, deepest first
if [ -f "$SCENARIO_DIR/cgroups.made" ]; then
  cgroot=$(grep ' - cgroup2 ' /proc/self/mountinfo | head -n1 | cut -d' ' -f5)
  while read -r cg; do
    for pid in $(cat "$cg/cgroup.procs" 2>/dev/null); do echo "$pid" >"$cgroot/cgroup.procs"; done
    i=0
    until rmdir "$cg" 2>/dev/null || [ $i -gt 20 ]; do i=$((i + 1)); sleep 0.1; done
  done <"$SCENARIO_DIR/cgroups.made"
fi
echo "=== AGENT STDERR BEGIN"
cat "$work/stderr"
echo "=== AGENT STDERR END"
echo "=== RECORDS BEGIN"
cat "$work/records"
echo "=== RECORDS END"
rm -rf "$work"
