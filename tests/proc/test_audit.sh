# Tamper evidence: bl-hub audit re-verifies every site's log against its
# hash chain and the signatures the site pushed, and names the first op
# that does not match: a bit flipped in a stored op, an op removed, an op
# put after what the site signed. bl-node audit does the same for a
# store's own log.
. "$(dirname "$0")/lib.sh"

hub_init
hub_start
node_init S001
node_init S002
for i in 1 2 3 4 5; do "$NODE" move --data "$T/S001" --sku TEA --delta $i --reason receipt > /dev/null; done
for i in 1 2 3; do "$NODE" move --data "$T/S002" --sku RICE --delta $i --reason receipt > /dev/null; done
check "S001 syncs" "$NODE" sync --data "$T/S001"
check "S002 syncs" "$NODE" sync --data "$T/S002"
hub_stop

out=$("$HUB" audit --data "$T/hub" 2>&1); rc=$?
check_eq "untouched, the audit passes" "0" "$rc"
check_match "S001's five ops and their signature verify" "^S001: 5 ops, chain and [1-9][0-9]* signatures verified$" "$(echo "$out" | grep '^S001')"
check_match "S002's too" "^S002: 3 ops, chain and [1-9][0-9]* signatures verified$" "$(echo "$out" | grep '^S002')"
out=$("$NODE" audit --data "$T/S001" 2>&1); rc=$?
check_eq "a store's own log passes at the store" "0 S001: 5 ops, chain and 0 signatures verified" "$rc $out"
cp "$T/hub/hub.db" "$T/hub-clean.db"

# One bit of a stored op flipped.
hex=$(sqlite3 "$T/hub/hub.db" "SELECT hex(body) FROM op_log WHERE origin = 'S001' AND seq = 3")
last=$(printf '%s' "$hex" | tail -c 1)
case $last in 0) f=1 ;; 1) f=0 ;; 2) f=3 ;; 3) f=2 ;; 4) f=5 ;; 5) f=4 ;; 6) f=7 ;; 7) f=6 ;;
	8) f=9 ;; 9) f=8 ;; A) f=B ;; B) f=A ;; C) f=D ;; D) f=C ;; E) f=F ;; F) f=E ;; esac
sqlite3 "$T/hub/hub.db" "UPDATE op_log SET body = X'${hex%?}$f' WHERE origin = 'S001' AND seq = 3"
out=$("$HUB" audit --data "$T/hub" 2>&1); rc=$?
check_eq "a flipped bit fails the audit" "1" "$rc"
check_eq "naming the op" "S001: BROKEN: op S001/3: its bytes do not give the chain kept with it (altered, or the chain was)" \
	"$(echo "$out" | grep '^S001')"
check_match "the other site still verifies" "^S002: 3 ops, chain and" "$(echo "$out" | grep '^S002')"

# An op removed.
cp "$T/hub-clean.db" "$T/hub/hub.db"
sqlite3 "$T/hub/hub.db" "DELETE FROM op_log WHERE origin = 'S001' AND seq = 2"
out=$("$HUB" audit --data "$T/hub" --site S001 2>&1); rc=$?
check_eq "a removed op fails the audit, naming it" "1 S001: BROKEN: op S001/2: missing (the log goes from 1 to 3)" "$rc $out"

# An op put after what the site signed: the sixth op, with its right
# chain value, taken from a log where S001 did push it, into the copy
# whose signatures end at the fifth.
cp "$T/hub-clean.db" "$T/hub/hub.db"
hub_start
"$NODE" move --data "$T/S001" --sku TEA --delta 6 --reason receipt > /dev/null
check "S001 pushes a sixth op" "$NODE" sync --data "$T/S001"
hub_stop
row=$(sqlite3 "$T/hub/hub.db" "SELECT 'X''' || hex(body) || ''', X''' || hex(chain) || ''', ' || hlc FROM op_log WHERE origin = 'S001' AND seq = 6")
sqlite3 "$T/hub-clean.db" "INSERT INTO op_log(origin, seq, hlc, entity, key, body, chain) SELECT 'S001', 6, hlc, entity, key, body, chain FROM (SELECT $(echo "$row" | cut -d, -f3) AS hlc, 'stock_movement' AS entity, 'S001-000006' AS key, $(echo "$row" | cut -d, -f1) AS body, $(echo "$row" | cut -d, -f2) AS chain)"
mkdir -m 700 "$T/copy"
cp "$T/hub-clean.db" "$T/copy/hub.db"
out=$("$HUB" audit --data "$T/copy" --site S001 2>&1); rc=$?
check_eq "an op nobody signed fails the audit, naming it" \
	"1 S001: BROKEN: op S001/6: after the last batch the site signed (5): not the site's (inserted?)" "$rc $out"
finish
