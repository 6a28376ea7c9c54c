# The command line for people at a site (node/cli.c): customers, orders,
# payments, stock, returns, alerts and reports, readable by default and the
# API's JSON with --json; a bad command says why in one line on stderr and
# exits 2 (usage) or 1 (runtime). No daemon: each command works on the
# site's replica, and `bl-node sync` carries the results to head office.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

hub_init
hub_start
node_init S001
node_init S002
D="$T/S001"

call PUT hub /v1/products/TEA '{"name":"Green tea"}'
check_eq "the hub adds TEA" 200 "$CODE"
call PUT hub /v1/products/MUG '{"name":"Mug"}'
check_eq "the hub adds MUG" 200 "$CODE"
call PUT hub /v1/prices/retail/TEA '{"amount":1200,"currency":"CNY"}'
check_eq "the hub prices TEA" 200 "$CODE"
call PUT hub /v1/prices/vip/TEA '{"amount":990,"currency":"CNY"}'
check_eq "the hub sets TEA's VIP price" 200 "$CODE"
call PUT hub /v1/safety-stock/S001/TEA '{"qty":50}'
check_eq "the hub sets S001's safety stock of TEA to 50" 200 "$CODE"
check "S001 syncs head office data" "$NODE" sync --data "$D"

# ok_cli DESC: the last command exited 0 with nothing on stderr.
ok_cli() { check_eq "$1: exit 0, quiet stderr" "0 []" "$RC [$ERR]"; }

# ---- customers ----
cli customer add --data "$D" --name "Li Wei" --phone 13800000000 --tier vip --tags regular,tea-club
ok_cli "customer add"
check_match "customer add prints the name" '^name +Li Wei$' "$OUT"
check_match "customer add prints the tier" '^tier +vip$' "$OUT"
check_match "customer add prints the tags" '^tags +regular, tea-club$' "$OUT"
CUST=$(printf '%s\n' "$OUT" | sed -n 's/^id  *//p')
check_match "customer add prints the new id" '^S001-[0-9]{6}$' "$CUST"
cli customer show "$CUST" --data "$D"
ok_cli "customer show"
check_match "customer show prints the phone" '^phone +13800000000$' "$OUT"
cli customer show "$CUST" --data "$D" --json
ok_cli "customer show --json"
check_eq "customer show --json has the fields" "$CUST Li Wei 13800000000 vip regular,tea-club 0" \
	"$(jqr "$OUT" '"\(.id) \(.name) \(.phone) \(.tier) \(.tags|join(",")) \(.points)"')"

# ---- orders and payments ----
cli stock receive --data "$D" --sku TEA --qty 20 --ref PO-7
ok_cli "stock receive"
check_match "stock receive prints the receipt" '^reason +receipt$' "$OUT"
check_match "stock receive prints the quantity" '^delta +20$' "$OUT"
cli order create --data "$D" --channel store --currency CNY --customer "$CUST" \
	--line TEA:2 --line MUG:1:3000 --status confirmed --json
ok_cli "order create --json"
ORDER=$(jqr "$OUT" .id)
check_eq "order create --json: lines quoted (TEA at VIP), total, status" \
	"TEA:2:990 MUG:1:3000 4980 0 4980 confirmed" \
	"$(jqr "$OUT" '"\([.lines[]|"\(.sku):\(.qty):\(.unit_price)"]|join(" ")) \(.total) \(.paid) \(.balance) \(.status)"')"
cli order show "$ORDER" --data "$D"
ok_cli "order show"
check_match "order show prints the total" '^total +4980$' "$OUT"
check_match "order show prints the status" '^status +confirmed$' "$OUT"
check_match "order show prints a line table" '^ +2 +MUG +1 +3000 +3000 *$' "$OUT"
cli payment take --data "$D" --order "$ORDER" --method cash --amount 1000 --currency CNY
ok_cli "payment take (cash)"
check_match "payment take prints the balance left" '^order_balance +3980$' "$OUT"
cli payment take --data "$D" --order "$ORDER" --method card --amount 3980 --currency CNY --json
ok_cli "payment take --json (card)"
check_eq "payment take --json: the order is settled" "card 3980 4980 0" \
	"$(jqr "$OUT" '"\(.method) \(.amount) \(.order_paid) \(.order_balance)"')"

