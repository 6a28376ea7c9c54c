# Money across sites: a credit limit refused where it is known and flagged
# where only the merge reveals it; refunds that together exceed what was
# paid; invoices numbered per issuing site, receivables and their aging,
# an overdue receivable (SPEC §3-§4, sync/{order,payment,invoice,alert}.h).
# Each site sees the orders it created or fulfils, with their payments and
# invoices (SPEC §5); head office sees them all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

hub_init
hub_start
node_init S001
node_init S002
node_init W001 warehouse
call PUT hub /v1/products/BOX '{"name":"Carton of tea"}'
check_eq "the hub adds BOX" 200 "$CODE"
call PUT hub /v1/prices/wholesale/BOX '{"amount":100,"currency":"CNY"}'
check_eq "the hub sets BOX's wholesale price" 200 "$CODE"
sync_all
site_up S001
call POST S001 /v1/customers '{"id":"B2B-1","name":"Tea House Ltd","tier":"wholesale","credit_limit":1000,"currency":"CNY"}'
check_eq "S001 adds a wholesale customer with a credit limit of 1000" "201 1000" "$CODE $(jqr "$BODY" .credit_limit)"
call POST S001 /v1/orders '{"id":"PAID-1","channel":"online","fulfil_site":"S002","currency":"CNY","status":"confirmed","lines":[{"sku":"BOX","qty":10,"unit_price":100}],"payments":[{"method":"card","amount":1000}]}'
check_eq "an online order for S002 to fulfil, paid 1000 in one request" "201 1000 0" "$CODE $(jqr "$BODY" '"\(.paid) \(.balance)"')"
site_down S001
sync_all

# ---- credit limit: each store alone stays under it; together they do not ----
hub_stop
site_up S001 S002
call POST S001 /v1/orders '{"id":"ACC-1","channel":"b2b","fulfil_site":"S001","customer":"S001-B2B-1","currency":"CNY","on_account":true,"status":"confirmed","lines":[{"sku":"BOX","qty":7}]}'
check_eq "S001 sells 700 on account (quoted at the wholesale price)" "201 700" "$CODE $(jqr "$BODY" .total)"
call POST S001 /v1/orders '{"id":"ACC-2","channel":"b2b","fulfil_site":"S001","customer":"S001-B2B-1","currency":"CNY","on_account":true,"status":"confirmed","lines":[{"sku":"BOX","qty":4}]}'
check_eq "S001 refuses 400 more on account: over the limit it knows" \
	"422 on_account: customer S001-B2B-1 would owe 1100, over the credit limit 1000" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST S002 /v1/orders '{"id":"ACC-3","channel":"b2b","fulfil_site":"S002","customer":"S001-B2B-1","currency":"CNY","on_account":true,"status":"confirmed","lines":[{"sku":"BOX","qty":6}]}'
check_eq "S002, offline, sells 600 on account: under the limit as far as it knows" "201 600" "$CODE $(jqr "$BODY" .total)"
check_eq "no credit alert at S002 yet" "" "$(jqr "$(get S002 '/v1/alerts?kind=credit_limit')" '[.items[].subject]|join(" ")')"

# ---- refunds: each store refunds less than was paid, together more ----
call POST S001 /v1/payments '{"id":"REF-1","order":"S001-PAID-1","method":"card","amount":-800,"currency":"CNY"}'
check_eq "S001 refunds 800 of the 1000 paid" "201 200" "$CODE $(jqr "$BODY" .order_paid)"
call POST S002 /v1/payments '{"id":"REF-2","order":"S001-PAID-1","method":"cash","amount":-700,"currency":"CNY"}'
check_eq "S002, offline, refunds 700 of the 1000 it knows" "201 300" "$CODE $(jqr "$BODY" .order_paid)"
call POST S002 /v1/payments '{"id":"REF-3","order":"S001-PAID-1","method":"cash","amount":-400,"currency":"CNY"}'
check_eq "S002 refuses a refund above what is paid" \
	"422 amount: refund of 400 exceeds the 300 paid on order S001-PAID-1" \
	"$CODE $(jqr "$BODY" .error.message)"

