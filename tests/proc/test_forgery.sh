# A store can change only what is its own (SPEC §4 "Ownership", own.h).
# S666, an enrolled store, speaks the protocol with its real keys and hash
# chain (tests/tools/blforge) and pushes, in its own name, every forgery
# of the issue: cancel S001's order, refund on it (labelled as S001's and
# not), move S002's stock, create records under S001's ids with a tiny
# clock (order, payment, movement, customer), take over S001's customer,
# receive the transfer S001 sent S002, ship an order it does not fulfil,
# open a case on S001's order. Each forgery rides in a batch with an
# honest op of S666's behind it. Each must be quarantined at the hub with
# its exact reason, alerted naming S666, never streamed, and change
# nothing of S001's or S002's, at the hub or at either store; the honest op
# behind it is taken and reaches the stores.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"
FORGE="$BL_BIN/tests/tools/blforge"
export BL_HUB_DB="$T/hub/hub.db"

hub_init
hub_start
node_init S001
node_init S002
node_init S666

# Head office is told by its id everywhere (own.h): ids beginning with HQ
# are the hq role's, and only its; '-' separates an id's site from the rest.
key=$("$NODE" key --data "$T/S666")
check_eq "a store may not take an id of head office's" \
	"bl-hub: enroll: --site 'HQ2': ids beginning with HQ are kept for head office (--role hq)" \
	"$("$HUB" enroll --data "$T/hub" --site HQ2 --role store --key "$key" 2>&1)"
check_eq "head office's id begins with HQ" \
	"bl-hub: enroll: --site 'S777': a head office id begins with HQ" \
	"$("$HUB" enroll --data "$T/hub" --site S777 --role hq --key "$key" 2>&1)"
check_eq "so does the hub's own" \
	"bl-hub: init: --site 'S000': head office's id begins with HQ" \
	"$("$HUB" init --data "$T/hub2" --site S000 2>&1)"
check_eq "a site id has no '-'" \
	"bl-node: init: --site 'S-1': use 1-16 of A-Z a-z 0-9 _" \
	"$("$NODE" init --data "$T/S-1" --site S-1 --hub "tcp://127.0.0.1:$HUB_SYNC" --hub-key "$HUB_KEY" 2>&1)"
call PUT hub /v1/products/TEA '{"name":"Green tea"}'
check_eq "the hub adds TEA" 200 "$CODE"
call PUT hub /v1/prices/retail/TEA '{"amount":100,"currency":"CNY"}'
check_eq "the hub prices TEA at 100" 200 "$CODE"
site_up S001 S002

# ---- the victims' business ----
# have SITE PATH FILTER WANT: SITE shows WANT (jq FILTER of GET PATH).
have() { [ "$(jqr "$(get "$1" "$2")" "$3")" = "$4" ]; }
check "the stores see the catalog" eventually 10 have S001 /v1/products/TEA .sku TEA
call POST S001 /v1/stock/movements '{"id":"REC1","sku":"TEA","delta":10,"reason":"receipt"}'
check_eq "S001 receives 10 TEA; its client id is scoped by its site" \
	"201 S001-REC1" "$CODE $(jqr "$BODY" .id)"
call POST S002 /v1/stock/movements '{"id":"REC1","sku":"TEA","delta":20,"reason":"receipt"}'
check_eq "S002 receives 20 TEA under the same client id: its own record" \
	"201 S002-REC1" "$CODE $(jqr "$BODY" .id)"
call POST S001 /v1/customers '{"id":"C1","name":"Li Wei","phone":"13800000000"}'
check_eq "S001 enrolls customer C1" "201 S001-C1 S001" \
	"$CODE $(jqr "$BODY" '"\(.id) \(.site)"')"
call POST S001 /v1/orders '{"id":"O1","channel":"store","customer":"S001-C1","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":2}],"payments":[{"id":"P1","method":"cash","amount":200}]}'
check_eq "S001's till sells 2 TEA for 200, paid" "201 S001-O1 confirmed 200 200" \
	"$CODE $(jqr "$BODY" '"\(.id) \(.status) \(.total) \(.paid)"')"
call POST S001 /v1/orders '{"id":"O2","channel":"online","fulfil_site":"S002","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":1}]}'
check_eq "S001 takes an online order for S002 to fulfil" "201 S001-O2 S002" \
	"$CODE $(jqr "$BODY" '"\(.id) \(.fulfil_site)"')"
