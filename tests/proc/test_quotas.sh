# Escrowed stock quotas (sync/domain/quota.h) with a real hub, a warehouse
# W001 with stock and two stores: the warehouse grants rights on its stock
# within what it has (a grant over it is refused, at the warehouse and at
# head office); a store spends them with the hub down, is refused with the
# backorder message when they run out, orders a backorder; a cancellation
# gives the store no rights back but frees the warehouse's stock; head
# office recalls, and the store returns what is unspent at its next sync.
# A cancellation crossing the warehouse's shipment spends nothing twice
# and never takes the warehouse below zero. A forging store (blforge) that
# spends another's quota is refused at the hub, one that overspends its
# own promises no more than it was granted (alerted), and the warehouse's
# next honest grant goes through. The figures of GET /v1/quotas and GET
# /v1/stock are checked exactly at the store, the warehouse and the hub,
# from the API and the command lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

hub_init
hub_start
node_init W001 warehouse
node_init S001
node_init S002

# hcli ARGS...: runs bl-hub ARGS; sets OUT, ERR and RC.
hcli() {
	"$HUB" "$@" > "$T/cli.out" 2> "$T/cli.err"
	RC=$?
	OUT=$(cat "$T/cli.out")
	ERR=$(cat "$T/cli.err")
	{ echo "\$ bl-hub $*"; cat "$T/cli.err"; } >> "$T/cli.log"
	rm -f "$T/cli.out" "$T/cli.err"
}
# quota SITE ID: "granted spent returned available status" of quota ID.
quota() {
	jqr "$(get "$1" "/v1/quotas/$2")" '"\(.granted) \(.spent) \(.returned) \(.available) \(.status)"'
}
rights() {      # SITE WHERE: the rights list of GET /v1/stock?site=WHERE
	jqr "$(get "$1" "/v1/stock?site=$2")" '[.rights[]|"\(.site)/\(.warehouse)/\(.sku):\(.held):\(.spent):\(.available)"]|join(" ")'
}
NOBACK='send "backorder": true to order it as a backorder, or wait for the link'

# ---- head office's catalog; the warehouse's stock ----
for sku in BOX CUP; do
	call PUT hub "/v1/products/$sku" "{\"name\":\"$sku\"}"
	call PUT hub "/v1/prices/retail/$sku" '{"amount":500,"currency":"CNY"}'
	check_eq "the hub prices $sku" 200 "$CODE"
done
for s in W001 S001 S002; do check "$s syncs the catalog" "$NODE" sync --data "$T/$s" --timeout 5; done
site_up W001
call POST W001 /v1/stock/movements '{"id":"RCV-BOX","sku":"BOX","delta":10,"reason":"receipt"}'
check_eq "W001 receives 10 BOX" 201 "$CODE"
call POST W001 /v1/stock/movements '{"id":"RCV-CUP","sku":"CUP","delta":5,"reason":"receipt"}'
check_eq "W001 receives 5 CUP" 201 "$CODE"

# ---- grants, within what the warehouse has available ----
call POST W001 /v1/quotas '{"id":"Q1","site":"S001","sku":"BOX","qty":6}'
check_eq "W001 grants S001 6 rights on its BOX" "201 W001-Q1 W001 S001 6 0 6 open" \
	"$CODE $(jqr "$BODY" '"\(.id) \(.warehouse) \(.site) \(.granted) \(.spent) \(.available) \(.status)"')"
call POST W001 /v1/quotas '{"id":"Q1","site":"S001","sku":"BOX","qty":6}'
check_eq "the same grant again is the same grant" "200 W001-Q1" "$CODE $(jqr "$BODY" .id)"
call POST W001 /v1/quotas '{"site":"S002","sku":"BOX","qty":5}'
check_eq "a grant over W001's available BOX is refused" \
	"422 qty: 5 BOX would promise 11 of W001's stock, over the 10 available (6 already promised)" \
	"$CODE $(jqr "$BODY" .error.message)"
cli quota grant --data "$T/W001" --site S002 --sku BOX --qty 4 --id Q2 --json
check_eq "W001 grants S002 4 BOX from its command line" "0 W001-Q2 4" "$RC $(jqr "$OUT" '"\(.id) \(.granted)"')"
call GET W001 "/v1/stock?site=W001&sku=BOX"
check_eq "W001's BOX: 10 available, all of it promised" "10 10 10 0" \
	"$(jqr "$BODY" '"\(.items[0].available) \(.promised[0].available) \(.promised[0].promised) \(.promised[0].free)"')"
