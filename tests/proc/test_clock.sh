# A store whose clock runs a day fast says so loudly: in its status (HTTP
# and bl-node status) and its alerts; its sales are held at head office
# (quarantined, the reason naming the clock). Set right, the store's
# status is clean again; the held sales pass once real time reaches them
# (store_quarantine_retry, checked in the unit tests).
. "$(dirname "$0")/lib.sh"

hub_init
hub_start
node_init S001
BL_TEST_CLOCK_SKEW_MS=86400000 node_start S001
P=$NODE_HTTP
problem() { http_get "$P" /v1/status | jq -r '.clock_problem // ""'; }
loud() { [ -n "$(problem)" ]; }
check "a day fast, the store's status says so" eventually 15 loud
check_match "in so many words" "^this machine's clock is 86(39[0-9]|40[0-9]) s ahead of head office's \(at most 300 s either way\): the sales recorded here are held at head office until real time reaches them; set the clock right$" "$(problem)"
check_match "and in its alerts" '"kind":"clock"' "$(http_get "$P" '/v1/alerts?kind=clock')"
check_match "and in bl-node status" "^CLOCK PROBLEM  this machine's clock is" "$("$NODE" status --data "$T/S001" | grep CLOCK)"
http_post "$P" /v1/stock/movements '{"sku":"TEA","delta":5,"reason":"receipt"}' > /dev/null
held() { [ "$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM quarantine WHERE origin = 'S001'")" = "1" ]; }
check "its sale is held at head office" eventually 15 held
check_match "with the clock as the reason" "clock 86(39|40)[0-9]{4} ms ahead" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT reason FROM quarantine WHERE origin = 'S001'")"
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
node_start S001
P=$NODE_HTTP
clean() { connected=$(http_get "$P" /v1/status | jq -r .hub_link); [ "$connected" = up ] && [ -z "$(problem)" ]; }
check "its clock set right, the store's status is clean again" eventually 15 clean
check_eq "and it alerts no more" '{"items":[]}' "$(http_get "$P" '/v1/alerts?kind=clock')"
finish