call POST S001 /v1/stock/transfers '{"id":"T1","sku":"TEA","qty":3,"to_site":"S002"}'
check_eq "S001 sends S002 3 TEA: out here, in transit" \
	"201 S001-T1 in_transit S002-S001-T1-in S001-T1-to-S002:-3" \
	"$CODE $(jqr "$BODY" '"\(.id) \(.status) \(.receipt) \(.movements[0].id):\(.movements[0].delta)"')"
check "S002 records the receipt itself" \
	eventually 15 have S002 "/v1/stock?site=S002&sku=TEA" '.items[0].on_hand' 23
check_eq "S002's receipt is its own op, naming the transfer" "S002 transfer_in 3" \
	"$(sqlite3 -separator ' ' "$T/S002/node.db" "SELECT origin, reason, delta FROM stock_movements WHERE id = 'S002-S001-T1-in'")"
check "S002 sees the order it fulfils" eventually 15 have S002 /v1/orders/S001-O2 .status confirmed
for r in hub S002; do
	check "the receipt reaches $r" eventually 15 have "$r" "/v1/stock?site=S002&sku=TEA" '.items[0].on_hand' 23
done
check "S001's sale reaches the hub" eventually 15 have hub /v1/orders/S001-O1 .paid 200

# What S001 and S002 own, as every replica must keep showing it.
victims() {
	printf '%s|' \
		"$(jqr "$(get "$1" /v1/orders/S001-O1)" '"\(.status) \(.total) \(.paid) \(.balance) \(.site) \(.fulfil_site) \([.history[].status]|join(","))"')" \
		"$(jqr "$(get "$1" '/v1/payments?order=S001-O1')" '[.items[]|"\(.id):\(.amount):\(.site)"]|join(",")')" \
		"$(jqr "$(get "$1" '/v1/stock?sku=TEA')" '[.items[]|select(.site == "S001" or .site == "S002")|"\(.site):\(.on_hand)"]|join(",")')" \
		"$(jqr "$(get "$1" /v1/customers/S001-C1)" '"\(.site) \(.name)"')"
}
WANT="confirmed 200 200 0 S001 S001 confirmed|S001-P1:200:S001|S001:5,S002:23|S001 Li Wei|"
for r in hub S001; do
	check_eq "$r shows S001's order, payment, stock and customer" "$WANT" "$(victims "$r")"
done
check_eq "S001's sale movement" "S001 -2 sale S001" \
	"$(sqlite3 -separator ' ' "$T/hub/hub.db" "SELECT site, delta, reason, origin FROM stock_movements WHERE id = 'S001-O1-out-1'")"

# ---- S666 ----
# forge DESC OP...: S666 pushes the ops (JSON lines) as one batch; the
# push must be acknowledged. Sets SEQ to the seqs given, in order.
forge() {
	local desc=$1 out
	shift
	out=$(printf '%s\n' "$@" | "$FORGE" "$T/S666" 2>&1)
	N=$((N + $(printf '%s\n' "$@" | grep -c '"S666-IN')))
	SEQ=$(printf '%s\n' "$out" | sed -n 's#^pushed S666/\([0-9]*\) .*#\1#p' | tr '\n' ' ')
	check_match "$desc: the hub acknowledges the batch" "^PUSH_ACK [0-9]+$" \
		"$(printf '%s\n' "$out" | tail -n 1)"
}
# refused SEQ REASON: S666/SEQ is quarantined at the hub with REASON, and
# alerted naming S666; neither store holds it.
refused() {
	check_eq "  quarantined at the hub with its reason" "apply op S666/$1: $2" \
		"$(sqlite3 "$T/hub/hub.db" "SELECT reason FROM quarantine WHERE origin = 'S666' AND seq = $1")"
	check_eq "  alerted, naming S666" "S666 apply op S666/$1: $2" \
		"$(jqr "$(get hub '/v1/alerts?kind=quarantined')" ".items[]|select(.subject == \"S666/$1\")|\"\(.site) \(.message)\"")"
	check_eq "  not in the hub's log" 0 \
		"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'S666' AND seq = $1")"
}
# taken SEQ: S666/SEQ, honest, is in the hub's log.
taken() {
	check_eq "  the honest op behind it is taken" 1 \
		"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'S666' AND seq = $1")"
}
# receipt: S666's honest op, its next receipt of 1 TEA at its own site
# (forge counts them in N).
N=0
receipt() {
	printf '{"entity":"stock_movement","key":"S666-IN%d","kind":"add","fields":{"site":"S666","sku":"TEA","delta":1,"reason":"receipt"}}' "$((N + 1))"
}

