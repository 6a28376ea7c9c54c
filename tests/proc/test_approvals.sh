# Approvals of special prices (sync/domain/approval.h, README "Approvals
# of special prices"): head office sets thresholds at the hub, every site
# receives them; store S001, offline (the hub stopped), sells BOX below
# the threshold: the order waits in pending_approval, saying why, while
# the store goes on selling other orders. S001 cannot ship it (409). Once
# the link is back, head office approves it with a comment from the
# command line and the store ships it after sync. Warehouse W001, which
# fulfils another of S001's pending orders and speaks the protocol with
# its real keys (tests/tools/blforge), pushes a shipment of it anyway:
# the hub quarantines it with its reason and alerts on it; head office
# rejects that order, which is cancelled everywhere, and the shipment
# stays quarantined. GET /v1/approvals filters exactly, at the hub and at
# the store.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"
FORGE="$BL_BIN/tests/tools/blforge"
export BL_HUB_DB="$T/hub/hub.db"

hub_init
hub_start
node_init S001
node_init W001 warehouse # never runs a node: blforge writes as W001

# ---- head office's catalog and thresholds ----
call PUT hub /v1/products/BOX '{"name":"Gift box"}'
check_eq "the hub adds BOX" 200 "$CODE"
call PUT hub /v1/products/TEA '{"name":"Green tea","category":"gift"}'
check_eq "the hub adds TEA in category gift" "200 gift" "$CODE $(jqr "$BODY" .category)"
call PUT hub /v1/prices/retail/BOX '{"amount":1000,"currency":"CNY"}'
check_eq "BOX retails at 1000" 200 "$CODE"
call PUT hub /v1/prices/retail/TEA '{"amount":1000,"currency":"CNY"}'
check_eq "TEA retails at 1000" 200 "$CODE"
call PUT hub /v1/approval/threshold '{"percent":20}'
check_eq "the default threshold is 20%" '200 {"percent":20}' "$CODE $(printf '%s' "$BODY" | jq -c .)"
call PUT hub /v1/approval/threshold '{"percent":50,"category":"gift"}'
check_eq "category gift may go down 50%" '200 {"percent":50,"category":"gift"}' "$CODE $(printf '%s' "$BODY" | jq -c .)"
call PUT hub /v1/approval/threshold '{"percent":120}'
check_eq "a threshold over 100% is refused" "400 percent: must be an integer from 0 to 100" \
	"$CODE $(jqr "$BODY" .error.message)"
check_eq "the hub lists its thresholds" '[{"percent":20},{"percent":50,"category":"gift"}]' \
	"$(get hub /v1/approval/threshold | jq -c .items)"

site_up S001
check "S001 receives the thresholds" eventually 15 \
	sh -c "[ \"\$(curl -s http://127.0.0.1:$HTTP_S001/v1/approval/threshold | jq -c .items)\" = '[{\"percent\":20},{\"percent\":50,\"category\":\"gift\"}]' ]"
OUT=$("$HUB" approval threshold --data "$T/hub" --percent 40 --tier vip 2>&1)
check_eq "bl-hub approval threshold sets a tier's" "0 tier  category  percent
vip             40" "$? $OUT"
OUT=$("$HUB" approval threshold --data "$T/hub" 2>&1)
check_eq "bl-hub approval threshold lists them" "0 tier  category  percent
                20
vip             40
      gift      50" "$? $OUT"
OUT=$("$HUB" approval threshold --data "$T/hub" --percent 1x 2>&1)
check_eq "bl-hub approval threshold refuses a percent that is not one" \
	"2 bl-hub: approval threshold: --percent '1x': a whole number from 0 to 100" "$? $OUT"
call PUT S001 /v1/approval/threshold '{"percent":90}'
check_eq "a store may not set a threshold" \
	"403 approval threshold default: head office data is written at the hub only" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST S001 /v1/stock/movements '{"id":"REC1","sku":"BOX","delta":10,"reason":"receipt"}'
check_eq "S001 receives 10 BOX" 201 "$CODE"

# ---- offline: the approval is asked for at the store ----
hub_stop
call POST S001 /v1/orders '{"id":"O9","channel":"online","fulfil_site":"S001","currency":"CNY","status":"confirmed","lines":[{"sku":"BOX","qty":1,"unit_price":700}]}'
check_eq "offline, BOX at 700 waits for head office, saying why" \
	"201 pending_approval pending lines[0]: BOX at 700 is 30% below the retail price 1000 (threshold 20%)" \
	"$CODE $(jqr "$BODY" '"\(.status) \(.approval.status) \(.approval.reason)"')"
