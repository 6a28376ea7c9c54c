# Business conflicts between sites that were cut off from head office: each
# kind of fact merges by its own rule (SPEC §4), and once the hub is back and
# every site has synced, every replica shows the same, expected state.
#   1. two stores edit one customer offline (LWW fields, OR-set tags, points)
#   2. a store cancels an order while the warehouse ships it (ship wins, alert)
#   3. a store's two tills sell its last unit offline (negative stock,
#      alert); another store may not record a sale of that store's stock
# Ids a client chooses are scoped by the site that records them (own.h):
# C-LI created at S001 is S001-C-LI everywhere.
# Writes while the hub is down go through the sites' HTTP APIs (daemons);
# syncing is done with one-shot `bl-node sync` rounds with the daemons down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

hub_init
hub_start
node_init S001
node_init S002
node_init W001 warehouse

# Head office's catalog and prices.
call PUT hub /v1/products/TEA '{"name":"Green tea","unit":"box"}'
check_eq "the hub adds TEA to the catalog" 200 "$CODE"
call PUT hub /v1/products/MUG '{"name":"Mug"}'
check_eq "the hub adds MUG to the catalog" 200 "$CODE"
call PUT hub /v1/prices/retail/TEA '{"amount":1200,"currency":"CNY"}'
check_eq "the hub prices TEA" 200 "$CODE"
call PUT hub /v1/prices/retail/MUG '{"amount":3500,"currency":"CNY"}'
check_eq "the hub prices MUG" 200 "$CODE"

# ---- 1. Two stores edit the same customer offline ----
cli customer add --data "$T/S001" --id C-LI --name "Li Wei" --phone 13800000000 \
	--tags regular,paper --json
check_eq "S001 adds customer C-LI" 0 "$RC"
sync_all
cli customer show S001-C-LI --data "$T/S002" --json
check_eq "S002 has C-LI with its tags after syncing" \
	'13800000000 ["paper","regular"] 0' "$(jqr "$OUT" '"\(.phone) \(.tags|tojson) \(.points)"')"

hub_stop
site_up S001 S002
call PATCH S001 /v1/customers/S001-C-LI \
	'{"phone":"13811111111","tags_add":["vip-event","paper"],"points_delta":10}'
check_eq "S001 edits C-LI offline: status" 200 "$CODE"
check_eq "S001 edits C-LI offline: its own view" \
	'13811111111 ["paper","regular","vip-event"] 10' "$(jqr "$BODY" '"\(.phone) \(.tags|tojson) \(.points)"')"
sleep 0.2   # S002's edit is later: its hlc is higher
call PATCH S002 /v1/customers/S001-C-LI \
	'{"phone":"13922222222","tags_add":["newsletter"],"tags_remove":["regular","paper"],"points_delta":5}'
check_eq "S002 edits C-LI offline: status" 200 "$CODE"
check_eq "S002 edits C-LI offline: its own view" \
	'13922222222 ["newsletter"] 5' "$(jqr "$BODY" '"\(.phone) \(.tags|tojson) \(.points)"')"
site_down S001 S002

hub_start
sync_all
site_up S001 S002 W001
# The later phone wins; S002 removed the "regular" and "paper" adds it had
# seen, but S001's concurrent re-add of "paper" survives (add wins); points
# are the sum of both deltas.
everywhere "C-LI merged: later phone, tags, summed points" \
	'13922222222 ["newsletter","paper","vip-event"] 15' \
	/v1/customers/S001-C-LI '"\(.phone) \(.tags|tojson) \(.points)"'
everywhere "C-LI keeps its name and creating site" 'Li Wei S001' \
	/v1/customers/S001-C-LI '"\(.name) \(.site)"'
site_down S001 S002 W001

