# Head office allocates online orders (README, "Allocation of online
# orders"; hub/allocate.c, sync/domain/fulfil.h): a real hub, two
# warehouses in regions east and west and a store in the east. An order
# goes to the warehouse of the customer's region that has every line, is
# shipped there, and its stock moves once; one no single site can serve
# is split over two; a release at one warehouse is allocated again to the
# other, with both decisions and the release's reason in the history; a
# cancelled order takes its fulfilment with it; bad input gets its exact
# error and changes nothing. A cancellation made offline that crosses the
# shipment of its fulfilment loses to it everywhere, alerted; one made
# knowing of the shipment is refused. Payments and invoices are taken on
# the order, not its fulfilments; payment ops on a fulfilment count on it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

# site_init SITE ROLE REGION: a node enrolled in a region.
site_init() {
	key=$("$NODE" init --data "$T/$1" --site "$1" --hub "tcp://127.0.0.1:$HUB_SYNC" \
		--hub-key "$HUB_KEY" --http 127.0.0.1:0) || return 1
	"$HUB" enroll --data "$T/hub" --site "$1" --role "$2" --key "$key" --region "$3" > /dev/null
}
# order_at SITE ORDER FILTER WANT: jq FILTER of GET /v1/orders/ORDER at SITE
# gives WANT.
order_at() { [ "$(jqr "$(get "$1" "/v1/orders/$2")" "$3")" = "$4" ]; }
# child_of SITE ORDER N: the id of ORDER's N-th fulfilment (from 0) at SITE.
child_of() { jqr "$(get "$1" "/v1/orders/$2")" ".fulfilments[$3].id"; }
hub_cli() {
	"$HUB" "$@" > "$T/cli.out" 2> "$T/cli.err"
	RC=$?
	OUT=$(cat "$T/cli.out")
	ERR=$(cat "$T/cli.err")
	cat "$T/cli.err" >> "$T/cli.log"
}

hub_init
hub_start
site_init W1 warehouse east
site_init W2 warehouse west
site_init S1 store east
for sku in TEA MUG RICE BOX; do
	call PUT hub "/v1/products/$sku" "{\"name\":\"$sku\"}"
done
check_eq "the hub sets the catalog" 200 "$CODE"
site_up W1 W2 S1

# ---- the rules: none set, every active warehouse at priority 0 ----
call GET hub /v1/allocation/rules
check_eq "GET /v1/allocation/rules with none set: every warehouse, split allowed" \
	"200 W1:0:east W2:0:west split=true default=true" \
	"$CODE $(jqr "$BODY" '"\([.sites[]|"\(.site):\(.priority):\(.region)"]|join(" ")) split=\(.split) default=\(.default)"')"

# Stock: W1 (east) TEA 10, MUG 3; W2 (west) TEA 10, RICE 5.
for m in W1:TEA:10 W1:MUG:3 W2:TEA:10 W2:RICE:5; do
	IFS=: read -r s sku q <<EOF
$m
EOF
	call POST "$s" /v1/stock/movements "{\"sku\":\"$sku\",\"delta\":$q,\"reason\":\"receipt\"}"
done
check_eq "the warehouses receive their stock" 201 "$CODE"
stock_at_hub() { [ "$(jqr "$(get hub /v1/stock)" '[.items[]|"\(.site):\(.sku):\(.available)"]|join(" ")')" = "$1" ]; }
check "the hub sees both warehouses' stock" eventually 15 stock_at_hub "W1:MUG:3 W1:TEA:10 W2:RICE:5 W2:TEA:10"

call POST S1 /v1/customers '{"id":"C-EAST","name":"Li Wei","region":"east"}'
check_eq "S1 adds a customer of region east" "201 east" "$CODE $(jqr "$BODY" .region)"
call PATCH S1 /v1/customers/S1-C-EAST '{"region":"east"}'
check_eq "region is a field like the others (PATCH)" "200 east" "$CODE $(jqr "$BODY" .region)"
call POST S1 /v1/customers '{"id":"C-BAD","name":"X","region":""}'
check_eq "an empty region is refused" "400 region: must be 1 to 63 characters" \
	"$CODE $(jqr "$BODY" .error.message)"

