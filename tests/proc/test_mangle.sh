# A mangled link: two stores and a warehouse talk to the hub through
# blmangle, which drops, delays, duplicates and reorders single sync
# messages in both directions (it ends CURVE on both sides with the sites'
# real keys), with a fixed seed printed here. Meanwhile tills record stock
# movements, orders and payments over HTTP, the back office records on the
# command line, and head office changes a price. Then the mangling stops,
# on the same connections, and every replica must converge: per origin the
# hub and every node hold exactly the ops that origin recorded, each once
# and byte for byte; stock, orders, payments and prices read the same
# everywhere; every movement the tills recorded is held once, and on hand
# is the sum of the movements held.
#
#   BL_MANGLE_SEED=N   another seed (the default is fixed, so a run repeats
#                      the same choices, message by message, on each link)
#   BL_MANGLE_PCT=P    percent of messages dropped, and as many delayed,
#                      duplicated and reordered (default 3)
#   BL_MANGLE_ROUNDS=N rounds of till writes while mangled (default 12)
#   BL_MANGLE_OPTS=... other blmangle options instead of -p P, to mangle in
#                      one way only (-d 5: drops only; the checks that the
#                      mangler did all four then fail, the others stand)
. "$(dirname "$0")/lib.sh"

MANGLE="$BL_BIN/tests/tools/blmangle"
SEED=${BL_MANGLE_SEED:-1871}
PCT=${BL_MANGLE_PCT:-3}
ROUNDS=${BL_MANGLE_ROUNDS:-12}
OPTS=${BL_MANGLE_OPTS:--p $PCT}
SITES="S001 S002 W001"
echo "mangle seed $SEED, options $OPTS (BL_MANGLE_SEED=$SEED repeats it)"

# sql REPLICA QUERY: a read-only query of the hub's or a node's database.
sql() {
	local f="$T/$1/node.db"
	[ "$1" = hub ] && f="$T/hub/hub.db"
	sqlite3 -readonly -batch "$f" "$2" 2>&1
}
# at_http REPLICA PATH: GET PATH from the hub's or a node's daemon.
at_http() {
	local p=$HUB_HTTP
	[ "$1" = hub ] || eval "p=\$HTTP_$1"
	http_get "$p" "$2"
}

hub_init
hub_start
MPORT=$(( 20000 + ($$ + 7919) % 20000 ))
while (exec 3<> "/dev/tcp/127.0.0.1/$MPORT") 2>/dev/null; do MPORT=$((MPORT + 1)); done
REAL_SYNC=$HUB_SYNC
HUB_SYNC=$MPORT    # the sites are configured with the mangler
node_init S001
node_init S002
node_init W001 warehouse
HUB_SYNC=$REAL_SYNC

for sku in TEA RICE MUG; do
	check_eq "the hub adds $sku" 200 "$(http_code "$HUB_HTTP" PUT "/v1/products/$sku" "{\"name\":\"$sku\"}")"
done
check_eq "the hub prices MUG" 200 "$(http_code "$HUB_HTTP" PUT /v1/prices/retail/MUG '{"amount":300,"currency":"CNY"}')"

# The mangler starts calm (-c), so that every site has the catalog before
# the link goes bad.
"$MANGLE" -c -s "$SEED" $OPTS -w 400 "$MPORT" "$REAL_SYNC" "$T/hub" \
	"$T/S001" "$T/S002" "$T/W001" > "$T/mangle.out" 2> "$T/mangle.log" &
MANGLE_PID=$!
PIDS="$PIDS $MANGLE_PID"
i=0
while ! (exec 3<> "/dev/tcp/127.0.0.1/$MPORT") 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1; i=$((i + 1))
done
check_match "the mangler prints its seed" "^blmangle: seed $SEED: drop " "$(head -n 1 "$T/mangle.out")"
for s in $SITES; do
	node_start "$s"
	eval "PID_$s=\$NODE_PID; HTTP_$s=\$NODE_HTTP"
