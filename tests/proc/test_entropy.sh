# Anti-entropy (node/entropy.c): an op deleted from the hub's log is found
# by the store's range digests and pushed again; one deleted from the
# store's own log is fetched back. Each comes back byte for byte, the stock
# is not counted twice, and bl-hub audit, which names the hole, passes
# again once it is filled. An op whose chain differs on the two sides
# cannot be repaired: it is reported once, and sync still completes.
. "$(dirname "$0")/lib.sh"

op() { sqlite3 "$1" "SELECT hex(body) FROM op_log WHERE origin = 'S001' AND seq = $2"; }

hub_init
hub_start
node_init S001
for q in 1 2 3 4 5; do
	"$NODE" stock receive --data "$T/S001" --sku TEA --qty $q > /dev/null
done
check "S001 pushes five receipts" "$NODE" sync --data "$T/S001"
THREE=$(op "$T/hub/hub.db" 3)
TWO=$(op "$T/S001/node.db" 2)
check_match "the hub holds S001/3" "^[0-9A-F]+$" "$THREE"
hub_stop
sqlite3 "$T/hub/hub.db" "DELETE FROM op_log WHERE origin = 'S001' AND seq = 3"
check_match "bl-hub audit names the hole" "S001/3" "$("$HUB" audit --data "$T/hub" 2>&1)"
hub_start
check "S001 syncs" "$NODE" sync --data "$T/S001"
check_eq "the hub holds S001/3 again, byte for byte" "$THREE" "$(op "$T/hub/hub.db" 3)"
check_eq "its stock counts it once" "15" \
	"$(http_get "$HUB_HTTP" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand')"
check "bl-hub audit passes again" "$HUB" audit --data "$T/hub"

sqlite3 "$T/S001/node.db" "DELETE FROM op_log WHERE origin = 'S001' AND seq = 2"
check "S001 syncs again" "$NODE" sync --data "$T/S001"
check_eq "S001 holds its op 2 again, byte for byte" "$TWO" "$(op "$T/S001/node.db" 2)"
check_eq "its stock counts it once" "15" \
	"$(sqlite3 "$T/S001/node.db" "SELECT on_hand FROM stock WHERE site = 'S001' AND sku = 'TEA'")"
check "bl-node audit passes" "$NODE" audit --data "$T/S001"
check_eq "S001's log is the hub's" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT group_concat(seq, ',') FROM op_log WHERE origin = 'S001'")" \
	"$(sqlite3 "$T/S001/node.db" "SELECT group_concat(seq, ',') FROM op_log WHERE origin = 'S001'")"
sqlite3 "$T/S001/node.db" "UPDATE op_log SET chain = zeroblob(32) WHERE origin = 'S001' AND seq = 5"
check "with a chain that differs, S001 still syncs" "$NODE" sync --data "$T/S001"
check_eq "and reports that one op, once" '{"checking":false,"diverged":1,"fetched":0,"pushed_again":0}' \
	"$("$NODE" status --data "$T/S001" --json | jq -S -c .entropy)"
finish