# ---- 1. to the warehouse of the customer's region with every line ----
call POST S1 /v1/orders '{"id":"O1","channel":"online","customer":"S1-C-EAST","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":2,"unit_price":1200}]}'
check_eq "S1 takes an online order without a fulfilling site: unallocated" \
	"201 confirmed" "$CODE $(jqr "$BODY" '"\(.status)\(.fulfil_site)"')"
check "the hub allocates S1-O1" eventually 15 order_at hub S1-O1 .fulfil_site W1
F1=$(child_of hub S1-O1 0)
check_match "its fulfilment is a head office order" '^HQ-F[0-9]+$' "$F1"
call GET hub /v1/orders/S1-O1
check_eq "at the hub: the decision and its reason in S1-O1's history" \
	"confirmed@S1 allocated@W1(W1: all lines available, region east)" \
	"$(jqr "$BODY" '[.history[]|"\(.status)@\(.site)\(if .reason then "(\(.reason))" else "" end)"]|join(" ")')"
check_eq "S1-O1 shows its fulfilment" "$F1:W1:allocated:TEA:2" \
	"$(jqr "$BODY" '[.fulfilments[]|"\(.id):\(.site):\(.status):\([.lines[]|"\(.sku):\(.qty)"]|join(","))"]|join(" ")')"
check_eq "the fulfilment names its parent, copies the line and keeps the reason" \
	"S1-O1 W1 allocated TEA:2:1200 W1: all lines available, region east" \
	"$(jqr "$(get hub "/v1/orders/$F1")" '"\(.parent) \(.fulfil_site) \(.status) \([.lines[]|"\(.sku):\(.qty):\(.unit_price)"]|join(",")) \(.note)"')"
check "W1 receives its fulfilment" eventually 15 order_at W1 "$F1" .status allocated
check_eq "W1 reserves the line" "10 2 8" \
	"$(jqr "$(get W1 '/v1/stock?site=W1&sku=TEA')" '.items[0]|"\(.on_hand) \(.reserved) \(.available)"')"
check "S1 sees the decision with its reason in S1-O1's history" eventually 15 order_at S1 S1-O1 \
	'[.history[]|select(.status=="allocated")|"\(.site): \(.reason)"]|join(" ")' "W1: W1: all lines available, region east"
call POST W1 "/v1/orders/$F1/transition" '{"to":"shipped","tracking":"SF100"}'
check_eq "W1 ships the fulfilment" "200 shipped" "$CODE $(jqr "$BODY" .status)"
check "the hub shows S1-O1 shipped" eventually 15 order_at hub S1-O1 .status shipped
check_eq "and its history: the shipment at W1" "confirmed@S1 allocated@W1 shipped@W1" \
	"$(jqr "$(get hub /v1/orders/S1-O1)" '[.history[]|"\(.status)@\(.site)"]|join(" ")')"
check_eq "W1's TEA moved once, at W1: 8 on hand, nothing reserved" "8 0" \
	"$(jqr "$(get W1 '/v1/stock?site=W1&sku=TEA')" '.items[0]|"\(.on_hand) \(.reserved)"')"
hub_tea() { [ "$(jqr "$(get hub '/v1/stock?site=W1&sku=TEA')" '.items[0]|"\(.on_hand) \(.reserved)"')" = "8 0" ]; }
check "the hub sees W1's TEA moved once: 8 on hand" eventually 15 hub_tea
check_eq "no site recorded a movement for the unallocated S1-O1 itself" \
	"0 0" "$(jqr "$(get hub '/v1/stock?site=S1')" '.items|length') $(jqr "$(get S1 '/v1/stock?site=S1')" '.items|length')"
check_eq "sales count S1-O1 once" "1 2 2400" \
	"$(jqr "$(get hub '/v1/reports/sales?group=sku')" '[.items[]|select(.sku=="TEA")][0]|"\(.orders) \(.qty) \(.total)"')"

# ---- 2. split: no single site has every line ----
call POST S1 /v1/orders '{"id":"O2","channel":"online","customer":"S1-C-EAST","currency":"CNY","status":"confirmed","lines":[{"sku":"MUG","qty":2,"unit_price":3500},{"sku":"RICE","qty":1,"unit_price":5000}]}'
check_eq "S1 takes an order of MUG (W1 only) and RICE (W2 only)" 201 "$CODE"
split_done() { [ "$(jqr "$(get hub /v1/orders/S1-O2)" '.fulfilments|length')" = 2 ]; }
check "the hub splits S1-O2 into two fulfilments" eventually 15 split_done
call GET hub /v1/orders/S1-O2
check_eq "one per site, each with its line" "W1:allocated:MUG:2 W2:allocated:RICE:1" \
	"$(jqr "$BODY" '[.fulfilments[]|"\(.site):\(.status):\([.lines[]|"\(.sku):\(.qty)"]|join(","))"]|join(" ")')"