# ---- stock: count, transfer ----
# S001 had 20 TEA and sold 2: a count of 15 records -3.
cli stock count --data "$D" --sku TEA --counted 15
ok_cli "stock count"
check_match "stock count prints the adjustment" '^adjustment +-3$' "$OUT"
cli stock transfer --data "$D" --sku TEA --qty 4 --to S002 --json
ok_cli "stock transfer --json"
check_eq "stock transfer --json: the out leg here, in transit until S002 records its receipt" \
	"S001:-4:transfer_out in_transit true" \
	"$(jqr "$OUT" '"\([.movements[]|"\(.site):\(.delta):\(.reason)"]|join(" ")) \(.status) \(.receipt == "S002-\(.id)-in")"')"
TRANSFER=$(jqr "$OUT" .id)
cli stock list --data "$D" --sku TEA --json
check_eq "S001 has 11 TEA; S002's 4 are in transit" "S001:11" \
	"$(jqr "$OUT" '[.items[]|"\(.site):\(.on_hand)"]|join(" ")')"

# ---- a return: case open, case move --to completed ----
cli case open --data "$D" --kind return --order "$ORDER" --line TEA:1 \
	--description "box damaged" --assignee wang --json
ok_cli "case open --json"
CASE=$(jqr "$OUT" .id)
check_eq "case open --json: an open return of 1 TEA for the order" \
	"return open $ORDER TEA:1 wang" \
	"$(jqr "$OUT" '"\(.kind) \(.status) \(.order) \([.lines[]|"\(.sku):\(.qty)"]|join(" ")) \(.assignee)"')"
cli case move "$CASE" --data "$D" --to completed
ok_cli "case move --to completed"
check_match "case move prints the new status" '^status +completed$' "$OUT"
cli stock list --data "$D" --site S001 --sku TEA
ok_cli "stock list"
check_match "the return is back in S001's stock (12)" '^S001 +TEA +12 +0 +12 *$' "$OUT"
check_eq "the return movement is recorded" "$CASE-ret-1 1 return $CASE" \
	"$(sqlite3 -separator ' ' "$D/node.db" "SELECT id, delta, reason, ref FROM stock_movements WHERE reason = 'return'")"

# ---- alerts and reports ----
cli alerts --data "$D"
ok_cli "alerts"
check_match "alerts shows TEA below its safety stock" 'low_stock +S001 +TEA +S001 TEA available 12, below the safety stock 50' "$OUT"
check_match "alerts shows MUG oversold (sold, never received)" 'negative_stock +S001 +MUG ' "$OUT"
cli alerts --data "$D" --json
ok_cli "alerts --json"
check_eq "alerts --json has both" "low_stock:TEA negative_stock:MUG" \
	"$(jqr "$OUT" '[.items[]|"\(.kind):\(.subject)"]|join(" ")')"
cli report sales --data "$D" --group sku
ok_cli "report sales"
check_match "report sales shows MUG" '^MUG +CNY +1 +1 +3000 *$' "$OUT"
check_match "report sales shows TEA" '^TEA +CNY +1 +2 +1980 *$' "$OUT"
cli report sales --data "$D" --group sku --json
ok_cli "report sales --json"
node_report=$OUT
check_eq "report sales --json has the totals" "MUG:1:3000 TEA:2:1980" \
	"$(jqr "$OUT" '[.items[]|"\(.sku):\(.qty):\(.total)"]|join(" ")')"

# ---- head office sees the same ----
check "S001 syncs" "$NODE" sync --data "$D"
check "S002 syncs" "$NODE" sync --data "$T/S002"
check_eq "the hub's sales report is S001's" "$node_report" "$(get hub '/v1/reports/sales?group=sku')"
check_eq "the hub shows the order paid" "4980 0" \
	"$(jqr "$(get hub "/v1/orders/$ORDER")" '"\(.paid) \(.balance)"')"
check_eq "the hub shows the case completed" completed \
	"$(jqr "$(get hub "/v1/cases/$CASE")" .status)"
cli stock list --data "$T/S002" --site S002 --json
check_eq "S002 sees the 4 TEA transferred to it" "S002:TEA:4" \
	"$(jqr "$OUT" '[.items[]|"\(.site):\(.sku):\(.on_hand)"]|join(" ")')"
