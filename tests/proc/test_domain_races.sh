# Merged orders never contradict stock and money (issue 10, SPEC §4,
# sync/domain/effect.h): three races between sites, each written while the
# sites could not see each other, each ending with every replica that
# holds the order converged and its stock and money consistent.
#   1. a store cancels its till sale while head office completes it: the
#      completion wins, the restock leaves nothing behind, a return then
#      puts the goods back once
#   2. the store and the warehouse each take back an online order's 2 TEA:
#      a return beyond what was sold is refused where it is opened; merged,
#      the two returns count 2 in all, with an alert
#   3. the store and the warehouse each take the full payment of one order:
#      an overpaid alert with the amount to refund
# Offline writes go through the sites' HTTP APIs (daemons) with the hub
# down, or through the hub's with the sites' daemons down; syncing is done
# with one-shot `bl-node sync` rounds.
#
# Stock is compared where the order is held (its creating and fulfilling
# sites, head office): a site that receives a neighbour's movements but not
# its orders (SPEC §5) counts them as recorded (effect.h), so W001, which
# never receives S001's till sale S001-O-LOST, shows S001's restock of it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

hub_init
hub_start
node_init S001
node_init S002
node_init W001 warehouse
HQ=$(sqlite3 "$T/hub/hub.db" "SELECT value FROM meta WHERE name = 'site'")
call PUT hub /v1/products/TEA '{"name":"Green tea"}'
check_eq "the hub adds TEA" 200 "$CODE"
call PUT hub /v1/prices/retail/TEA '{"amount":1500,"currency":"CNY"}'
check_eq "the hub prices TEA at 1500" 200 "$CODE"
cli stock receive --data "$T/S001" --sku TEA --qty 10
check_eq "S001 receives 10 TEA" 0 "$RC"
cli stock receive --data "$T/W001" --sku TEA --qty 20
check_eq "W001 receives 20 TEA" 0 "$RC"
sync_all

# tea SITE AT: the on hand of SITE's TEA as AT (a running site, or hub) sees it.
tea() { jqr "$(get "$2" "/v1/stock?site=$1&sku=TEA")" '.items[0].on_hand'; }

# ---- 1. Cancelled at the store, completed at head office ----
site_up S001
call POST S001 /v1/orders '{"id":"O-LOST","channel":"store","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":2}]}'
check_eq "S001's till sells 2 TEA (3000)" "201 confirmed 3000" "$CODE $(jqr "$BODY" '"\(.status) \(.total)"')"
site_down S001
sync_all

hub_stop
site_up S001
call POST S001 /v1/orders/S001-O-LOST/transition '{"to":"cancelled","reason":"customer changed mind"}'
check_eq "S001 cancels S001-O-LOST offline" "200 cancelled" "$CODE $(jqr "$BODY" .status)"
check_eq "S001 then sees its 2 TEA back: 10" 10 "$(tea S001 S001)"
site_down S001
hub_start
call POST hub /v1/orders/S001-O-LOST/transition '{"to":"completed"}'
check_eq "head office completes S001-O-LOST, not knowing" "200 completed" "$CODE $(jqr "$BODY" .status)"
sync_all
site_up S001 S002 W001
at "S001 hub" "S001-O-LOST is completed" completed /v1/orders/S001-O-LOST .status
at "S001 hub" "the goods left: S001 has 8 TEA, the restock counts nothing" \
	"8 8" "/v1/stock?site=S001&sku=TEA" '.items[0]|"\(.on_hand) \(.available)"'
at "S001 hub" "the alert says the goods left" \
	"order S001-O-LOST was cancelled at S001 but completed at $HQ: goods left, open a return if needed" \
	'/v1/alerts?kind=conflicting_transition' '[.items[]|select(.subject=="S001-O-LOST")|.message]|join(" ")'
