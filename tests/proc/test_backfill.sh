# Visibility follows the data (README, "Visibility follows the data"): a
# site newly entitled to see something receives what was logged before by
# a backfill (proto.h: BACKFILL, BACKFILL_OPS), streamed in bounded batches
# without a resync; a site that loses it keeps what it had and receives
# no more. Both ways, for a region move and for an order allocated,
# released and allocated again; and a backfill larger than one batch
# (2,500 movements, PROTO_MAX_BATCH is 2,000) arrives whole. The sites of
# the region a store moved to learn of it (head office's op site_region)
# and backfill that store's earlier stock ("site:ID").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

# site SITE ROLE REGION: a node enrolled in a region.
site() {
	key=$("$NODE" init --data "$T/$1" --site "$1" --hub "tcp://127.0.0.1:$HUB_SYNC" \
		--hub-key "$HUB_KEY" --http 127.0.0.1:0) &&
		"$HUB" enroll --data "$T/hub" --site "$1" --role "$2" --key "$key" --region "$3" > /dev/null
}
# onhand SITE OF: what SITE (or hub) holds of OF's stock, "sku=on_hand ...".
onhand() { get "$1" "/v1/stock?site=$2" | jq -r '[.items[] | "\(.sku)=\(.on_hand)"] | sort | join(" ")'; }
same_stock() { [ -n "$(onhand hub "$2")" ] && [ "$(onhand "$1" "$2")" = "$(onhand hub "$2")" ]; }
# movements DB SITE: how many stock movements of SITE a replica holds.
movements() { sqlite3 "$1" "SELECT count(*) FROM stock_movements WHERE site = '$2'"; }
has_movement() { [ "$(sqlite3 "$1" "SELECT count(*) FROM stock_movements WHERE id = '$2'")" = 1 ]; }
order_field() { jqr "$(get "$1" "/v1/orders/$2")" "$3"; }
order_paid_is() { [ "$(order_field "$1" "$2" .paid)" = "$3" ]; }
has_record() { call GET "$1" "$2"; [ "$CODE" = 200 ]; }

hub_init
hub_start
site E1 store east
site E2 store east
site S2 store west
site WS store west
site WX store west # never started: blpoke asks as it
site S1 store north
site W1 warehouse north
site W2 warehouse north
call PUT hub /v1/products/TEA '{"name":"Tea"}'
site_up E1 E2 S2 WS S1 W1 W2

# ---- a region move ----
# East has 2,500 movements at E1 and a few at E2, west a few at WS and S2.
for i in $(seq 1 2500); do
	printf '{"id":"IMP-%d","sku":"SKU%d","delta":%d,"reason":"receipt"}\n' "$i" $((i % 5)) $((i % 7 + 1))
done > "$T/east.jsonl"
check_eq "E1 imports 2,500 movements" "imported 2500 movements (0 already recorded)" \
	"$("$NODE" import --data "$T/E1" --file "$T/east.jsonl")"
for s in E2 WS S2; do
	call POST "$s" /v1/stock/movements '{"id":"R1","sku":"TEA","delta":40,"reason":"receipt"}'
	call POST "$s" /v1/stock/movements '{"id":"R2","sku":"TEA","delta":-3,"reason":"sale"}'
done
check "the hub holds E1's 2,500 movements" eventually 30 \
	sh -c "[ \"\$(sqlite3 '$T/hub/hub.db' \"SELECT count(*) FROM stock_movements WHERE site = 'E1'\")\" = 2500 ]"
check "S2 (west) holds WS's stock" eventually 20 same_stock S2 WS
check "and E2 (east) E1's" eventually 20 same_stock E2 E1
check_eq "S2 holds none of east's movements" "0 0" \
	"$(movements "$T/S2/node.db" E1) $(movements "$T/S2/node.db" E2)"
ws_at_s2=$(onhand S2 WS)
check_eq "S2 knows its region" "west" "$("$NODE" status --data "$T/S2" --json | jq -r .region)"

