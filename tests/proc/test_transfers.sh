# Transfers between sites as documents (README "Transfers between sites",
# sync/domain/transfer.h), with a real hub and three stores: S001 ships 10
# TEA to S002 (in transit 10 at S001, S002 and the hub; S001's on hand down
# by 10 at once), S002 receives 8 (discrepancy -2, alerted at the hub; on
# hand up by 8 there, nothing in transit), head office reconciles it with
# bl-hub (the alert gone, reconciled everywhere after sync). S003, in the
# same region, sees the stock move but never the document. Every refusal
# is checked by its exact text, and the same workflow runs again from
# bl-node's commands. The old POST /v1/stock/transfers still works beside
# it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

# at_is SITE PATH FILTER WANT: jq FILTER of GET PATH at SITE gives WANT.
at_is() { [ "$(jqr "$(get "$1" "$2")" "$3")" = "$4" ]; }

# settled DESC WANT PATH FILTER SITE...: at each SITE (daemons running,
# "hub" for the hub), waits up to 15 s for jq FILTER of GET PATH to give
# WANT, then checks it.
settled() {
	local desc=$1 want=$2 path=$3 filter=$4 r
	shift 4
	for r in "$@"; do
		eventually 15 at_is "$r" "$path" "$filter" "$want"
		check_eq "$desc at $r" "$want" "$(jqr "$(get "$r" "$path")" "$filter")"
	done
}

# refused DESC CODE MESSAGE: the last call answered CODE with MESSAGE.
refused() {
	check_eq "$1" "$2 $3" "$CODE $(jqr "$BODY" .error.message)"
}

# row_of SITE: a jq filter of GET /v1/stock giving SITE's TEA row as
# "on_hand in_transit" (0 for none).
row_of() {
	printf '(.items[]|select(.sku=="TEA" and .site=="%s")|"\\(.on_hand) \\(.in_transit // 0)")' "$1"
}

hub_init
hub_start
node_init S001
node_init S002
node_init S003
call PUT hub /v1/products/TEA '{"name":"Green tea"}'
check_eq "the hub adds TEA" 200 "$CODE"
site_up S001 S002 S003
settled "TEA is in the catalog" "Green tea" /v1/products/TEA .name S001 S002 S003
call POST S001 /v1/stock/movements '{"sku":"TEA","delta":30,"reason":"receipt"}'
check_eq "S001 receives 30 TEA" 201 "$CODE"
call POST S002 /v1/stock/movements '{"sku":"TEA","delta":5,"reason":"receipt"}'
check_eq "S002 receives 5 TEA" 201 "$CODE"

# ---- requested at the source ----
call POST S001 /v1/transfers '{"id":"T1","sku":"TEA","qty":10,"to_site":"S002"}'
check_eq "S001 asks to send 10 TEA to S002: its id scoped, requested" \
	"201 S001-T1 S001 S002 10 requested null null" \
	"$CODE $(jqr "$BODY" '"\(.id) \(.from_site) \(.to_site) \(.qty) \(.status) \(.qty_sent) \(.discrepancy)"')"
call POST S001 /v1/transfers '{"id":"T1","sku":"TEA","qty":10,"to_site":"S002"}'
check_eq "the same request again is the same transfer (idempotent)" "200 S001-T1" \
	"$CODE $(jqr "$BODY" .id)"
call POST S001 /v1/transfers '{"sku":"TEA","qty":0,"to_site":"S002"}'
refused "a qty of 0 is refused" 400 "qty: must be an integer from 1 to 1000000000"
call POST S001 /v1/transfers '{"sku":"TEA","qty":-3,"to_site":"S002"}'
refused "a negative qty is refused" 400 "qty: must be an integer from 1 to 1000000000"
call POST S001 /v1/transfers '{"sku":"TEA","qty":1,"to_site":"HQ"}'
refused "head office as the destination is refused" 422 \
	"to_site: HQ is head office, which receives no transfers"
call POST hub /v1/transfers '{"sku":"TEA","qty":1,"to_site":"S001"}'
refused "head office as the source is refused" 422 \
	"site: HQ is head office, which sends no transfers"
call GET S001 /v1/transfers
check_eq "nothing refused was recorded" "S001-T1" "$(jqr "$BODY" '[.items[].id]|join(" ")')"

settled "S002 holds the request" requested /v1/transfers/S001-T1 .status S002 hub
call POST S002 /v1/transfers/S001-T1/receive '{"qty":10}'
refused "receiving before shipment is refused" 409 \
	"receive: transfer S001-T1 is requested: S001 has not shipped it yet"

# ---- shipped: in transit ----
call POST S001 /v1/transfers/S001-T1/ship '{}'
check_eq "S001 ships it: in transit 10" "200 shipped 10 10" \
	"$CODE $(jqr "$BODY" '"\(.status) \(.qty_sent) \(.in_transit)"')"
