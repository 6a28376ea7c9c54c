# A head office restored from an older backup (bl-hub restore) gets back
# from the stores what it lost: its own ops (a product and a price written
# after the backup), which the stores prove with the hub's own signature,
# and the stores' ops, which they push again. Until every store has
# reported, head office writes nothing of its own (503 naming whom it
# waits for), so it never reuses a seq of its own; then it writes again,
# after them. Every replica ends with the same catalog, prices and stock,
# and per origin exactly the ops recorded, each once, with no conflict.
# Then a second restore, where the only store that saw head office's
# latest op has dropped it (retention): head office waits, naming the op
# and who saw it, until told to stop; what it then writes under that seq
# reaches the store as a conflict, kept and alerted, never silently.
#
# On PostgreSQL (BL_HUB_STORE=postgresql) hub.db is the shared log's
# projection and every op the hub wrote or acknowledged is in the log: a
# restored hub catches up from it at once and waits for no one. The same
# two restores show that: nothing lost, no seq reused, no conflict.
. "$(dirname "$0")/lib.sh"

put() { curl -sS --max-time 5 -X PUT "http://127.0.0.1:$HUB_HTTP$1" -d "$2"; }
put_code() { curl -s -o "$T/put.out" -w '%{http_code}' --max-time 5 -X PUT "http://127.0.0.1:$HUB_HTTP$1" -d "$2"; }
ops() { sqlite3 "$1" "SELECT group_concat(seq || ':' || hex(body), ',') FROM (SELECT seq, body FROM op_log WHERE origin = '$2' ORDER BY seq)"; }

hub_init
hub_start
node_init S001
node_init S002
put /v1/products/TEA '{"name":"Green tea"}' > /dev/null
put /v1/prices/retail/TEA '{"amount":1200,"currency":"CNY"}' > /dev/null
"$NODE" stock receive --data "$T/S001" --sku TEA --qty 10 > /dev/null
check "S001 syncs before the backup" "$NODE" sync --data "$T/S001"
check "S002 syncs before the backup" "$NODE" sync --data "$T/S002"
check "a backup of the running hub" "$HUB" backup --data "$T/hub" --to "$T/hub.bak"

# After the backup: head office adds a product and changes a price; the
# stores record and push (S001 counts 3 fewer); S001 pulls head office's changes, S002 does not.
put /v1/products/CAKE '{"name":"Moon cake"}' > /dev/null
put /v1/prices/retail/TEA '{"amount":1500,"currency":"CNY"}' > /dev/null
"$NODE" stock count --data "$T/S001" --sku TEA --counted 7 > /dev/null
"$NODE" stock receive --data "$T/S002" --sku CAKE --qty 7 > /dev/null
check "S001 syncs after the backup" "$NODE" sync --data "$T/S001"
check "S002 pushes after the backup" "$NODE" sync --data "$T/S002"
HQ_OPS=$(ops "$T/hub/hub.db" HQ)
hub_stop

if [ "$BL_HUB_STORE" = postgresql ]; then
	check_match "bl-hub restore catches up from the shared log" \
		"^caught up with the shared log: [1-9][0-9]* ops applied, at gseq [0-9]+; nothing to wait for$" \
		"$("$HUB" restore --data "$T/hub" --from "$T/hub.bak")"
	hub_start
	check_eq "the restored hub has CAKE at once" '"Moon cake"' "$(http_get "$HUB_HTTP" /v1/products/CAKE | jq .name)"
	check_eq "and TEA's new price" "1500" \
		"$(http_get "$HUB_HTTP" '/v1/prices?sku=TEA' | jq '.items[] | select(.tier == "retail") | .amount')"
	check_eq "and S001's count" "7" "$(http_get "$HUB_HTTP" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand')"
	check_eq "and S002's receipt" "7" "$(http_get "$HUB_HTTP" '/v1/stock?site=S002&sku=CAKE' | jq '.items[0].on_hand')"
	check_eq "its status says it is not recovering" "false" "$(http_get "$HUB_HTTP" /v1/status | jq .recovering)"
	check_eq "head office's ops are exactly those before the restore" "$HQ_OPS" "$(ops "$T/hub/hub.db" HQ)"
	check_eq "it writes at once" "200" "$(put_code /v1/products/JAM '{"name":"Jam"}')"