out=$("$HUB" region --data "$T/hub" --site S2 --region 'east side' 2>&1)
check_eq "bl-hub region refuses a region name that is not one" \
	"2 bl-hub: region: --region 'east side': use 1-63 of A-Z a-z 0-9 _ -" "$? $out"
out=$("$HUB" enroll --data "$T/hub" --site S9 --role store --key "$("$NODE" key --data "$T/S2")" --region a/b 2>&1)
check_eq "so does bl-hub enroll" \
	"2 bl-hub: enroll: --region 'a/b': use 1-63 of A-Z a-z 0-9 _ -" "$? $out"
check_eq "bl-hub region moves S2 to the east" "moved S2 from region west to east" \
	"$("$HUB" region --data "$T/hub" --site S2 --region east)"
check "the running hub cuts S2's session" eventually 10 \
	grep -q "site S2: moved from region west to east: connection .* cut" "$T/hub.log"
check "S2 then holds E1's earlier stock, exactly as the hub" eventually 30 same_stock S2 E1
check "and E2's" eventually 10 same_stock S2 E2
check_eq "all 2,500 of E1's movements" 2500 "$(movements "$T/S2/node.db" E1)"
nb=$(grep -c "backfill region:east: [0-9]* ops, up to lsn" "$T/S2.log")
check "in more than one batch ($nb)" [ "$nb" -ge 2 ]
check "the last one done" grep -q "backfill region:east: [0-9]* ops, up to lsn [0-9]*: done" "$T/S2.log"
check_eq "S2's status: region east, no backfill pending" '"east" 0' \
	"$("$NODE" status --data "$T/S2" --json | jq -r '"\"\(.region)\" \(.backfills | length)"')"
check_match "bl-node status says so" "^backfills +none pending$" "$("$NODE" status --data "$T/S2")"
check_eq "GET /v1/status too" "[]" "$(jqr "$(get S2 /v1/status)" '.backfills | tostring')"

# After the move: a west movement does not reach S2, an east one does.
call POST WS /v1/stock/movements '{"id":"AFTER","sku":"TEA","delta":7,"reason":"receipt"}'
check "the hub has WS's movement after the move" eventually 20 has_movement "$T/hub/hub.db" WS-AFTER
call POST E1 /v1/stock/movements '{"id":"AFTER","sku":"TEA","delta":3,"reason":"receipt"}'
check "S2 receives E1's later movement" eventually 20 has_movement "$T/S2/node.db" E1-AFTER
check "not WS's, logged before it" sh -c "! sqlite3 '$T/S2/node.db' \"SELECT id FROM stock_movements\" | grep -qx WS-AFTER"
check_eq "S2 keeps what it knew of WS" "$ws_at_s2" "$(onhand S2 WS)"
check_match "which the hub has moved on from" "TEA=44" "$(onhand hub WS)"
call POST S2 /v1/stock/movements '{"id":"MOVED","sku":"TEA","delta":5,"reason":"receipt"}'
check "S2's own movement now goes to the east" eventually 20 has_movement "$T/E1/node.db" S2-MOVED

# The east's sites learn of the move from head office's op, and backfill
# S2's earlier movements, logged for the west: their figure for S2 is the
# hub's, with no false negative stock.
region_of() { sqlite3 "$T/$1/node.db" "SELECT region FROM site_regions WHERE site = '$2'"; }
check "E2 records head office's move of S2" eventually 20 sh -c "[ \"\$(sqlite3 '$T/E2/node.db' \"SELECT region FROM site_regions WHERE site = 'S2'\")\" = east ]"
check_eq "so does WS, in the west" "east" "$(region_of WS S2)"
call POST S2 /v1/stock/movements '{"id":"SOLD","sku":"TEA","delta":-30,"reason":"sale"}'
check "S2's receipt before the move reaches E2" eventually 20 has_movement "$T/E2/node.db" S2-R1
check "and its sale after it" eventually 20 has_movement "$T/E2/node.db" S2-SOLD
check "E2's figure for S2 is the hub's" eventually 20 same_stock E2 S2
check_eq "40 - 3 + 5 - 30" "TEA=12" "$(onhand E2 S2)"
check "by a backfill of S2's stock" grep -q "backfill site:S2: [0-9]* ops, up to lsn [0-9]*: done" "$T/E2.log"
check_eq "no negative_stock alert at E2" "[]" \
	"$(get E2 /v1/alerts | jq -c '[.items[] | select(.kind == "negative_stock")]')"
