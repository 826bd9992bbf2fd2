#!/usr/bin/env bash
# Server CPU per request for one orgd-bench case, steadier than req/s on a shared 2-core VM:
# runs the case for 10 s, counts the server's task-clock and context switches over 5 s of it
# (perf stat, from Debian's linux-perf), divides by the requests of that time.
#   bench/profile/cpu-per-request.sh target/release grpc_get_org [more orgd-bench flags]
set -euo pipefail
dir=$1 case=$2; shift 2
log=$(mktemp) stat=$(mktemp)
"$dir/orgd-bench" --seconds 10 --case "$case" "$@" >"$log" 2>&1 &
bench=$!
pid=
for _ in $(seq 1 600); do
  pid=$(grep 'orgd serving' "$log" | grep -o 'pid [0-9]*' | awk '{print $2}' || true)
  [ -n "$pid" ] && break
  sleep 0.5
done
[ -n "$pid" ] || { cat "$log"; exit 1; }
sleep 3
perf stat -x, -e task-clock,context-switches -p "$pid" -- sleep 5 2>"$stat"
wait "$bench"
# The rate from the summary JSON (the table names cases in words).
rps=$(tail -1 "$log" | python3 -c "import json,sys; print(json.load(sys.stdin)['${case}_rps'])")
ms=$(grep task-clock "$stat" | cut -d, -f1)
cs=$(grep context-switches "$stat" | cut -d, -f1)
python3 -c "print('$case: %s req/s, server %.1f µs CPU and %.2f context switches per request' % ('$rps', $ms * 1000 / ($rps * 5), $cs / ($rps * 5)))"
rm -f "$log" "$stat"