done
has_catalog() {
	local s
	for s in $SITES; do
		at_http "$s" /v1/products/MUG | jq -e '.sku == "MUG"' > /dev/null || return 1
	done
}
check "through the calm mangler every site gets the catalog" eventually 15 has_catalog

# What is recorded, kept here to check against: per site and sku the
# movements and the sum of their deltas; per store its orders and payments.
for s in $SITES; do
	for k in TEA RICE MUG; do eval "N_${s}_$k=0 SUM_${s}_$k=0"; done
	eval "ORD_$s= PAY_$s="
done
BAD=""
# post SITE PATH BODY WANT: one till call; a status other than WANT is kept.
post() {
	local port code
	eval "port=\$HTTP_$1"
	code=$(http_code "$port" POST "$2" "$3")
	[ "$code" = "$4" ] || BAD="$BAD $1$2=$code"
}
# moved SITE SKU DELTA: one more movement recorded.
moved() { eval "N_$1_$2=\$((N_$1_$2 + 1)); SUM_$1_$2=\$((SUM_$1_$2 + $3))"; }

kill -USR2 "$MANGLE_PID"
price=0
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for s in $SITES; do
		post "$s" /v1/stock/movements "{\"id\":\"$s-mv-$r-a\",\"sku\":\"TEA\",\"delta\":5,\"reason\":\"receipt\"}" 201
		moved "$s" TEA 5
		post "$s" /v1/stock/movements "{\"id\":\"$s-mv-$r-b\",\"sku\":\"TEA\",\"delta\":-2,\"reason\":\"sale\"}" 201
		moved "$s" TEA -2
		# The till retries the sale: the same movement, not a second.
		if [ $((r % 4)) -eq 1 ]; then
			post "$s" /v1/stock/movements "{\"id\":\"$s-mv-$r-b\",\"sku\":\"TEA\",\"delta\":-2,\"reason\":\"sale\"}" 200
		fi
		if [ "$s" != W001 ] && [ $((r % 2)) -eq 0 ]; then
			# A store sale of a mug, confirmed at once (its sale
			# movement is linked), paid in two parts.
			post "$s" /v1/orders "{\"id\":\"$s-o-$r\",\"channel\":\"store\",\"currency\":\"CNY\",\"status\":\"confirmed\",\"lines\":[{\"sku\":\"MUG\",\"qty\":1}]}" 201
			moved "$s" MUG -1
			post "$s" /v1/payments "{\"id\":\"$s-p-$r-1\",\"order\":\"$s-o-$r\",\"method\":\"cash\",\"amount\":100,\"currency\":\"CNY\"}" 201
			post "$s" /v1/payments "{\"id\":\"$s-p-$r-2\",\"order\":\"$s-o-$r\",\"method\":\"card\",\"amount\":200,\"currency\":\"CNY\"}" 201
			eval "ORD_$s=\"\$ORD_$s $s-o-$r:confirmed:300:300:0\""
			eval "PAY_$s=\"\$PAY_$s $s-p-$r-1:cash:100 $s-p-$r-2:card:200\""
		fi
		if [ $((r % 3)) -eq 0 ]; then
			# The back office, on the command line beside the daemon.
			if "$NODE" move --data "$T/$s" --sku RICE --delta 7 --reason receipt > /dev/null 2>> "$T/cli.log"; then
				moved "$s" RICE 7
			else
				BAD="$BAD $s:move"
			fi
		fi
		if [ "$s" != W001 ] && [ $((r % 4)) -eq 1 ]; then
			# A sale keyed in on the command line, paid by WeChat.
			if "$NODE" order create --data "$T/$s" --id "$s-co-$r" --channel store --currency CNY --status confirmed --line MUG:1 > /dev/null 2>> "$T/cli.log" &&
				"$NODE" payment take --data "$T/$s" --id "$s-cp-$r" --order "$s-co-$r" --method wechat --amount 300 --currency CNY > /dev/null 2>> "$T/cli.log"; then
				moved "$s" MUG -1
				eval "ORD_$s=\"\$ORD_$s $s-co-$r:confirmed:300:300:0\""
				eval "PAY_$s=\"\$PAY_$s $s-cp-$r:wechat:300\""
			else
				BAD="$BAD $s:order/payment"
			fi
		fi
	done
	# Head office changes a price: its ops go down the mangled link.
	if [ $((r % 4)) -eq 0 ]; then
		price=$((1000 + r))
		code=$(http_code "$HUB_HTTP" PUT /v1/prices/retail/TEA "{\"amount\":$price,\"currency\":\"CNY\"}")
		[ "$code" = 200 ] || BAD="$BAD hub/v1/prices=$code"
	fi
	sleep 0.3
	r=$((r + 1))
