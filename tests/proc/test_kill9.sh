# Crash safety: a node killed with SIGKILL in the middle of a push, and a hub
# killed in the middle of ingesting, restart and end with every movement
# counted exactly once at every replica.
. "$(dirname "$0")/lib.sh"

N=20000
hub_init
hub_start
node_init S001
node_init S002

# N movements of +1 each: the on-hand total at the end counts them.
i=1
while [ $i -le $N ]; do
	echo "{\"id\":\"S001-r$i\",\"sku\":\"SKU$((i % 50))\",\"delta\":1,\"reason\":\"receipt\"}"
	i=$((i + 1))
done > "$T/many.jsonl"
check "S001 imports $N movements" "$NODE" import --data "$T/S001" --file "$T/many.jsonl"

hub_total() {
	http_get "$HUB_HTTP" '/v1/stock?site=S001' | grep -o '"on_hand":[0-9]*' | cut -d: -f2 | awk '{s+=$1} END {print s+0}'
}
hub_received() {
	http_get "$HUB_HTTP" /v1/status | grep -o '"ops_received":[0-9]*' | cut -d: -f2
}

node_start S001
some_pushed() { r=$(hub_received); [ "${r:-0}" -gt 0 ]; }
check "the hub starts receiving the push" eventually 20 some_pushed
kill -9 "$NODE_PID"
wait "$NODE_PID" 2>/dev/null
got=$(hub_received)
check "the node was killed mid-push (hub holds $got of $N)" test "$got" -lt "$N"

node_start S001
all_pushed() { [ "$(hub_total)" = "$N" ]; }
check "after restart the hub counts exactly $N" eventually 60 all_pushed
check_eq "the hub log holds each op once" "$N" "$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'S001'")"

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
finish
