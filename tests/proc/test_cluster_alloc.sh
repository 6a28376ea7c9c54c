# Two hubs of a cluster allocate the same online orders (hub/allocate.c):
# every order reaches both hubs' projections and both allocators' queues,
# and each decides in a write transaction that takes the shared log's
# append lock and applies what the other appended first (hub/pgstore.h).
# So the second to decide finds the order covered and writes nothing:
# every order gets exactly one fulfilment, the warehouse reserves each
# unit once, and both hubs agree. Stores S1 (on A) and S2 (on B) each take
# ten online orders while W1 holds the stock.
#
# Needs BL_PG_URI (a cluster from tests/pg.sh); makes a database of its
# own and drops it at the end.
. "$(dirname "$0")/lib.sh"

need_pg

cluster_pair alloc

N=10 # orders per store

db() { sqlite3 -cmd ".timeout 5000" "$T/$1/hub.db" "$2"; }
put() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT "http://127.0.0.1:$1$2" -d "$3"; }
post() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "http://127.0.0.1:$1$2" -d "$3"; }

# site SITE ROLE HUB_PORT: a node linked to that hub, enrolled on A,
# running; its HTTP port in SITE_HTTP.
site() {
	key=$("$NODE" init --data "$T/$1" --site "$1" --hub "tcp://127.0.0.1:$3" \
		--hub-key "$HUB_KEY" --http 127.0.0.1:0)
	"$HUB" enroll --data "$T/A" --site "$1" --role "$2" --key "$key" --region east > /dev/null
}
site W1 warehouse "$A_SYNC"
site S1 store "$A_SYNC"
site S2 store "$B_SYNC"
knows() { [ "$(db B "SELECT count(*) FROM sites WHERE id IN ('W1', 'S1', 'S2')")" = 3 ]; }
check "B copies the three enrollments" eventually 10 knows
check_eq "head office puts TEA in the catalog" 200 "$(put "$A_HTTP" /v1/products/TEA '{"name":"Tea"}')"
for s in W1 S1 S2; do
	node_start "$s"
	eval "${s}_HTTP=$NODE_HTTP ${s}_PID=$NODE_PID"
done
check_eq "W1 receives 100 TEA" 201 "$(post "$W1_HTTP" /v1/stock/movements '{"sku":"TEA","delta":100,"reason":"receipt"}')"
available() { [ "$(http_get "$1" '/v1/stock?site=W1&sku=TEA' | jq '.items[0].available')" = 100 ]; }
check "A sees W1's stock" eventually 15 available "$A_HTTP"
check "B too" eventually 15 available "$B_HTTP"

for s in S1 S2; do
	eval "http=\$${s}_HTTP"
	post "$http" /v1/customers '{"id":"C1","name":"Li Wei","region":"east"}' > /dev/null
	i=1
	while [ "$i" -le "$N" ]; do
		code=$(post "$http" /v1/orders "{\"id\":\"O$i\",\"channel\":\"online\",\"customer\":\"$s-C1\",\"currency\":\"CNY\",\"status\":\"confirmed\",\"lines\":[{\"sku\":\"TEA\",\"qty\":1,\"unit_price\":1200}]}")
		[ "$code" = 201 ] || echo "order $s-O$i: $code" >> "$T/refused"
		i=$((i + 1))
	done
done
check_eq "S1 and S2 take $N online orders each" "" "$(cat "$T/refused" 2> /dev/null)"

# children HUB: "orders with fulfilments, fulfilments, live ones" there
# (rank 5: cancelled, sync/domain/order.h).
children() {
	db "$1" "SELECT count(DISTINCT parent) || ' ' || count(*) || ' ' || sum((SELECT max(rank) FROM order_history h WHERE h.order_id = o.id) != 5) FROM orders o WHERE coalesce(parent, '') != ''"
}
all_allocated() { [ "$(children "$1")" = "$((2 * N)) $((2 * N)) $((2 * N))" ]; }
check "A: every order has its fulfilment" eventually 40 all_allocated A
check "B: every order has its fulfilment" eventually 40 all_allocated B
sleep 3 # a second allocation, were there one, would come within the allocators' tick
check_eq "A: one fulfilment per order, no second one" "$((2 * N)) $((2 * N)) $((2 * N))" "$(children A)"
check_eq "B: the same" "$((2 * N)) $((2 * N)) $((2 * N))" "$(children B)"
reserved() { http_get "$1" '/v1/stock?site=W1&sku=TEA' | jq -c '[.items[0].on_hand, .items[0].reserved]'; }
check_eq "A: W1 reserves each unit once" "[100,$((2 * N))]" "$(reserved "$A_HTTP")"
check_eq "B: the same" "[100,$((2 * N))]" "$(reserved "$B_HTTP")"
check_eq "each written by head office, on A or B" "$((2 * N))" \
	"$(db A "SELECT count(*) FROM orders WHERE coalesce(parent, '') != '' AND site IN ('HQ', 'HQ2')")"
echo "# fulfilments written by A (HQ) and B (HQ2): $(db A "SELECT group_concat(n, ' ') FROM (SELECT site || ':' || count(*) AS n FROM orders WHERE coalesce(parent, '') != '' GROUP BY site)")"

kill "$W1_PID" "$S1_PID" "$S2_PID" "$A_PID" "$B_PID" 2> /dev/null
wait "$W1_PID" "$S1_PID" "$S2_PID" "$A_PID" "$B_PID" 2> /dev/null
finish
