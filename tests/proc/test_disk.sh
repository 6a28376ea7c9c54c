# Disk stays bounded. Tills write at a steady rate while the hub is up, down
# and up again: every replica's WAL stays under its bound, the databases grow
# with the data, and each sale lands at the hub exactly once. An idle WAL is
# given back. A checkpointer held up by an open reader is logged, shown in
# status and alerted, here and at head office, and recovers. Retention drops
# other sites' ops at a store, and a full re-pull counts nothing twice.
. "$(dirname "$0")/lib.sh"

BOUND_MB=8
BOUND=$((BOUND_MB * 1024 * 1024))

hub_init
echo "wal_bound_mb=$BOUND_MB" >> "$T/hub/config"
hub_start
for i in 0 1 2 3 4 5 6 7 8 9; do
	curl -sS -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/products/SKU$i" -d '{"name":"tea"}'
	curl -sS -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/prices/retail/SKU$i" -d '{"amount":100,"currency":"CNY"}'
done
node_init S001
node_init S002
echo "wal_bound_mb=$BOUND_MB" >> "$T/S001/config"
echo "wal_bound_mb=$BOUND_MB" >> "$T/S002/config"
node_start S001
S1=$NODE_HTTP
S1_PID=$NODE_PID
node_start S002
S2=$NODE_HTTP
has_catalog() { http_get "$S1" /v1/products | grep -q SKU9; }
check "S001 has the catalog" eventually 15 has_catalog
db0=$(stat -c %s "$T/S001/node.db")

# post_many PORT PATH FIRST N JSON: N POSTs on one kept-alive connection,
# JSON a printf format of the body with %s for the request number and the
# sku; prints how many were answered 201.
post_many() {
	: > "$T/req.cfg"
	i=$3
	while [ "$i" -lt $(($3 + $4)) ]; do
		[ "$i" -gt "$3" ] && echo next >> "$T/req.cfg"
		printf 'url = "http://127.0.0.1:%s%s"\nrequest = "POST"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\ndata = "%s"\n' \
			"$1" "$2" "$(printf "$5" "$i" $((i % 10)) | sed 's/"/\\"/g')" >> "$T/req.cfg"
		i=$((i + 1))
	done
	curl -sS -K "$T/req.cfg" | grep -c '^201$'
}
# post_sales PORT FIRST N: till sales (an order with its payment).
post_sales() {
	post_many "$1" /v1/orders "$2" "$3" '{"id":"till-%s","channel":"store","currency":"CNY","status":"completed","lines":[{"sku":"SKU%s","qty":1}],"payments":[{"method":"card","amount":100}]}'
}
# post_moves PORT FIRST N: stock receipts.
post_moves() {
	post_many "$1" /v1/stock/movements "$2" "$3" '{"id":"rcv-%s","sku":"SKU%s","delta":5,"reason":"receipt"}'
}
wal_size() { stat -c %s "$1-wal" 2>/dev/null || echo 0; }

# The largest WAL of each replica, sampled every 0.1 s while tills write.
sample_wal() {
	: > "$T/wal.max"
	m1=0 m2=0 mh=0
	while [ ! -e "$T/wal.stop" ]; do
		a=$(wal_size "$T/S001/node.db"); b=$(wal_size "$T/S002/node.db"); c=$(wal_size "$T/hub/hub.db")
		[ "$a" -gt "$m1" ] && m1=$a
		[ "$b" -gt "$m2" ] && m2=$b
		[ "$c" -gt "$mh" ] && mh=$c
		echo "$m1 $m2 $mh" > "$T/wal.max"
		sleep 0.1
	done
}
rm -f "$T/wal.stop"
sample_wal &
SAMPLER=$!