call POST S001 /v1/transfers/S001-T1/ship '{}'
refused "shipping twice is refused, nothing recorded" 409 \
	"ship: transfer S001-T1 is shipped: it was shipped already (10 sent), nothing recorded"
call POST S002 /v1/transfers/S001-T1/ship '{}'
refused "only the source ships" 403 \
	"ship: transfer S001-T1 comes from S001: only S001 may ship it"
check_eq "on hand at S001 is down by 10 at once" "20 0" \
	"$(jqr "$(get S001 '/v1/stock?sku=TEA')" "$(row_of S001)")"
settled "S002's row shows 10 in transit" "5 10" '/v1/stock?sku=TEA' "$(row_of S002)" S001 S002 hub
settled "S001 shows 20 on hand" "20 0" '/v1/stock?sku=TEA' "$(row_of S001)" S002 hub
settled "in transit per sku in the listing" "S001-T1:10" '/v1/transfers?status=shipped&sku=TEA' \
	'[.items[]|"\(.id):\(.in_transit)"]|join(" ")' S001 S002 hub

# S003 shares the region: it sees S001's stock move, never the document.
settled "S003 sees S001's stock (same region)" "20 0" '/v1/stock?sku=TEA' "$(row_of S001)" S003
call GET S003 /v1/transfers/S001-T1
check_eq "S003 does not receive the transfer" 404 "$CODE"
settled "nor counts it in transit" "5 0" '/v1/stock?sku=TEA' "$(row_of S002)" S003

# ---- received short at the destination ----
call POST S001 /v1/transfers/S001-T1/receive '{"qty":10}'
refused "receiving at the source is refused, naming who may" 403 \
	"receive: transfer S001-T1 goes to S002: only S002 may receive it"
call POST S003 /v1/transfers/S001-T1/receive '{"qty":10}'
refused "a site that does not hold it cannot receive it" 404 "transfer: S001-T1 not found"
call POST S002 /v1/transfers/S001-T1/receive '{"qty":0}'
refused "receiving 0 is refused" 400 "qty: must be an integer from 1 to 1000000000"
call POST S002 /v1/transfers/S001-T1/receive '{"qty":8}'
check_eq "S002 receives 8: discrepancy -2" "200 received 10 8 -2 0" \
	"$CODE $(jqr "$BODY" '"\(.status) \(.qty_sent) \(.qty_received) \(.discrepancy) \(.in_transit)"')"
call POST S002 /v1/transfers/S001-T1/receive '{"qty":2}'
refused "receiving twice is refused" 409 \
	"receive: transfer S001-T1 is received: it was received already (8 of 10), nothing recorded"
check_eq "on hand at S002 is up by 8" "13 0" \
	"$(jqr "$(get S002 '/v1/stock?sku=TEA')" "$(row_of S002)")"
settled "the receipt is everywhere" "received 8 -2" /v1/transfers/S001-T1 \
	'"\(.status) \(.qty_received) \(.discrepancy)"' S001 S002 hub
settled "nothing in transit, S002 up by 8" "13 0" '/v1/stock?sku=TEA' "$(row_of S002)" S001 hub
settled "the discrepancy is alerted" \
	"S002 S001-T1 transfer S001-T1: 10 TEA sent by S001, 8 received at S002, discrepancy -2: head office reconciles it" \
	'/v1/alerts?kind=transfer_discrepancy' '.items[]|"\(.site) \(.subject) \(.message)"' hub S001 S002
check_eq "the history shows each step and who made it" \
	"requested:S001 shipped:S001 received:S002:8" \
	"$(jqr "$(get hub /v1/transfers/S001-T1)" '[.history[]|"\(.status):\(.site)\(if .qty then ":\(.qty)" else "" end)"]|join(" ")')"

# ---- reconciled by head office ----
call POST S002 /v1/transfers/S001-T1/reconcile '{"note":"mine"}'
refused "a site cannot reconcile" 403 \
	"reconcile: transfer S001-T1: only head office reconciles transfers (at the hub)"
"$HUB" transfer list --data "$T/hub" --status received > "$T/list.out" 2>&1
check_match "bl-hub transfer list shows it waiting" \
	'^S001-T1 +S001 +S002 +TEA +10 +received +10 +8 +-2 +0$' "$(sed -n 2p "$T/list.out")"
check_refused "bl-hub transfer reconcile needs a note" \
	"bl-hub: transfer reconcile: note: must be 1 to 1024 characters" \
	"$HUB" transfer reconcile --data "$T/hub" --id S001-T1 --note ""