# ---- 2. A store cancels while the warehouse ships the same order ----
cli stock receive --data "$T/W001" --sku TEA --qty 10 --ref PO-1
check_eq "W001 receives 10 TEA" 0 "$RC"
for o in O-SHIP1:2 O-SHIP2:3; do
	id=${o%:*}
	cli order create --data "$T/S001" --id "$id" --channel online --currency CNY \
		--fulfil-site W001 --line "TEA:${o#*:}" --json
	check_eq "S001 takes online order $id for W001" "S001-$id draft 1200" \
		"$(jqr "$OUT" '"\(.id) \(.status) \(.lines[0].unit_price)"')"
	cli order move "S001-$id" --data "$T/S001" --to confirmed --json
	check_eq "S001 confirms S001-$id" confirmed "$(jqr "$OUT" .status)"
	cli order move "S001-$id" --data "$T/S001" --to allocated --json
	check_eq "S001 may not allocate S001-$id: W001 fulfils it" \
		"bl-node: order move: order S001-$id: S001 may not allocate it: only its fulfilling site W001 may" \
		"$ERR"
done
sync_all
for id in S001-O-SHIP1 S001-O-SHIP2; do
	cli order move "$id" --data "$T/W001" --to allocated --json
	check_eq "W001 allocates $id" allocated "$(jqr "$OUT" .status)"
done
sync_all
call GET hub '/v1/stock?site=W001&sku=TEA'
check_eq "the hub shows W001's TEA reserved for both orders" '10 5 5' \
	"$(jqr "$BODY" '.items[0]|"\(.on_hand) \(.reserved) \(.available)"')"

hub_stop
site_up S001 W001
# O-SHIP1: the store cancels first, the warehouse ships later.
call POST S001 /v1/orders/S001-O-SHIP1/transition '{"to":"cancelled","reason":"customer changed mind"}'
check_eq "S001 cancels O-SHIP1 offline" "200 cancelled" "$CODE $(jqr "$BODY" .status)"
sleep 0.1
call POST W001 /v1/orders/S001-O-SHIP1/transition '{"to":"shipped","tracking":"SF1001"}'
check_eq "W001 ships O-SHIP1 offline" "200 shipped" "$CODE $(jqr "$BODY" .status)"
# O-SHIP2: the warehouse ships first, the store cancels later.
call POST W001 /v1/orders/S001-O-SHIP2/transition '{"to":"shipped","tracking":"SF1002"}'
check_eq "W001 ships O-SHIP2 offline" "200 shipped" "$CODE $(jqr "$BODY" .status)"
sleep 0.1
call POST S001 /v1/orders/S001-O-SHIP2/transition '{"to":"cancelled"}'
check_eq "S001 cancels O-SHIP2 offline" "200 cancelled" "$CODE $(jqr "$BODY" .status)"
call GET W001 '/v1/stock?site=W001&sku=TEA'
check_eq "W001's own stock: goods left, nothing reserved" '5 0 5' \
	"$(jqr "$BODY" '.items[0]|"\(.on_hand) \(.reserved) \(.available)"')"
site_down S001 W001

hub_start
sync_all
site_up S001 S002 W001
at "S001 W001 hub" "O-SHIP1 is shipped" shipped /v1/orders/S001-O-SHIP1 .status
at "S001 W001 hub" "O-SHIP2 is shipped" shipped /v1/orders/S001-O-SHIP2 .status
at "S001 W001 hub" "O-SHIP1 keeps both moves in its history" \
	'draft@S001 confirmed@S001 allocated@W001 cancelled@S001 shipped@W001' \
	/v1/orders/S001-O-SHIP1 '[.history[]|"\(.status)@\(.site)"]|join(" ")'
at "S001 W001 hub" "O-SHIP2 keeps both moves in its history" \
	'draft@S001 confirmed@S001 allocated@W001 shipped@W001 cancelled@S001' \
	/v1/orders/S001-O-SHIP2 '[.history[]|"\(.status)@\(.site)"]|join(" ")'
at "S001 W001 hub" "a conflicting_transition alert names each order" 'S001-O-SHIP1 S001-O-SHIP2' \
	'/v1/alerts?kind=conflicting_transition' '[.items[]|.subject]|join(" ")'
at "S001 W001 hub" "the O-SHIP1 alert is the store's, says shipped at W001" \
	'conflicting_transition S001 yes' '/v1/alerts' \
	'.items[]|select(.subject=="S001-O-SHIP1")|"\(.kind) \(.site) \(if (.message|test("shipped at W001")) then "yes" else .message end)"'