check_eq "S002 recorded the receipt itself, naming S001's out leg" \
	"S002-$TRANSFER-in S002 transfer_in 4 $TRANSFER" \
	"$(sqlite3 -separator ' ' "$T/S002/node.db" "SELECT m.id, l.origin, m.reason, m.delta, m.ref FROM stock_movements m JOIN op_log l ON l.key = m.id WHERE m.site = 'S002'")"

# ---- bad commands ----
before=$(sqlite3 "$D/node.db" "SELECT value FROM meta WHERE name = 'seq'")
check_match "S001's op counter is readable" '^[0-9]+$' "$before"
# bad_cli DESC WANT_RC WANT_STDERR ARGS...
bad_cli() {
	desc=$1 want_rc=$2 want_err=$3
	shift 3
	cli "$@"
	check_eq "$desc: exit status" "$want_rc" "$RC"
	check_eq "$desc: one line on stderr" "$want_err" "$ERR"
	check_eq "$desc: nothing on stdout" "" "$OUT"
}
bad_cli "an unknown option" 2 "bl-node: customer add: unknown option --nickname" \
	customer add --data "$D" --name X --nickname Y
bad_cli "no --data" 2 "bl-node: customer add: --data DIR is required" \
	customer add --name X
bad_cli "show without an id" 2 "bl-node: customer show: which one? give its id" \
	customer show --data "$D"
bad_cli "a quantity that is not a number" 2 "bl-node: stock receive: --qty 'ten': not an integer" \
	stock receive --data "$D" --sku TEA --qty ten
bad_cli "a line without a quantity" 2 "bl-node: order create: --line 'TEA': expected SKU:QTY[:PRICE]" \
	order create --data "$D" --channel store --currency CNY --line TEA
bad_cli "an unknown customer" 1 "bl-node: customer show: customer C-NOPE: not found" \
	customer show C-NOPE --data "$D"
bad_cli "a payment for an unknown order" 1 "bl-node: payment take: order: O-NOPE not found" \
	payment take --data "$D" --order O-NOPE --method cash --amount 100 --currency CNY
bad_cli "a refund above what was paid" 1 "bl-node: payment take: amount: refund of 9999 exceeds the 4980 paid on order $ORDER" \
	payment take --data "$D" --order "$ORDER" --method cash --amount -9999 --currency CNY
bad_cli "a transfer to itself" 1 "bl-node: stock transfer: to_site: a transfer goes to another site" \
	stock transfer --data "$D" --sku TEA --qty 1 --to S001
bad_cli "a completed case completed again" 1 "bl-node: case move: to: case $CASE is completed; it can move to closed" \
	case move "$CASE" --data "$D" --to completed
bad_cli "a report group that does not exist" 1 "bl-node: report sales: group: 'week' is not one of site, sku, customer, day" \
	report sales --data "$D" --group week
bad_cli "a site directory that does not exist" 1 "bl-node: customer show: open database $T/nowhere/node.db: unable to open database file" \
	customer show "$CUST" --data "$T/nowhere"
cli customer frobnicate --data "$D"
check_eq "an unknown verb: exit status" 2 "$RC"
check_eq "an unknown verb: says so first" "bl-node: customer: unknown command 'frobnicate'; one of:" \
	"$(printf '%s\n' "$ERR" | head -n 1)"
bad_cli "an unknown currency" 1 "bl-node: customer add: currency: 'XXX' is not an ISO 4217 currency code" \
	customer add --data "$D" --name X --currency XXX
check_eq "bad commands recorded nothing" "$before" \
	"$(sqlite3 "$D/node.db" "SELECT value FROM meta WHERE name = 'seq'")"
# A yes/no option given something else is bad usage, not a silent "no".
cli order create --data "$D" --channel store --currency CNY --customer "$CUST" \
	--line TEA:1 --on-account maybe
check_eq "--on-account maybe: exit status" 2 "$RC"
check_match "--on-account maybe: one line on stderr about it" \
	'^bl-node: order create: --on-account' "$ERR"
check_eq "--on-account maybe: no order recorded" "$before" \
	"$(sqlite3 "$D/node.db" "SELECT value FROM meta WHERE name = 'seq'")"
finish