# Soak: 4 s with the hub up, 4 s down, 4 s up again; 40 sales and 40
# receipts a second.
sales=0 moves=0 n=0
phase() {
	for s in 1 2 3 4; do
		t0=$(date +%s%N)
		sales=$((sales + $(post_sales "$S1" $n 40)))
		moves=$((moves + $(post_moves "$S2" $n 40)))
		n=$((n + 40))
		t=$(( ($(date +%s%N) - t0) / 1000000 ))
		[ "$t" -lt 1000 ] && sleep "0.$(printf '%03d' $((1000 - t)))"
	done
}
phase
hub_stop
phase
hub_start
phase
touch "$T/wal.stop"
wait "$SAMPLER"
read -r max1 max2 maxh < "$T/wal.max"
check_eq "every till sale was answered 201" "$n" "$sales"
check_eq "every receipt was answered 201" "$n" "$moves"
echo "info: largest WAL while tills wrote: S001 $max1 B, S002 $max2 B, hub $maxh B (bound $BOUND B)"
check "S001's WAL stayed under its ${BOUND_MB} MB bound ($max1 B)" [ "$max1" -gt 0 -a "$max1" -lt "$BOUND" ]
check "S002's WAL stayed under its bound ($max2 B)" [ "$max2" -gt 0 -a "$max2" -lt "$BOUND" ]
check "the hub's WAL stayed under its bound ($maxh B)" [ "$maxh" -gt 0 -a "$maxh" -lt "$BOUND" ]
# The daemons' own high-water marks see every commit, not samples.
hw1=$(http_get "$S1" /v1/status | jq .disk.wal_max_bytes)
hw2=$(http_get "$S2" /v1/status | jq .disk.wal_max_bytes)
hwh=$(http_get "$HUB_HTTP" /v1/status | jq .disk.wal_max_bytes)
echo "info: WAL high-water marks: S001 $hw1 B, S002 $hw2 B, hub $hwh B (since its restart)"
check "S001's WAL high-water mark is under its bound ($hw1 B)" [ "$hw1" -gt 0 -a "$hw1" -lt "$BOUND" ]
check "S002's too ($hw2 B)" [ "$hw2" -gt 0 -a "$hw2" -lt "$BOUND" ]
check "the hub's too ($hwh B)" [ "$hwh" -gt 0 -a "$hwh" -lt "$BOUND" ]
hub_count() { sqlite3 "$T/hub/hub.db" "SELECT (SELECT count(*) FROM orders WHERE site = 'S001') || ' ' || (SELECT count(*) FROM stock_movements WHERE site = 'S002' AND reason = 'receipt')"; }
hub_has_all() { [ "$(hub_count)" = "$n $n" ]; }
check "the hub holds every sale and receipt once" eventually 30 hub_has_all
check_eq "exactly once" "$n $n" "$(hub_count)"
db1=$(stat -c %s "$T/S001/node.db")
check "S001's database grew with the data ($db0 -> $db1 B)" [ "$db1" -gt "$db0" ]

# Disk per op: what the kernel wrote for each daemon (WAL and checkpoints),
# and the WAL frames the checkpointer counted.
st=$(http_get "$S1" /v1/status)
hst=$(http_get "$HUB_HTTP" /v1/status)
s1_ops=$(sqlite3 "$T/S001/node.db" "SELECT count(*) FROM op_log")
hub_ops=$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log")
s1_w=$(sed -n 's/^write_bytes: //p' "/proc/$S1_PID/io")
hub_w=$(sed -n 's/^write_bytes: //p' "/proc/$HUB_PID/io")
echo "info: S001 (since start): $s1_w B written for $s1_ops ops logged ($n sales): $((s1_w / n)) B per sale, $((s1_w / s1_ops)) B per op;" \
	"WAL $(echo "$st" | jq '.disk.frames_written * (.disk.page_size + 24)') B"
echo "info: hub (since its restart): $hub_w B written; $hub_ops ops in its log;" \
	"WAL $(echo "$hst" | jq '.disk.frames_written * (.disk.page_size + 24)') B for $(echo "$hst" | jq .ops_received) ops received since restart"
check_match "status shows the database and WAL sizes" '"db_bytes":[1-9][0-9]*,"wal_bytes":[0-9]+,"wal_bound_bytes":8388608' "$st"
check_match "status shows checkpoints running in the background" '"checkpointer":"background","checkpoints":[1-9]' "$st"
check_match "status shows no disk warning" '"warnings":\[\]' "$st"
check "the checkpoints copied what was written" [ "$(echo "$st" | jq '.disk.frames_copied > 0')" = true ]
sites=$(http_get "$HUB_HTTP" /v1/sites)
check_match "the hub lists S001 connected with its disk" '"connected":true,"disk":\{"reported_ms":[0-9]+,"db_bytes":[1-9][0-9]*,"wal_bytes":[0-9]+,"free_bytes":[1-9][0-9]*,"problem":""\}' \
	"$(echo "$sites" | jq -c '.items[] | select(.site == "S001") | {connected, disk}')"

# Idle: the WAL is folded back and its space given back.
wal_empty() { [ "$(wal_size "$T/S001/node.db")" -eq 0 ] && [ "$(wal_size "$T/hub/hub.db")" -eq 0 ]; }
check "an idle WAL is truncated to nothing (S001 and hub)" eventually 25 wal_empty
# An idle node, linked to the hub (PING every 2 s): nothing reaches the
# disk for 30 s (the kernel's count of bytes written, fsyncs included),
# after a few seconds of settling (the first reads after the truncation
# may mark a page of SQLite's shared-memory index file, no fsync).
sleep 5
w0=$(sed -n 's/^write_bytes: //p' "/proc/$S1_PID/io")
sleep 30
w1=$(sed -n 's/^write_bytes: //p' "/proc/$S1_PID/io")
check_eq "an idle node writes nothing to disk in 30 s" "$w0" "$w1"

# A reader that holds an old snapshot open: the checkpointer cannot finish.
mkfifo "$T/reader.in"
sqlite3 "$T/S001/node.db" < "$T/reader.in" > /dev/null 2>&1 &
READER=$!
exec 7> "$T/reader.in"
echo "BEGIN; SELECT count(*) FROM op_log;" >&7
sleep 0.5
sold=$(post_sales "$S1" 100000 300)
check_eq "sales go on while the reader holds its snapshot" 300 "$sold"
warned() { http_get "$S1" /v1/status | jq -e '.disk.warnings | map(startswith("checkpoint")) | any' > /dev/null; }
check "status warns that the checkpointer makes no progress" eventually 20 warned
st=$(http_get "$S1" /v1/status)
check_match "and says why" 'checkpoint .*/S001/node.db: WAL [0-9]+ frames \([0-9]+ MB\), [0-9]+ copied for [0-9]+ s: a reader holds an older snapshot open$' \
	"$(echo "$st" | jq -r '.disk.warnings[0]')"
