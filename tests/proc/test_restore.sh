# A store restored from an old backup: the hub holds ops of the store that
# the store lost. On its next sync the store pulls its own ops back, and it
# never hands out their sequence numbers again — even when that recovery is
# interrupted halfway (SPEC §5).
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
finish
