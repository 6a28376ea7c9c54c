# test_twins across the hubs of a cluster: a store's data folder copied to
# a second PC while the first still runs, the first linked to hub A, the
# copy to hub B. Each hub alone sees one session of the site, so the hubs
# claim it in PostgreSQL (hub/cluster.h, live_sessions): B refuses the
# copy while the first lives on A, naming both incarnations and A, with an
# alert. Both keep selling. When the first stops, the copy gets in at B,
# renumbers what the shared log holds under its seqs and pushes; every
# sale counts, and the shared log holds S001's ops once each.
#
# Needs BL_PG_URI (a cluster from tests/pg.sh); makes a database of its
# own and drops it at the end.
. "$(dirname "$0")/lib.sh"

need_pg

cluster_pair twins

key=$("$NODE" init --data "$T/S001" --site S001 --hub "tcp://127.0.0.1:$A_SYNC" \
	--hub-key "$HUB_KEY" --http 127.0.0.1:0)
"$HUB" enroll --data "$T/A" --site S001 --role store --key "$key" > /dev/null
"$NODE" move --data "$T/S001" --sku TEA --delta 10 --reason receipt > /dev/null
syncs() { "$NODE" sync --data "$T/S001" --timeout 5 > /dev/null 2>&1; }
check "S001 syncs its receipt with A" eventually 10 syncs
cp -a "$T/S001" "$T/S001b"
sed -i "s#^hub=.*#hub=tcp://127.0.0.1:$B_SYNC#" "$T/S001b/config"
b_knows() { [ "$(sqlite3 "$T/B/hub.db" "SELECT count(*) FROM sites WHERE id = 'S001'")" = 1 ]; }
check "B copies S001's enrollment" eventually 10 b_knows

node_start S001
P1=$NODE_HTTP
PID1=$NODE_PID
connected() { [ "$(http_get "$1" /v1/status | jq -r .hub_link)" = "up" ]; }
check "the first copy connects to A" eventually 15 connected "$P1"
node_start S001b
P2=$NODE_HTTP
PID2=$NODE_PID
inc1=$(sqlite3 "$T/S001/node.db" "SELECT value FROM meta WHERE name = 'incarnation'")
inc2=$(sqlite3 "$T/S001b/node.db" "SELECT value FROM meta WHERE name = 'incarnation'")
check "the copy has an incarnation of its own" test -n "$inc2" -a "$inc1" != "$inc2"
twin_alert() {
	http_get "$B_HTTP" '/v1/alerts?kind=twin_incarnation' | jq -r '.items[0].message // ""'
}
alerted() { [ -n "$(twin_alert)" ]; }
check "B refuses the copy and alerts" eventually 15 alerted
check_eq "naming both incarnations and the hub the first is on" \
	"hello: site S001 incarnation $inc2 refused: incarnation $inc1 of this site is connected to hub HQ (a copy of its data folder running at the same time?)" \
	"$(twin_alert)"
check "the copy says why in its status" eventually 10 sh -c \
	"curl -s http://127.0.0.1:$P2/v1/status | grep -q 'connected to hub HQ'"
check_eq "the shared log names the first's incarnation on A" "$inc1 HQ" \
	"$(psql -tA -F ' ' "$URI" -c "SELECT incarnation, hub FROM live_sessions WHERE site = 'S001'")"

sell() { http_post "$1" /v1/stock/movements "{\"sku\":\"TEA\",\"delta\":-$2,\"reason\":\"sale\"}" | jq -r .id; }
for i in 1 2 3; do sell "$P1" 1 > /dev/null; done
id=$(sell "$P2" 2)
check_match "the copy sells, with tagged ids" '^S001-[0-9A-F]{8}-0000[0-9]{2}$' "$id"
sell "$P2" 2 > /dev/null
tea() { http_get "$1" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand'; }
is() { [ "$(tea "$1")" = "$2" ]; }
check "the first copy's sales reach A: 10-3" eventually 15 is "$A_HTTP" 7
check "and B: 10-3" eventually 15 is "$B_HTTP" 7
# Past the 9 s a claim lasts unrefreshed: A marks the first as seen every
# 2 s, so the copy is still refused.
sleep 10
check_eq "10 s on, A still holds the claim, seen within 5 s" "$inc1 HQ t" \
	"$(psql -tA -F ' ' "$URI" -c "SELECT incarnation, hub, seen_ms > (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 5000 FROM live_sessions WHERE site = 'S001'")"
check_eq "and the copy's sales still wait: 7 at B" "7" "$(tea "$B_HTTP")"

# The first copy stops: the copy gets in at B and its sales count too.
kill "$PID1"
wait "$PID1" 2> /dev/null
check "with the first stopped, the copy's sales reach B: 7-4" eventually 40 is "$B_HTTP" 3
check "and A" eventually 15 is "$A_HTTP" 3
check_eq "the shared log holds S001's 6 ops once each, seqs 1-6" "6 6 1 6" \
	"$(psql -tA -F ' ' "$URI" -c "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM op_log WHERE origin = 'S001'")"
check_eq "nothing refused as a conflict at A" "0" "$(sqlite3 "$T/A/hub.db" "SELECT count(*) FROM op_conflicts")"
check_eq "nor at B" "0" "$(sqlite3 "$T/B/hub.db" "SELECT count(*) FROM op_conflicts")"

# B stalls (SIGSTOP) with the copy live on it, and marks nothing: once
# its claim has lapsed, the first, back on A, gets in. When B resumes it
# finds the claim taken by another incarnation: the copy is cut there, or
# refused as it says HELLO again, and stays out while the first lives.
node_start S001
P1=$NODE_HTTP
PID1=$NODE_PID
kill -STOP "$B_PID"
claimed_by_a() { [ "$(psql -tA -F ' ' "$URI" -c "SELECT incarnation, hub FROM live_sessions WHERE site = 'S001'")" = "$inc1 HQ" ]; }
check "with B stalled, the first gets in at A once B's claim lapsed" eventually 30 claimed_by_a
lines=$(wc -l < "$T/B.log")
kill -CONT "$B_PID"
out_at_b() { tail -n +"$((lines + 1))" "$T/B.log" | grep -Eq "incarnation $inc2 (cut|refused): incarnation $inc1 of this site"; }
check "B, resumed, cuts or refuses the copy, naming the first" eventually 20 out_at_b
sleep 3
check_eq "and the claim stays the first's" "$inc1 HQ" \
	"$(psql -tA -F ' ' "$URI" -c "SELECT incarnation, hub FROM live_sessions WHERE site = 'S001'")"

kill "$PID1" "$PID2" "$A_PID" "$B_PID" 2> /dev/null
wait "$PID1" "$PID2" "$A_PID" "$B_PID" 2> /dev/null
finish