call POST S001 /v1/orders/S001-O9/transition '{"to":"shipped","tracking":"SF1"}'
check_eq "S001 cannot ship it while it is pending" \
	"409 order S001-O9: pending approval: it cannot be shipped before head office approves it" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST S001 /v1/orders/S001-O9/transition '{"to":"confirmed"}'
check_eq "nor confirm it" \
	"409 order S001-O9: pending approval: only head office's approval confirms it" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST S001 /v1/orders '{"id":"O10","channel":"store","currency":"CNY","status":"confirmed","lines":[{"sku":"BOX","qty":1,"unit_price":800},{"sku":"TEA","qty":1,"unit_price":500}]}'
check_eq "meanwhile the till sells at the thresholds themselves" "201 confirmed null" \
	"$CODE $(jqr "$BODY" '"\(.status) \(.approval)"')"
call POST S001 /v1/orders '{"id":"O11","channel":"online","fulfil_site":"W001","currency":"CNY","status":"confirmed","lines":[{"sku":"BOX","qty":2,"unit_price":600}]}'
check_eq "an order W001 fulfils, at 600, waits too" "201 pending_approval" "$CODE $(jqr "$BODY" .status)"
check_eq "only the confirmed sale left S001's stock" 9 \
	"$(jqr "$(get S001 '/v1/stock?site=S001&sku=BOX')" '.items[0].on_hand')"
check_eq "S001 lists what waits for head office" "S001-O9 S001-O11" \
	"$(jqr "$(get S001 '/v1/approvals?status=pending')" '[.items[].id]|join(" ")')"
check_eq "and nothing approved yet" "" \
	"$(jqr "$(get S001 '/v1/approvals?status=approved')" '[.items[].id]|join(" ")')"
call GET S001 '/v1/approvals?status=maybe'
check_eq "an approval status that does not exist" \
	"400 status: 'maybe' is not an approval status (pending, approved, rejected, cancelled, draft)" \
	"$CODE $(jqr "$BODY" .error.message)"

# ---- the link returns ----
hub_start
check "the hub receives S001's requests" eventually 20 \
	sh -c "[ \"\$(curl -s 'http://127.0.0.1:$HUB_HTTP/v1/approvals?status=pending' | jq -r '[.items[].id]|join(\" \")')\" = 'S001-O9 S001-O11' ]"
check_eq "the hub shows why, and the customer's site" \
	"S001 pending lines[0]: BOX at 700 is 30% below the retail price 1000 (threshold 20%)" \
	"$(jqr "$(get hub '/v1/approvals?status=pending')" '.items[0]|"\(.site) \(.status) \(.reason)"')"

# ---- W001 ships S001-O11 anyway ----
out=$(printf '%s\n' '{"entity":"order","key":"S001-O11","kind":"transition","fields":{"to":"shipped","tracking":"SF2"}}' | "$FORGE" "$T/W001" 2>&1)
check_match "W001 pushes its shipment of the pending order; the hub takes the batch" "PUSH_ACK 1$" "$out"
REASON="apply op W001/1: order S001-O11: pending approval: it cannot be shipped before head office approves it"
check_eq "the hub quarantines it with its reason" "$REASON" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT reason FROM quarantine WHERE origin = 'W001' AND seq = 1")"
check_eq "and alerts on it, naming W001" "quarantined W001 $REASON" \
	"$(jqr "$(get hub '/v1/alerts?kind=quarantined')" '.items[]|select(.subject == "W001/1")|"\(.kind) \(.site) \(.message)"')"
check_eq "the order is still pending at the hub" pending_approval \
	"$(jqr "$(get hub /v1/orders/S001-O11)" .status)"

# ---- head office decides ----
cli_hub() { "$HUB" "$@" > "$T/hubcli.out" 2> "$T/hubcli.err"; RC=$?; OUT=$(cat "$T/hubcli.out"); ERR=$(cat "$T/hubcli.err"); cat "$T/hubcli.err" >> "$T/cli.log"; }
cli_hub approval list --data "$T/hub" --status pending
check_eq "bl-hub approval list shows both" "0 order S001-O9 S001-O11" \
	"$RC $(printf '%s\n' "$OUT" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
