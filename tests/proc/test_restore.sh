# Restores from old backups. A store: the hub holds ops of the store that
# the store lost; on its next sync the store pulls its own ops back and
# never hands out their sequence numbers again (SPEC §5). Head office: its
# log is shorter than what stores pulled; they pull again rather than skip
# what the restored hub numbers anew.
. "$(dirname "$0")/lib.sh"

hub_init
hub_start
node_init S001
node_init S002
for i in 1 2 3; do "$NODE" move --data "$T/S001" --sku TEA --delta $i --reason receipt > /dev/null; done
check "S001 syncs ops 1-3" "$NODE" sync --data "$T/S001"
cp "$T/S001/node.db" "$T/backup.db"
for i in 4 5 6; do "$NODE" move --data "$T/S001" --sku TEA --delta $i --reason receipt > /dev/null; done
check "S001 syncs ops 4-6" "$NODE" sync --data "$T/S001"
check_eq "the hub holds 1+...+6 for S001" "21" "$(http_get "$HUB_HTTP" '/v1/stock?site=S001' | jq '.items[0].on_hand')"

# The disk dies; the store comes back from the backup taken after op 3.
rm -f "$T/S001/node.db" "$T/S001/node.db-wal" "$T/S001/node.db-shm"
cp "$T/backup.db" "$T/S001/node.db"
check_eq "restored, S001 shows only 1+2+3" "6" "$("$NODE" stock list --data "$T/S001" --json | jq '.items[0].on_hand')"

# A first round with a short timeout (it may be cut before the lost ops are
# back; the welcome has moved the seq counter on already) and a full one.

"$NODE" sync --data "$T/S001" --timeout 1 > /dev/null 2>&1
check "the next sync completes" "$NODE" sync --data "$T/S001"
check_eq "S001 has its own ops 1-6 back" "1 2 3 4 5 6" \
	"$(sqlite3 "$T/S001/node.db" "SELECT group_concat(seq, ' ') FROM (SELECT seq FROM op_log WHERE origin = 'S001' ORDER BY seq)")"
check_eq "and shows 21" "21" "$("$NODE" stock list --data "$T/S001" --json | jq '.items[0].on_hand')"

# A new write gets a new seq, and reaches everyone.
out=$("$NODE" move --data "$T/S001" --sku TEA --delta 100 --reason receipt)
check_eq "the next write is op 7, not a reused number" "recorded S001-000007: TEA +100 receipt" "$out"
check "S001 pushes it" "$NODE" sync --data "$T/S001"
check "S002 pulls everything" "$NODE" sync --data "$T/S002"
check_eq "the hub shows 121" "121" "$(http_get "$HUB_HTTP" '/v1/stock?site=S001' | jq '.items[0].on_hand')"
check_eq "S002 shows 121" "121" "$("$NODE" stock list --data "$T/S002" --site S001 --json | jq '.items[0].on_hand')"
check_eq "the hub's log holds S001's seqs 1-7 once each" "7 7" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) || ' ' || count(DISTINCT seq) FROM op_log WHERE origin = 'S001'")"

# Now head office is restored from an old backup: its log is shorter than
# what S001 pulled, and it numbers new ops again from there. A store that
# comes back while the log is still behind its cursor pulls everything
# again, so ops given the reused numbers are not skipped.
"$NODE" init --data "$T/S003" --site S003 --hub "tcp://127.0.0.1:$HUB_SYNC" --hub-key "$HUB_KEY" > "$T/S003.key"
"$HUB" enroll --data "$T/hub" --site S003 --role store --key "$(cat "$T/S003.key")" > /dev/null
hub_stop
cp "$T/hub/hub.db" "$T/hub-backup.db"
hub_start
for i in 1 2 3; do "$NODE" move --data "$T/S002" --sku RICE --delta 10 --reason receipt > /dev/null; done
check "S002 pushes three receipts" "$NODE" sync --data "$T/S002"
check "S001 pulls them" "$NODE" sync --data "$T/S001"
hub_stop
rm -f "$T/hub/hub.db-wal" "$T/hub/hub.db-shm"
cp "$T/hub-backup.db" "$T/hub/hub.db"
hub_start
"$NODE" move --data "$T/S003" --sku SOAP --delta 7 --reason receipt > /dev/null
check "S003 pushes a receipt to the restored hub (it reuses a log number)" "$NODE" sync --data "$T/S003"
check "S001 syncs with the restored hub" "$NODE" sync --data "$T/S001"
check_eq "S001 did not skip S003's receipt" "7" "$("$NODE" stock list --data "$T/S001" --site S003 --json | jq '.items[0].on_hand')"
check "S002 pushes again what the restored hub lost" "$NODE" sync --data "$T/S002"
check "S001 syncs again" "$NODE" sync --data "$T/S001"
check_eq "S001 still shows S002's three receipts once: 30" "30" "$("$NODE" stock list --data "$T/S001" --site S002 --sku RICE --json | jq '.items[0].on_hand')"
check_eq "and so does the restored hub" "30" "$(http_get "$HUB_HTTP" '/v1/stock?site=S002&sku=RICE' | jq '.items[0].on_hand')"
finish
