# Two hubs of a cluster (hub/pgstore.h) that disagree on one op: hub B
# quarantines it (its clock is ahead by more than B's max drift), hub A
# admits it (its drift is the default) and appends it to the shared log.
# The same op reaches both because the site's data folder exists twice (a
# copy made while its op was not pushed yet), one copy linked to each hub,
# the second started once the first has stopped (the hubs refuse two live
# incarnations of a site, test_cluster_twins); the same happens when a
# PUSH_ACK is lost and the node fails over.
#
# The invariant: every hub holds the op at gseq N of the shared log at
# lsn N and applies it. B must not leave a hole at N, its state must be
# A's, and once the op is due at B a retry must not fail for good. Then an
# op B quarantines but acknowledges is held in the shared log, so that A
# takes it in once B is gone.
#
# Needs BL_PG_URI (a cluster from tests/pg.sh); makes a database of its
# own and drops it at the end.
. "$(dirname "$0")/lib.sh"

need_pg

pg_db_create "bl_attack_$$" || fail "create database bl_attack_$$ at $BL_PG_URI"
URI=$PG_URI # finish drops it

AHEAD_MS=5000 # how far the site's clock is ahead; B admits 1 s, A 5 min

db() { sqlite3 -cmd ".timeout 5000" "$T/$1/$2.db" "$3"; }
positions() { db "$1" hub "SELECT lsn || ' ' || origin || ' ' || seq FROM op_log ORDER BY lsn"; }
pg_positions() { psql -tA "$URI" -c "SELECT gseq || ' ' || origin || ' ' || seq FROM op_log ORDER BY gseq"; }

