# Crash safety: a node killed with SIGKILL in the middle of a push, and a hub
# killed in the middle of ingesting, restart and end with every movement
# counted exactly once at every replica.
. "$(dirname "$0")/lib.sh"

N=20000
# S001's backlog: the hub takes 2,000 ops in within milliseconds (and
# applies them after), so that many batches that the node is killed in
# the middle of them.
M=50000
hub_init
hub_start
node_init S001
node_init S002

# M movements of +1 each: the on-hand total at the end counts them.
i=1
while [ $i -le $M ]; do
	echo "{\"id\":\"S001-r$i\",\"sku\":\"SKU$((i % 50))\",\"delta\":1,\"reason\":\"receipt\"}"
	i=$((i + 1))
done > "$T/many.jsonl"
check "S001 imports $M movements" "$NODE" import --data "$T/S001" --file "$T/many.jsonl"

hub_total() {
	http_get "$HUB_HTTP" '/v1/stock?site=S001' | grep -o '"on_hand":[0-9]*' | cut -d: -f2 | awk '{s+=$1} END {print s+0}'
}
hub_received() {
	http_get "$HUB_HTTP" /v1/status | grep -o '"ops_received":[0-9]*' | cut -d: -f2
}

# The hub takes a batch in within milliseconds (and applies it after):
# the node is started without waiting for its ports; as soon as the hub's
# database holds some of its ops (looked at every 10 ms), the hub is
# paused, so that it acknowledges nothing more, and the node killed.
some_pushed() {
	r=$(sqlite3 -cmd ".timeout 2000" "$T/hub/hub.db" "SELECT (SELECT count(*) FROM op_log WHERE origin = 'S001') + (SELECT count(*) FROM op_inbox WHERE origin = 'S001')" 2>/dev/null)
	[ "${r:-0}" -gt 0 ]
}
soon() {
	i=0
	while [ $i -lt 2000 ]; do
		"$@" && return 0
		sleep 0.01
		i=$((i + 1))
	done
	return 1
}
"$NODE" run --data "$T/S001" >> "$T/S001.log" 2>&1 &
NODE_PID=$!
PIDS="$PIDS $NODE_PID"
check "the hub starts receiving the push" soon some_pushed
kill -STOP "$HUB_PID"
kill -9 "$NODE_PID"
wait "$NODE_PID" 2>/dev/null
kill -CONT "$HUB_PID"
got=$(hub_received)
check "the node was killed mid-push (hub holds $got of $M)" test "$got" -lt "$M"

node_start S001
all_pushed() { [ "$(hub_total)" = "$M" ]; }
check "after restart the hub counts exactly $M" eventually 120 all_pushed
check_eq "the hub log holds each op once" "$M" "$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'S001'")"

# The hub killed while a second store's backlog streams in.
i=1
while [ $i -le $N ]; do
	echo "{\"sku\":\"SKU$((i % 50))\",\"delta\":-1,\"reason\":\"sale\"}"
	i=$((i + 1))
done > "$T/sales.jsonl"
check "S002 imports $N sales" "$NODE" import --data "$T/S002" --file "$T/sales.jsonl"
node_start S002
s2_some() { http_get "$HUB_HTTP" '/v1/stock?site=S002' | grep -q on_hand; }
check "the hub starts receiving S002's push" eventually 20 s2_some
kill -9 "$HUB_PID"
wait "$HUB_PID" 2>/dev/null
hub_start
s2_total() {
	http_get "$HUB_HTTP" '/v1/stock?site=S002' | grep -o '"on_hand":-[0-9]*' | cut -d: -f2 | awk '{s+=$1} END {print s+0}'
}
s2_done() { [ "$(s2_total)" = "-$N" ]; }
check "after the hub restarts it counts exactly -$N for S002" eventually 60 s2_done
check_eq "the hub log holds each S002 op once" "$N" "$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'S002'")"

# Both stores end with the same consolidated view as the hub.
check "S001 catches up" "$NODE" sync --data "$T/S001" --timeout 60
check "S002 catches up" "$NODE" sync --data "$T/S002" --timeout 60
hub_view=$(http_get "$HUB_HTTP" /v1/stock)
check_eq "S001 shows what the hub shows" "$hub_view" "$(node_stock S001)"
check_eq "S002 shows what the hub shows" "$hub_view" "$(node_stock S002)"

# A node's cursor moves in the transaction that applies the ops it covers
# (only batches that apply nothing, such as its own ops coming back, move
# it in memory, saved later): S002 killed the moment an op of S001's is
# applied there holds a saved cursor that already covers it.
cursor_of() { sqlite3 -cmd ".timeout 2000" "$T/$1/node.db" "SELECT value FROM meta WHERE name = 'cursor'"; }
http_post "$(port "$T/S001" http)" /v1/stock/movements '{"id":"last-1","sku":"SKU1","delta":1,"reason":"receipt"}' > /dev/null
last=$(sqlite3 -cmd ".timeout 2000" "$T/S001/node.db" "SELECT value FROM meta WHERE name = 'seq'")
s2_has_last() {
	[ "$(sqlite3 -cmd ".timeout 2000" "$T/S002/node.db" "SELECT count(*) FROM op_log WHERE origin = 'S001' AND seq = $last")" = 1 ]
}
check "S002 applies S001's newest op" soon s2_has_last
kill -9 "$(cat "$T/S002/run.lock")"
lsn=$(sqlite3 -cmd ".timeout 2000" "$T/hub/hub.db" "SELECT lsn FROM op_log WHERE origin = 'S001' AND seq = $last")
got=$(cursor_of S002)
covers() { [ -n "$lsn" ] && [ -n "$got" ] && [ "$got" -ge "$lsn" ]; }
check "killed then, S002's saved cursor ($got) covers it (lsn $lsn)" covers
# S001's own op came back to it, applying nothing: its cursor moved in
# memory, and is saved when the daemon stops.
sleep 1
s1_pid=$(cat "$T/S001/run.lock")
kill "$s1_pid"
while kill -0 "$s1_pid" 2> /dev/null; do sleep 0.1; done
check_eq "S001 stopped saves the cursor its own op moved" \
	"$(sqlite3 -cmd ".timeout 2000" "$T/hub/hub.db" 'SELECT max(lsn) FROM op_log')" "$(cursor_of S001)"
finish
