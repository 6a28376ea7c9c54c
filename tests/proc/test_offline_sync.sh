# Offline first: stores record stock while the hub is down; once it is up,
# one `bl-node sync` each brings every replica to the same stock.
. "$(dirname "$0")/lib.sh"

hub_init
hub_start          # picks the port the nodes are configured with
hub_stop
node_init S001
node_init S002
node_init W001 warehouse

check "S001 records a receipt offline" "$NODE" move --data "$T/S001" --sku TEA --delta 40 --reason receipt
check "S001 records a sale offline" "$NODE" move --data "$T/S001" --sku TEA --delta -3 --reason sale
check "S002 records a receipt offline" "$NODE" move --data "$T/S002" --sku TEA --delta 12 --reason receipt
printf '%s\n' '{"sku":"RICE","delta":100,"reason":"receipt"}' '{"sku":"TEA","delta":500,"reason":"receipt"}' > "$T/delivery.jsonl"
check "W001 imports a delivery offline" "$NODE" import --data "$T/W001" --file "$T/delivery.jsonl"

out=$("$NODE" sync --data "$T/S001" --timeout 2 2>&1)
check_eq "sync with the hub down fails" "1" "$?"
check_match "and says why in one line" "^bl-node: sync: hub tcp://127.0.0.1:[0-9]+: no reply within 2 s$" "$out"
check_eq "S001 still shows its own stock offline" \
	'{"items":[{"site":"S001","sku":"TEA","on_hand":37,"reserved":0,"available":37}]}' "$(node_stock S001)"

hub_start
check "S001 syncs" "$NODE" sync --data "$T/S001"
check "S002 syncs" "$NODE" sync --data "$T/S002"
check "W001 syncs" "$NODE" sync --data "$T/W001"
check "S001 syncs again (pulls what came after)" "$NODE" sync --data "$T/S001"
check "S002 syncs again" "$NODE" sync --data "$T/S002"

want='{"items":[{"site":"S001","sku":"TEA","on_hand":37,"reserved":0,"available":37},{"site":"S002","sku":"TEA","on_hand":12,"reserved":0,"available":12},{"site":"W001","sku":"RICE","on_hand":100,"reserved":0,"available":100},{"site":"W001","sku":"TEA","on_hand":500,"reserved":0,"available":500}]}'
check_eq "S001 sees every site's stock" "$want" "$(node_stock S001)"
check_eq "S002 sees the same" "$want" "$(node_stock S002)"
check_eq "the hub sees the same" "$want" "$(http_get "$HUB_HTTP" /v1/stock)"
check_eq "GET /v1/stock filters by site and sku" \
	'{"items":[{"site":"S002","sku":"TEA","on_hand":12,"reserved":0,"available":12}]}' \
	"$(http_get "$HUB_HTTP" '/v1/stock?site=S002&sku=TEA')"

# A daemon serves its tills while the hub is down and pushes once it is back.
hub_stop
node_start S002
check_eq "POST /v1/stock/movements with the hub down answers 201" "201" \
	"$(http_code "$NODE_HTTP" POST /v1/stock/movements '{"id":"till-7","sku":"TEA","delta":-2,"reason":"sale"}')"
check_eq "the till retries the same sale id: answered 200, recorded once" "200" \
	"$(http_code "$NODE_HTTP" POST /v1/stock/movements '{"id":"till-7","sku":"TEA","delta":-2,"reason":"sale"}')"
check_match "S002 shows 10: the retry changed nothing" '"on_hand":10' "$(http_get "$NODE_HTTP" '/v1/stock?site=S002&sku=TEA')"
check_match "status shows the sale waiting to be pushed" '"pending_push":1' "$(http_get "$NODE_HTTP" /v1/status)"
hub_start
hub_has_sale() { http_get "$HUB_HTTP" '/v1/stock?site=S002&sku=TEA' | grep -q '"on_hand":10'; }
check "the running node pushes the sale once the hub is back" eventually 15 hub_has_sale
check "S001 gets it with a sync" "$NODE" sync --data "$T/S001"
check_match "S001 shows S002 at 10" '"site":"S002","sku":"TEA","on_hand":10' "$(node_stock S001)"
status=$("$NODE" status --data "$T/S001" --json)
check_match "status --json says the hub is reachable" '"hub_reachable": true' "$status"
check_match "status --json shows nothing waiting" '"pending_push": 0' "$status"
finish
