# bl-hub migrate --data DIR --to postgresql://URI (hub/migrate.c): a hub on
# its own, whose three sites synced real data (head office's product, stock
# movements, a store sale paid at the till) and which quarantined a
# fourth site's op for its clock, is stopped and moved to PostgreSQL (the
# quarantined op held there). Started again, its nodes resume from their cursors without
# pulling anything twice, new writes flow both ways, and PostgreSQL's op
# log is hub.db's, gseq == lsn. A second hub joins, rebuilds the same
# positions and serves the same reports; a node given both endpoints syncs
# through either. Migrating while the daemon runs, to a database holding a
# cluster or to a server out of reach is refused in one line, with config
# and hub.db as before.
#
# Needs BL_PG_URI (tests/run.sh starts a cluster and sets it); the test
# makes databases of its own there and drops them at the end.
. "$(dirname "$0")/lib.sh"

need_pg

DB="bl_migrate_$$"
HELD="bl_migrate_held_$$"
with_db() { printf '%s\n' "$BL_PG_URI" | sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\1/$1#"; }
URI=$(with_db "$DB")
HELD_URI=$(with_db "$HELD")
# The URI the hub is given holds a password (the test cluster trusts
# loopback and ignores it): no output may show it.
SECRET_URI=$(printf '%s\n' "$URI" | sed -E 's#^([a-z]+://)([^:@/]+)@#\1\2:s3cret@#')
for d in "$DB" "$HELD"; do
	psql -q "$BL_PG_URI" -c "DROP DATABASE IF EXISTS $d" -c "CREATE DATABASE $d" > /dev/null 2>&1 ||
		fail "create database $d at $BL_PG_URI"
done
drop_dbs() {
	for d in "$DB" "$HELD"; do
		psql -q "$BL_PG_URI" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" > /dev/null 2>&1 ||
			fail "drop database $d"
	done
}

db() { sqlite3 -cmd ".timeout 5000" "$T/$1/$2.db" "$3"; }
pg() { psql -tA "$URI" -c "$1"; }
call() { # HTTP_PORT METHOD PATH BODY: the status code
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$2" "http://127.0.0.1:$1$3" -d "$4"
}
# positions NAME: the hub's log as positions, one "lsn origin seq" a line.
positions() { db "$1" hub "SELECT lsn || ' ' || origin || ' ' || seq FROM op_log ORDER BY lsn"; }
# snapshot: what a refused migration must leave as it was.
snapshot() { cat "$T/hub/config"; sqlite3 "$T/hub/hub.db" .dump | sha256sum; }
syncs() { "$NODE" sync --data "$T/$1" --timeout 10 > /dev/null 2>&1; }
node_state() { echo "$(db "$1" node "SELECT count(*) FROM op_log") $(db "$1" node "SELECT value FROM meta WHERE name = 'cursor'")"; }

# ---- a chain on a hub of its own ----
HUB_KEY=$("$HUB" init --data "$T/hub" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
hub_start
check_eq "head office records a product" 200 "$(call "$HUB_HTTP" PUT /v1/products/TEA '{"name":"Green tea"}')"
SITES="S001 S002 W001"
node_init S001
node_init S002
node_init W001 warehouse
for s in $SITES; do
	node_start "$s"
	eval "${s}_PID=$NODE_PID ${s}_HTTP=$NODE_HTTP"
done
has_tea() { [ "$(db "$1" node "SELECT count(*) FROM products WHERE sku = 'TEA'")" = 1 ]; }
for s in $SITES; do check "$s has head office's product" eventually 20 has_tea "$s"; done
check_eq "W001 receives stock" 201 "$(call "$W001_HTTP" POST /v1/stock/movements '{"id":"R1","sku":"TEA","delta":100,"reason":"receipt"}')"
check_eq "S001 receives stock" 201 "$(call "$S001_HTTP" POST /v1/stock/movements '{"id":"R1","sku":"TEA","delta":20,"reason":"receipt"}')"
check_eq "S002 counts a loss" 201 "$(call "$S002_HTTP" POST /v1/stock/movements '{"id":"A1","sku":"TEA","delta":-1,"reason":"adjustment"}')"
check_eq "S001 sells at the till" 201 "$(call "$S001_HTTP" POST /v1/orders '{"id":"O1","channel":"store","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":2,"unit_price":1200}]}')"
check_eq "and takes the payment" 201 "$(call "$S001_HTTP" POST /v1/payments '{"id":"P1","order":"S001-O1","method":"cash","amount":2400,"currency":"CNY"}')"
paid() { http_get "$HUB_HTTP" /v1/orders/S001-O1 | jq -e '.paid == 2400' > /dev/null; }
check "the hub has the paid sale" eventually 20 paid
# Every node holds every stock movement and product (one region); the
# order and its payment are S001's own.
shared() { db "$1" "$2" "SELECT count(*) FROM op_log WHERE entity IN ('stock_movement', 'product')"; }
caught_up() { [ "$(shared "$1" node)" = "$(shared hub hub)" ]; }
for s in $SITES; do check "$s holds every movement and product" eventually 20 caught_up "$s"; done
for s in $SITES; do
	kill "$(eval echo "\$${s}_PID")"
	wait "$(eval echo "\$${s}_PID")" 2> /dev/null
	syncs "$s"
	eval "${s}_BEFORE=\"$(node_state "$s")\""
done
# S009's clock is ten minutes ahead: the hub quarantines its customer
# (a last-writer-wins claim; the bound is 5 minutes) and acknowledges it;
# migrate holds it in the shared log, for every hub to retry.
node_init S009
ahead=$(($(date +%s%3N) + 600000))
db S009 node "INSERT OR REPLACE INTO meta(name, value) VALUES ('hlc', $((ahead << 16)))"
node_start S009
check_eq "S009 records a customer, its clock ten minutes ahead" 201 \
	"$(call "$NODE_HTTP" POST /v1/customers '{"id":"C9","name":"Zhao Lei"}')"
quarantined() { [ "$(db hub hub "SELECT count(*) FROM quarantine WHERE origin = 'S009'")" = 1 ]; }
check "the hub quarantines it" eventually 20 quarantined
kill "$NODE_PID"
wait "$NODE_PID" 2> /dev/null
OPS=$(db hub hub "SELECT count(*) FROM op_log")
check_eq "the chain wrote its ops" 7 "$OPS"

# ---- refusals: nothing changes ----
before=$(snapshot)
check_refused "migrate while the daemon runs is refused" \
	"bl-hub: migrate: $T/hub: the daemon (process $HUB_PID) is running; stop it first" \
	"$HUB" migrate --data "$T/hub" --to "$URI"
hub_stop
check_refused "migrate to a server out of reach is refused" \
	"bl-hub: migrate: open postgresql://branchline@127.0.0.1:1/nowhere: connection to server at \"127.0.0.1\", port 1 failed: Connection refused" \
	"$HUB" migrate --data "$T/hub" --to "postgresql://branchline:s3cret@127.0.0.1:1/nowhere"
OTHER_KEY=$("$HUB" init --data "$T/other" --store "$HELD_URI" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
check_refused "migrate to a database holding a cluster is refused" \
	"bl-hub: migrate: $HELD_URI: holds a cluster already (hub key $(printf '%.8s' "$OTHER_KEY")..., 0 ops, 1 sites)" \
	"$HUB" migrate --data "$T/hub" --to "$HELD_URI"
check_eq "that cluster keeps only its own" "HQ $OTHER_KEY" "$(psql -tA "$HELD_URI" -c "SELECT string_agg(id || ' ' || pubkey, ',') FROM sites")"
check_refused "as is a database holding ops" \
	"bl-hub: migrate: $URI: holds a cluster already (no hub key, 1 ops, 0 sites)" \
	sh -c "psql -q '$URI' -c \"CREATE TABLE IF NOT EXISTS op_log (gseq bigint PRIMARY KEY CHECK (gseq > 0), origin text NOT NULL, seq bigint NOT NULL, hash bytea NOT NULL CHECK (octet_length(hash) = 32), body bytea NOT NULL, UNIQUE (origin, seq)); INSERT INTO op_log VALUES (1, 'X', 1, decode(repeat('00', 32), 'hex'), '')\" > /dev/null && '$HUB' migrate --data '$T/hub' --to '$URI'"
pg "DELETE FROM op_log" > /dev/null
check_eq "config and hub.db are as before" "$before" "$(snapshot)"
# A failure after PostgreSQL was written (a trigger refuses S001's ops,
# sent after the claim and the sites) removes what was written.
pg "CREATE FUNCTION refuse() RETURNS trigger AS \$\$ BEGIN IF NEW.origin = 'S001' THEN RAISE EXCEPTION 'no S001 here'; END IF; RETURN NEW; END \$\$ LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE INSERT ON op_log FOR EACH ROW EXECUTE FUNCTION refuse()" > /dev/null
check_refused "a migration PostgreSQL fails midway says why" \
	"bl-hub: migrate: append op S001/1: op_log: no S001 here" \
	"$HUB" migrate --data "$T/hub" --to "$URI"
check_eq "and leaves the database as it found it" "0 0 0" \
	"$(pg "SELECT (SELECT count(*) FROM op_log) || ' ' || (SELECT count(*) FROM sites) || ' ' || (SELECT count(*) FROM cluster_meta WHERE key = 'hub_key')")"
check_eq "and config and hub.db as before" "$before" "$(snapshot)"
pg "DROP TRIGGER refuse ON op_log; DROP FUNCTION refuse()" > /dev/null
out=$("$HUB" migrate --data "$T/hub" 2>&1)
check_eq "--to is required (exit 2)" "2 bl-hub: migrate: --to postgresql://USER@HOST:PORT/DATABASE is required" "$? $out"

# ---- the migration ----
out=$("$HUB" migrate --data "$T/hub" --to "$SECRET_URI" 2>&1)
check_eq "migrate moves every op and site, the password not shown" "migrated $OPS ops and 5 sites to $URI" "$out"
check_eq "and holds the quarantined op in the shared log" "S009 1" "$(pg "SELECT origin || ' ' || seq FROM op_held")"
check_eq "the config keeps the store last" "store=$SECRET_URI" "$(grep '^store=' "$T/hub/config")"
check_eq "and the rest of it" "$(sed '/^store=/d' "$T/hub/config" | sort)" "$(printf '%s\n' "$before" | sed '$d' | sort)"
check_eq "PostgreSQL's op log is hub.db's, gseq == lsn, byte for byte" \
	"$(db hub hub "SELECT lsn || ' ' || origin || ' ' || seq || ' ' || lower(hex(body)) FROM op_log ORDER BY lsn")" \
	"$(pg "SELECT gseq || ' ' || origin || ' ' || seq || ' ' || encode(body, 'hex') FROM op_log ORDER BY gseq")"
check_eq "the registry is hub.db's" \
	"$(db hub hub "SELECT id || ' ' || role || ' ' || pubkey || ' ' || region || ' ' || enrolled_at || ' ' || coalesce(revoked_at, '-') FROM sites ORDER BY id")" \
	"$(pg "SELECT id || ' ' || role || ' ' || pubkey || ' ' || region || ' ' || enrolled_at || ' ' || coalesce(revoked_at::text, '-') FROM sites ORDER BY id")"
check_eq "its hub key is the hub's" "$HUB_KEY" "$(pg "SELECT value FROM cluster_meta WHERE key = 'hub_key'")"
check_eq "hub.db holds the log up to its last lsn" "$(db hub hub "SELECT max(lsn) FROM op_log")" \
	"$(db hub hub "SELECT value FROM meta WHERE name = 'pg_applied'")"
check_refused "a second migration is refused" \
	"bl-hub: migrate: $T/hub: already a hub of a cluster (store= in its config)" \
	"$HUB" migrate --data "$T/hub" --to "$URI"

# ---- the nodes resume as if nothing happened ----
hub_start
for s in $SITES; do
	check "$s syncs with the migrated hub" syncs "$s"
	check_eq "$s pulls nothing again: op_log count and cursor as before" "$(eval echo "\$${s}_BEFORE")" "$(node_state "$s")"
done
for s in $SITES; do
	node_start "$s"
	eval "${s}_PID=$NODE_PID ${s}_HTTP=$NODE_HTTP"
done
check_eq "head office writes after the move" 200 "$(call "$HUB_HTTP" PUT /v1/products/RICE '{"name":"Rice"}')"
check_eq "S002 sells after the move" 201 "$(call "$S002_HTTP" POST /v1/stock/movements '{"id":"M2","sku":"TEA","delta":-3,"reason":"sale"}')"
has_rice() { [ "$(db "$1" node "SELECT count(*) FROM products WHERE sku = 'RICE'")" = 1 ]; }
has_m2() { [ "$(db "$1" node "SELECT count(*) FROM op_log WHERE origin = 'S002' AND key LIKE '%M2'")" -ge 1 ]; }
check "S001 gets head office's new product" eventually 20 has_rice S001
check "and S002's new sale" eventually 20 has_m2 S001
in_pg() { [ "$(pg "SELECT count(*) FROM op_log WHERE origin = 'S002'")" = 2 ]; }
check "S002's sale is in the shared log" eventually 20 in_pg
same_log() { [ "$(positions hub)" = "$(pg "SELECT gseq || ' ' || origin || ' ' || seq FROM op_log ORDER BY gseq")" ]; }
check "the shared log stays hub.db's, position for position" eventually 10 same_log

# ---- a second hub joins ----
"$HUB" init --data "$T/B" --store "$URI" --key "$T/hub/hub.key" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 > /dev/null
rm -f "$T/B/ports"
"$HUB" run --data "$T/B" >> "$T/B.log" 2>&1 &
B_PID=$!
PIDS="$PIDS $B_PID"
wait_ports "$T/B" || { echo "hub B did not start"; cat "$T/B.log"; }
B_SYNC=$(port "$T/B" sync)
B_HTTP=$(port "$T/B" http)
b_same() { [ "$(positions B)" = "$(positions hub)" ]; }
check "hub B rebuilds the same positions" eventually 30 b_same
for r in /v1/reports/stock "/v1/reports/sales?group=site"; do
	check_eq "B serves the same $r" "$(http_get "$HUB_HTTP" "$r" | jq -S .)" "$(http_get "$B_HTTP" "$r" | jq -S .)"
done

# ---- a node given both endpoints syncs through either ----
key=$("$NODE" init --data "$T/S003" --site S003 --hub "tcp://127.0.0.1:$HUB_SYNC" \
	--hub "tcp://127.0.0.1:$B_SYNC" --hub-key "$HUB_KEY" --http 127.0.0.1:0)
"$HUB" enroll --data "$T/hub" --site S003 --role store --key "$key" > /dev/null
b_knows() { [ "$(db B hub "SELECT count(*) FROM sites WHERE id = 'S003'")" = 1 ]; }
check "B copies S003's enrollment" eventually 10 b_knows
check "S003 syncs through the first hub" syncs S003
check "and gets the chain's history" has_m2 S003
hub_stop
check_eq "S003 records a receipt" 0 "$("$NODE" stock receive --data "$T/S003" --sku TEA --qty 5 --id R9 > /dev/null 2>&1; echo $?)"
check "S003 syncs through B while the first hub is down" syncs S003
at_b() { [ "$(db B hub "SELECT count(*) FROM op_log WHERE origin = 'S003'")" -ge 1 ]; }
check "B holds S003's op" at_b
hub_start
at_a() { [ "$(db hub hub "SELECT count(*) FROM op_log WHERE origin = 'S003'")" -ge 1 ]; }
check "the first hub takes it from the shared log" eventually 20 at_a
kill "$B_PID"
wait "$B_PID" 2> /dev/null
check "S003 syncs through the first hub again" syncs S003
check "both hubs hold the same log" b_same

for s in $SITES; do kill "$(eval echo "\$${s}_PID")" 2> /dev/null; done
hub_stop
drop_dbs
finish
