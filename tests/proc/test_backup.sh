# Backups taken while the daemons serve, restores once they are stopped,
# and the one-daemon-per-folder rule. A store backed up while a till
# writes through its daemon, then restored, gets back from the hub what it
# recorded after the backup: nothing is lost, nothing doubled. Head office
# restored from a backup taken while it ran starts and serves. Every
# refusal is checked by its exact text, and `bl-node sync` beside a running
# daemon asks the daemon instead of taking its session at the hub.
. "$(dirname "$0")/lib.sh"

hub_init
hub_start
node_init S001
node_init S002
node_start S001
P1=$NODE_HTTP
S1_PID=$NODE_PID

# One daemon per data folder.
check_refused "a second bl-node run on the folder is refused, naming the process" \
	"bl-node: run: $T/S001: already served by process $S1_PID" "$NODE" run --data "$T/S001"
check_refused "a second bl-hub run likewise" \
	"bl-hub: run: $T/hub: already served by process $HUB_PID" "$HUB" run --data "$T/hub"
check_eq "the lock file is for the user only" "600" "$(stat -c %a "$T/S001/run.lock")"

# A till writes continuously through the daemon; the backup is taken
# meanwhile.
till() {
	while [ ! -e "$T/till.stop" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 -X POST \
			"http://127.0.0.1:$P1/v1/stock/movements" \
			-d '{"sku":"TEA","delta":1,"reason":"receipt"}' >> "$T/till.codes"
	done
}
till &
TILL_PID=$!
PIDS="$PIDS $TILL_PID"
sleep 1
out=$("$NODE" backup --data "$T/S001" --to "$T/s1.bak")
check_match "a backup while the till writes" \
	"^backed up $T/S001/node.db to $T/s1.bak: [0-9]+ pages \([0-9]+ bytes\) in [0-9]+\.[0-9] s$" "$out"
sleep 1
touch "$T/till.stop"
wait "$TILL_PID"
N=$(grep -c '^201$' "$T/till.codes")
check_eq "every till write was recorded while the backup ran" "$(wc -l < "$T/till.codes" | tr -d ' ')" "$N"
check_eq "the backup is 0600 and nothing is left beside it" "600 none" \
	"$(stat -c %a "$T/s1.bak") $(ls "$T"/s1.bak?* 2> /dev/null | wc -l | sed 's/^0$/none/')"
check_eq "the backup is a sound database" "ok" "$(sqlite3 "$T/s1.bak" 'PRAGMA integrity_check')"
B=$(sqlite3 "$T/s1.bak" "SELECT count(*) FROM op_log WHERE origin = 'S001'")
some_not_all() { [ "$B" -gt 0 ] && [ "$B" -lt "$N" ]; }
check "it holds some of the till's writes, not all ($B of $N)" some_not_all

check_refused "an existing file is refused" \
	"bl-node: backup: $T/s1.bak: already exists (--force replaces it)" \
	"$NODE" backup --data "$T/S001" --to "$T/s1.bak"
cp "$T/s1.bak" "$T/s1-first.bak"
check_match "--force replaces it" "^backed up " "$("$NODE" backup --data "$T/S001" --to "$T/s1.bak" --force)"
mv "$T/s1-first.bak" "$T/s1.bak"
check_refused "a restore under the running daemon is refused" \
	"bl-node: restore: $T/S001: the daemon (process $S1_PID) is running; stop it first" \
	"$NODE" restore --data "$T/S001" --from "$T/s1.bak"

# sync and status ask the daemon; the hub sees one session of S001.
hub_s1() { http_get "$HUB_HTTP" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand'; }
hub_sees() { [ "$(hub_s1)" = "$1" ]; }
check "the hub has every till write" eventually 10 hub_sees "$N"
check "bl-node sync beside the daemon succeeds" "$NODE" sync --data "$T/S001"
out=$("$NODE" status --data "$T/S001")
check_match "bl-node status shows the daemon's view" "daemon +running \(process $S1_PID\)" "$out"
check_match "with the hub reachable" "^hub .*\(reachable\)" "$out"
check_eq "the daemon's session was never replaced" "0" "$(grep -c 'session replaced' "$T/hub.log")"
check_eq "and it stays up" "up" "$(http_get "$P1" /v1/status | jq -r .hub_link)"

# The store dies (kill -9 leaves no stale lock) and comes back from the
# backup: the writes after it come back from the hub.
INC=$(sqlite3 "$T/S001/node.db" "SELECT value FROM meta WHERE name = 'incarnation'")
kill -9 "$S1_PID"
wait "$S1_PID" 2> /dev/null
out=$("$NODE" restore --data "$T/S001" --from "$T/s1.bak")
check_match "restored after kill -9, saying when the backup was taken" \
	"^restored $T/S001/node.db from $T/s1.bak \(taken at [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC\)$" "$out"
check_eq "no -wal or -shm of the old database is left" "0" "$(ls "$T"/S001/node.db-* 2> /dev/null | wc -l)"
check_eq "the restored store shows what the backup held" "$B" "$("$NODE" stock list --data "$T/S001" --sku TEA --json 2> /dev/null | jq '.items[0].on_hand')"
out=$("$NODE" move --data "$T/S001" --sku TEA --delta 1000 --reason receipt)
check_match "a write after the restore gets a tagged id" \
	'^recorded S001-[0-9A-F]{8}-[0-9]{6}: TEA \+1000 receipt$' "$out"
INC2=$(sqlite3 "$T/S001/node.db" "SELECT value FROM meta WHERE name = 'incarnation'")
new_incarnation() { [ -n "$INC2" ] && [ "$INC2" != "$INC" ]; }
check "and the store took a new incarnation" new_incarnation
node_start S001
P1=$NODE_HTTP
S1_PID=$NODE_PID
s1_sees() { [ "$(http_get "$P1" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand')" = "$1" ]; }
check "the hub counts every write: the till's and the one after the restore" eventually 20 hub_sees $((N + 1000))
check "and so does the store" eventually 20 s1_sees $((N + 1000))
own_log() {
	sqlite3 "$1" "SELECT group_concat(seq || ':' || hex(body), ' ') FROM (SELECT seq, body FROM op_log WHERE origin = 'S001' ORDER BY seq)"
}
same_logs() { [ "$(own_log "$T/hub/hub.db")" = "$(own_log "$T/S001/node.db")" ]; }
check "hub and store hold the same ops of S001" eventually 10 same_logs
check_eq "each once" "$((N + 1)) $((N + 1))" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) || ' ' || count(DISTINCT seq) FROM op_log WHERE origin = 'S001'")"
check_eq "the sync beside the daemon left no trace at the hub either" "0" "$(grep -c 'session replaced' "$T/hub.log")"

# Refusals of the wrong file.
check_refused "another site's backup is refused, naming both" \
	"bl-node: restore: $T/s1.bak: holds the database of site S001, not of S002" \
	"$NODE" restore --data "$T/S002" --from "$T/s1.bak"
check_refused "a file that is no database is refused" \
	"bl-node: restore: $T/till.codes: not a Branchline database (file is not a database)" \
	"$NODE" restore --data "$T/S002" --from "$T/till.codes"
check "and leave no copy behind" [ ! -e "$T/S002/node.db.restore" ]

# Head office: a backup while it serves, restored once it is stopped.
out=$("$HUB" backup --data "$T/hub" --to "$T/hub.bak")
check_match "a hub backup while it serves" "^backed up $T/hub/hub.db to $T/hub.bak: [0-9]+ pages" "$out"
check_refused "a hub restore under the running hub is refused" \
	"bl-hub: restore: $T/hub: the daemon (process $HUB_PID) is running; stop it first" \
	"$HUB" restore --data "$T/hub" --from "$T/hub.bak"
check_refused "a hub backup cannot restore a node" \
	"bl-node: restore: $T/hub.bak: holds head office's database (site HQ), not a node's" \
	"$NODE" restore --data "$T/S002" --from "$T/hub.bak"
hub_stop
check_refused "a node backup cannot restore the hub" \
	"bl-hub: restore: $T/s1.bak: holds a node's database (site S001), not head office's" \
	"$HUB" restore --data "$T/hub" --from "$T/s1.bak"
check_match "the hub is restored" "^restored $T/hub/hub.db from $T/hub.bak \(taken at " \
	"$("$HUB" restore --data "$T/hub" --from "$T/hub.bak")"
hub_start
check_eq "the restored hub serves" "HQ" "$(http_get "$HUB_HTTP" /v1/status | jq -r .site)"
check "S002 syncs with it" "$NODE" sync --data "$T/S002"
check_eq "S002 sees S001's writes" "$((N + 1000))" \
	"$("$NODE" stock list --data "$T/S002" --site S001 --sku TEA --json | jq '.items[0].on_hand')"
link_up() { [ "$(http_get "$P1" /v1/status | jq -r .hub_link)" = "up" ]; }
check "the store's daemon is back in session" eventually 15 link_up
finish