unseen S002 "O-SHIP1, neither created nor fulfilled by S002," /v1/orders/S001-O-SHIP1
everywhere "W001's stock shows the sale movements, reservation released" \
	'W001 TEA 5 0 5' '/v1/stock?sku=TEA' \
	'[.items[]|"\(.site) \(.sku) \(.on_hand) \(.reserved) \(.available)"]|join(", ")'
check_eq "the hub holds the two shipment movements at W001, W001's own" \
	'W001-S001-O-SHIP1-out-1 -2 sale W001, W001-S001-O-SHIP2-out-1 -3 sale W001' \
	"$(sqlite3 -separator ' ' "$T/hub/hub.db" "SELECT id, delta, reason, origin FROM stock_movements WHERE site = 'W001' AND reason != 'receipt' ORDER BY id" | paste -sd, | sed 's/,/, /g')"
site_down S001 S002 W001

# ---- 3. A store's two tills sell its last unit offline ----
cli stock receive --data "$T/S001" --sku MUG --qty 1
check_eq "S001 receives its one MUG" 0 "$RC"
sync_all
check_eq "the hub shows S001's single MUG" 1 \
	"$(jqr "$(get hub '/v1/stock?site=S001&sku=MUG')" '.items[0].on_hand')"

hub_stop
site_up S001 S002
call POST S001 /v1/orders \
	'{"id":"TILL1-0042","channel":"store","currency":"CNY","lines":[{"sku":"MUG","qty":1}],"status":"confirmed"}'
check_eq "S001's till 1 sells the MUG offline" "201 confirmed 3500" \
	"$CODE $(jqr "$BODY" '"\(.status) \(.total)"')"
check_eq "S001 then sees none left" 0 \
	"$(jqr "$(get S001 '/v1/stock?site=S001&sku=MUG')" '.items[0].on_hand')"
call POST S001 /v1/stock/movements \
	'{"id":"TILL2-0007","sku":"MUG","delta":-1,"reason":"sale","ref":"till 2"}'
check_eq "S001's till 2 sells a MUG too: no sale is refused" "201 S001-TILL2-0007" \
	"$CODE $(jqr "$BODY" .id)"
call POST S002 /v1/stock/movements \
	'{"id":"POS-77","site":"S001","sku":"MUG","delta":-1,"reason":"sale","ref":"S002 till 3 for S001"}'
check_eq "S002 may not record a sale of S001's MUG" \
	"403 stock movement S002-POS-77: recorded at S001 but written by S002 (a site moves only its own stock)" \
	"$CODE $(jqr "$BODY" .error.message)"
site_down S001 S002

hub_start
sync_all
site_up S001 S002 W001
everywhere "S001's MUG is oversold: on hand -1" '-1 0 -1' '/v1/stock?site=S001&sku=MUG' \
	'.items[0]|"\(.on_hand) \(.reserved) \(.available)"'
everywhere "a negative_stock alert names S001's MUG" 'S001 MUG' \
	'/v1/alerts?kind=negative_stock' '[.items[]|"\(.site) \(.subject)"]|join(", ")'
at "S001 hub" "the till sale's order is there, confirmed" 'confirmed 3500' \
	/v1/orders/S001-TILL1-0042 '"\(.status) \(.total)"'
unseen "S002 W001" "S001's till sale" /v1/orders/S001-TILL1-0042
site_down S001 S002 W001
for db in S001/node.db S002/node.db W001/node.db hub/hub.db; do
	check_eq "both sale movements of S001's MUG are in ${db%%/*}, nothing of S002's" \
		'S001-TILL1-0042-out-1 -1, S001-TILL2-0007 -1' \
		"$(sqlite3 -separator ' ' "$T/$db" "SELECT id, delta FROM stock_movements WHERE site = 'S001' AND sku = 'MUG' AND reason = 'sale' ORDER BY id" | paste -sd, | sed 's/,/, /g')"
done
# Syncing again changes nothing: no sale is counted twice.
sync_all
check_eq "another round leaves the hub at -1" -1 \
	"$(jqr "$(get hub '/v1/stock?site=S001&sku=MUG')" '.items[0].on_hand')"
finish
