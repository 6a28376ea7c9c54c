# No oversell under escrowed stock quotas (sync/domain/quota.h), and the
# oversell without them: a randomized run with a fixed seed (QUOTA_SEED
# overrides it; it is printed). A warehouse W001 holds STOCK of BOX and of
# CUP. It grants three stores random rights on its BOX, never more than it
# has (a grant over it is refused, and the rest granted). The stores,
# behind a relay that the test cuts, promise W001's stock in random orders
# while offline, across a hub killed with -9 and started again, and after:
# BOX against their rights until they run out (409 with the backorder
# message), CUP freely, each as much as it sees W001 has. Then everything
# syncs and W001 ships every order it received. BOX never goes below
# zero at W001 and raises no negative_stock alert; CUP, promised without
# quotas, oversells and raises it (the test fails if it does not: the
# guarantee is the quotas'). The hub's counts are exact: every order
# answered 201 is at the hub, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

SEED=${QUOTA_SEED:-77}
echo "# seed $SEED (QUOTA_SEED=N runs another)"
RANDOM=$SEED
STOCK=20
STORES="S001 S002 S003"
RELAY="$BL_BIN/tests/tools/blrelay"

relay_up() {
	"$RELAY" "$RELAY_PORT" "$HUB_SYNC" 2>> "$T/relay.log" &
	RELAY_PID=$!
	PIDS="$PIDS $RELAY_PID"
	i=0
	while ! (exec 3<> "/dev/tcp/127.0.0.1/$RELAY_PORT") 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
}
relay_cut() { kill -KILL "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null; }

hub_init
hub_start
RELAY_PORT=$(fixed_port)
relay_up
node_init W001 warehouse
REAL_SYNC=$HUB_SYNC
HUB_SYNC=$RELAY_PORT    # the stores reach the hub through the relay
for s in $STORES; do node_init "$s"; done
HUB_SYNC=$REAL_SYNC

for sku in BOX CUP; do
	call PUT hub "/v1/products/$sku" "{\"name\":\"$sku\"}"
	call PUT hub "/v1/prices/retail/$sku" '{"amount":100,"currency":"CNY"}'
done
site_up W001 $STORES
call POST W001 /v1/stock/movements "{\"id\":\"RCV-BOX\",\"sku\":\"BOX\",\"delta\":$STOCK,\"reason\":\"receipt\"}"
check_eq "W001 receives $STOCK BOX" 201 "$CODE"
call POST W001 /v1/stock/movements "{\"id\":\"RCV-CUP\",\"sku\":\"CUP\",\"delta\":$STOCK,\"reason\":\"receipt\"}"
check_eq "W001 receives $STOCK CUP" 201 "$CODE"

# ---- W001 grants each store random rights on its BOX, within its stock ----
GRANTED=0
for s in $STORES; do
	want=$(( 4 + RANDOM % 7 ))
	call POST W001 /v1/quotas "{\"id\":\"Q-$s\",\"site\":\"$s\",\"sku\":\"BOX\",\"qty\":$want}"
	if [ "$CODE" = 422 ]; then
		free=$(jqr "$(get W001 '/v1/stock?site=W001&sku=BOX')" '.promised[0].free')
		check_eq "W001 refuses $want BOX rights for $s: only $free left" \
			"qty: $want BOX would promise $((GRANTED + want)) of W001's stock, over the $STOCK available ($GRANTED already promised)" \
			"$(jqr "$BODY" .error.message)"
		want=$free
		[ "$want" -gt 0 ] && call POST W001 /v1/quotas "{\"id\":\"Q-$s\",\"site\":\"$s\",\"sku\":\"BOX\",\"qty\":$want}"
	fi
	[ "$want" -gt 0 ] && check_eq "W001 grants $s $want BOX rights" 201 "$CODE"
	eval "RIGHTS_$s=$want"
	GRANTED=$((GRANTED + want))
done
echo "# rights granted: $(for s in $STORES; do eval "printf '%s:%s ' $s \$RIGHTS_$s"; done)(of $STOCK)"
store_ready() {
	[ "$(jqr "$(get "$1" "/v1/quotas?site=$1")" '.items|length')" = "$2" ] &&
		[ "$(jqr "$(get "$1" '/v1/stock?site=W001&sku=CUP')" '.items[0].available')" = "$STOCK" ]
}
for s in $STORES; do
	eval "n=\$((RIGHTS_$s > 0 ? 1 : 0))"
	check "$s has its rights and sees W001's stock" eventually 20 store_ready "$s" "$n"
done

# ---- the stores promise W001's stock ----
OK=0; BOX_SOLD=0; CUP_SOLD=0; REFUSED=0; BAD=0
for s in $STORES; do eval "BOX_DONE_$s=0 CUP_$s=0 N_$s=0"; done
NOBACK='send "backorder": true to order it as a backorder, or wait for the link'
# order SITE SKU QTY: one confirmed online order of W001's stock.
order() {
	local s=$1 n
	eval "n=\$((N_$s + 1)); N_$s=\$n"
	call POST "$s" /v1/orders "{\"id\":\"O-$n\",\"channel\":\"online\",\"currency\":\"CNY\",\"fulfil_site\":\"W001\",\"status\":\"confirmed\",\"lines\":[{\"sku\":\"$2\",\"qty\":$3}]}"
}
# promise SITE: one random order, BOX against its rights or CUP as far as
# its view of W001's stock goes; 1 when the store has nothing more to sell.
promise() {
	local s=$1 q=$(( 1 + RANDOM % 3 )) done_box cup
	eval "done_box=\$BOX_DONE_$s; cup=\$CUP_$s"
	if [ "$done_box" = 0 ] && { [ $((RANDOM % 2)) = 0 ] || [ $((cup + q)) -gt "$STOCK" ]; }; then
		order "$s" BOX "$q"
		case "$CODE" in
		201) OK=$((OK + 1)); BOX_SOLD=$((BOX_SOLD + q)) ;;
		409) REFUSED=$((REFUSED + 1)); eval "BOX_DONE_$s=1"
		     case "$(jqr "$BODY" .error.message)" in
		     "lines[0]: sku BOX: $q wanted, "*" left on W001's stock; $NOBACK") ;;
		     *) BAD=$((BAD + 1)); echo "# $s: unexpected refusal: $BODY" ;;
		     esac ;;
		*) BAD=$((BAD + 1)); echo "# $s: BOX order answered $CODE: $BODY" ;;
		esac
	elif [ $((cup + q)) -le "$STOCK" ]; then
		order "$s" CUP "$q"
		if [ "$CODE" = 201 ]; then
			OK=$((OK + 1)); CUP_SOLD=$((CUP_SOLD + q)); eval "CUP_$s=$((cup + q))"
		else
			BAD=$((BAD + 1)); echo "# $s: CUP order answered $CODE: $BODY"
		fi
	else
		return 1
	fi
	return 0
}
# round N: every store promises up to N more times.
round() {
	local i s
	for i in $(seq 1 "$1"); do
		for s in $STORES; do promise "$s" || true; done
	done
}
round 2                        # online
relay_cut
round $(( 3 + RANDOM % 4 ))    # the stores offline
kill -9 "$HUB_PID"; wait "$HUB_PID" 2>/dev/null
round 2                        # and the hub down
hub_start
relay_up
round $(( 2 + RANDOM % 3 ))    # back online, pushing
relay_cut
round 3                        # cut again
relay_up
round 40                       # until every store has sold all it may
check_eq "every order was answered 201 or 409 with the backorder choice" 0 "$BAD"
for s in $STORES; do
	eval "d=\$BOX_DONE_$s"
	check_eq "$s sold BOX until its rights ran out (409)" 1 "$d"