# The alert's advice is now right: a return puts the goods back once.
call POST S001 /v1/cases '{"id":"K-LOST","kind":"return","order":"S001-O-LOST","lines":[{"sku":"TEA","qty":2}]}'
check_eq "S001 opens the return the alert asks for" "201 open" "$CODE $(jqr "$BODY" .status)"
call POST S001 /v1/cases/S001-K-LOST/transition '{"to":"completed"}'
check_eq "S001 completes it" "200 completed" "$CODE $(jqr "$BODY" .status)"
call POST S001 /v1/cases '{"kind":"return","order":"S001-O-LOST","lines":[{"sku":"TEA","qty":1}]}'
check_eq "a second return of S001-O-LOST is refused" \
	"422 lines[0]: return of 1 TEA exceeds what order S001-O-LOST sold: 2 sold, 2 on earlier returns" \
	"$CODE $(jqr "$BODY" .error.message)"
site_down S001 S002 W001
sync_all
site_up S001 W001
at "S001 hub" "S001 is back to 10 TEA, once" "10" "/v1/stock?site=S001&sku=TEA" '.items[0].on_hand'
for db in S001/node.db hub/hub.db; do
	check_eq "S001-O-LOST's movements and what they count in ${db%%/*}" \
		'S001-K-LOST-ret-1 2 2, S001-O-LOST-back-1 2 0, S001-O-LOST-out-1 -2 -2' \
		"$(sqlite3 -separator ' ' "$T/$db" "SELECT id, delta, counted FROM stock_movements WHERE order_id = 'S001-O-LOST' ORDER BY id" | paste -sd, | sed 's/,/, /g')"
done
site_down S001 W001

# ---- 2. Returned at the store and at the warehouse ----
site_up S001 W001
call POST S001 /v1/orders '{"id":"O-RET","channel":"online","fulfil_site":"W001","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":2}]}'
check_eq "S001 takes an online order of 2 TEA for W001" "201 3000" "$CODE $(jqr "$BODY" .total)"
site_down S001 W001
sync_all
site_up W001
call POST W001 /v1/orders/S001-O-RET/transition '{"to":"shipped","tracking":"SF7"}'
check_eq "W001 ships S001-O-RET" "200 shipped" "$CODE $(jqr "$BODY" .status)"
check_eq "W001's 20 TEA less the 2 shipped" 18 "$(tea W001 W001)"
site_down W001
sync_all

hub_stop
site_up S001 W001
call POST S001 /v1/cases '{"id":"K-BIG","kind":"return","order":"S001-O-RET","lines":[{"sku":"TEA","qty":50}]}'
check_eq "S001 refuses a return of 50 of the 2 sold" \
	"422 lines[0]: return of 50 TEA exceeds what order S001-O-RET sold: 2 sold, 0 on earlier returns" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST W001 /v1/cases '{"id":"K-W","kind":"return","order":"S001-O-RET","lines":[{"sku":"TEA","qty":2}]}'
check_eq "W001 opens a return of the 2 TEA" "201 open" "$CODE $(jqr "$BODY" .status)"
call POST W001 /v1/cases/W001-K-W/transition '{"to":"completed"}'
check_eq "W001 takes them back" "200 completed" "$CODE $(jqr "$BODY" .status)"
sleep 0.1   # S001's return is the later: its clock is higher
call POST S001 /v1/cases '{"id":"K-S","kind":"return","order":"S001-O-RET","lines":[{"sku":"TEA","qty":2}]}'
check_eq "S001, offline, opens a return of the same 2 TEA" "201 open" "$CODE $(jqr "$BODY" .status)"
call POST S001 /v1/cases/S001-K-S/transition '{"to":"completed"}'
check_eq "S001 takes them back too" "200 completed" "$CODE $(jqr "$BODY" .status)"
check_eq "S001 then sees 12 TEA" 12 "$(tea S001 S001)"
site_down S001 W001
hub_start
sync_all
site_up S001 W001
at "S001 W001 hub" "the older return (W001's) counts: W001 has its 20 TEA again" \
	20 "/v1/stock?site=W001&sku=TEA" '.items[0].on_hand'
at "S001 hub" "the later one (S001's) counts nothing: S001 stays at 10" \
	10 "/v1/stock?site=S001&sku=TEA" '.items[0].on_hand'