forge "S666 cancels S001's order" \
	'{"entity":"order","key":"S001-O1","kind":"transition","fields":{"to":"cancelled","reason":"mine now"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "order S001-O1: S666 may not cancel it: only its creating site S001 or head office may"
taken "$2"

forge "S666 refunds S001's sale, labelled as S001's" \
	'{"entity":"payment","key":"S666-R1","kind":"add","fields":{"order":"S001-O1","method":"cash","amount":-200,"currency":"CNY","site":"S001"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "payment S666-R1: recorded at S001 but written by S666 (a site records only its own payments)"
taken "$2"

forge "S666 refunds S001's sale as its own" \
	'{"entity":"payment","key":"S666-R2","kind":"add","fields":{"order":"S001-O1","method":"cash","amount":-200,"currency":"CNY","site":"S666"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "payment S666-R2: order S001-O1: S666 may not take a payment or refund on it: only its creating site S001, its fulfilling site S001 or head office may"
taken "$2"

forge "S666 moves S002's stock by -777" \
	'{"entity":"stock_movement","key":"S666-M1","kind":"add","fields":{"site":"S002","sku":"TEA","delta":-777,"reason":"adjustment"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "stock movement S666-M1: recorded at S002 but written by S666 (a site moves only its own stock)"
taken "$2"

forge "S666 moves S002's stock under S002's id" \
	'{"entity":"stock_movement","key":"S002-000777","kind":"add","hlc":1,"fields":{"site":"S002","sku":"TEA","delta":-777,"reason":"adjustment"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "stock movement S002-000777: S666 creates records only under its own ids (S666-...)"
taken "$2"

# Creates under S001's own ids with a clock of 1, which would win the
# (hlc, origin) tie-break of creates.
forge "S666 creates S001's order again, total 1, clock 1" \
	'{"entity":"order","key":"S001-O1","kind":"create","hlc":1,"fields":{"site":"S666","channel":"store","currency":"CNY","fulfil_site":"S666","status":"draft","lines":[{"sku":"TEA","qty":1,"unit_price":1}]}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "order S001-O1: S666 creates records only under its own ids (S666-...)"
taken "$2"

forge "S666 creates S001's payment again, 1, clock 1" \
	'{"entity":"payment","key":"S001-P1","kind":"add","hlc":1,"fields":{"order":"S001-O1","method":"cash","amount":1,"currency":"CNY","site":"S666"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "payment S001-P1: S666 creates records only under its own ids (S666-...)"
taken "$2"

forge "S666 makes S001's sale movement a receipt of 500, clock 1" \
	'{"entity":"stock_movement","key":"S001-O1-out-1","kind":"add","hlc":1,"fields":{"site":"S666","sku":"TEA","delta":500,"reason":"receipt"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "stock movement S001-O1-out-1: S666 creates records only under its own ids (S666-...)"
taken "$2"

forge "S666 creates S001's customer again, clock 1" \
	'{"entity":"customer","key":"S001-C1","kind":"create","hlc":1,"fields":{"set":{"name":"Mallory"}}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "customer S001-C1: S666 creates records only under its own ids (S666-...)"
taken "$2"

# A customer's shared fields may be changed anywhere, its owner never.
forge "S666 sets S001's customer's owner" \
	'{"entity":"customer","key":"S001-C1","kind":"update","fields":{"set":{"site":"S666"}}}' \
	'{"entity":"customer","key":"S001-C1","kind":"update","fields":{"set":{"phone":"13900000000"}}}'
set -- $SEQ
refused "$1" "customer S001-C1: site: unknown field"
taken "$2"

forge "S666 receives the 3 TEA S001 sent S002" \
	'{"entity":"stock_movement","key":"S666-S001-T1-in","kind":"add","fields":{"site":"S666","sku":"TEA","delta":3,"reason":"transfer_in","ref":"S001-T1","transfer":"S001-T1-to-S002"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "stock movement S666-S001-T1-in: receives transfer S001-T1-to-S002, which is not addressed to S666 (a site receives only what is sent to it)"
taken "$2"

forge "S666 ships the order S002 fulfils" \
	'{"entity":"order","key":"S001-O2","kind":"transition","fields":{"to":"shipped","tracking":"FAKE"}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "order S001-O2: S666 may not ship it: only its fulfilling site S002 may"
taken "$2"

forge "S666 completes S001's sale and opens a return on it" \
	'{"entity":"order","key":"S001-O1","kind":"transition","fields":{"to":"completed"}}' \
	'{"entity":"case","key":"S666-K1","kind":"create","fields":{"kind":"return","site":"S666","order":"S001-O1","lines":[{"sku":"TEA","qty":2}]}}' \
	"$(receipt)"