cli_hub approval approve --data "$T/hub" --order S001-O9 --comment "regular customer"
check_eq "head office approves S001-O9 from the command line" "0 approved S001-O9: order confirmed" "$RC $OUT"
cli_hub approval approve --data "$T/hub" --order S001-O9
check_eq "once" "1 bl-hub: approval approve: approval S001-O9: already approved" "$RC $ERR"
cli_hub approval reject --data "$T/hub" --order S001-O11
check_eq "a rejection says why" "2 bl-hub: approval reject: comment: a rejection says why" "$RC $ERR"
call POST hub /v1/approvals/S001-O11/decision '{"approve":false,"comment":"below cost"}'
check_eq "head office rejects S001-O11 through the API" "200 rejected below cost" \
	"$CODE $(jqr "$BODY" '"\(.status) \(.comment)"')"
call POST S001 /v1/approvals/S001-O9/decision '{"approve":true}'
check_eq "a store does not decide" "403 approval S001-O9: head office decides approvals, at the hub" \
	"$CODE $(jqr "$BODY" .error.message)"

# ---- the decisions reach the store ----
check "S001 receives the approval" eventually 20 \
	sh -c "[ \"\$(curl -s http://127.0.0.1:$HTTP_S001/v1/orders/S001-O9 | jq -r .status)\" = confirmed ]"
check_eq "with head office's comment" "approved regular customer HQ" \
	"$(jqr "$(get S001 /v1/orders/S001-O9)" '"\(.approval.status) \(.approval.comment) \(.approval.decided_by)"')"
check "and the rejection" eventually 20 \
	sh -c "[ \"\$(curl -s http://127.0.0.1:$HTTP_S001/v1/orders/S001-O11 | jq -r .status)\" = cancelled ]"
call POST S001 /v1/orders/S001-O9/transition '{"to":"shipped","tracking":"SF1"}'
check_eq "now S001 ships S001-O9" "200 shipped" "$CODE $(jqr "$BODY" .status)"
check_eq "its goods leave S001" 8 \
	"$(jqr "$(get S001 '/v1/stock?site=S001&sku=BOX')" '.items[0].on_hand')"
check "the shipment reaches the hub" eventually 20 \
	sh -c "[ \"\$(curl -s http://127.0.0.1:$HUB_HTTP/v1/orders/S001-O9 | jq -r .status)\" = shipped ]"

# ---- the refused shipment stays refused ----
check_eq "S001-O11 is cancelled at the hub" "cancelled rejected below cost" \
	"$(jqr "$(get hub /v1/orders/S001-O11)" '"\(.status) \(.approval.status) \(.approval.comment)"')"
cli_hub quarantine retry --data "$T/hub" --origin W001
check_eq "W001's shipment, retried, is refused again with its reason" "$REASON" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT reason FROM quarantine WHERE origin = 'W001' AND seq = 1")"
check_eq "never in the hub's log" 0 \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'W001'")"

# ---- the lists, exact ----
for r in hub S001; do
	check_eq "$r: approved" "S001-O9" "$(jqr "$(get "$r" '/v1/approvals?status=approved')" '[.items[].id]|join(" ")')"
	check_eq "$r: rejected" "S001-O11" "$(jqr "$(get "$r" '/v1/approvals?status=rejected')" '[.items[].id]|join(" ")')"
	check_eq "$r: pending" "" "$(jqr "$(get "$r" '/v1/approvals?status=pending')" '[.items[].id]|join(" ")')"
	check_eq "$r: all" "S001-O9:approved S001-O11:rejected" \
		"$(jqr "$(get "$r" /v1/approvals)" '[.items[]|"\(.id):\(.status)"]|join(" ")')"
done
cli approval list --data "$T/S001" --status approved --json
check_eq "bl-node approval list at the store" "0 S001-O9 approved regular customer" \
	"$RC $(jqr "$OUT" '.items[0]|"\(.id) \(.status) \(.comment)"')"
cli_hub approval list --data "$T/hub" --status rejected --json
check_eq "bl-hub approval list --json" "0 S001-O11 rejected below cost" \
	"$RC $(jqr "$OUT" '.items[0]|"\(.id) \(.status) \(.comment)"')"
finish
