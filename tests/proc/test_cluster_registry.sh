# The hubs' shared registry (hub/cluster.h): two hubs over one PostgreSQL
# database. A site enrolled on hub A connects to hub B and syncs; a site
# revoked on B is cut and refused at A within seconds; a region moved on B
# reaches A. Joining with another key, init against an unreachable server
# and --key without --store each fail in one line and leave nothing behind.
# A hub whose PostgreSQL connection is cut reconnects and goes on.
#
# Needs BL_PG_URI (tests/run.sh starts a cluster and sets it); the test
# makes a database of its own there and drops it at the end.
. "$(dirname "$0")/lib.sh"

need_pg

pg_db_create "bl_registry_$$" || fail "create database bl_registry_$$ at $BL_PG_URI"
URI=$PG_URI # finish drops it

# hub_of NAME [RUN OPTIONS]: runs the hub in $T/NAME; sets its PID, SYNC
# and HTTP as NAME_PID, NAME_SYNC, NAME_HTTP.
hub_of() {
	name=$1
	shift
	rm -f "$T/$name/ports"
	"$HUB" run --data "$T/$name" "$@" >> "$T/$name.log" 2>&1 &
	eval "${name}_PID=$!"
	PIDS="$PIDS $!"
	wait_ports "$T/$name" || { echo "hub $name did not start"; cat "$T/$name.log"; }
	eval "${name}_SYNC=$(port "$T/$name" sync)"
	eval "${name}_HTTP=$(port "$T/$name" http)"
}

# syncs SITE: one sync round of the node in $T/SITE, quietly.
syncs() { "$NODE" sync --data "$T/$1" --timeout 5 > /dev/null 2>&1; }

# A hub of its own (no cluster), for a key that is not the cluster's.
"$HUB" init --data "$T/lone" > /dev/null