# ---- invoices: numbered per issuing site ----
call POST S001 /v1/invoices '{"order":"S001-ACC-1"}'
check_eq "S001 issues its first invoice" "201 S001-INV-000001 700 issued" "$CODE $(jqr "$BODY" '"\(.id) \(.amount) \(.status)"')"
call POST S001 /v1/invoices '{"order":"S001-PAID-1","due_days":0}'
check_eq "S001 issues its second, due at once" "201 S001-INV-000002" "$CODE $(jqr "$BODY" .id)"
call POST S002 /v1/invoices '{"order":"S002-ACC-3"}'
check_eq "S002 numbers its own invoices" "201 S002-INV-000001" "$CODE $(jqr "$BODY" .id)"
call POST S002 /v1/invoices '{"order":"NOPE"}'
check_eq "an invoice for an unknown order" "404 order: NOPE not found" "$CODE $(jqr "$BODY" .error.message)"
call POST S001 /v1/invoices/S001-INV-000002/transition '{"to":"issued"}'
check_eq "an invoice cannot move back to issued" \
	"422 to: invoice S001-INV-000002 is issued; it can move to paid, void" \
	"$CODE $(jqr "$BODY" .error.message)"
site_down S001 S002

hub_start
sync_all
site_up S001 S002 W001
at hub "only head office's merge reveals the credit limit" "S001-B2B-1:customer S001-B2B-1 owes 1300 on account, over the credit limit 1000" \
	'/v1/alerts?kind=credit_limit' '[.items[]|"\(.subject):\(.message)"]|join(" ")'
at "S001 S002" "each store sees only its own orders on account: no alert" "" \
	'/v1/alerts?kind=credit_limit' '[.items[]|.subject]|join(" ")'
at "S001 S002 hub" "the merge reveals the over-refund" "S001-PAID-1:-500" \
	'/v1/alerts?kind=over_refund' '[.items[]|"\(.subject):\(.message|capture("refunded (?<n>[0-9]+)").n|"-"+.)"]|join(" ")'
at "S001 S002 hub" "paid on S001-PAID-1 is the sum of payment and refunds" "-500" /v1/orders/S001-PAID-1 .paid
unseen W001 "S001-PAID-1" /v1/orders/S001-PAID-1
at hub "head office sees every invoice" "S001-INV-000001 S001-INV-000002 S002-INV-000001" \
	/v1/reports/receivables '[.items[].invoice]|sort|join(" ")'
at S001 "S001 sees the invoices of its orders" "S001-INV-000001 S001-INV-000002" \
	/v1/reports/receivables '[.items[].invoice]|sort|join(" ")'
at S002 "S002 sees its own and the one of the order it fulfils" "S001-INV-000002 S002-INV-000001" \
	/v1/reports/receivables '[.items[].invoice]|sort|join(" ")'
at hub "receivables total 0-30 days at head office" "2300" /v1/reports/receivables '.totals.CNY."0-30"'
at S002 "receivables total 0-30 days at S002" "1600" /v1/reports/receivables '.totals.CNY."0-30"'
at "S001 S002 hub" "the invoice due at once is overdue" "S001-INV-000002" \
	'/v1/alerts?kind=overdue_receivable' '[.items[].subject]|join(" ")'

# Paying the overdue invoice settles it everywhere after a sync.
call POST S001 /v1/invoices/S001-INV-000002/transition '{"to":"paid"}'
check_eq "S001 marks S001-INV-000002 paid" "200 paid" "$CODE $(jqr "$BODY" .status)"
site_down S001 S002 W001
sync_all
site_up S001 S002 W001
everywhere "no overdue receivable is left" "" '/v1/alerts?kind=overdue_receivable' '[.items[].subject]|join(" ")'
at hub "receivables keep the two unpaid invoices" "S001-INV-000001 S002-INV-000001" \
	/v1/reports/receivables '[.items[].invoice]|sort|join(" ")'
site_down S001 S002 W001