check "E1 too holds S2's stock as the hub does" eventually 20 same_stock E1 S2
# WS, left behind in the west, keeps what it had of S2 and receives no
# more: once it has something logged after the sale, it is past it.
call PUT hub /v1/products/MARK1 '{"name":"After the sale"}'
check "WS is streamed past S2's sale" eventually 20 has_record WS /v1/products/MARK1
check_eq "WS keeps S2's stock as it was before the move" "TEA=37" "$(onhand WS S2)"
check_eq "and has neither of its movements since" "0 0" \
	"$(sqlite3 "$T/WS/node.db" "SELECT count(*) FROM stock_movements WHERE id = 'S2-MOVED'") $(sqlite3 "$T/WS/node.db" "SELECT count(*) FROM stock_movements WHERE id = 'S2-SOLD'")"
check "nor asked for them" sh -c "! grep -q 'backfill site:S2' '$T/WS.log'"
# A site's stock is a backfill of a site of the asker's region, or of a
# warehouse's (which went to every site anyway).
POKE="$BL_BIN/tests/tools/blpoke"
check_eq "WX (west) may not backfill S2's stock" \
	"ERROR 403 backfill: site:S2: site WX is in region west, S2 in east" "$("$POKE" "$T/WX" backfill=site:S2)"
check_eq "nor that of a site not enrolled" \
	"ERROR 403 backfill: site:NOPE: no such site" "$("$POKE" "$T/WX" backfill=site:NOPE)"
check_eq "WS's, of its region, it may" "BACKFILL_OPS" "$("$POKE" "$T/WX" backfill=site:WS)"
check_eq "and W1's, a warehouse's" "BACKFILL_OPS" "$("$POKE" "$T/WX" backfill=site:W1)"

# ---- an order allocated, released and allocated again ----
# Head office's allocator (hub/allocate.c) writes each fulfilment as a
# child order; with no rules it picks a warehouse with the stock, never one
# that released the order.
call POST S1 /v1/orders '{"id":"WEB","channel":"online","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":2,"unit_price":100}]}'
check_eq "S1 takes an online order, fulfilled by no site yet" "201 S1-WEB " \
	"$CODE $(jqr "$BODY" .id) $(jqr "$BODY" .fulfil_site)"
call POST S1 /v1/payments '{"id":"P1","order":"S1-WEB","method":"card","amount":100,"currency":"CNY"}'
check_eq "a payment at S1" 201 "$CODE"
call POST S1 /v1/cases '{"id":"C1","kind":"complaint","order":"S1-WEB","description":"late"}'
check_eq "an after-sales case at S1" 201 "$CODE"
check "the hub has the order and its payment" eventually 20 order_paid_is hub S1-WEB 100
check "and its case" eventually 20 has_record hub /v1/cases/S1-C1
check_eq "no warehouse has stock: not allocated" "[]" "$(order_field hub S1-WEB '.fulfilments // [] | tostring')"
check_eq "W1 and W2 have nothing of it" "404 404" \
	"$(call GET W1 /v1/orders/S1-WEB; echo "$CODE") $(call GET W2 /v1/orders/S1-WEB; echo "$CODE")"