OUT=$("$HUB" transfer reconcile --data "$T/hub" --id S001-T1 --note "2 broken in the van" 2>&1)
check_eq "bl-hub transfer reconcile closes it" "0 transfer S001-T1 reconciled: 10 TEA sent by S001, 8 received at S002, discrepancy -2" \
	"$? $OUT"
call POST hub /v1/transfers/S001-T1/reconcile '{"note":"again"}'
refused "reconciling twice is refused" 409 "reconcile: transfer S001-T1 was reconciled already"
check_eq "the hub's alert is gone" 0 \
	"$(jqr "$(get hub '/v1/alerts?kind=transfer_discrepancy')" '.items|length')"
settled "reconciled everywhere after sync" "reconciled 2 broken in the van" /v1/transfers/S001-T1 \
	'"\(.status) \(.history[-1].note)"' S001 S002 hub
settled "no alert anywhere" 0 '/v1/alerts?kind=transfer_discrepancy' '.items|length' S001 S002
# Head office's own op goes where the document goes, not to every site.
check_eq "S003 never receives head office's reconciliation" 0 \
	"$(sqlite3 "$T/S003/node.db" "SELECT count(*) FROM op_log WHERE entity = 'transfer'")"
settled "on hand: S001 20, S002 13" "20 0 13 0" '/v1/stock?sku=TEA' \
	"[$(row_of S001), $(row_of S002)]|join(\" \")" S001 S002 hub
call GET hub '/v1/transfers?status=bogus'
refused "a listing by an unknown status is refused" 400 \
	"status: 'bogus' is not a transfer status (requested, shipped, received, reconciled)"

# ---- the same from bl-node's commands, received in full ----
cli transfer create --data "$T/S002" --id T2 --sku TEA --qty 5 --to S001 --json
check_eq "bl-node transfer create" "0 S002-T2 requested" "$RC $(jqr "$OUT" '"\(.id) \(.status)"')"
cli transfer ship --data "$T/S002" S002-T2 --json
check_eq "bl-node transfer ship" "0 shipped 5" "$RC $(jqr "$OUT" '"\(.status) \(.in_transit)"')"
cli transfer ship --data "$T/S002" S002-T2
check_eq "bl-node transfer ship twice" \
	"1 bl-node: transfer ship: ship: transfer S002-T2 is shipped: it was shipped already (5 sent), nothing recorded" \
	"$RC $ERR"
settled "S001 holds T2 in transit" "shipped 5" /v1/transfers/S002-T2 '"\(.status) \(.in_transit)"' S001
cli transfer receive --data "$T/S002" S002-T2 --qty 5
check_eq "bl-node transfer receive at the source" \
	"1 bl-node: transfer receive: receive: transfer S002-T2 goes to S001: only S001 may receive it" \
	"$RC $ERR"
cli transfer receive --data "$T/S001" S002-T2 --qty 5 --json
check_eq "bl-node transfer receive at the destination, in full" "0 received 0" \
	"$RC $(jqr "$OUT" '"\(.status) \(.discrepancy)"')"
cli transfer show --data "$T/S001" S002-T2
check_match "bl-node transfer show" '^status +received$' "$OUT"
cli transfer list --data "$T/S001" --status received --json
check_eq "bl-node transfer list" "0 S002-T2" "$RC $(jqr "$OUT" '[.items[].id]|join(" ")')"
settled "T2 received in full at the hub" "received 0" /v1/transfers/S002-T2 \
	'"\(.status) \(.discrepancy)"' hub
check_eq "no discrepancy alert for a receipt in full" 0 \
	"$(jqr "$(get hub '/v1/alerts?kind=transfer_discrepancy')" '.items|length')"
check_refused "bl-hub transfer reconcile of a receipt in full is refused" \
	"bl-hub: transfer reconcile: reconcile: transfer S002-T2 was received in full (5 of 5): nothing to reconcile" \
	"$HUB" transfer reconcile --data "$T/hub" --id S002-T2 --note "x"
OUT=$("$HUB" transfer list --data "$T/hub" --json | jq -r '[.items[]|"\(.id):\(.status)"]|join(" ")')
check_eq "bl-hub transfer list --json" "S001-T1:reconciled S002-T2:received" "$OUT"

# ---- the old transfer, unchanged beside the documents ----
call POST S001 /v1/stock/transfers '{"id":"OLD","sku":"TEA","qty":3,"to_site":"S002"}'
check_eq "POST /v1/stock/transfers still records its out leg" "201 in_transit S002-S001-OLD-in" \
	"$CODE $(jqr "$BODY" '"\(.status) \(.receipt)"')"
settled "and S002's node records the receipt itself" "11 0" '/v1/stock?sku=TEA' "$(row_of S002)" S002
check_eq "it is no transfer document" 404 "$(call GET S001 /v1/transfers/S001-OLD; echo "$CODE")"

site_down S001 S002 S003
finish
