# The hub's WAL stays under its bound against one site pushing large ops,
# pipelined (hub/server.c: a group closes before its ops pass an eighth
# of wal_bound_mb, a slice of the backlog once they pass a sixteenth).
# Every op is taken in, acknowledged and applied.
. "$(dirname "$0")/lib.sh"
FLOOD="$BL_BIN/tests/tools/blflood"

BOUND_MB=8
BOUND=$((BOUND_MB * 1024 * 1024))

hub_init
echo "wal_bound_mb=$BOUND_MB" >> "$T/hub/config"
hub_start
node_init S001
status() { # FIELD of GET /v1/status
	http_get "$HUB_HTTP" /v1/status |
	    python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', -1))"
}
wal_size() { stat -c %s "$T/hub/hub.db-wal" 2>/dev/null || echo 0; }
: > "$T/wal.max"
rm -f "$T/wal.stop"
(
	m=0
	while [ ! -e "$T/wal.stop" ]; do
		w=$(wal_size)
		[ "$w" -gt "$m" ] && m=$w && echo "$m" > "$T/wal.max"
		sleep 0.05
	done
) &
SAMPLER=$!

# 48 PUSHes of 34 ops of about 28 kB each (about 1 MB a PUSH, 46 MB in
# all, more than five times the bound), sent without waiting.
PAD=2000 "$FLOOD" "$T/S001" 48 34 100 1 > "$T/flood.out" 2>&1
taken_in() { [ "$(status ops_received)" -ge 1632 ]; }
check "the hub takes in all 1,632 ops" eventually 60 taken_in
applied_all() { [ "$(status ops_to_apply)" = 0 ]; }
check "and applies them all" eventually 60 applied_all
touch "$T/wal.stop"
wait "$SAMPLER"
max=$(cat "$T/wal.max")
check "the hub's WAL stayed under its bound (max ${max:-0} B)" \
    [ "${max:-0}" -le "$BOUND" ]
check_eq "no PUSH refused" "" "$(grep ERROR "$T/flood.out")"
check_eq "every op pushed logged" \
    "$(sed -n 's/^done: .* seq \([0-9]*\), .*/\1/p' "$T/flood.out")" \
    "$(sqlite3 "$T/hub/hub.db" \
	"SELECT count(*) FROM op_log WHERE origin = 'S001'")"
finish