check_eq "both decisions in its history" \
	"allocated@W1(W1: line 1 available, split, region east) allocated@W2(W2: line 2 available, split, region west (customer in east))" \
	"$(jqr "$BODY" '[.history[]|select(.status=="allocated")|"\(.status)@\(.site)(\(.reason))"]|join(" ")')"
check_eq "a split order shows no single fulfilling site" '""' "$(jqr "$BODY" '.fulfil_site|tojson')"
F2W1=$(jqr "$BODY" '.fulfilments[]|select(.site=="W1")|.id')
F2W2=$(jqr "$BODY" '.fulfilments[]|select(.site=="W2")|.id')
check "W2 receives its part" eventually 15 order_at W2 "$F2W2" .parent S1-O2
check "W1 receives its part" eventually 15 order_at W1 "$F2W1" .parent S1-O2
call POST W1 "/v1/orders/$F2W1/transition" '{"to":"shipped"}'
check_eq "W1 ships its part" 200 "$CODE"
check "the hub shows S1-O2 allocated while W2's part waits" eventually 15 order_at hub S1-O2 .status allocated
call POST W2 "/v1/orders/$F2W2/transition" '{"to":"shipped"}'
check_eq "W2 ships its part" 200 "$CODE"
check "the hub shows S1-O2 shipped once both parts are" eventually 15 order_at hub S1-O2 .status shipped

# ---- 3. a release at W1 is allocated again to W2 ----
call POST S1 /v1/orders '{"id":"O3","channel":"online","customer":"S1-C-EAST","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":3,"unit_price":1200}]}'
check "the hub allocates S1-O3 to W1 (east)" eventually 15 order_at hub S1-O3 .fulfil_site W1
F3=$(child_of hub S1-O3 0)
check "W1 receives it" eventually 15 order_at W1 "$F3" .status allocated
cli order release S1-O3 --data "$T/W1" --reason "shelf damaged by water" --json
check_eq "W1 releases it by the parent's id (it holds only its fulfilment)" \
	"0 $F3 cancelled" "$RC $(jqr "$OUT" '"\(.id) \(.status)"')"
check "the hub allocates S1-O3 again, to W2" eventually 15 order_at hub S1-O3 .fulfil_site W2
call GET hub /v1/orders/S1-O3
check_eq "both decisions and the release's reason in its history, in order" \
	"confirmed@S1 | allocated@W1: W1: all lines available, region east | released@W1: shelf damaged by water | allocated@W2: W2: all lines available, region west (customer in east)" \
	"$(jqr "$BODY" '[.history[]|"\(.status)@\(.site)\(if .reason then ": \(.reason)" else "" end)"]|join(" | ")')"
check_eq "the released fulfilment stays listed, cancelled" "W1:cancelled W2:allocated" \
	"$(jqr "$BODY" '[.fulfilments[]|"\(.site):\(.status)"]|join(" ")')"
F3B=$(jqr "$BODY" '.fulfilments[]|select(.site=="W2")|.id')
check "W2 receives the new fulfilment" eventually 15 order_at W2 "$F3B" .status allocated
check_eq "W1 no longer reserves TEA for it" "8 0" \
	"$(jqr "$(get W1 '/v1/stock?site=W1&sku=TEA')" '.items[0]|"\(.on_hand) \(.reserved)"')"

# ---- 4. bad input: the exact error, and nothing recorded ----
seq_of() { jqr "$(get "$1" /v1/status)" .last_seq; }
s1_seq=$(seq_of S1)
call POST S1 /v1/orders "{\"channel\":\"online\",\"currency\":\"CNY\",\"parent\":\"S1-O3\",\"fulfil_site\":\"W1\",\"status\":\"allocated\",\"lines\":[{\"sku\":\"TEA\",\"qty\":1,\"unit_price\":1}]}"
check_eq "a store may not create a fulfilment order" \
	"403 parent: only head office creates fulfilment orders" "$CODE $(jqr "$BODY" .error.message)"
