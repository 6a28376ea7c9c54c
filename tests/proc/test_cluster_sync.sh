# Two hubs serving from one shared op log in PostgreSQL (hub/pgstore.h):
# five sites spread across hubs A and B, their tills writing throughout.
# A is killed with SIGKILL mid-sync, and its sites move to B. Every site
# converges with exact per-origin counts, and no site's stream has a gap.
# The hubs' logs hold every op at the same position (lsn == gseq), so a
# cursor means the same on both. A restarted A catches up. A hub C started
# fresh against the existing log rebuilds its projection from it and
# serves the same reports as B. Each hub's own writes (HQ on A, HQ2 on B)
# reach every site.
#
# Needs BL_PG_URI (tests/run.sh starts a cluster and sets it); the test
# makes a database of its own there and drops it at the end.
. "$(dirname "$0")/lib.sh"

need_pg

pg_db_create "bl_sync_$$" || fail "create database bl_sync_$$ at $BL_PG_URI"
URI=$PG_URI # finish drops it

SITES="S001 S002 S003 S004 S005"
SALES=40 # per site: each till posts this many sale movements

call() { # HTTP_PORT METHOD PATH BODY: the status code
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$2" "http://127.0.0.1:$1$3" -d "$4"
}
db() { sqlite3 -cmd ".timeout 5000" "$T/$1/$2.db" "$3"; }
# positions NAME: the hub's log as positions, one "lsn origin seq" a line.
positions() { db "$1" hub "SELECT lsn || ' ' || origin || ' ' || seq FROM op_log ORDER BY lsn"; }

HUB_KEY=$("$HUB" init --data "$T/A" --store "$URI" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
"$HUB" init --data "$T/B" --store "$URI" --key "$T/A/hub.key" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 > /dev/null
A_SYNC=$(fixed_port)
cluster_hub A "$A_SYNC"
B_SYNC=$(fixed_port)
cluster_hub B "$B_SYNC"
check "the hubs run on distinct ports" test "$A_SYNC" != "$B_SYNC"

# Head office writes on A before any site exists: the catalog.
check_eq "A (HQ) records a product" 200 "$(call "$A_HTTP" PUT /v1/products/TEA '{"name":"Green tea"}')"
check_eq "the shared log holds it" 1 "$(psql -tA "$URI" -c "SELECT count(*) FROM op_log WHERE origin = 'HQ'")"

# Sites S001-S003 know A first, S004-S005 B first; all are enrolled on A.
for s in $SITES; do
	case $s in
	S00[123]) first=$A_SYNC second=$B_SYNC ;;
	*) first=$B_SYNC second=$A_SYNC ;;
	esac
	key=$("$NODE" init --data "$T/$s" --site "$s" --hub "tcp://127.0.0.1:$first" \
		--hub "tcp://127.0.0.1:$second" --hub-key "$HUB_KEY" --http 127.0.0.1:0)
	"$HUB" enroll --data "$T/A" --site "$s" --role store --key "$key" > /dev/null
done
knows_all() { [ "$(db B hub "SELECT count(*) FROM sites WHERE id LIKE 'S%'")" = 5 ]; }
check "B copies the five enrollments" eventually 10 knows_all
for s in $SITES; do
	node_start "$s"
	eval "${s}_PID=$NODE_PID ${s}_HTTP=$NODE_HTTP"
done
linked() { http_get "$(eval echo "\$${1}_HTTP")" /v1/status | jq -e '.hub_link == "up"' > /dev/null; }
for s in $SITES; do check "$s is linked" eventually 20 linked "$s"; done
has_tea() { [ "$(db "$1" node "SELECT count(*) FROM products WHERE sku = 'TEA'")" = 1 ]; }
for s in $SITES; do check "$s has A's product" eventually 20 has_tea "$s"; done

# The tills: SALES sale movements each, one after another, counting the
# answers 201 (each is one op of its site).
till() {
	http=$(eval echo "\$${1}_HTTP")
	n=0 i=0
	while [ $i -lt $SALES ]; do
		code=$(call "$http" POST /v1/stock/movements "{\"id\":\"$1-m$i\",\"sku\":\"TEA\",\"delta\":-1,\"reason\":\"sale\"}")
		[ "$code" = 201 ] && n=$((n + 1))
		i=$((i + 1))
		sleep 0.05
	done
	echo "$n" > "$T/$1.sold"
}
TILLS=""
for s in $SITES; do
	till "$s" &
	TILLS="$TILLS $!"