check_match "the node logs it" 'checkpoint .*/S001/node.db: WAL [0-9]+ frames .* a reader holds an older snapshot open' "$(cat "$T/S001.log")"
check_match "S001 raises a disk alert" '"kind":"disk","site":"S001","subject":"checkpoint"' "$(http_get "$S1" '/v1/alerts?kind=disk')"
hub_alerted() { http_get "$HUB_HTTP" '/v1/alerts?kind=disk' | grep -q '"kind":"disk","site":"S001","subject":"S001","message":"checkpoint '; }
check "head office sees S001's disk problem in its alerts" eventually 10 hub_alerted
check_match "bl-node status prints the WAL over its bound" '^warning        WAL of .*/S001/node.db is [0-9]+ MB, over its 8 MB bound$' \
	"$("$NODE" status --data "$T/S001")"
exec 7>&-
kill "$READER" 2>/dev/null
wait "$READER" 2>/dev/null
post_sales "$S1" 200000 5 > /dev/null
recovered() { http_get "$S1" /v1/status | jq -e '.disk.warnings == [] and .disk.wal_bytes < .disk.wal_bound_bytes' > /dev/null; }
check "with the reader gone the WAL is checkpointed and back under its bound" eventually 30 recovered
check_match "the node logs the recovery" 'checkpoint .*/S001/node.db: the WAL is checkpointed again' "$(cat "$T/S001.log")"
hub_clear() { ! http_get "$HUB_HTTP" '/v1/alerts?kind=disk' | grep -q '"site":"S001"'; }
check "and head office's alert goes away" eventually 10 hub_clear

# Retention at a store: S001 drops S002's ops, keeps its own.
curl -sS -o /dev/null -X POST "http://127.0.0.1:$S2/v1/customers" -d '{"name":"Li","points":50}'
cust_id=$(http_get "$S2" /v1/customers | jq -r '.items[] | select(.name == "Li") | .id')
curl -sS -o /dev/null -X PATCH "http://127.0.0.1:$S2/v1/customers/$cust_id" -d '{"points_delta":7}'
s1_has_points() { http_get "$S1" "/v1/customers/$cust_id" | grep -q '"points":57'; }
check "S001 has S002's customer with 57 points" eventually 15 s1_has_points
kill "$S1_PID"
wait "$S1_PID" 2>/dev/null
stock_before=$(node_stock S001)
echo "retain_days=0" >> "$T/S001/config"
out=$("$NODE" prune --data "$T/S001" 2>&1)
check_eq "with retain_days=0 (keep everything) prune without --days refuses" 1 "$?"
check_eq "and says so" "bl-node: prune: $T/S001/config: retain_days=0 keeps every op; give --days to prune" "$out"
check_eq "and dropped nothing" 0 "$(sqlite3 "$T/S001/node.db" "SELECT count(*) FROM op_seen")"
out=$("$NODE" prune --data "$T/S001" --days 0)
check_match "bl-node prune drops other sites' ops" '^dropped [1-9][0-9]* ops of other sites older than 0 days$' "$out"
check_eq "S001's own ops are all kept" "$(sqlite3 "$T/S001/node.db" "SELECT value FROM meta WHERE name = 'seq'")" \
	"$(sqlite3 "$T/S001/node.db" "SELECT count(*) FROM op_log WHERE origin = 'S001'")"
check_eq "S002's ops are gone at S001, their identities kept" "0 $((n + 2))" \
	"$(sqlite3 "$T/S001/node.db" "SELECT (SELECT count(*) FROM op_log WHERE origin = 'S002') || ' ' || (SELECT count(*) FROM op_seen WHERE origin = 'S002')")"
check_eq "the state they produced stays" "$stock_before" "$(node_stock S001)"
out=$("$NODE" prune --data "$T/S001" --days soon 2>&1)
check_eq "a bad --days is refused (exit 2)" 2 "$?"
check_eq "with a one-line reason" "bl-node: prune: --days 'soon': a whole number of days from 0 to 36500" "$out"
# As after a head office restore: pull the whole log again.
sqlite3 "$T/S001/node.db" "UPDATE meta SET value = 0 WHERE name = 'cursor'"
check "S001 pulls the whole log again" "$NODE" sync --data "$T/S001"
check_eq "a re-pulled op that was dropped counts nothing twice: stock" "$stock_before" "$(node_stock S001)"
check_match "nor points" '"points":57' "$("$NODE" customer show --data "$T/S001" "$cust_id" --json)"
check "S001 still records and pushes its own" "$NODE" move --data "$T/S001" --sku SKU1 --delta -1 --reason sale --id after-prune
check "and syncs" "$NODE" sync --data "$T/S001"
check_eq "the hub has it" 1 "$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM stock_movements WHERE id LIKE '%after-prune'")"
finish