# ---- limits: no order makes a sum overflow (sync/domain/money.h) ----
# Two orders whose totals each fit in int64, but not their sum, once made
# head office's sales report by sku fail with nothing to show for the real
# stores' sales. Such an order is now over the limit of an order: refused
# where it is written, quarantined where another site's op brings it; the
# reports keep every other row, summed exactly.
POKE="$BL_BIN/tests/tools/blpoke"
L='{"sku":"BOX","qty":1000000,"unit_price":1000000000000}'
BIG="\"channel\":\"store\",\"currency\":\"CNY\",\"status\":\"confirmed\",\"lines\":[$L,$L,$L,$L,$L]"
site_up S001 S002
seq1=$(jqr "$(get S001 /v1/status)" .last_seq)
seq2=$(jqr "$(get S002 /v1/status)" .last_seq)
# refused DESC SITE BODY MESSAGE: POST /v1/orders BODY at SITE is a 422
# with MESSAGE.
refused() {
	call POST "$2" /v1/orders "$3"
	check_eq "$1" "422 $4" "$CODE $(jqr "$BODY" .error.message)"
}
refused "S001 refuses an order of 5 x 10^18, over the limit of an order" S001 \
	"{\"id\":\"BIG-1\",$BIG}" \
	"lines: total 5000000000000000000 exceeds the limit of 1000000000000000 per order"
refused "S002 refuses the second one alike" S002 "{\"id\":\"BIG-2\",$BIG}" \
	"lines: total 5000000000000000000 exceeds the limit of 1000000000000000 per order"
refused "a line over the qty limit" S001 \
	'{"channel":"store","currency":"CNY","lines":[{"sku":"BOX","qty":1000001,"unit_price":1}]}' \
	"lines[0]: qty: 1000001 exceeds the limit of 1000000 per line"
refused "a line over the unit price limit" S001 \
	'{"channel":"store","currency":"CNY","lines":[{"sku":"BOX","qty":1,"unit_price":1000000000001}]}' \
	"lines[0]: unit_price: 1000000000001 exceeds the limit of 1000000000000 per unit"
check_eq "S001 recorded none of them" "$seq1" "$(jqr "$(get S001 /v1/status)" .last_seq)"
check_eq "S002 recorded none of them" "$seq2" "$(jqr "$(get S002 /v1/status)" .last_seq)"
call POST S002 /v1/orders '{"id":"MAX-1","channel":"b2b","fulfil_site":"S002","currency":"CNY","status":"confirmed","lines":[{"sku":"BOX","qty":1000,"unit_price":1000000000000}]}'
check_eq "an order of exactly the limit, 10^15, is taken" "201 1000000000000000" \
	"$CODE $(jqr "$BODY" .total)"
site_down S001 S002
sync_all

# The same order as an op of another site: an old or forged node's push.
node_init S003
check_eq "S003 pushes an order create of 5 x 10^18: acknowledged" "PUSH_ACK" \
	"$("$POKE" "$T/S003" big-order)"
at hub "head office quarantines it with its reason" \
	"apply op S003/1: order BIG-S003: lines: total 5000000000000000000 exceeds the limit of 1000000000000000 per order" \
	'/v1/alerts?kind=quarantined' '[.items[].message]|join(" ")'
call GET hub /v1/orders/BIG-S003
check_eq "and never applies it" "404 order BIG-S003: not found" \
	"$CODE $(jqr "$BODY" .error.message)"

site_up S001 S002
call GET hub '/v1/reports/sales?group=sku'
check_eq "head office's sales by sku: every store's sales, exact" \
	"200 BOX:CNY:4:1023:1000000000002300" \
	"$CODE $(jqr "$BODY" '[.items[]|"\(.sku):\(.currency):\(.orders):\(.qty):\(.total)"]|join(" ")')"
at hub "head office's sales by site" \
	"S001:2:17:1700 S002:2:1006:1000000000000600" '/v1/reports/sales?group=site' \
	'[.items[]|"\(.site):\(.orders):\(.qty):\(.total)"]|join(" ")'
at S002 "S002's own sales by sku" "BOX:CNY:3:1016:1000000000001600" \
	'/v1/reports/sales?group=sku' \
	'[.items[]|"\(.sku):\(.currency):\(.orders):\(.qty):\(.total)"]|join(" ")'
site_down S001 S002
finish