cli quota grant --data "$T/S001" --warehouse W001 --site S002 --sku BOX --qty 1 --id QX
check_eq "a store may not grant rights on the warehouse's stock" \
	"1 bl-node: quota grant: quota S001-QX: S001 may not grant rights on W001's stock: only W001 or head office may" \
	"$RC $ERR"

hub_has_quotas() { [ "$(jqr "$(get hub /v1/quotas)" '.items|length')" = "$1" ]; }
check "the hub has W001's grants" eventually 10 hub_has_quotas 2
hub_has_stock() { [ "$(jqr "$(get hub '/v1/stock?site=W001&sku=CUP')" '.items[0].on_hand')" = 5 ]; }
check "the hub has W001's stock" eventually 10 hub_has_stock
hcli quota grant --data "$T/hub" --warehouse W001 --site S002 --sku BOX --qty 1
check_eq "head office's grant over W001's available BOX is refused" \
	"1 bl-hub: quota grant: qty: 1 BOX would promise 11 of W001's stock, over the 10 available (10 already promised)" \
	"$RC $ERR"
hcli quota grant --data "$T/hub" --warehouse W001 --site S001 --sku CUP --qty 2 --id QC --json
check_eq "head office grants S001 2 of W001's CUP" "0 HQ-QC 2 0 2" \
	"$RC $(jqr "$OUT" '"\(.id) \(.granted) \(.spent) \(.available)"')"

# ---- the store spends its rights with the hub down ----
for s in S001 S002; do check "$s syncs its grants" "$NODE" sync --data "$T/$s" --timeout 5; done
check_eq "S001 holds W001-Q1" "6 0 0 6 open" "$("$NODE" quota show --data "$T/S001" W001-Q1 --json | jq -r '"\(.granted) \(.spent) \(.returned) \(.available) \(.status)"')"
hub_stop
site_up S001 S002
call POST S001 /v1/orders '{"id":"O1","channel":"online","currency":"CNY","fulfil_site":"W001","status":"confirmed","lines":[{"sku":"BOX","qty":4}]}'
check_eq "offline, S001 orders 4 BOX from W001, spending 4 rights" "201 W001-Q1:BOX:4" \
	"$CODE $(jqr "$BODY" '[.rights[]|"\(.quota):\(.sku):\(.qty)"]|join(" ")')"
call POST S001 /v1/orders '{"id":"O2","channel":"online","currency":"CNY","fulfil_site":"W001","status":"confirmed","lines":[{"sku":"CUP","qty":1},{"sku":"BOX","qty":3}]}'
check_eq "3 more BOX are refused: 2 rights left" \
	"409 lines[1]: sku BOX: 3 wanted, 2 rights left on W001's stock; $NOBACK" \
	"$CODE $(jqr "$BODY" .error.message)"
call GET S001 /v1/orders/S001-O2
check_eq "and nothing of that order is recorded" 404 "$CODE"
call POST S001 /v1/orders '{"id":"O2","channel":"online","currency":"CNY","fulfil_site":"W001","status":"confirmed","backorder":true,"lines":[{"sku":"CUP","qty":1},{"sku":"BOX","qty":3}]}'
check_eq "sent as a backorder, it is accepted and spends nothing" "201 true null" \
	"$CODE $(jqr "$BODY" '"\(.backorder) \(.rights)"')"
cli order create --data "$T/S001" --channel online --currency CNY --fulfil-site W001 --status confirmed --line BOX:2 --id O3 --json
check_eq "S001's command line spends the last 2" "0 W001-Q1:2" "$RC $(jqr "$OUT" '[.rights[]|"\(.quota):\(.qty)"]|join(" ")')"
cli order create --data "$T/S001" --channel online --currency CNY --fulfil-site W001 --status confirmed --line BOX:1
check_eq "no right left: refused with the choice" \
	"1 bl-node: order create: lines[0]: sku BOX: 1 wanted, 0 rights left on W001's stock; $NOBACK" "$RC $ERR"
