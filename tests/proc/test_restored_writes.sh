# A store restored from an old copy of its data folder records sales before
# it has reconnected (on the command line and through its running daemon
# while head office is down). The hub holds ops of the store under the same
# seqs that the copy no longer has. Nothing may be lost: the store learns at
# start that it was restored (its database file is not where it was), gives
# new ids a tag until the hub has told it what it holds, compares the ops
# that come back with its own and renumbers its own where they differ. At
# the end the hub and the store hold the same ops, each once, and every
# sale counts.
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
hub_s1() { http_get "$HUB_HTTP" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand'; }
check_eq "the hub holds 1+...+6 for S001" "21" "$(hub_s1)"

# The disk dies; the store comes back from the copy taken after op 3, and
# sells before it talks to head office.
rm -f "$T/S001/node.db" "$T/S001/node.db-wal" "$T/S001/node.db-shm"
cp "$T/backup.db" "$T/S001/node.db"
out=$("$NODE" move --data "$T/S001" --sku TEA --delta 1000 --reason receipt)
check_match "a sale on the command line gets a tagged id (seq 4 is taken at the hub)" \
	'^recorded S001-[0-9A-F]{8}-000004: TEA \+1000 receipt$' "$out"
hub_stop
node_start S001
P1=$NODE_HTTP
code=$(http_code "$P1" POST /v1/stock/movements '{"sku":"TEA","delta":2000,"reason":"receipt"}')
check_eq "a sale through the daemon while head office is down" "201" "$code"
check_eq "the store counts 1+2+3+1000+2000" "3006" "$(http_get "$P1" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand')"

hub_start
s1_sees() { [ "$(http_get "$P1" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand')" = "$1" ]; }
hub_sees() { [ "$(hub_s1)" = "$1" ]; }
check "head office back: the hub counts every sale, 21+1000+2000" eventually 30 hub_sees 3021
check "and so does the store (its lost ops 4-6 came back)" eventually 30 s1_sees 3021
own_log() {   # DB: S001's ops as seq:bytes, in seq order
	sqlite3 "$1" "SELECT group_concat(seq || ':' || hex(body), ' ') FROM (SELECT seq, body FROM op_log WHERE origin = 'S001' ORDER BY seq)"
}
check_eq "the hub holds S001's seqs 1-8, each once" "8 8 1 8" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || min(seq) || ' ' || max(seq) FROM op_log WHERE origin = 'S001'")"
same_logs() { [ "$(own_log "$T/hub/hub.db")" = "$(own_log "$T/S001/node.db")" ]; }
check "the store holds exactly the hub's ops of S001" eventually 10 same_logs
check_eq "nothing was refused as a conflict" "0 0" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_conflicts") $(sqlite3 "$T/S001/node.db" "SELECT count(*) FROM op_conflicts")"
check_match "the store logged the renumbering" "renumbered to S001/" "$(cat "$T/S001.log")"
out=$(http_post "$P1" /v1/stock/movements '{"sku":"TEA","delta":5,"reason":"receipt"}' | jq -r .id)
check_eq "confirmed, the next id is plain again and past the hub's seqs" "S001-000009" "$out"
check "S002 pulls everything" "$NODE" sync --data "$T/S002"
check_eq "S002 counts S001's sales once: 3026" "3026" \
	"$("$NODE" stock list --data "$T/S002" --site S001 --json | jq '.items[0].on_hand')"
finish
