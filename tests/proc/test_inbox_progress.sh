# The hub's inbox under one site's steady trickle (hub/server.c,
# s_on_apply): what the hub acknowledged is applied while PUSHes keep
# coming. A flooding site builds a backlog above what any session's
# request applies inline (4,000 ops), then pushes one op every 3 ms; the
# hub's ops_applied still grows, and a receipt of another store reaches a
# third store, while the trickle goes on.
. "$(dirname "$0")/lib.sh"
FLOOD="$BL_BIN/tests/tools/blflood"

hub_init
hub_start
node_init S001
node_init S002
node_init S003
status() { # FIELD of GET /v1/status
	http_get "$HUB_HTTP" /v1/status |
	    python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', -1))"
}

# 70 PUSHes of 64 ops pipelined (4,480 ops), then one op every 3 ms for 60 s.
"$FLOOD" "$T/S001" 70 64 3 60 > "$T/flood.out" 2>&1 &
FPID=$!
PIDS="$PIDS $FPID"
taken_in() { [ "$(status ops_received)" -ge 4480 ]; }
check "the hub takes in the flood's 4,480 ops" eventually 30 taken_in
trickling() { kill -0 "$FPID" 2>/dev/null; }

a0=$(status ops_applied)
grown() { [ "$(status ops_applied)" -gt "$a0" ] && trickling; }
check "ops_applied grows while the trickle goes on" eventually 20 grown

# Another store's receipt reaches a third store during the trickle.
echo '{"sku":"VICTIM","delta":5,"reason":"receipt"}' > "$T/v.jsonl"
"$NODE" import --data "$T/S002" --file "$T/v.jsonl" > /dev/null
check "S002 syncs its receipt" "$NODE" sync --data "$T/S002" --timeout 20
seen() {
	"$NODE" sync --data "$T/S003" --timeout 10 > /dev/null 2>&1 &&
	    node_stock S003 | grep -q VICTIM
}
check "S003 receives S002's receipt within 30 s" eventually 30 seen
check "the trickle was still going on" trickling
applied_all() { [ "$(status ops_to_apply)" = 0 ]; }
check "the whole backlog is applied during the trickle" eventually 30 \
    applied_all
check "the trickle was still going on then" trickling
kill "$FPID" 2>/dev/null
wait "$FPID"
check_eq "no PUSH of the flood refused" "" "$(grep ERROR "$T/flood.out")"
finish