call POST S001 /v1/orders/S001-O3/transition '{"to":"cancelled","reason":"changed mind"}'
check_eq "S001 cancels S001-O3" "200 cancelled" "$CODE $(jqr "$BODY" .status)"
check_eq "its 2 rights stay spent" "6 6 0 0 open" "$(quota S001 W001-Q1)"
check_eq "S001's rights in GET /v1/stock" "S001/W001/BOX:6:6:0 S001/W001/CUP:2:0:2" "$(rights S001 S001)"
call POST S001 /v1/orders '{"channel":"online","currency":"CNY","fulfil_site":"W001","lines":[{"sku":"BOX","qty":2}]}'
check_eq "the cancellation gave no rights back" \
	"409 lines[0]: sku BOX: 2 wanted, 0 rights left on W001's stock; $NOBACK" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST S002 /v1/orders '{"id":"O1","channel":"online","currency":"CNY","fulfil_site":"W001","status":"confirmed","lines":[{"sku":"CUP","qty":3}]}'
check_eq "S002, with no rights on W001's CUP, orders it as before" "201 null" "$CODE $(jqr "$BODY" .rights)"
call GET S002 /v1/quotas/HQ-QC
check_eq "S002 did not receive S001's quota" 404 "$CODE"
check_eq "S002 lists only its own quota" "W001-Q2" "$(jqr "$(get S002 /v1/quotas)" '[.items[]|.id]|join(" ")')"

# ---- back online: the warehouse sees the spends and ships ----
hub_start
hub_has_order() { [ "$(jqr "$(get hub /v1/orders/$1)" .id)" = "$1" ]; }
check "the hub gets S001's orders" eventually 15 hub_has_order S001-O3
check "the hub gets S002's order" eventually 15 hub_has_order S002-O1
check "W001 syncs the orders" "$NODE" sync --data "$T/W001" --timeout 5
w_has() { [ "$(quota W001 W001-Q1)" = "$1" ]; }
check "W001 sees all 6 of S001's rights spent" eventually 15 w_has "6 6 0 0 open"
call POST W001 /v1/orders/S001-O1/transition '{"to":"shipped","tracking":"SF1"}'
check_eq "W001 ships S001-O1" "200 shipped" "$CODE $(jqr "$BODY" .status)"
call GET W001 "/v1/stock?site=W001&sku=BOX"
check_eq "W001's BOX: 6 on hand, 4 promised (S002's), 2 free (S001-O3's, cancelled)" "6 6 4 2" \
	"$(jqr "$BODY" '"\(.items[0].on_hand) \(.promised[0].available) \(.promised[0].promised) \(.promised[0].free)"')"
call GET W001 /v1/orders/S001-O2
check_eq "W001 sees S001-O2 as a backorder" "true" "$(jqr "$BODY" .backorder)"

# ---- head office recalls; the store returns at its next sync ----
site_down S002
hcli quota recall --data "$T/hub" --id W001-Q1 --reason "stock count" --json
check_eq "head office recalls W001-Q1" "0 recalled" "$RC $(jqr "$OUT" .status)"
call POST W001 /v1/quotas/W001-Q2/recall '{}'
check_eq "W001 recalls W001-Q2 (S002 is offline)" "200 recalled" "$CODE $(jqr "$BODY" .status)"
hub_sees() { [ "$(quota hub "$1")" = "$2" ]; }
check "S001 returns W001-Q1 (nothing unspent), the hub sees it" eventually 15 hub_sees W001-Q1 "6 6 0 0 returned"
check_eq "S001 shows W001-Q1 returned" "6 6 0 0 returned" "$(quota S001 W001-Q1)"
check "the hub has W001's recall" eventually 15 hub_sees W001-Q2 "4 0 0 4 recalled"
check "S002 syncs once" "$NODE" sync --data "$T/S002" --timeout 5
check_eq "that one sync applied the recall and pushed S002's return" "4 0 4 0 returned" "$(quota hub W001-Q2)"
check "W001 syncs" "$NODE" sync --data "$T/W001" --timeout 5
check "W001 has both returns" eventually 15 w_has "6 6 0 0 returned"
check_eq "W001-Q2 at W001" "4 0 4 0 returned" "$(quota W001 W001-Q2)"
call POST S001 /v1/orders '{"channel":"online","currency":"CNY","fulfil_site":"W001","lines":[{"sku":"BOX","qty":1}]}'
check_eq "after the return S001 has no BOX rights left" \
	"409 lines[0]: sku BOX: 1 wanted, 0 rights left on W001's stock; $NOBACK" \
	"$CODE $(jqr "$BODY" .error.message)"