else
	check_match "bl-hub restore says what comes next" "until every site has reported" \
		"$("$HUB" restore --data "$T/hub" --from "$T/hub.bak")"
	hub_start
	check_eq "the restored hub lost CAKE" "404" "$(http_code "$HUB_HTTP" GET /v1/products/CAKE)"
	check_eq "its status says it is recovering" "true" "$(http_get "$HUB_HTTP" /v1/status | jq .recovering)"
	check_eq "it writes nothing of its own meanwhile" "503" "$(put_code /v1/products/JAM '{"name":"Jam"}')"
	check_eq "and says whom it waits for" \
		"write: head office is recovering from a backup: waiting for S001, S002 to reconnect (bl-hub recover --done ends the wait)" \
		"$(jq -r .error.message "$T/put.out")"
	check_eq "bl-hub recover names them" "recovering from a backup: waiting for S001, S002 to reconnect" \
		"$("$HUB" recover --data "$T/hub")"

	check "S001 reconnects" "$NODE" sync --data "$T/S001"
	check_eq "it gave head office back CAKE" '"Moon cake"' "$(http_get "$HUB_HTTP" /v1/products/CAKE | jq .name)"
	check_eq "and TEA's new price" "1500" \
		"$(http_get "$HUB_HTTP" '/v1/prices?sku=TEA' | jq '.items[] | select(.tier == "retail") | .amount')"
	check_eq "and pushed its count again" "7" \
		"$(http_get "$HUB_HTTP" '/v1/stock?site=S001&sku=TEA' | jq '.items[0].on_hand')"
	check_eq "head office still waits for S002" "recovering from a backup: waiting for S002 to reconnect" \
		"$("$HUB" recover --data "$T/hub")"
	check_eq "still writing nothing" "503" "$(put_code /v1/products/JAM '{"name":"Jam"}')"

	check "S002 reconnects" "$NODE" sync --data "$T/S002"
	recovered() { [ "$(http_get "$HUB_HTTP" /v1/status | jq .recovering)" = false ]; }
	check "every store has reported: recovered" eventually 5 recovered
	check_eq "S002's receipt is back" "7" \
		"$(http_get "$HUB_HTTP" '/v1/stock?site=S002&sku=CAKE' | jq '.items[0].on_hand')"
	check_eq "head office's ops are exactly those before the restore" "$HQ_OPS" "$(ops "$T/hub/hub.db" HQ)"
	check_eq "it writes again" "200" "$(put_code /v1/products/JAM '{"name":"Jam"}')"
fi
n=$(echo "$HQ_OPS" | tr ',' '\n' | wc -l)
check_eq "under the next seq of its own, none reused" "$((n + 1))" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT max(seq) || '' FROM op_log WHERE origin = 'HQ' AND key = 'JAM'")"
check "S001 syncs" "$NODE" sync --data "$T/S001"
check "S002 syncs" "$NODE" sync --data "$T/S002"
for o in HQ S001 S002; do
	check_eq "S001 holds $o's ops as the hub does" "$(ops "$T/hub/hub.db" $o)" "$(ops "$T/S001/node.db" $o)"
	check_eq "S002 holds $o's ops as the hub does" "$(ops "$T/hub/hub.db" $o)" "$(ops "$T/S002/node.db" $o)"
done
for db in "$T/hub/hub.db" "$T/S001/node.db" "$T/S002/node.db"; do
	check_eq "no conflict at $(basename "$(dirname "$db")")" "0" "$(sqlite3 "$db" "SELECT count(*) FROM op_conflicts")"