# ---- the first hub and one joining it ----
HUB_KEY=$("$HUB" init --data "$T/A" --store "$URI" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
check_eq "init --store creates the first hub: prints its key" "$("$HUB" key --data "$T/A")" "$HUB_KEY"
check_eq "and keeps the store in its config" "store=$URI" "$(grep '^store=' "$T/A/config")"
check_eq "as site HQ" "site=HQ" "$(grep '^site=' "$T/A/config")"
out=$("$HUB" init --data "$T/B" --store "$URI" --key "$T/A/hub.key" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
check_eq "a hub joins with --key: prints the same hub key" "$HUB_KEY" "$out"
check_eq "it takes the next free hq id" "site=HQ2" "$(grep '^site=' "$T/B/config")"
check "its key files are the cluster's" cmp -s "$T/A/hub.key" "$T/B/hub.key"
check_eq "its secret key is for its user only" "600" "$(stat -c %a "$T/B/hub.key")"
check_eq "it holds both hubs' hq sites" "HQ HQ2" \
	"$(sqlite3 "$T/B/hub.db" "SELECT group_concat(id, ' ') FROM (SELECT id FROM sites ORDER BY id)")"
check "with a public key of its own for HQ2" test \
	"$(sqlite3 "$T/B/hub.db" "SELECT pubkey FROM sites WHERE id = 'HQ2'")" != "$HUB_KEY"

# ---- refusals, each one line, nothing left behind ----
lone=$("$HUB" key --data "$T/lone")
check_refused "joining with another hub's key is refused" \
	"bl-hub: init: join $URI: hub key $(printf %.8s "$lone")... is not this cluster's ($(printf %.8s "$HUB_KEY")...)" \
	"$HUB" init --data "$T/C" --store "$URI" --key "$T/lone/hub.key"
check "and leaves no data folder" test ! -e "$T/C"
check_refused "a missing key file is refused" \
	"bl-hub: init: read key $T/none/hub.pub: No such file or directory" \
	"$HUB" init --data "$T/C" --store "$URI" --key "$T/none/hub.key"
check "and leaves no data folder" test ! -e "$T/C"
mkdir "$T/mixed"
cp "$T/A/hub.key" "$T/mixed/hub.key"
cp "$T/lone/hub.pub" "$T/mixed/hub.pub"
check_refused "a key file whose .pub is not its own is refused" \
	"bl-hub: init: --key '$T/mixed/hub.key': $T/mixed/hub.pub beside it is not its public key" \
	"$HUB" init --data "$T/C" --store "$URI" --key "$T/mixed/hub.key"
check "and leaves no data folder" test ! -e "$T/C"
check_refused "a first hub on a database that holds a cluster is refused" \
	"bl-hub: init: $URI: holds a cluster already (hub key $(printf %.8s "$HUB_KEY")...): join it with --key HUB_DIR/hub.key" \
	"$HUB" init --data "$T/C" --store "$URI"
check "and leaves no data folder" test ! -e "$T/C"
check_refused "a taken hq id is refused" "bl-hub: init: site HQ2: already enrolled" \
	"$HUB" init --data "$T/C" --store "$URI" --key "$T/A/hub.key" --site HQ2
check "and leaves no data folder" test ! -e "$T/C"
mkdir "$T/C"
"$HUB" init --data "$T/C" --store "$URI" --key "$T/A/hub.key" --site HQ2 > /dev/null 2>&1
check_eq "a data folder that was there stays, emptied of what init made" "" "$(ls -A "$T/C")"
rmdir "$T/C"
down=$(fixed_port)
out=$("$HUB" init --data "$T/C" --store "postgresql://branchline@127.0.0.1:$down/x" 2>&1)
check_eq "init against an unreachable server exits 1" "1" "$?"
check_eq "with one line" "1" "$(printf '%s\n' "$out" | wc -l)"
check_match "naming the server and why" "^bl-hub: init: open postgresql://branchline@127.0.0.1:$down/x: connection to server at \"127.0.0.1\", port $down failed: Connection refused" "$out"
check "and leaves no data folder" test ! -e "$T/C"
out=$("$HUB" init --data "$T/C" --key "$T/A/hub.key" 2>&1)
check_eq "--key without --store exits 2" "2" "$?"
check_eq "saying so" "bl-hub: init: --key joins a cluster: it needs --store postgresql://..." "$out"
check "and leaves no data folder" test ! -e "$T/C"

# ---- enrolled on A, served by B ----
hub_of A
hub_of B
polled() { http_get "$B_HTTP" /v1/status | jq -e '.cluster.store == "postgresql" and .cluster.error == null and .cluster.registry_version >= 2 and .cluster.last_poll_ms_ago < 5000' > /dev/null; }
check "B's status shows its registry copy" eventually 10 polled
key=$("$NODE" init --data "$T/S001" --site S001 --hub "tcp://127.0.0.1:$B_SYNC" --hub-key "$HUB_KEY" --http 127.0.0.1:0)
check_eq "S001 is enrolled on A" "enrolled S001 as store in region default" \
	"$("$HUB" enroll --data "$T/A" --site S001 --role store --key "$key")"
"$NODE" move --data "$T/S001" --sku X --delta 3 --reason receipt > /dev/null
check "and syncs with B within seconds" eventually 10 syncs S001
check_eq "B holds its movement" '{"items":[{"site":"S001","sku":"X","on_hand":3,"reserved":0,"available":3}]}' \
	"$(http_get "$B_HTTP" '/v1/stock?site=S001')"

# ---- a site enrolled a moment ago: B's tail copies its row at once ----
# B is stopped, so no regular copy brings S004 to B's hub.db; a write on B
# meets S004's movement in the shared log and fetches the site itself.
kill "$B_PID"
wait "$B_PID" 2> /dev/null
key4=$("$NODE" init --data "$T/S004" --site S004 --hub "tcp://127.0.0.1:$A_SYNC" --hub-key "$HUB_KEY" --http 127.0.0.1:0)
"$HUB" enroll --data "$T/A" --site S004 --role warehouse --key "$key4" > /dev/null
"$NODE" move --data "$T/S004" --sku X --delta 5 --reason receipt > /dev/null
check "S004, enrolled on A, syncs with A" eventually 10 syncs S004
check_eq "B's copy does not have S004 yet" "0" "$(sqlite3 "$T/B/hub.db" "SELECT count(*) FROM sites WHERE id = 'S004'")"
out=$("$HUB" allocation rules --data "$T/B" --site S001:1 2>&1)
check_eq "a write on B passes its tail over S004's op" "0" "$?"
check_eq "B's copy has S004 from the registry" "warehouse" "$(sqlite3 "$T/B/hub.db" "SELECT role FROM sites WHERE id = 'S004'")"
check_eq "and B holds its movement" "5" "$(sqlite3 "$T/B/hub.db" "SELECT sum(delta) FROM stock_movements WHERE site = 'S004'")"
hub_of B --listen "tcp://127.0.0.1:$B_SYNC"

# ---- the registry's texts, from either hub ----
check_refused "an id enrolled on A is taken on B" "bl-hub: enroll: site S001: already enrolled" \
	"$HUB" enroll --data "$T/B" --site S001 --role store --key "$lone"
check_refused "a key enrolled on A is taken on B" "bl-hub: enroll: site S003: key already enrolled as S001" \
	"$HUB" enroll --data "$T/B" --site S003 --role store --key "$key"
check_refused "revoking an unknown site" "bl-hub: revoke: site NOPE: not an enrolled, active store or warehouse" \
	"$HUB" revoke --data "$T/B" --site NOPE
check_refused "head office is not revoked" "bl-hub: revoke: site HQ: not an enrolled, active store or warehouse" \
	"$HUB" revoke --data "$T/B" --site HQ

# ---- a region moved on B reaches A ----
check_eq "S001 moves on B" "moved S001 from region default to north" \
	"$("$HUB" region --data "$T/B" --site S001 --region north)"
region_at_a() { [ "$(http_get "$A_HTTP" /v1/sites | jq -r '.items[] | select(.site == "S001") | .region')" = north ]; }
check "and A has it within seconds" eventually 10 region_at_a
check_eq "moving it there again changes nothing" "S001 is in region north already" \
	"$("$HUB" region --data "$T/A" --site S001 --region north)"

# ---- revoked on B, cut and refused at A ----
key2=$("$NODE" init --data "$T/S002" --site S002 --hub "tcp://127.0.0.1:$A_SYNC" --hub-key "$HUB_KEY" --http 127.0.0.1:0)
"$HUB" enroll --data "$T/B" --site S002 --role store --key "$key2" > /dev/null
# Started before A knows it, the node would be refused and back off.
known_at_a() { http_get "$A_HTTP" /v1/sites | jq -e '.items[] | select(.site == "S002" and .revoked == false)' > /dev/null; }
check "A knows S002, enrolled on B, within seconds" eventually 10 known_at_a
node_start S002
up() { http_get "$NODE_HTTP" /v1/status | grep -q '"hub_link":"up"'; }
check "S002, enrolled on B, is connected to A" eventually 10 up
check_eq "S002 is revoked on B" "revoked S002" "$("$HUB" revoke --data "$T/B" --site S002)"
refused() { http_get "$NODE_HTTP" /v1/status | grep -q '"hub_link":"refused"'; }
check "A cuts its open connection within seconds" eventually 10 refused
cut_logged() { grep -q "site S002: revoked: connection .* cut" "$T/A.log"; }
check "and says so in its log" eventually 5 cut_logged
kill "$NODE_PID"
wait "$NODE_PID" 2> /dev/null
out=$("$NODE" sync --data "$T/S002" --timeout 5 2>&1)
check_match "A refuses it from then on" "^bl-node: sync: hub tcp://127.0.0.1:[0-9]+ refused this node's key \(status 400\): not enrolled, or revoked$" "$out"
check_refused "revoking it again is refused" "bl-hub: revoke: site S002: not an enrolled, active store or warehouse" \
	"$HUB" revoke --data "$T/A" --site S002

# ---- a signing key pinned on one hub is the cluster's ----
pinned() { [ "$(psql -qtA "$URI" -c "SELECT sign_key IS NOT NULL FROM sites WHERE id = 'S001'")" = t ]; }
check "S001's signing key, pinned by B, reaches PostgreSQL" eventually 10 pinned
pinned_at_a() { [ "$(sqlite3 "$T/A/hub.db" "SELECT hex(sign_key) FROM sites WHERE id = 'S001'")" = \
	"$(sqlite3 "$T/B/hub.db" "SELECT hex(sign_key) FROM sites WHERE id = 'S001'")" ]; }
check "and A's copy" eventually 10 pinned_at_a

# ---- PostgreSQL cuts the hubs' connections: they reconnect ----
psql -q "$BL_PG_URI" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$PG_DB' AND pid <> pg_backend_pid()" > /dev/null
key3=$("$NODE" init --data "$T/S003" --site S003 --hub "tcp://127.0.0.1:$B_SYNC" --hub-key "$HUB_KEY" --http 127.0.0.1:0)
"$HUB" enroll --data "$T/A" --site S003 --role warehouse --key "$key3" > /dev/null
check "after the cut, a site enrolled on A syncs with B within seconds" eventually 15 syncs S003
check "B is still running" kill -0 "$B_PID"
check "and its status shows no error" eventually 10 polled
check_eq "B logged the cut at most once" "1" "$(grep -c 'registry: .*connection' "$T/B.log")"

# ---- PostgreSQL out of reach: the hub serves on, and says so ----
kill "$B_PID"
wait "$B_PID" 2> /dev/null
sed -i "s#^store=.*#store=postgresql://branchline@127.0.0.1:$down/x#" "$T/B/config"
: > "$T/B.log"
hub_of B --listen "tcp://127.0.0.1:$B_SYNC"
failing() { http_get "$B_HTTP" /v1/status | jq -e '.cluster.error | test("^open postgresql://branchline@127.0.0.1:[0-9]+/x: connection to server .* failed: Connection refused$")' > /dev/null; }
check "B starts without its PostgreSQL and its status says why" eventually 10 failing
sleep 3
check "B still serves its sites" syncs S003
check_eq "B logged the failure once, not every second" "1" "$(grep -c 'registry: ' "$T/B.log")"

kill "$A_PID" "$B_PID" 2> /dev/null
wait "$A_PID" "$B_PID" 2> /dev/null
finish