# ---- the figures, exact, at the store, the warehouse and the hub ----
LIST='[.items[]|"\(.id):\(.site):\(.sku):\(.granted):\(.spent):\(.available)"]|join(" ")'
at "S001 W001 hub" "S001's quotas" "W001-Q1:S001:BOX:6:6:0 HQ-QC:S001:CUP:2:0:2" "/v1/quotas?site=S001" "$LIST"
at "W001 hub" "the BOX quotas" "W001-Q1:S001:BOX:6:6:0 W001-Q2:S002:BOX:4:0:0" "/v1/quotas?sku=BOX" "$LIST"
check_eq "rights at S001" "S001/W001/BOX:6:6:0 S001/W001/CUP:2:0:2" "$(rights S001 S001)"
check_eq "rights at W001" "S001/W001/BOX:6:6:0 S001/W001/CUP:2:0:2 S002/W001/BOX:0:0:0" "$(rights W001 W001)"
check_eq "rights at the hub" "S001/W001/BOX:6:6:0 S001/W001/CUP:2:0:2 S002/W001/BOX:0:0:0" "$(rights hub W001)"
call GET hub "/v1/stock?site=W001&sku=BOX"
check_eq "the hub: W001's BOX 6 on hand, nothing promised any more" "6 0 6" \
	"$(jqr "$BODY" '"\(.items[0].on_hand) \(.promised[0].promised) \(.promised[0].free)"')"
hcli quota list --data "$T/hub" --site S001
check_eq "bl-hub quota list" "0
id       warehouse  site  sku  granted  spent  returned  available  status
W001-Q1  W001       S001  BOX  6        6      0         0          returned
HQ-QC    W001       S001  CUP  2        0      0         2          open" "$RC
$OUT"
cli quota list --data "$T/S001" --sku BOX
check_match "bl-node quota list" "W001-Q1 +W001 +S001 +BOX +6 +6 +0 +0 +returned" "$OUT"
hcli quota recall --data "$T/hub" --id W001-NOPE
check_eq "recalling an unknown quota" "1 bl-hub: quota recall: quota W001-NOPE: not found" "$RC $ERR"

# ---- head office's allocator never takes promised stock ----
# W001 has 5 CUP, 2 of them promised to S001 (HQ-QC): 3 free.
call POST hub /v1/orders '{"id":"WEB1","channel":"online","currency":"CNY","status":"confirmed","lines":[{"sku":"CUP","qty":4}]}'
check_eq "head office takes an online order for 4 CUP" 201 "$CODE"
web_alert() { [ "$(jqr "$(get hub '/v1/alerts?kind=allocation_failed')" '[.items[]|select(.subject=="HQ-WEB1")|.message]|join(" ")')" = "$1" ]; }
check "4 CUP are not allocated to W001, which has 5 but 2 promised" eventually 15 \
	web_alert "order HQ-WEB1: line 1 available at no site"
call POST hub /v1/orders '{"id":"WEB2","channel":"online","currency":"CNY","status":"confirmed","lines":[{"sku":"CUP","qty":3}]}'
web2_at() { [ "$(jqr "$(get hub /v1/orders/HQ-WEB2)" '.fulfil_site')" = W001 ]; }
check "3 CUP, what is free, are allocated to W001" eventually 15 web2_at

