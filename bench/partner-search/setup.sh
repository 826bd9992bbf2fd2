#!/bin/bash
# Usage: ORGD=path/to/orgd setup.sh DATABASE_URL NAME
# Migrates the database with $ORGD, makes a user and two organizations through the API, and
# writes NAME.env with TOKEN, SMALL_ID, SMALL (uuid), LARGE_ID, LARGE (uuid).
set -euo pipefail
URL=$1; NAME=$2; ORGD=${ORGD:-target/release/orgd}
"$ORGD" --database-url "$URL" migrate >/dev/null
T=$("$ORGD" --database-url "$URL" user create --email "bench-$RANDOM@search.example" --name Bench \
    | python3 -c "import json,sys;print(json.load(sys.stdin)['token'])")
"$ORGD" --database-url "$URL" serve --listen 127.0.0.1:18081 > "${TMPDIR:-/tmp}/orgd-search-setup.log" 2>&1 & PID=$!
for _ in $(seq 50); do curl -s -o /dev/null localhost:18081/openapi.json && break; sleep 0.2; done
org() {
    curl -s -X POST localhost:18081/api/v1/organization -H "Authorization: Bearer $T" \
        -d "{\"name\":\"$1\",\"timezone\":\"Europe/Berlin\",\"language\":\"de\"}"
}
S=$(org Small); L=$(org Large)
kill $PID; wait $PID || true
get() { python3 -c "import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
cat > "$NAME.env" <<EOT
TOKEN=$T
SMALL_ID=$(get "$S" id)
SMALL=$(get "$S" uuid)
LARGE_ID=$(get "$L" id)
LARGE=$(get "$L" uuid)
EOT
cat "$NAME.env"