call POST S1 /v1/orders '{"channel":"store","currency":"CNY","status":"allocated","lines":[{"sku":"TEA","qty":1,"unit_price":1}]}'
check_eq "only a fulfilment order is created allocated" \
	"400 status: 'allocated' is not one of draft, pending_approval, confirmed, completed" "$CODE $(jqr "$BODY" .error.message)"
call POST S1 /v1/orders '{"channel":"store","fulfil_site":"","currency":"CNY","lines":[{"sku":"TEA","qty":1,"unit_price":1}]}'
check_eq "a store sale without a fulfilling site is refused" \
	"400 fulfil_site: a store sale is fulfilled by a site" "$CODE $(jqr "$BODY" .error.message)"
call POST S1 /v1/orders/S1-O3/release '{"reason":"no"}'
check_eq "the creator may not release an order it does not fulfil" \
	"403 order S1-O3: S1 may not release it: no fulfilment of it is allocated to S1" \
	"$CODE $(jqr "$BODY" .error.message)"
check_eq "S1 recorded none of them" "$s1_seq" "$(seq_of S1)"
w2_seq=$(seq_of W2)
call POST W2 "/v1/orders/$F3B/release" '{}'
check_eq "a release needs a reason" "400 reason: missing" "$CODE $(jqr "$BODY" .error.message)"
call POST W2 "/v1/orders/$F2W2/release" '{"reason":"too late"}'
check_eq "a shipped fulfilment cannot be released" \
	"422 to: order $F2W2 is shipped; it can move to delivered, completed" "$CODE $(jqr "$BODY" .error.message)"
call POST W2 /v1/orders/S1-O1/release '{"reason":"not mine"}'
check_eq "W2 releasing an order it does not hold" "404 order: S1-O1 not found" \
	"$CODE $(jqr "$BODY" .error.message)"
check_eq "W2 recorded none of them" "$w2_seq" "$(seq_of W2)"
call POST hub "/v1/orders/$F3B/release" '{"reason":"head office"}'
check_eq "a site that does not fulfil a fulfilment may not release it" \
	"403 order $F3B: HQ may not release it: only its fulfilling site W2 may" \
	"$CODE $(jqr "$BODY" .error.message)"
call POST hub /v1/orders '{"channel":"online","currency":"CNY","parent":"S1-O3","fulfil_site":"W1","status":"confirmed","lines":[{"sku":"TEA","qty":1,"unit_price":1}]}'
check_eq "even at head office a fulfilment order starts allocated" \
	"400 status: 'confirmed' is not one of allocated" "$CODE $(jqr "$BODY" .error.message)"
call POST hub /v1/orders "{\"channel\":\"online\",\"currency\":\"CNY\",\"parent\":\"$F3B\",\"fulfil_site\":\"W1\",\"status\":\"allocated\",\"lines\":[{\"sku\":\"TEA\",\"qty\":1,\"unit_price\":1}]}"
check_eq "a fulfilment of a fulfilment is refused" \
	"422 parent: $F3B is a fulfilment order itself" "$CODE $(jqr "$BODY" .error.message)"

# ---- 5. rules: validation, priorities, no split ----
rules_before=$(get hub /v1/allocation/rules)
# bad_rules DESC BODY STATUS MESSAGE
bad_rules() {
	call PUT hub /v1/allocation/rules "$2"
	check_eq "$1" "$3 $4" "$CODE $(jqr "$BODY" .error.message)"
}
bad_rules "an unknown site" '{"sites":[{"site":"W9"}]}' 422 \
	"sites[0]: site: W9 is not an enrolled store or warehouse"
bad_rules "head office is no site to allocate to" '{"sites":[{"site":"W1"},{"site":"HQ"}]}' 422 \
	"sites[1]: site: HQ is not an enrolled store or warehouse"
bad_rules "a site listed twice" '{"sites":[{"site":"W1"},{"site":"W1","priority":2}]}' 400 \
	"sites[1]: site: W1 is listed twice"
bad_rules "a negative priority" '{"sites":[{"site":"W1","priority":-1}]}' 400 \
	"sites[0]: priority: must be an integer from 0 to 1000000"