at "S001 W001 hub" "the merge is alerted: 2 TEA not put back" \
	"over_return:S001:S001-O-RET/TEA order S001-O-RET: 4 TEA returned, 2 sold: 2 not put back in stock, check the returns" \
	'/v1/alerts?kind=over_return' '[.items[]|"\(.id) \(.message)"]|join(" ")'
for db in S001/node.db W001/node.db hub/hub.db; do
	check_eq "the returns and what they count in ${db%%/*}" \
		'S001-K-S-ret-1 S001 2 0, W001-K-W-ret-1 W001 2 2' \
		"$(sqlite3 -separator ' ' "$T/$db" "SELECT id, site, delta, counted FROM stock_movements WHERE order_id = 'S001-O-RET' AND effect = 'return' ORDER BY id" | paste -sd, | sed 's/,/, /g')"
done
site_down S001 W001

# ---- 3. Paid in full at the store and at the warehouse ----
site_up S001
call POST S001 /v1/orders '{"id":"O-PAY","channel":"online","fulfil_site":"W001","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":2}]}'
check_eq "S001 takes an online order of 3000 for W001" "201 3000" "$CODE $(jqr "$BODY" .total)"
site_down S001
sync_all
hub_stop
site_up S001 W001
call POST S001 /v1/payments '{"id":"PAY-S","order":"S001-O-PAY","method":"card","amount":3000,"currency":"CNY"}'
check_eq "S001 takes 3000 by card" "201 0" "$CODE $(jqr "$BODY" .order_balance)"
call POST S001 /v1/payments '{"order":"S001-O-PAY","method":"cash","amount":1,"currency":"CNY"}'
check_eq "S001 refuses more than the balance" \
	"422 amount: 1 exceeds the balance 0 of order S001-O-PAY" "$CODE $(jqr "$BODY" .error.message)"
call POST W001 /v1/payments '{"id":"PAY-W","order":"S001-O-PAY","method":"bank_transfer","amount":3000,"currency":"CNY"}'
check_eq "W001, offline, takes 3000 by transfer" "201 0" "$CODE $(jqr "$BODY" .order_balance)"
site_down S001 W001
hub_start
sync_all
site_up S001 W001
at "S001 W001 hub" "S001-O-PAY is paid twice" "6000 -3000" /v1/orders/S001-O-PAY '"\(.paid) \(.balance)"'
at "S001 W001 hub" "the double charge is alerted with the refund" \
	"overpaid:S001:S001-O-PAY order S001-O-PAY paid 6000 on a total of 3000: refund 3000" \
	'/v1/alerts?kind=overpaid' '[.items[]|"\(.id) \(.message)"]|join(" ")'
call POST S001 /v1/payments '{"id":"REF-1","order":"S001-O-PAY","method":"card","amount":-3000,"currency":"CNY"}'
check_eq "S001 refunds the 3000" "201 0" "$CODE $(jqr "$BODY" .order_balance)"
site_down S001 W001
sync_all
site_up S001 W001
at "S001 W001 hub" "the refund settles it: no overpaid alert" "" \
	'/v1/alerts?kind=overpaid' '[.items[].subject]|join(" ")'
site_down S001 W001

# Every replica that holds the orders shows the same stock and money.
site_up S001 W001
check_eq "S001, which holds all three orders, shows the hub's stock" \
	"$(get hub '/v1/stock?sku=TEA')" "$(get S001 '/v1/stock?sku=TEA')"
check_eq "W001 shows the hub's stock of W001" \
	"$(get hub '/v1/stock?site=W001')" "$(get W001 '/v1/stock?site=W001')"
for r in S001 W001; do
	check_eq "$r shows the hub's S001-O-RET and S001-O-PAY" \
		"$(get hub /v1/orders/S001-O-RET | jq -c '{status, paid, balance}') $(get hub /v1/orders/S001-O-PAY | jq -c '{paid, balance}')" \
		"$(get "$r" /v1/orders/S001-O-RET | jq -c '{status, paid, balance}') $(get "$r" /v1/orders/S001-O-PAY | jq -c '{paid, balance}')"
done
site_down S001 W001
finish