done
check_eq "every till call while mangled was answered as it should be" "" "$BAD"

# The mangling stops: what the mangler holds goes out, and from now on
# every message passes as it comes, on the same connections.
kill -USR1 "$MANGLE_PID"

# held_by REPLICA ORIGIN [SITE]: "count max digest" of ORIGIN's ops held by
# REPLICA; at the hub with SITE, only those SITE may see (region default).
held_by() {
	local where="origin = '$2'"
	[ -n "${3:-}" ] && where="$where AND ((vis_site IS NULL AND vis_site2 IS NULL AND vis_region IS NULL) OR vis_site = '$3' OR vis_site2 = '$3' OR vis_region IN ('*', 'default'))"
	local n
	n=$(sql "$1" "SELECT count(*) || ' ' || coalesce(max(seq), 0) FROM op_log WHERE $where")
	echo "$n $(sql "$1" "SELECT seq || ':' || hex(body) FROM op_log WHERE $where ORDER BY seq" | md5sum | cut -c1-12)"
}
own_seq() { sql "$1" "SELECT coalesce((SELECT value FROM meta WHERE name = 'seq'), 0)"; }

# converged: per origin, the hub holds every op its origin recorded, and
# every node every op of another origin it may see; every node caught up.
converged() {
	local s o
	for s in $SITES; do
		[ "$(held_by hub "$s" | cut -d' ' -f1)" = "$(own_seq "$s")" ] || return 1
		for o in HQ $SITES; do
			[ "$o" = "$s" ] && continue
			[ "$(held_by "$s" "$o")" = "$(held_by hub "$o" "$s")" ] || return 1
		done
		at_http "$s" /v1/status | jq -e '.caught_up == true' > /dev/null || return 1
	done
}
# A node's answer to a lost WELCOME or PUSH_ACK comes after 10 s
# (node/client.c, ANSWER_WAIT_MS): converging may take that long.
if eventually 16 converged; then
	pass "once the mangling stops, every replica converges"
else
	fail "once the mangling stops, every replica converges"
	# What each node lacks, and the mangler's lines about the batches
	# that carried it.
	for s in $SITES; do
		sql hub "ATTACH '$T/$s/node.db' AS n; SELECT '    $s lacks lsn ' || h.lsn || ' = ' || h.origin || '/' || h.seq || ' ' || h.entity || ' ' || h.key FROM op_log h WHERE h.origin != '$s' AND ((h.vis_site IS NULL AND h.vis_site2 IS NULL AND h.vis_region IS NULL) OR h.vis_site = '$s' OR h.vis_site2 = '$s' OR h.vis_region IN ('*', 'default')) AND NOT EXISTS (SELECT 1 FROM n.op_log o WHERE o.origin = h.origin AND o.seq = h.seq) ORDER BY h.lsn"
	done
	grep -E ' (down OPS|up PULL) .*dropped' "$T/mangle.log" | sed 's/^/    /'
fi

kill -TERM "$MANGLE_PID"
wait "$MANGLE_PID"
check_eq "the mangler stops cleanly" 0 "$?"
sed 's/^/    /' "$T/mangle.out"
for a in dropped delayed duplicated reordered; do
	check_match "the mangler $a messages" "^blmangle: $a [1-9]" "$(grep "^blmangle: $a " "$T/mangle.out")"
done