# ---- a cancellation crossing the warehouse's shipment (review F2) ----
free_box() { jqr "$(get "$1" "/v1/stock?site=W001&sku=BOX")" '"\(.items[0].on_hand) \(.promised[0].promised) \(.promised[0].free)"'; }
check_eq "W001's BOX: 6 on hand, none promised" "6 0 6" "$(free_box W001)"
call POST W001 /v1/quotas '{"id":"Q3","site":"S001","sku":"BOX","qty":6}'
check_eq "W001 grants S001 its 6 BOX" "201 6" "$CODE $(jqr "$BODY" .granted)"
s1_has_q3() { [ "$(quota S001 W001-Q3)" = "6 0 0 6 open" ]; }
check "S001 gets the grant" eventually 15 s1_has_q3
call POST S001 /v1/orders '{"id":"A","channel":"online","currency":"CNY","fulfil_site":"W001","status":"confirmed","lines":[{"sku":"BOX","qty":4}]}'
check_eq "S001 orders A, 4 BOX" "201 W001-Q3:4" "$CODE $(jqr "$BODY" '[.rights[]|"\(.quota):\(.qty)"]|join(" ")')"
call POST S001 /v1/orders '{"id":"C","channel":"online","currency":"CNY","fulfil_site":"W001","status":"confirmed","lines":[{"sku":"BOX","qty":2}]}'
check_eq "S001 orders C, 2 BOX" "201 W001-Q3:2" "$CODE $(jqr "$BODY" '[.rights[]|"\(.quota):\(.qty)"]|join(" ")')"
w_holds() { [ "$(jqr "$(get W001 "/v1/orders/$1")" .status)" = confirmed ]; }
check "W001 gets A" eventually 15 w_holds S001-A
check "W001 gets C" eventually 15 w_holds S001-C
hub_stop
call POST W001 /v1/orders/S001-A/transition '{"to":"shipped","tracking":"SF9"}'
check_eq "the link down, W001 ships A" "200 shipped" "$CODE $(jqr "$BODY" .status)"
call POST S001 /v1/orders/S001-A/transition '{"to":"cancelled","reason":"changed mind"}'
check_eq "meanwhile S001 cancels A" "200 cancelled" "$CODE $(jqr "$BODY" .status)"
call POST S001 /v1/orders/S001-C/transition '{"to":"cancelled","reason":"changed mind"}'
check_eq "and C" "200 cancelled" "$CODE $(jqr "$BODY" .status)"
call POST S001 /v1/orders '{"id":"B","channel":"online","currency":"CNY","fulfil_site":"W001","status":"confirmed","lines":[{"sku":"BOX","qty":4}]}'
check_eq "A's rights are not S001's to spend again" \
	"409 lines[0]: sku BOX: 4 wanted, 0 rights left on W001's stock; $NOBACK" \
	"$CODE $(jqr "$BODY" .error.message)"
hub_start
a_shipped() { [ "$(jqr "$(get "$1" /v1/orders/S001-A)" .status)" = shipped ] && [ "$(quota "$1" W001-Q3)" = "6 6 0 0 open" ]; }
for r in hub W001 S001; do check "A's shipment wins at $r, all 6 rights spent" eventually 20 a_shipped "$r"; done
c_gone() { [ "$(free_box W001)" = "2 0 2" ]; }
check "W001's BOX: 2 on hand (A left), C's 2 free again" eventually 15 c_gone
check_eq "the hub alerts the crossing" \
	"order S001-A was cancelled at S001 but shipped at W001: goods left, open a return if needed" \
	"$(jqr "$(get hub '/v1/alerts?kind=conflicting_transition')" '[.items[]|select(.subject == "S001-A")|.message]|join(" ")')"
call POST W001 /v1/quotas '{"id":"Q4","site":"S002","sku":"BOX","qty":2}'
check_eq "W001 grants C's 2 BOX anew" 201 "$CODE"
call POST W001 /v1/quotas '{"site":"S002","sku":"BOX","qty":1}'
check_eq "and no more" \
	"422 qty: 1 BOX would promise 3 of W001's stock, over the 2 available (2 already promised)" \
	"$CODE $(jqr "$BODY" .error.message)"

