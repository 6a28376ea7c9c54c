# Failover between hub endpoints: a node given several --hub endpoints is
# connected to one at a time and moves to the next when a session with it
# fails (nothing listens, the link is down for seconds, no answer, an
# ERROR), one log line per move, and starts the session over there from
# its durable cursor. Here the other endpoint is one where nothing listens
# (the two hubs over one PostgreSQL log come with the shared log): the
# node finds the real hub behind it, comes back to it after it is killed
# and restarted on the same port, and never leaves a hub that answers.
. "$(dirname "$0")/lib.sh"

hub_init
HUB_SYNC=$(fixed_port) # the hub comes back on the same port
hub_start
DEAD=$(fixed_port) # taken after the hub's: another one, where nothing listens
REAL="tcp://127.0.0.1:$HUB_SYNC"
NOWHERE="tcp://127.0.0.1:$DEAD"

hub_on_hand() { # SITE SKU: on hand at the hub ("" when none)
	http_get "$HUB_HTTP" "/v1/stock?site=$1&sku=$2" | jq -r '.items[0].on_hand // ""'
}
hub_ops() { sqlite3 -cmd ".timeout 2000" "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = '$1'"; }
# init_at SITE HUB...: a node with these endpoints, enrolled.
init_at() {
	site=$1
	shift
	args=""
	for h in "$@"; do args="$args --hub $h"; done
	# shellcheck disable=SC2086
	key=$("$NODE" init --data "$T/$site" --site "$site" $args --hub-key "$HUB_KEY" --http 127.0.0.1:0) || return 1
	"$HUB" enroll --data "$T/hub" --site "$site" --role store --key "$key" > /dev/null
}
status_of() { http_get "$1" /v1/status; } # PORT

# (d) Every endpoint is checked at init; at most 8.
out=$("$NODE" init --data "$T/bad" --site S009 --hub "$REAL" --hub 127.0.0.1:7400 --hub-key "$HUB_KEY" 2>&1)
check_eq "init with a bad second --hub is refused (exit 2)" 2 "$?"
check_eq "with a one-line reason naming it" "bl-node: init: --hub '127.0.0.1:7400': expected tcp://HOST:PORT" "$out"
check "and leaves no node behind" test ! -e "$T/bad/node.db"
nine=""
for i in 1 2 3 4 5 6 7 8 9; do nine="$nine --hub tcp://127.0.0.1:$((7400 + i))"; done
# shellcheck disable=SC2086
out=$("$NODE" init --data "$T/bad" --site S009 $nine --hub-key "$HUB_KEY" 2>&1)
check_eq "nine endpoints are refused (exit 2)" 2 "$?"
check_eq "saying at most 8" "bl-node: init: --hub: at most 8 endpoints" "$out"

# (a) The first endpoint is dead: the node syncs through the second.
check "S001 is initialised with two endpoints" init_at S001 "$NOWHERE" "$REAL"
check_eq "its config keeps both, in order" "hub=$NOWHERE $REAL" "$(grep '^hub=' "$T/S001/config")"
check "S001 records a receipt offline" "$NODE" move --data "$T/S001" --sku TEA --delta 10 --reason receipt --id rcpt-1
node_start S001
P1=$NODE_HTTP
PID1=$NODE_PID
on_real() {
	s=$(status_of "$P1")
	[ "$(echo "$s" | jq -r .hub)" = "$REAL" ] && [ "$(echo "$s" | jq -r .caught_up)" = true ]
}
check "S001 moves to the second endpoint and catches up there within 20 s" eventually 20 on_real
hub_has() { [ "$(hub_on_hand "$1" "$2")" = "$3" ]; } # SITE SKU N
check "the hub holds its receipt" eventually 10 hub_has S001 TEA 10
check_eq "one line says why it moved and where" \
	"hub $NOWHERE: no session within 3 s: trying $REAL" \
	"$(grep -o 'hub tcp://[^ ]*: [^:]*: trying .*' "$T/S001.log")"