# Per origin: what the origin recorded, the hub holds once, byte for byte,
# seqs 1 to the origin's last with no gap.
for s in $SITES; do
	own=$(held_by "$s" "$s")
	seq=$(own_seq "$s")
	check_eq "$s recorded seqs 1 to $seq, each once" "$seq $seq" "$(echo "$own" | cut -d' ' -f1-2)"
	check_eq "the hub holds exactly $s's ops" "$own" "$(held_by hub "$s")"
done
hq=$(held_by hub HQ)
check_match "the hub holds head office's ops 1 to its last" "^([0-9]+) \\1 " "$hq"
for s in $SITES; do
	check_eq "$s holds exactly the ops of HQ it may see" "$(held_by hub HQ "$s")" "$(held_by "$s" HQ)"
	for o in $SITES; do
		[ "$o" = "$s" ] && continue
		check_eq "$s holds exactly the ops of $o it may see" "$(held_by hub "$o" "$s")" "$(held_by "$s" "$o")"
	done
done
for r in hub $SITES; do
	check_eq "nothing quarantined or in conflict at $r" "0 0" \
		"$(sql "$r" "SELECT (SELECT count(*) FROM quarantine) || ' ' || (SELECT count(*) FROM op_conflicts)")"
done

# Stock: every movement recorded is held once at every replica, on hand is
# the sum of the movements held, and the API shows the same everywhere.
want_mv=""
want_stock=""
for s in $SITES; do
	for k in MUG RICE TEA; do
		eval "n=\$N_${s}_$k sum=\$SUM_${s}_$k"
		[ "$n" -eq 0 ] && continue
		want_mv="$want_mv $s:$k:$n:$sum"
		want_stock="$want_stock $s:$k:$sum"
	done
done
for r in hub $SITES; do
	check_eq "$r holds each movement once" "$want_mv" \
		" $(sql "$r" "SELECT site || ':' || sku || ':' || count(*) || ':' || sum(delta) FROM stock_movements GROUP BY site, sku ORDER BY site, sku" | tr '\n' ' ' | sed 's/ $//')"
	check_eq "$r: on hand is the sum of the movements held" "" \
		"$(sql "$r" "SELECT s.site, s.sku, s.on_hand, m.total FROM stock s LEFT JOIN (SELECT site, sku, sum(delta) AS total FROM stock_movements GROUP BY site, sku) m USING (site, sku) WHERE s.on_hand IS NOT coalesce(m.total, 0)")"
	check_eq "$r's stock API shows what was recorded" "$want_stock" \
		" $(at_http "$r" /v1/stock | jq -r '[.items[]|"\(.site):\(.sku):\(.on_hand)"]|join(" ")')"
done
check_eq "the till's movement ids are each held once at the hub" "$(( ROUNDS * 2 * 3 ))" \
	"$(sql hub "SELECT count(DISTINCT id) FROM stock_movements WHERE id GLOB '*-mv-*'")"

# Orders and payments: the same at the store and at the hub.
for s in S001 S002; do
	eval "want_o=\$ORD_$s want_p=\$PAY_$s"
	for r in "$s" hub; do
		check_eq "$s's orders as $r shows them" "$(echo $want_o | tr ' ' '\n' | sort | tr '\n' ' ')" \
			"$(at_http "$r" "/v1/orders?site=$s" | jq -r '.items[]|"\(.id):\(.status):\(.total):\(.paid):\(.balance)"' | sort | tr '\n' ' ')"
		check_eq "$s's payments as $r shows them" "$(echo $want_p | tr ' ' '\n' | sort | tr '\n' ' ')" \
			"$(at_http "$r" /v1/payments | jq -r ".items[]|select(.id|startswith(\"$s-\"))|\"\(.id):\(.method):\(.amount)\"" | sort | tr '\n' ' ')"
	done
done
for r in hub $SITES; do
	check_eq "$r shows head office's last TEA price" "$price" \
		"$(at_http "$r" /v1/products/TEA | jq -r '[.prices.items[]|select(.tier == "retail")|.amount]|join(" ")')"
done

for s in $SITES; do
	eval "pid=\$PID_$s"
	check "$s's daemon is still running" kill -0 "$pid"
done
check "the hub is still running" kill -0 "$HUB_PID"
finish