# ---- a store that forges its spends (review F1) ----
node_init S666
call POST W001 /v1/stock/movements '{"id":"RCV-BOX2","sku":"BOX","delta":10,"reason":"receipt"}'
check_eq "W001 receives 10 more BOX" 201 "$CODE"
call POST W001 /v1/quotas '{"id":"Q5","site":"S666","sku":"BOX","qty":6}'
check_eq "W001 grants S666 6 BOX" 201 "$CODE"
check_eq "W001's BOX: 12 on hand, 8 promised" "12 8 4" "$(free_box W001)"
hub_has_q5() { [ "$(quota hub W001-Q5)" = "6 0 0 6 open" ]; }
check "the hub has the grant" eventually 15 hub_has_q5
ORDER='"site":"S666","channel":"online","currency":"CNY","fulfil_site":"W001","status":"confirmed"'
printf '%s\n' \
	"{\"entity\":\"order\",\"key\":\"S666-O1\",\"kind\":\"create\",\"fields\":{$ORDER,\"lines\":[{\"sku\":\"BOX\",\"qty\":50,\"unit_price\":500}],\"rights\":[{\"quota\":\"W001-Q5\",\"sku\":\"BOX\",\"qty\":50}]}}" \
	"{\"entity\":\"order\",\"key\":\"S666-O2\",\"kind\":\"create\",\"fields\":{$ORDER,\"lines\":[{\"sku\":\"BOX\",\"qty\":7,\"unit_price\":500}]}}" \
	"{\"entity\":\"order\",\"key\":\"S666-O3\",\"kind\":\"create\",\"fields\":{$ORDER,\"lines\":[{\"sku\":\"BOX\",\"qty\":8,\"unit_price\":500}],\"rights\":[{\"quota\":\"W001-Q4\",\"sku\":\"BOX\",\"qty\":2}]}}" \
	"{\"entity\":\"order\",\"key\":\"S666-O4\",\"kind\":\"create\",\"fields\":{$ORDER,\"lines\":[{\"sku\":\"BOX\",\"qty\":1,\"unit_price\":500}],\"rights\":[{\"quota\":\"W001-Q404\",\"sku\":\"BOX\",\"qty\":1}]}}" \
	| BL_HUB_DB="$T/hub/hub.db" "$BL_BIN/tests/tools/blforge" "$T/S666" > "$T/forge.out" 2>&1
check_eq "S666 pushes 4 forged order creates" "PUSH_ACK 4" "$(tail -1 "$T/forge.out")"
QUAR='[.items[]|select(.site == "S666")|"\(.subject) \(.message)"]|join("\n")'
hub_quar() { [ "$(jqr "$(get hub '/v1/alerts?kind=quarantined')" "$QUAR")" = "$1" ]; }
check "the hub refuses the spend of S002's quota, and waits for W001-Q404" eventually 15 hub_quar \
"S666/3 apply op S666/3: order S666-O3: rights[0]: quota W001-Q4 is S002's, not S666's: only its holder spends it
S666/4 apply op S666/4: order S666-O4: rights[0]: quota W001-Q404: not held here yet, to tell whether S666 holds it"
OVER='[.items[]|"\(.subject) \(.message)"]|join("\n")'
WANT_OVER="S666-O1 order S666-O1: 44 of its 50 BOX over S666's rights on W001's stock, not promised
S666-O2 order S666-O2: 7 of its 7 BOX over S666's rights on W001's stock, not promised"
over_at() { [ "$(jqr "$(get "$1" '/v1/alerts?kind=quota_overspent')" "$OVER")" = "$WANT_OVER" ]; }
for r in hub W001; do check "$r alerts the overspend and the order without rights" eventually 15 over_at "$r"; done
at "W001 hub" "S666's quota counts up to its grant" "6 6 0 0 open" /v1/quotas/W001-Q5 \
	'"\(.granted) \(.spent) \(.returned) \(.available) \(.status)"'
check_eq "W001's BOX: 12 on hand, still 8 promised" "12 8 4" "$(free_box W001)"
call GET W001 /v1/orders/S666-O3
check_eq "W001 never received the refused create" 404 "$CODE"
call POST W001 /v1/quotas '{"id":"Q404","site":"S666","sku":"BOX","qty":1}'
check_eq "W001 grants W001-Q404" 201 "$CODE"
o4_taken() { [ "$(quota hub W001-Q404)" = "1 1 0 0 open" ] && hub_quar "S666/3 apply op S666/3: order S666-O3: rights[0]: quota W001-Q4 is S002's, not S666's: only its holder spends it"; }
check "the hub takes up S666-O4 once it holds the grant" eventually 15 o4_taken
call POST W001 /v1/quotas '{"site":"S002","sku":"BOX","qty":3}'
check_eq "W001's next honest grant goes through" 201 "$CODE"
call POST W001 /v1/quotas '{"site":"S002","sku":"BOX","qty":1}'
check_eq "and then its stock is all promised" \
	"422 qty: 1 BOX would promise 13 of W001's stock, over the 12 available (12 already promised)" \
	"$CODE $(jqr "$BODY" .error.message)"
finish
