# Cut links: stores talk to the hub through a TCP relay that the test cuts
# and restores while every process keeps running (the store's line to head
# office drops, nothing crashes). Stores keep recording; once the link is
# back everything converges, each movement counted exactly once — also when
# the link is cut in the middle of a push.
. "$(dirname "$0")/lib.sh"

RELAY="$BL_BIN/tests/tools/blrelay"
# relay_up [BYTES]: a relay on RELAY_PORT to the hub's sync port; with
# BYTES it cuts every connection itself once that many bytes went up.
relay_up() {
	"$RELAY" "$RELAY_PORT" "$HUB_SYNC" ${1:-} 2>> "$T/relay.log" &
	RELAY_PID=$!
	PIDS="$PIDS $RELAY_PID"
	i=0
	while ! (exec 3<> "/dev/tcp/127.0.0.1/$RELAY_PORT") 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
}
# relay_cut: the relay and every connection it carries go away at once.
relay_cut() {
	kill -KILL "$RELAY_PID" 2>/dev/null
	wait "$RELAY_PID" 2>/dev/null
}
hub_on_hand() {   # SITE SKU: on hand at the hub ("" when none)
	http_get "$HUB_HTTP" "/v1/stock?site=$1&sku=$2" | jq -r '.items[0].on_hand // ""'
}
at_store() {      # PORT SITE SKU: on hand as a store sees it
	http_get "$1" "/v1/stock?site=$2&sku=$3" | jq -r '.items[0].on_hand // ""'
}

hub_init
hub_start
RELAY_PORT=$(fixed_port)
relay_up
REAL_SYNC=$HUB_SYNC
HUB_SYNC=$RELAY_PORT    # the stores are configured with the relay
node_init S001
node_init S002
HUB_SYNC=$REAL_SYNC
node_start S001; P1=$NODE_HTTP; PID1=$NODE_PID
node_start S002; P2=$NODE_HTTP

http_post "$P1" /v1/stock/movements '{"sku":"TEA","delta":10,"reason":"receipt"}' > /dev/null
s2_sees() { [ "$(at_store "$P2" S001 TEA)" = "$1" ]; }
check "through the relay, S002 sees S001's receipt" eventually 15 s2_sees 10

relay_cut
for i in 1 2 3 4 5; do
	http_post "$P1" /v1/stock/movements "{\"id\":\"cut-s1-$i\",\"sku\":\"TEA\",\"delta\":-1,\"reason\":\"sale\"}" > /dev/null
done
for i in 1 2 3; do
	http_post "$P2" /v1/stock/movements "{\"id\":\"cut-s2-$i\",\"sku\":\"TEA\",\"delta\":4,\"reason\":\"receipt\"}" > /dev/null
done
check_eq "with the link cut S001 still sells" "5" "$(at_store "$P1" S001 TEA)"
check_eq "with the link cut S002 still receives" "12" "$(at_store "$P2" S002 TEA)"
sleep 2
check_eq "and the hub has none of it" "10" "$(hub_on_hand S001 TEA)"
check "S001 is still running" kill -0 "$PID1"

relay_up
hub_s1() { [ "$(hub_on_hand S001 TEA)" = "$1" ]; }
hub_s2() { [ "$(hub_on_hand S002 TEA)" = "$1" ]; }
s1_sees() { [ "$(at_store "$P1" S002 TEA)" = "$1" ]; }
check "link restored: the hub counts S001's sales once" eventually 20 hub_s1 5
check "and S002's receipts once" eventually 20 hub_s2 12
check "S001 sees S002's receipts" eventually 20 s1_sees 12
check "S002 sees S001's sales" eventually 20 s2_sees 5

# Cut in the middle of a push of 20,000 movements: the relay cuts itself
# after 400 kB went up, which is a part of the push however fast it runs.
N=20000
relay_cut
relay_up 400000
i=1
while [ $i -le $N ]; do
	echo "{\"id\":\"bulk-$i\",\"sku\":\"RICE\",\"delta\":1,\"reason\":\"receipt\"}"
	i=$((i + 1))
done > "$T/bulk.jsonl"
check "S001 imports $N movements (its daemon pushes them)" "$NODE" import --data "$T/S001" --file "$T/bulk.jsonl"
relay_gone() { ! kill -0 "$RELAY_PID" 2>/dev/null; }
check "the relay cut the link mid-push" eventually 20 relay_gone
wait "$RELAY_PID" 2>/dev/null
got=$(hub_on_hand S001 RICE)
check "the hub holds part of the push ($got of $N)" test "${got:-0}" -lt "$N"
sleep 1
relay_up
hub_s1_rice() { [ "$(hub_on_hand S001 RICE)" = "$N" ]; }
check "after the link is back the hub counts exactly $N" eventually 60 hub_s1_rice
finish