HUB_KEY=$("$HUB" init --data "$T/A" --store "$URI" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
"$HUB" init --data "$T/B" --store "$URI" --key "$T/A/hub.key" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 > /dev/null
db B hub "INSERT OR REPLACE INTO meta(name, value) VALUES ('max_drift_ms', 1000)"
A_SYNC=$(fixed_port)
cluster_hub A "$A_SYNC"
B_SYNC=$(fixed_port) # after A is bound: fixed_port would pick A's again

# S001 links to B only; B is down while it writes, so its op stays local.
key=$("$NODE" init --data "$T/S001" --site S001 --hub "tcp://127.0.0.1:$B_SYNC" \
	--hub-key "$HUB_KEY" --http 127.0.0.1:0)
"$HUB" enroll --data "$T/A" --site S001 --role store --key "$key" > /dev/null
ahead=$(($(date +%s%3N) + AHEAD_MS))
db S001 node "INSERT OR REPLACE INTO meta(name, value) VALUES ('hlc', $((ahead << 16)))"
node_start S001
S1_PID=$NODE_PID
check_eq "S001 records a customer, its clock ahead" 201 \
	"$(http_code "$NODE_HTTP" POST /v1/customers '{"id":"C1","name":"Li Wei","region":"east"}')"
kill "$S1_PID"
wait "$S1_PID" 2> /dev/null
# The copy of its folder links to A.
cp -a "$T/S001" "$T/S001b"
sed -i "s#^hub=.*#hub=tcp://127.0.0.1:$A_SYNC#" "$T/S001b/config"

cluster_hub B "$B_SYNC"
in_b_quarantine() { [ "$(db B hub "SELECT count(*) FROM quarantine WHERE origin = 'S001'")" = 1 ]; }
node_start S001
check "B quarantines the op (clock ahead of its 1 s)" eventually 20 in_b_quarantine
kill "$NODE_PID"
wait "$NODE_PID" 2> /dev/null
node_start S001b
in_pg() { [ "$(psql -tA "$URI" -c "SELECT count(*) FROM op_log WHERE origin = 'S001'")" = 1 ]; }
# Once B's claim on S001 has lapsed (9 s), A lets the copy in.
check "A admits the op and appends it to the shared log" eventually 40 in_pg
b_applied() { [ "$(db B hub "SELECT value FROM meta WHERE name = 'pg_applied'")" = "$(psql -tA "$URI" -c "SELECT max(gseq) FROM op_log")" ]; }
check "B tails past it" eventually 20 b_applied
check_eq "B's positions are the shared log's (lsn == gseq, no hole)" "$(pg_positions)" "$(positions B)"
check_eq "B's quarantine gave its copy up for the shared log's" 0 \
	"$(db B hub "SELECT count(*) FROM quarantine WHERE origin = 'S001'")"
check_eq "B holds A's customers" "$(db A hub "SELECT id FROM customers ORDER BY id")" \
	"$(db B hub "SELECT id FROM customers ORDER BY id")"

# Once the op is due at B, a retry by hand takes it in, or finds it held.
sleep $((AHEAD_MS / 1000 + 2))
out=$("$HUB" quarantine retry --data "$T/B" 2>&1)
check "a retry at B does not fail once the op is due ($out)" test $? -eq 0
b_same() { [ "$(positions B)" = "$(pg_positions)" ]; }
check "B's positions end up the shared log's" eventually 10 b_same

# A PUSH B acknowledges while it quarantines the op is held in the shared
# log too: B's loss does not lose it, and A takes it in once it passes.
key2=$("$NODE" init --data "$T/S002" --site S002 --hub "tcp://127.0.0.1:$B_SYNC" \
	--hub-key "$HUB_KEY" --http 127.0.0.1:0)
"$HUB" enroll --data "$T/A" --site S002 --role store --key "$key2" > /dev/null
b_knows() { [ "$(db B hub "SELECT count(*) FROM sites WHERE id = 'S002'")" = 1 ]; }
check "B copies S002's enrollment" eventually 10 b_knows
ahead=$(($(date +%s%3N) + AHEAD_MS))
db S002 node "INSERT OR REPLACE INTO meta(name, value) VALUES ('hlc', $((ahead << 16)))"
node_start S002
S2_PID=$NODE_PID
check_eq "S002 records a customer, its clock ahead" 201 \
	"$(http_code "$NODE_HTTP" POST /v1/customers '{"id":"C2","name":"Wang Fang","region":"east"}')"
acked() { [ "$(db S002 node "SELECT value FROM meta WHERE name = 'acked'")" = 1 ]; }
check "B acknowledges it" eventually 20 acked
check_eq "B quarantined it" 1 "$(db B hub "SELECT count(*) FROM quarantine WHERE origin = 'S002'")"
check_eq "the shared log holds it back, with B's reason" "S002 1 clock" \
	"$(psql -tA -F ' ' "$URI" -c "SELECT origin, seq, split_part(split_part(reason, ': ', 2), ' ', 1) FROM op_held")"
kill "$S2_PID"
wait "$S2_PID" 2> /dev/null
kill -9 "$B_PID"
wait "$B_PID" 2> /dev/null
in_a_quarantine() { [ "$(db A hub "SELECT count(*) FROM quarantine WHERE origin = 'S002'")" = 1 ]; }
check "with B gone, A copies the held op into its quarantine" eventually 20 in_a_quarantine
check_eq "and keeps its hold number, to read only later holds next time" \
	"$(psql -tA "$URI" -c "SELECT hseq FROM op_held WHERE origin = 'S002'")" \
	"$(db A hub "SELECT value FROM meta WHERE name = 'pg_held'")"
out=$("$HUB" quarantine retry --data "$T/A" --origin S002 2>&1)
check_eq "A's retry takes it in (its clock admits it)" "retried 1: 1 applied, 0 still quarantined" "$out"
check_eq "it is in the shared log" 1 "$(psql -tA "$URI" -c "SELECT count(*) FROM op_log WHERE origin = 'S002'")"
check_eq "and no longer held" 0 "$(psql -tA "$URI" -c "SELECT count(*) FROM op_held")"
a_same() { [ "$(positions A)" = "$(pg_positions)" ]; }
check "A's positions are the shared log's" eventually 10 a_same
check_eq "A holds the customer" 1 "$(db A hub "SELECT count(*) FROM customers WHERE id = 'S002-C2'")"

finish