set -- $SEQ
refused "$1" "order S001-O1: S666 may not complete it: only its creating site S001, its fulfilling site S001 or head office may"
refused "$2" "case S666-K1: order S001-O1: S666 may not open a case on it: only its creating site S001, its fulfilling site S001 or head office may"
taken "$3"

# ---- nothing of it anywhere, the honest ops everywhere ----
check_eq "every forgery is alerted at the hub, naming S666" "14 S666" \
	"$(jqr "$(get hub '/v1/alerts?kind=quarantined')" '[.items[]|select(.site == "S666")]|"\(length) \([.[].site]|unique|join(","))"')"
for r in S001 S002; do
	check "S666's honest receipts reach $r" \
		eventually 15 have "$r" "/v1/stock?site=S666&sku=TEA" '.items[0].on_hand' "$N"
	check "S666's change of the customer's phone reaches $r" \
		eventually 15 have "$r" /v1/customers/S001-C1 .phone 13900000000
	check_eq "$r received only S666's honest ops" "$(sqlite3 "$T/hub/hub.db" "SELECT group_concat(seq) FROM (SELECT seq FROM op_log WHERE origin = 'S666' ORDER BY seq)")" \
		"$(sqlite3 "$T/$r/node.db" "SELECT group_concat(seq) FROM (SELECT seq FROM op_log WHERE origin = 'S666' ORDER BY seq)")"
	check_eq "$r quarantined nothing" 0 "$(sqlite3 "$T/$r/node.db" "SELECT count(*) FROM quarantine")"
done
check_eq "the hub took $N receipts and the phone of S666's, nothing more" "$((N + 1))" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'S666'")"
for r in hub S001; do
	check_eq "$r still shows S001's order, payment, stock and customer" "$WANT" "$(victims "$r")"
done
check_eq "S002 still shows its stock and S001's" "S001:5,S002:23" \
	"$(jqr "$(get S002 '/v1/stock?sku=TEA')" '[.items[]|select(.site == "S001" or .site == "S002")|"\(.site):\(.on_hand)"]|join(",")')"
check_eq "S002 still shows S001's customer as S001's" "S001 Li Wei" \
	"$(jqr "$(get S002 /v1/customers/S001-C1)" '"\(.site) \(.name)"')"
at "hub S001 S002" "S001's online order is still confirmed, for S002" "confirmed S002" \
	/v1/orders/S001-O2 '"\(.status) \(.fulfil_site)"'
for db in hub/hub.db S001/node.db S002/node.db; do
	check_eq "S001's sale movement unchanged in ${db%%/*}" "S001 -2 sale S001" \
		"$(sqlite3 -separator ' ' "$T/$db" "SELECT site, delta, reason, origin FROM stock_movements WHERE id = 'S001-O1-out-1'")"
	check_eq "no case on S001's order in ${db%%/*}" 0 \
		"$(sqlite3 "$T/$db" "SELECT count(*) FROM cases WHERE order_id = 'S001-O1'")"
done

# ---- the rules hold at the stores too ----
call POST S001 /v1/orders/S001-O2/transition '{"to":"shipped"}'
check_eq "S001 may not ship the order S002 fulfils" \
	"403 order S001-O2: S001 may not ship it: only its fulfilling site S002 may" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST S002 /v1/stock/movements '{"site":"S001","sku":"TEA","delta":-1,"reason":"adjustment"}'
check_match "S002's API refuses to move S001's stock, saying why" \
	"^403 stock movement S002-[0-9]{6}: recorded at S001 but written by S002 \(a site moves only its own stock\)$" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST S002 /v1/orders/S001-O2/transition '{"to":"shipped","tracking":"SF1"}'
check_eq "S002, the fulfilling site, ships S001-O2" "200 shipped" "$CODE $(jqr "$BODY" .status)"
call POST S001 /v1/orders/S001-O1/transition '{"to":"completed"}'
check_eq "S001 completes its own sale" "200 completed" "$CODE $(jqr "$BODY" .status)"
check "S002's shipment reaches S001" eventually 15 have S001 /v1/orders/S001-O2 .status shipped
check "and its sale leaves S002's stock, as S002 recorded it" \
	eventually 15 have hub "/v1/stock?site=S002&sku=TEA" '.items[0].on_hand' 22
check_eq "S002's sale movement of S001-O2 is its own" "S002 S002 -1" \
	"$(sqlite3 -separator ' ' "$T/S002/node.db" "SELECT origin, site, delta FROM stock_movements WHERE id = 'S002-S001-O2-out-1'")"
finish
