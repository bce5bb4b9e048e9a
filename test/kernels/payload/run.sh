#!/bin/sh
# Starts the agent, runs the scenario, stops the agent with SIGTERM and prints what it
# wrote between markers. Used inside the guests and, unchanged, on the host.
# Environment: KFLOWD (agent), SCENARIO_DIR (where the scenario works).
KFLOWD=${KFLOWD:-/payload/kflowd}
export SCENARIO_DIR=${SCENARIO_DIR:-/tmp/kt} SCENARIO_PORT=${SCENARIO_PORT:-18080}
here=$(dirname "$0")
work=$(mktemp -d)
"$KFLOWD" -o json-min -p "http=tcp/$SCENARIO_PORT" >"$work/records" 2>"$work/stderr" &
agent=$!
i=0
until grep -q "started in terminal mode" "$work/stderr"; do
  i=$((i + 1))
  if [ $i -gt 1200 ] || ! kill -0 $agent 2>/dev/null; then
    echo "=== AGENT FAILED TO START"
    cat "$work/stderr"
    # once more with libbpf's log, for the reason
    kill $agent 2>/dev/null
    "$KFLOWD" -V -o json-min 2>&1 </dev/null | grep -i -B2 -A12 "fail\|error\|invalid\|BEGIN PROG LOAD LOG" | tail -60
    exit 1
  fi
  sleep 0.1
done
sh "$here/scenario.sh"
sleep 0.5
kill -TERM $agent
wait $agent
echo "=== AGENT RC $?"
echo "=== AGENT STDERR BEGIN"
cat "$work/stderr"
echo "=== AGENT STDERR END"
echo "=== RECORDS BEGIN"
cat "$work/records"
echo "=== RECORDS END"
rm -rf "$work"