done
catalog() { sqlite3 "$1" "SELECT group_concat(sku || '=' || name, ',') FROM (SELECT * FROM products ORDER BY sku)"; }
check_eq "S001's catalog is head office's" "$(catalog "$T/hub/hub.db")" "$(catalog "$T/S001/node.db")"
check_eq "S002's catalog is head office's" "$(catalog "$T/hub/hub.db")" "$(catalog "$T/S002/node.db")"
check_eq "with JAM in it" "CAKE=Moon cake,JAM=Jam,TEA=Green tea" "$(catalog "$T/S002/node.db")"

# The second restore.
check "a second backup" "$HUB" backup --data "$T/hub" --to "$T/hub2.bak"
put /v1/products/FIG '{"name":"Fig"}' > /dev/null
FIG_SEQ=$(sqlite3 "$T/hub/hub.db" "SELECT seq FROM op_log WHERE origin = 'HQ' AND key = 'FIG'")
check "S001 pulls FIG" "$NODE" sync --data "$T/S001"
check "S001 drops other sites' ops (retention)" "$NODE" prune --data "$T/S001" --days 0
if [ "$BL_HUB_STORE" = postgresql ]; then
	hub_stop
	"$HUB" restore --data "$T/hub" --from "$T/hub2.bak" > /dev/null
	hub_start
	check_eq "the second restore has FIG back at once" '"Fig"' "$(http_get "$HUB_HTTP" /v1/products/FIG | jq .name)"
	check_eq "and writes" "200" "$(put_code /v1/products/PLUM '{"name":"Plum"}')"
	check_eq "under the seq after FIG's" "$((FIG_SEQ + 1))" \
		"$(sqlite3 "$T/hub/hub.db" "SELECT seq FROM op_log WHERE origin = 'HQ' AND key = 'PLUM'")"
	check "S001 syncs" "$NODE" sync --data "$T/S001"
	plum() { sqlite3 "$1" "SELECT seq || ':' || hex(body) FROM op_log WHERE origin = 'HQ' AND key = 'PLUM'"; }
	check_eq "S001 holds PLUM as the hub does" "$(plum "$T/hub/hub.db")" "$(plum "$T/S001/node.db")"
	check_eq "with no conflict" "0" "$(sqlite3 "$T/S001/node.db" "SELECT count(*) FROM op_conflicts")"
	check_eq "the hub's HQ ops are the shared log's" "$(ops "$T/hub/hub.db" HQ)" \
		"$(psql -qtA "$PG_URI" -c "SELECT string_agg(seq || ':' || upper(encode(body, 'hex')), ',' ORDER BY seq) FROM op_log WHERE origin = 'HQ'")"
else
	hub_stop
	"$HUB" restore --data "$T/hub" --from "$T/hub2.bak" > /dev/null
	hub_start
	check "S001 reconnects and reports" "$NODE" sync --data "$T/S001"
	check "S002 reconnects and reports" "$NODE" sync --data "$T/S002"
	check_eq "head office waits for the op S001 saw" \
		"recovering from a backup: its ops $FIG_SEQ-$FIG_SEQ, seen by S001, have not come back from a store" \
		"$("$HUB" recover --data "$T/hub")"
	check_eq "and writes nothing of its own" "503" "$(put_code /v1/products/PLUM '{"name":"Plum"}')"
	check_match "until told to stop waiting" "^recovery ended by hand \(its ops $FIG_SEQ-$FIG_SEQ, seen by S001" \
		"$("$HUB" recover --data "$T/hub" --done)"
	writes() { [ "$(put_code /v1/products/PLUM '{"name":"Plum"}')" = 200 ]; }
	check "then it writes again" eventually 5 writes
	check_eq "under the seq S001 saw" "$FIG_SEQ" \
		"$(sqlite3 "$T/hub/hub.db" "SELECT seq FROM op_log WHERE origin = 'HQ' AND key = 'PLUM'")"
	"$NODE" sync --data "$T/S001" > /dev/null 2>&1
	check_eq "which S001 keeps as a conflict" "HQ|$FIG_SEQ" \
		"$(sqlite3 "$T/S001/node.db" "SELECT origin || '|' || seq FROM op_conflicts")"
	check_match "and alerts" '"kind":"op_conflict"' "$("$NODE" alerts --data "$T/S001" --json)"
fi
finish