status=$("$NODE" status --data "$T/S001" --json)
check_eq "status --json names the endpoint in use as hub" "$REAL" "$(echo "$status" | jq -r .hub)"
check_eq "and lists every endpoint as hubs" "[\"$NOWHERE\",\"$REAL\"]" "$(echo "$status" | jq -c .hubs)"
check_match "status shows both in text" "^hubs +$NOWHERE $REAL$" "$("$NODE" status --data "$T/S001")"
check_match "GET /v1/status too" "\"hubs\":\[\"$NOWHERE\",\"$REAL\"\]" "$(status_of "$P1")"

# (b) The hub is killed; the node sells meanwhile, moves on (to the dead
# endpoint, and around), and comes back once the hub is restarted.
kill -9 "$HUB_PID"
wait "$HUB_PID" 2>/dev/null
for i in 1 2 3; do
	http_post "$P1" /v1/stock/movements "{\"id\":\"sale-$i\",\"sku\":\"TEA\",\"delta\":-1,\"reason\":\"sale\"}" > /dev/null
done
moved_off() { grep -q "hub $REAL: link down for 3 s: trying $NOWHERE" "$T/S001.log"; }
check "with the hub gone S001 moves to the next endpoint" eventually 15 moved_off
check "and keeps serving its tills" kill -0 "$PID1"
check_match "which still sell" '"on_hand":7' "$(http_get "$P1" '/v1/stock?site=S001&sku=TEA')"
hub_start
check "the hub is back on port $HUB_SYNC" test "$(port "$T/hub" sync)" = "$HUB_SYNC"
check "S001 comes back to it and pushes what it sold" eventually 60 hub_has S001 TEA 7
check_eq "the hub holds each of S001's ops once" 4 "$(hub_ops S001)"
check "and S001 is caught up on it" eventually 20 on_real
# Stopped and probed again, S001 starts at the endpoint that last welcomed
# it: status's short round (2 s, less than a dead endpoint is waited for)
# reaches the hub.
kill "$PID1"
wait "$PID1" 2>/dev/null
status=$("$NODE" status --data "$T/S001" --json)
check_eq "a later round starts at the endpoint that last welcomed it" "$REAL" "$(echo "$status" | jq -r .hub)"
check_eq "and reaches the hub" true "$(echo "$status" | jq -r .hub_reachable)"

# (c) The real hub first: the node stays on it and never moves.
check "S002 is initialised with the real hub first" init_at S002 "$REAL" "$NOWHERE"
node_start S002
P2=$NODE_HTTP
http_post "$P2" /v1/stock/movements '{"id":"s2-1","sku":"TEA","delta":5,"reason":"receipt"}' > /dev/null
check "S002 pushes to the real hub" eventually 20 hub_has S002 TEA 5
sleep 4 # longer than a dead link is waited for
check_eq "S002 never moved" "" "$(grep 'trying' "$T/S002.log")"
check_eq "its status names the first endpoint" "$REAL" "$(status_of "$P2" | jq -r .hub)"

# A site the hubs refuse stays refused, trying the next endpoint at the
# backoff's pace (the hubs of a cluster share one registry).
"$NODE" init --data "$T/S003" --site S003 --hub "$REAL" --hub "$NOWHERE" --hub-key "$HUB_KEY" --http 127.0.0.1:0 > /dev/null
node_start S003
P3=$NODE_HTTP
refused_moved() { grep -q "hub $REAL: refused this node's key: trying $NOWHERE" "$T/S003.log"; }
check "a site not enrolled is refused and tries the next endpoint" eventually 15 refused_moved
back_again() { grep -q "hub $NOWHERE: no session within 3 s: trying $REAL" "$T/S003.log"; }
check "and comes round to the first again" eventually 20 back_again
check_match "its status keeps the refusal" "not enrolled, or revoked" "$(status_of "$P3" | jq -r .refusal)"

# (e) One endpoint: the config reads as before, and the node keeps to it.
node_init S004
check_eq "a single --hub is kept as before" "hub=$REAL" "$(grep '^hub=' "$T/S004/config")"
check "S004 syncs" "$NODE" sync --data "$T/S004"
check_eq "its status lists the one endpoint" "[\"$REAL\"]" "$("$NODE" status --data "$T/S004" --json | jq -c .hubs)"
finish