done
echo "# orders: $OK accepted ($BOX_SOLD BOX, $CUP_SOLD CUP promised), $REFUSED refused"
check "the quotas kept BOX within W001's stock" [ "$BOX_SOLD" -le "$STOCK" ]

# ---- everything syncs; the warehouse ships every order it received ----
count_at() {     # SITE: orders the stores created, as SITE holds them
	jqr "$(get "$1" /v1/orders)" '[.items[]|select(.site|startswith("S"))]|length'
}
has_all() { [ "$(count_at "$1")" = "$OK" ]; }
check "the hub has every order answered 201 ($OK)" eventually 30 has_all hub
check "W001 has every order" eventually 30 has_all W001
for id in $(jqr "$(get W001 /v1/orders)" '.items[]|select(.fulfil_site == "W001" and .status == "confirmed")|.id'); do
	call POST W001 "/v1/orders/$id/transition" '{"to":"shipped"}'
	[ "$CODE" = 200 ] || { BAD=$((BAD + 1)); echo "# ship $id: $CODE $BODY"; }
done
check_eq "W001 ships every order" 0 "$BAD"
on_hand() { jqr "$(get "$1" "/v1/stock?site=W001&sku=$2")" '.items[0].on_hand'; }
shipped() { [ "$(on_hand hub BOX)" = $((STOCK - BOX_SOLD)) ] && [ "$(on_hand hub CUP)" = $((STOCK - CUP_SOLD)) ]; }
check "the hub has W001's shipments" eventually 30 shipped
check_eq "the hub holds each order once" "$OK" "$(count_at hub)"
check_eq "no op quarantined at the hub" 0 "$(jqr "$(get hub /v1/status)" .quarantined)"

# ---- never an oversell under quotas; the oversell without them ----
BOX_HAND=$(on_hand W001 BOX)
check "W001's BOX on hand is not negative ($BOX_HAND)" [ "$BOX_HAND" -ge 0 ]
check_eq "the hub agrees on W001's BOX" "$BOX_HAND" "$(on_hand hub BOX)"
ALERTS=$(get hub '/v1/alerts?kind=negative_stock')
check_eq "no negative_stock alert for BOX" "" \
	"$(jqr "$ALERTS" '[.items[]|select(.subject == "BOX")|.message]|join(" ")')"
SPENT=$(jqr "$(get hub '/v1/quotas?sku=BOX')" '[.items[].spent]|add')
check_eq "the hub's quotas spent exactly the BOX sold" "$BOX_SOLD" "$SPENT"
CUP_HAND=$(on_hand hub CUP)
echo "# without quotas: $CUP_SOLD CUP promised of $STOCK, on hand $CUP_HAND"
check "without quotas CUP oversells ($CUP_HAND on hand)" [ "$CUP_HAND" -lt 0 ]
check_eq "and the hub alerts it" "W001 CUP on hand $CUP_HAND: more sold than recorded, count it" \
	"$(jqr "$ALERTS" '[.items[]|select(.site == "W001" and .subject == "CUP")|.message]|join(" ")')"
finish