bad_rules "split not a boolean" '{"sites":[],"split":"yes"}' 400 "split: must be true or false"
bad_rules "no sites" '{"split":true}' 400 "sites: missing"
bad_rules "a misspelt field" '{"sites":[],"spilt":false}' 400 "spilt: unknown field"
bad_rules "sites not an array" '{"sites":"W1"}' 400 "sites: must be an array of at most 256 sites"
bad_rules "an entry not an object" '{"sites":["W1"]}' 400 "sites[0]: must be an object"
hub_cli allocation rules --data "$T/hub" --site W9:1
check_eq "bl-hub allocation rules refuses an unknown site" \
	"1 bl-hub: allocation rules: sites[0]: site: W9 is not an enrolled store or warehouse" "$RC $ERR"
hub_cli allocation rules --data "$T/hub" --site W1:x
check_eq "bl-hub allocation rules refuses a bad priority" \
	"2 bl-hub: allocation rules: --site 'W1:x': expected SITE or SITE:PRIORITY" "$RC $ERR"
check_eq "the rules did not change" "$rules_before" "$(get hub /v1/allocation/rules)"

hub_cli allocation rules --data "$T/hub" --site W2:1 --site W1:2 --split no
check_eq "bl-hub allocation rules sets W2 before W1, no split" 0 "$RC"
check_match "and prints them" "split: no" "$OUT"
call GET hub /v1/allocation/rules
check_eq "GET shows the rules" "W2:1:west W1:2:east split=false default=false" \
	"$(jqr "$BODY" '"\([.sites[]|"\(.site):\(.priority):\(.region)"]|join(" ")) split=\(.split) default=\(.default)"')"

call POST S1 /v1/customers '{"id":"C-ANY","name":"Zhao"}'
call POST S1 /v1/orders '{"id":"O4","channel":"b2b","customer":"S1-C-ANY","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":1,"unit_price":1200}]}'
check "a customer without a region: the first by priority, W2" eventually 15 order_at hub S1-O4 .fulfil_site W2
check_eq "its reason" "W2: all lines available, region west" \
	"$(jqr "$(get hub /v1/orders/S1-O4)" '.history[]|select(.status=="allocated")|.reason')"

call POST S1 /v1/orders '{"id":"O5","channel":"online","customer":"S1-C-EAST","currency":"CNY","status":"confirmed","lines":[{"sku":"MUG","qty":1,"unit_price":3500},{"sku":"RICE","qty":1,"unit_price":5000}]}'
alert_of() { jqr "$(get hub '/v1/alerts?kind=allocation_failed')" "[.items[]|select(.subject==\"$1\")|\"\(.site) \(.message)\"]|join(\" \")"; }
o5_alert() { [ "$(alert_of S1-O5)" = "S1 order S1-O5: no site has every line available, and the rules do not allow a split" ]; }
check "split not allowed: S1-O5 waits, alerted" eventually 15 o5_alert
o5_at=$(jqr "$(get hub '/v1/alerts?kind=allocation_failed')" '.items[]|select(.subject=="S1-O5")|.at')
o5_tries() { "$HUB" allocation show --data "$T/hub" --json | jq -e '.waiting[]|select(.order=="S1-O5")|.tries >= 2' > /dev/null; }
check "S1-O5 is tried again (bl-hub allocation show counts the tries)" eventually 15 o5_tries
check_eq "one alert for S1-O5, not one per try" "1 $o5_at" \
	"$(jqr "$(get hub '/v1/alerts?kind=allocation_failed')" '[.items[]|select(.subject=="S1-O5")]|"\(length) \(.[0].at)"')"