done

# Mid-sync: A dies. Its sites move to B.
sleep 1
via_a=$(psql -tA "$URI" -c "SELECT count(*) FROM op_log WHERE origin IN ('S001', 'S002', 'S003')")
kill -9 "$A_PID"
wait "$A_PID" 2> /dev/null
for p in $TILLS; do wait "$p"; done
check "A had appended some of its sites' sales when it died, not all ($via_a)" \
	test "$via_a" -gt 0 -a "$via_a" -lt $((3 * SALES))
for s in $SITES; do check_eq "$s's till had every sale answered 201" "$SALES" "$(cat "$T/$s.sold")"; done
moved() { grep -q "hub tcp://127.0.0.1:$B_SYNC" "$T/$1.log"; }
for s in S001 S002 S003; do check "$s moved to B" eventually 30 moved "$s"; done

# Head office writes on B too (HQ2), after A is gone.
check_eq "B (HQ2) records a product" 200 "$(call "$B_HTTP" PUT /v1/products/RICE '{"name":"Rice"}')"

# Every site's ops reach B, all of them, each once, no gap in seq.
at_b() { [ "$(db B hub "SELECT count(*) FROM op_log WHERE origin = '$1'")" = "$SALES" ]; }
for s in $SITES; do
	check "B holds every sale of $s" eventually 60 at_b "$s"
	check_eq "with no gap in $s's seqs" "$SALES $SALES" \
		"$(db B hub "SELECT count(*) || ' ' || max(seq) FROM op_log WHERE origin = '$s' AND entity = 'stock_movement'")"
done
check_eq "the shared log holds as many ops as B" "$(db B hub "SELECT count(*) FROM op_log")" \
	"$(psql -tA "$URI" -c "SELECT count(*) FROM op_log")"
check_eq "B's positions are the shared log's (lsn == gseq)" \
	"$(psql -tA "$URI" -c "SELECT gseq || ' ' || origin || ' ' || seq FROM op_log ORDER BY gseq")" \
	"$(positions B)"

# Every site converges: it holds every other site's sales (one region),
# each once, and both hubs' products.
total=$((5 * SALES))
converged() {
	[ "$(db "$1" node "SELECT count(*) FROM op_log WHERE origin LIKE 'S%' AND entity = 'stock_movement'")" = "$total" ] &&
		[ "$(db "$1" node "SELECT count(*) FROM products WHERE sku IN ('TEA', 'RICE')")" = 2 ]
}
for s in $SITES; do
	check "$s receives every site's sales and both products" eventually 60 converged "$s"
	for o in $SITES; do
		got=$(db "$s" node "SELECT count(*) || ' ' || max(seq) FROM op_log WHERE origin = '$o'")
		[ "$got" = "$SALES $SALES" ] || fail "$s holds $o's ops exactly once with no gap (got $got)"
	done
	check_eq "$s's stock of every site is the sales it heard of" "-$total" \
		"$(db "$s" node "SELECT sum(on_hand) FROM stock WHERE sku = 'TEA'")"
done

# A comes back and catches up: its log is B's, position for position.
cluster_hub A "$A_SYNC"
same_as_b() { [ "$(positions A)" = "$(positions B)" ]; }
check "a restarted A catches up with the shared log, position for position" eventually 30 same_as_b

# A hub started fresh against the log rebuilds its projection from it.
"$HUB" init --data "$T/C" --store "$URI" --key "$T/A/hub.key" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 > /dev/null
C_SYNC=$(fixed_port)
cluster_hub C "$C_SYNC"
c_caught_up() { [ "$(positions C)" = "$(positions B)" ]; }
check "a fresh hub C rebuilds the log from the shared one" eventually 60 c_caught_up
for r in /v1/reports/stock "/v1/reports/sales?group=site" "/v1/stock?sku=TEA"; do
	check_eq "C serves the same $r as B" "$(http_get "$B_HTTP" "$r" | jq -S .)" "$(http_get "$C_HTTP" "$r" | jq -S .)"
done

for s in $SITES; do kill "$(eval echo "\$${s}_PID")" 2> /dev/null; done
kill "$A_PID" "$B_PID" "$C_PID" 2> /dev/null
wait "$A_PID" "$B_PID" "$C_PID" 2> /dev/null
finish