# fulfilment SITE: the id of the parent's fulfilment at SITE, at the hub.
fulfilment() { order_field hub S1-WEB "[.fulfilments[]? | select(.site == \"$1\") | .id][0] // empty"; }
has_fulfilment() { [ -n "$(fulfilment "$1")" ]; }
call POST W1 /v1/stock/movements '{"id":"R1","sku":"TEA","delta":10,"reason":"receipt"}'
check "W1 receives stock: head office allocates the order to W1" eventually 20 has_fulfilment W1
F1=$(fulfilment W1)
check "W1 receives the order's whole history: the order and its payment" eventually 20 order_paid_is W1 S1-WEB 100
check "its case" eventually 10 has_record W1 /v1/cases/S1-C1
check_eq "and its fulfilment" "allocated" "$(order_field W1 "$F1" .status)"
check "by a backfill" eventually 10 grep -q "backfill order:S1-WEB: [0-9]* ops, up to lsn [0-9]*: done" "$T/W1.log"
check_eq "W2 still has nothing of it" 404 "$(call GET W2 /v1/orders/S1-WEB; echo "$CODE")"

call POST W2 /v1/stock/movements '{"id":"R1","sku":"TEA","delta":10,"reason":"receipt"}'
check "the hub has W2's stock" eventually 20 sh -c "[ \"\$(sqlite3 '$T/hub/hub.db' \"SELECT count(*) FROM stock_movements WHERE id = 'W2-R1'\")\" = 1 ]"
call POST W1 "/v1/orders/$F1/release" '{"reason":"W1: out of stock"}'
check_eq "W1 releases it" "200 cancelled" "$CODE $(jqr "$BODY" .status)"
check "head office allocates it again, to W2" eventually 20 has_fulfilment W2
F2=$(fulfilment W2)
check_eq "W1 is no longer listed for it" 0 \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM order_sites WHERE order_id = 'S1-WEB' AND site = 'W1'")"
check "W2 receives the whole history: the order and its payment" eventually 20 order_paid_is W2 S1-WEB 100
check "its case" eventually 10 has_record W2 /v1/cases/S1-C1
check "the first fulfilment and its release" eventually 10 sh -c \
	"curl -s http://127.0.0.1:$HTTP_W2/v1/orders/$F1 | jq -e '.status == \"cancelled\" and ([.history[].reason] | index(\"W1: out of stock\"))' > /dev/null"
check_eq "and its own" "allocated" "$(order_field W2 "$F2" .status)"

call POST S1 /v1/payments '{"id":"P2","order":"S1-WEB","method":"card","amount":50,"currency":"CNY"}'
check_eq "S1 takes a second payment" 201 "$CODE"
check "it reaches the hub" eventually 20 order_paid_is hub S1-WEB 150
check "and W2" eventually 20 order_paid_is W2 S1-WEB 150
# Something every site receives, logged after the payment: once W1 has it,
# its stream has passed the payment.
call PUT hub /v1/products/MARK '{"name":"After the payment"}'
check "W1 is streamed past the payment" eventually 20 has_record W1 /v1/products/MARK
check_eq "W1 receives no more of the order: it keeps what it had" "100 cancelled" \
	"$(order_field W1 S1-WEB .paid) $(order_field W1 "$F1" .status)"
check_eq "nor W2's fulfilment" 404 "$(call GET W1 "/v1/orders/$F2"; echo "$CODE")"
check_eq "head office lists S1 and W2 for it now" "S1 W2" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT group_concat(site, ' ') FROM (SELECT site FROM order_sites WHERE order_id = 'S1-WEB' ORDER BY site)")"

# ---- a site moved into a region another moved into before ----
# S1 (north) never received S2's movements of its time in the west; moved
# to the east, it backfills the east's stock and, as it knows S2 was moved
# there, S2's earlier stock too.
check_eq "S1 holds none of S2's stock" "" "$(onhand S1 S2)"
check_eq "bl-hub region moves S1 to the east" "moved S1 from region north to east" \
	"$("$HUB" region --data "$T/hub" --site S1 --region east)"
check "S1 then holds S2's stock as the hub does" eventually 30 same_stock S1 S2
check "by a backfill of S2's stock" eventually 10 grep -q "backfill site:S2: [0-9]* ops, up to lsn [0-9]*: done" "$T/S1.log"
check "and E1's" eventually 30 same_stock S1 E1
finish