check_eq "S1-O5 is still unallocated" '0 ""' "$(jqr "$(get hub /v1/orders/S1-O5)" '"\(.fulfilments // []|length) \(.fulfil_site|tojson)"')"
call GET hub /v1/status
check_match "GET /v1/status counts what allocation wrote and what waits" '^[1-9][0-9]* [1-9][0-9]*$' \
	"$(jqr "$BODY" '"\(.allocation.written) \(.allocation.failing)"')"
hub_cli allocation show --data "$T/hub"
check_match "bl-hub allocation show lists S1-O5 and why" "S1-O5 .*no site has every line available" "$OUT"
call PUT hub /v1/allocation/rules '{"sites":[{"site":"W1","priority":1},{"site":"W2","priority":1}],"split":true}'
check_eq "PUT allows the split again" "200 true" "$CODE $(jqr "$BODY" .split)"
o5_split() { [ "$(jqr "$(get hub /v1/orders/S1-O5)" '[.fulfilments[]|.site]|join(" ")')" = "W1 W2" ]; }
check "S1-O5 is split at once" eventually 15 o5_split
check_eq "and its alert is gone" "" "$(alert_of S1-O5)"

# A line no site has: left, alerted, and allocated once stock comes.
call POST S1 /v1/orders '{"id":"O6","channel":"online","customer":"S1-C-EAST","currency":"CNY","status":"confirmed","lines":[{"sku":"BOX","qty":4,"unit_price":100}]}'
o6_alert() { [ "$(alert_of S1-O6)" = "S1 order S1-O6: line 1 available at no site" ]; }
check "a line no site has: S1-O6 is alerted" eventually 15 o6_alert
call POST W2 /v1/stock/movements '{"sku":"BOX","delta":4,"reason":"receipt"}'
check "once W2 receives BOX, S1-O6 goes to W2 (tried again)" eventually 20 order_at hub S1-O6 .fulfil_site W2
check_eq "and its alert is gone" "" "$(alert_of S1-O6)"

# ---- 6. a cancelled order takes its fulfilment with it ----
call POST S1 /v1/orders '{"id":"O7","channel":"online","customer":"S1-C-EAST","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":1,"unit_price":1200}]}'
check "S1-O7 is allocated to W1" eventually 15 order_at hub S1-O7 .fulfil_site W1
F7=$(child_of hub S1-O7 0)
check "W1 receives it" eventually 15 order_at W1 "$F7" .status allocated
call POST S1 /v1/orders/S1-O7/transition '{"to":"cancelled","reason":"customer changed mind"}'
check_eq "S1 cancels S1-O7" "200 cancelled" "$CODE $(jqr "$BODY" .status)"
check "head office cancels its fulfilment, and W1 gets it" eventually 15 order_at W1 "$F7" \
	'"\(.status) \(.history[-1].site) \(.history[-1].reason)"' "cancelled HQ order S1-O7 cancelled"
check_eq "S1-O7 shows cancelled" cancelled "$(jqr "$(get hub /v1/orders/S1-O7)" .status)"

# ---- 7. a cancellation that crosses a shipment loses to it ----
call POST S1 /v1/orders '{"id":"O8","channel":"online","customer":"S1-C-EAST","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":1,"unit_price":1200}]}'
check "S1-O8 is allocated to W1" eventually 15 order_at hub S1-O8 .fulfil_site W1
F8=$(child_of hub S1-O8 0)
check "W1 receives it" eventually 15 order_at W1 "$F8" .status allocated
check "S1 sees it allocated" eventually 15 order_at S1 S1-O8 '.fulfilments[0].status' allocated
# sales_tea SITE: orders, qty and total of TEA in SITE's sales report.
sales_tea() { jqr "$(get "$1" '/v1/reports/sales?group=sku')" '[.items[]|select(.sku=="TEA")][0]|"\(.orders // 0) \(.qty // 0) \(.total // 0)"'; }
for r in hub S1 W1; do eval "tea_$r=\$(sales_tea $r)"; done
check_eq "S1-O8 counts as a sale, at the hub as at S1" "$tea_hub" "$tea_S1"
site_down S1
call POST W1 "/v1/orders/$F8/transition" '{"to":"shipped","tracking":"SF800"}'
check_eq "W1 ships S1-O8's fulfilment while S1's link is cut" "200 shipped" "$CODE $(jqr "$BODY" .status)"
check "the hub shows S1-O8 shipped" eventually 15 order_at hub S1-O8 .status shipped
cli order move S1-O8 --data "$T/S1" --to cancelled --reason "customer changed mind" --json
check_eq "offline, S1 cancels S1-O8 (it cannot know of the shipment)" "0 cancelled" "$RC $(jqr "$OUT" .status)"
site_up S1
crossed="S1 order S1-O8 was cancelled at S1 but its fulfilment $F8 was shipped at W1: goods left, open a return if needed"
conflict_at() { [ "$(jqr "$(get "$1" '/v1/alerts?kind=conflicting_transition')" '[.items[]|select(.subject=="S1-O8")|"\(.site) \(.message)"]|join(" ")')" = "$crossed" ]; }
for r in hub S1 W1; do
	check "$r raises conflicting_transition on S1-O8" eventually 15 conflict_at $r
	check_eq "$r shows S1-O8 shipped, with the cancellation in its history" "shipped true" \
		"$(jqr "$(get $r /v1/orders/S1-O8)" '"\(.status) \([.history[]|.status]|index("cancelled") != null)"')"
	check_eq "$r lists S1-O8 under ?status=shipped, not ?status=cancelled" "true false" \
		"$(jqr "$(get $r '/v1/orders?status=shipped')" '[.items[].id]|index("S1-O8") != null') $(jqr "$(get $r '/v1/orders?status=cancelled')" '[.items[].id]|index("S1-O8") != null')"
	eval "before=\$tea_$r"
	check_eq "$r still counts S1-O8's sale (the cancellation did not erase it)" "$before" "$(sales_tea $r)"
done
s1_seq=$(seq_of S1)
call POST S1 /v1/orders/S1-O8/transition '{"to":"cancelled","reason":"again"}'
check_eq "S1, knowing of the shipment now, may not cancel S1-O8" \
	"409 to: order S1-O8 cannot be cancelled: its fulfilment $F8 is shipped at W1; open a return instead" \
	"$CODE $(jqr "$BODY" .error.message)"
check_eq "and recorded nothing" "$s1_seq" "$(seq_of S1)"
call POST hub /v1/orders/S1-O1/transition '{"to":"cancelled"}'
check_eq "nor may head office cancel S1-O1, whose fulfilment shipped" \
	"409 to: order S1-O1 cannot be cancelled: its fulfilment $F1 is shipped at W1; open a return instead" \
	"$CODE $(jqr "$BODY" .error.message)"

# ---- 8. money is taken on the order, never on a fulfilment ----
w1_seq=$(seq_of W1)
call POST W1 /v1/payments "{\"id\":\"COD1\",\"order\":\"$F8\",\"method\":\"cash\",\"amount\":1200,\"currency\":\"CNY\"}"
check_eq "a payment on a fulfilment is refused, naming the order" \
	"422 order: $F8 is a fulfilment of order S1-O8; take payments on S1-O8" "$CODE $(jqr "$BODY" .error.message)"
call POST W1 /v1/invoices "{\"order\":\"$F8\"}"
check_eq "so is an invoice" \
	"422 order: $F8 is a fulfilment of order S1-O8; invoice S1-O8" "$CODE $(jqr "$BODY" .error.message)"
check_eq "W1 recorded neither" "$w1_seq" "$(seq_of W1)"
call POST S1 /v1/payments '{"id":"P8","order":"S1-O8","method":"card","amount":1000,"currency":"CNY"}'
check_eq "S1 takes 1000 on S1-O8" "201 1000 200" "$CODE $(jqr "$BODY" '"\(.order_paid) \(.order_balance)"')"
# An old or forged W1 takes cash on its fulfilments anyway, as ops: 200 on
# F8, 500 on F3, which it released. They count on the parents.
w1_pushed() { [ "$(jqr "$(get W1 /v1/status)" .pending_push)" = 0 ]; }
check "W1 has pushed everything" eventually 15 w1_pushed
site_down W1
export BL_HUB_DB="$T/hub/hub.db"
printf '%s\n' \
	"{\"entity\":\"payment\",\"key\":\"W1-COD8\",\"kind\":\"add\",\"fields\":{\"order\":\"$F8\",\"method\":\"cash\",\"amount\":200,\"currency\":\"CNY\",\"site\":\"W1\"}}" \
	"{\"entity\":\"payment\",\"key\":\"W1-COD3\",\"kind\":\"add\",\"fields\":{\"order\":\"$F3\",\"method\":\"cash\",\"amount\":500,\"currency\":\"CNY\",\"site\":\"W1\"}}" |
	"$BL_BIN/tests/tools/blforge" "$T/W1" > "$T/forge.out" 2>&1
check_match "the hub takes W1's payments on fulfilments (a party to them)" "^PUSH_ACK" "$(tail -1 "$T/forge.out")"
for r in hub S1; do
	check "$r: the 200 on $F8 counts on S1-O8: paid 1200, balance 0" eventually 15 \
		order_at $r S1-O8 '"\(.paid) \(.balance)"' "1200 0"
	check "$r: the 500 on the released $F3 counts on S1-O3: paid 500, balance 3100" eventually 15 \
		order_at $r S1-O3 '"\(.paid) \(.balance)"' "500 3100"
done

finish
