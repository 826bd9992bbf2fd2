#!/bin/bash
# Usage: ORGD=path/to/orgd run.sh DATABASE_URL NAME.env REPEAT
# Serves the database with $ORGD on a loopback port and prints the p50/p90 of each search.
set -euo pipefail
URL=$1; . "$2"; REPEAT=$3; ORGD=${ORGD:-target/release/orgd}
ORGD_LOG=warn "$ORGD" --database-url "$URL" serve --listen 127.0.0.1:18082 > "${TMPDIR:-/tmp}/orgd-search-run.log" 2>&1 & PID=$!
for _ in $(seq 100); do curl -s -o /dev/null localhost:18082/openapi.json && break; sleep 0.2; done
python3 "$(dirname "$0")/measure.py" 18082 "$TOKEN" "$SMALL" "$LARGE" "$REPEAT" || true
kill $PID; wait $PID || true
