# A store's data folder copied to a second PC while the first still runs:
# two daemons with the same site id and key. The copy knows at start that
# it is a copy (its database file is not where it was) and gets an
# incarnation of its own; the hub lets one incarnation of a site in at a
# time and refuses the other while the first lives, naming both, with an
# alert. Both keep selling. When the first stops, the copy gets in, finds
# the hub holding other ops under its seqs, renumbers its own and pushes
# them; when the first comes back it does the same. In the end the hub and
# both copies hold the same ops of S001, each once, and every sale counts.
. "$(dirname "$0")/lib.sh"

hub_init
echo "silent_after_s=5" >> "$T/hub/config"
hub_start
node_init S001
node_init S002
"$NODE" move --data "$T/S001" --sku TEA --delta 10 --reason receipt > /dev/null
check "S001 syncs its receipt" "$NODE" sync --data "$T/S001"
cp -a "$T/S001" "$T/S001b"

node_start S001; P1=$NODE_HTTP; PID1=$NODE_PID
connected() { [ "$(http_get "$1" /v1/status | jq -r .hub_link)" = "up" ]; }
check "the first copy connects" eventually 15 connected "$P1"
node_start S001b; P2=$NODE_HTTP; PID2=$NODE_PID
inc1=$(sqlite3 "$T/S001/node.db" "SELECT value FROM meta WHERE name = 'incarnation'")
inc2=$(sqlite3 "$T/S001b/node.db" "SELECT value FROM meta WHERE name = 'incarnation'")
check "the copy has an incarnation of its own" test -n "$inc2" -a "$inc1" != "$inc2"
twin_alert() {
	http_get "$HUB_HTTP" '/v1/alerts?kind=twin_incarnation' | jq -r '.items[0].message // ""'
}
alerted() { [ -n "$(twin_alert)" ]; }
check "the hub refuses the copy and alerts" eventually 15 alerted
check_eq "naming both incarnations" \
	"hello: site S001 incarnation $inc2 refused: incarnation $inc1 of this site is connected (a copy of its data folder running at the same time?)" \
	"$(twin_alert)"
check "the copy says why in its status" eventually 10 sh -c \
	"curl -s http://127.0.0.1:$P2/v1/status | grep -q 'running at the same time'"

sell() { http_post "$1" /v1/stock/movements "{\"sku\":\"TEA\",\"delta\":-$2,\"reason\":\"sale\"}" | jq -r .id; }
for i in 1 2 3; do sell "$P1" 1 > /dev/null; done
id=$(sell "$P2" 2)
check_match "the copy sells, with tagged ids" '^S001-[0-9A-F]{8}-0000[0-9]{2}$' "$id"
sell "$P2" 2 > /dev/null
hub_tea() { http_get "$HUB_HTTP" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand'; }
hub_is() { [ "$(hub_tea)" = "$1" ]; }
check "the first copy's sales reach the hub: 10-3" eventually 15 hub_is 7
check_eq "nothing refused as a conflict" "0" "$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_conflicts")"

# The first copy stops: the second gets in and its sales count too.
kill "$PID1"; wait "$PID1" 2>/dev/null
check "with the first stopped, the copy's sales reach the hub: 7-4" eventually 40 hub_is 3
node_start S001; P1=$NODE_HTTP; PID1=$NODE_PID
sell "$P1" 1 > /dev/null
kill "$PID2"; wait "$PID2" 2>/dev/null
check "the first back, everything counts: 3-1" eventually 40 hub_is 2
sees() { [ "$(http_get "$1" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand')" = "2" ]; }
check "the first copy converged" eventually 20 sees "$P1"
own_log() {
	sqlite3 "$1" "SELECT group_concat(seq || ':' || hex(body), ' ') FROM (SELECT seq, body FROM op_log WHERE origin = 'S001' ORDER BY seq)"
}
same_as_hub() { [ "$(own_log "$T/hub/hub.db")" = "$(own_log "$T/$1/node.db")" ]; }
check "the first copy holds exactly the hub's ops of S001" eventually 10 same_as_hub S001
check_eq "the hub holds S001's 7 ops once each, seqs 1-7" "7 7 1 7" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || min(seq) || ' ' || max(seq) FROM op_log WHERE origin = 'S001'")"
silent() { http_get "$HUB_HTTP" '/v1/alerts?kind=silent_site' | jq -r '[.items[] | .site] | join(" ")'; }
silent_s002() { [ "$(silent)" = "S002" ]; }
check "the hub alerts on S002, not heard from for 5 s, not on S001" eventually 15 silent_s002
check_match "saying so" "^site S002 not heard from since the hub started [0-9]+ (s|min) ago \\(alerted after 5 s\\)$" \
	"$(http_get "$HUB_HTTP" '/v1/alerts?kind=silent_site' | jq -r '.items[0].message')"
check "S002 pulls everything" "$NODE" sync --data "$T/S002"
check_eq "S002 counts every sale of both copies once" "2" \
	"$("$NODE" stock list --data "$T/S002" --site S001 --json | jq '.items[0].on_hand')"
finish
