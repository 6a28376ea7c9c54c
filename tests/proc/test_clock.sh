# A store whose clock runs a day fast says so loudly: in its status (HTTP
# and bl-node status) and its alerts. Its sales, payments and movements
# reach head office and the other stores at once; only its last-writer-wins
# claims (a customer's name) wait at head office, quarantined with the
# clock as the reason, and pass by `bl-hub quarantine retry` once head
# office's clock reaches their stamp. Set right, the store's status is
# clean again.
. "$(dirname "$0")/lib.sh"

hub_init
hub_start
node_init S001
node_init S002
BL_TEST_CLOCK_SKEW_MS=86400000 node_start S001
P=$NODE_HTTP
problem() { http_get "$P" /v1/status | jq -r '.clock_problem // ""'; }
loud() { [ -n "$(problem)" ]; }
check "a day fast, the store's status says so" eventually 15 loud
check_match "in so many words" "^this machine's clock is 86(39[0-9]|40[0-9]) s ahead of head office's \(at most 300 s either way\): changes to customers and cases made here wait at head office until real time reaches them \(sales, payments and stock pass\); set the clock right$" "$(problem)"
check_match "and in its alerts" '"kind":"clock"' "$(http_get "$P" '/v1/alerts?kind=clock')"
check_match "and in bl-node status" "^CLOCK PROBLEM  this machine's clock is" "$("$NODE" status --data "$T/S001" | grep CLOCK)"
offset() { http_get "$HUB_HTTP" /v1/sites/sync | jq '.items[] | select(.site == "S001") | .clock_offset_ms'; }
check_match "head office's sync page measures it too" "^86(39|40)[0-9]{4}$" "$(offset)"
http_post "$P" /v1/stock/movements '{"sku":"TEA","delta":5,"reason":"receipt"}' > /dev/null
http_post "$P" /v1/customers '{"id":"S001-C1","name":"Ada"}' > /dev/null
curl -sS --max-time 5 -X PATCH "http://127.0.0.1:$P/v1/customers/S001-C1" -d '{"name":"Ada Lovelace"}' > /dev/null
"$NODE" sync --data "$T/S001" --timeout 20 > /dev/null 2>&1
"$NODE" sync --data "$T/S002" --timeout 20 > /dev/null
check_eq "its sale reaches head office at once" 5 \
	"$(http_get "$HUB_HTTP" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand')"
check_eq "and the other store" 5 \
	"$(sqlite3 "$T/S002/node.db" "SELECT on_hand FROM stock WHERE site = 'S001' AND sku = 'TEA'")"
held() { [ "$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM quarantine WHERE origin = 'S001'")" = "2" ]; }
check "its customer's create and name change wait at head office" eventually 15 held
check_match "with the clock as the reason" "clock 86(39|40)[0-9]{4} ms ahead" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT reason FROM quarantine WHERE origin = 'S001' LIMIT 1")"
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
node_start S001
P=$NODE_HTTP
clean() { connected=$(http_get "$P" /v1/status | jq -r .hub_link); [ "$connected" = up ] && [ -z "$(problem)" ]; }
check "its clock set right, the store's status is clean again" eventually 15 clean
check_eq "and it alerts no more" '{"items":[]}' "$(http_get "$P" '/v1/alerts?kind=clock')"
# A day later at head office (its clock moved by the same hook), the
# customer's changes pass on a retry, and reach the stores.
hub_stop
BL_TEST_CLOCK_SKEW_MS=86400000 hub_start
check_eq "a day later, a retry at head office applies both" \
	"retried 2: 2 applied, 0 still quarantined" \
	"$(BL_TEST_CLOCK_SKEW_MS=86400000 "$HUB" quarantine retry --data "$T/hub" --origin S001)"
check_eq "the customer has its new name at head office" '"Ada Lovelace"' \
	"$(http_get "$HUB_HTTP" /v1/customers/S001-C1 | jq .name)"
finish
