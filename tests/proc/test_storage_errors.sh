# A database that fails under a read is a storage failure, never "not
# found" nor an empty answer: a table dropped behind a running node makes
# the requests that read it answer 500 with the cause, records nothing, and
# the daemon goes on serving everything else.
. "$(dirname "$0")/lib.sh"

hub_init
hub_start
curl -sS -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/products/TEA" -d '{"name":"tea"}'
node_init S001
node_start S001
has_tea() { http_get "$NODE_HTTP" /v1/products | grep -q TEA; }
check "the store has the catalog" eventually 15 has_tea
sale='{"id":"t1","channel":"store","currency":"CNY","status":"completed","lines":[{"sku":"TEA","qty":1,"unit_price":300}],"payments":[{"method":"cash","amount":300}]}'
check_eq "a sale is recorded" 201 "$(http_code "$NODE_HTTP" POST /v1/orders "$sale")"
id=$(http_get "$NODE_HTTP" '/v1/orders' | jq -r '.items[0].id')
check_eq "and read back" 200 "$(http_code "$NODE_HTTP" GET "/v1/orders/$id")"

sqlite3 "$T/S001/node.db" "DROP TABLE order_lines"
out=$(curl -sS -w '\n%{http_code}' "http://127.0.0.1:$NODE_HTTP/v1/orders/$id")
check_eq "reading the order now answers 500, not 404" 500 "$(echo "$out" | tail -n 1)"
check_eq "with the cause" '{"error":{"code":"internal","message":"read SELECT currency, customer, total, (SELECT rank FROM order_st: no such table: main.order_lines"}}' \
	"$(echo "$out" | head -n 1)"
check_eq "a new sale answers 500" 500 "$(http_code "$NODE_HTTP" POST /v1/orders "${sale/t1/t2}")"
check_eq "and records nothing" 1 "$(sqlite3 "$T/S001/node.db" "SELECT count(*) FROM orders")"
check_match "the daemon logs the cause" 'node.db: (read|prepare) .*no such table: (main\.)?order_lines' "$(cat "$T/S001.log")"
check_match "and each answer of 500 the till got, with it" \
	"warning: POST /v1/orders: 500 .*no such table: (main\\.)?order_lines" "$(cat "$T/S001.log")"
check_eq "and serves the rest" 200 "$(http_code "$NODE_HTTP" GET /v1/status)"
check_eq "the catalog included" 200 "$(http_code "$NODE_HTTP" GET /v1/products)"
check_eq "stock, which counts reservations from order lines, answers 500 too" 500 "$(http_code "$NODE_HTTP" GET /v1/stock)"
check "the daemon is alive" kill -0 "$NODE_PID"
finish
