# Readers that ask for everything and never read: twenty of them, one after
# another, with one site's real key (each replaces the one before, as the
# hub keeps one live session per site). What they pin in the hub's memory
# stays within the documented bound: at most 8 OPS batches of 256 kB per
# connection (hub/server.c), 40 MB for twenty. The hub goes on serving.
. "$(dirname "$0")/lib.sh"
POKE="$BL_BIN/tests/tools/blpoke"
export BL_HUB_DB="$T/hub/hub.db"

hub_init
# The sanitizer keeps freed memory aside; keep that small so the figure
# is the hub's own.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4" hub_start
node_init S001
node_init S002
i=1
while [ $i -le 20000 ]; do
	echo "{\"id\":\"m-$i\",\"sku\":\"TEA\",\"delta\":1,\"reason\":\"receipt\"}"
	i=$((i + 1))
done > "$T/bulk.jsonl"
"$NODE" import --data "$T/S001" --file "$T/bulk.jsonl" > /dev/null
check "S001 pushes 20,000 movements (about 4 MB of log)" "$NODE" sync --data "$T/S001" --timeout 60
rss() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$HUB_PID/status"; }
sleep 1
before=$(rss)
i=1
STALLS=""
while [ $i -le 20 ]; do
	"$POKE" "$T/S002" stall > "$T/stall-$i.out" 2>&1 &
	STALLS="$STALLS $!"
	j=0
	while ! grep -q PULLED "$T/stall-$i.out" 2>/dev/null && [ $j -lt 50 ]; do
		sleep 0.1; j=$((j + 1))
	done
	i=$((i + 1))
done
sleep 3
after=$(rss)
echo "hub RSS: $before MB before, $after MB with 20 stalled readers (+$((after - before)) MB)"
check "twenty stalled readers raise the hub's memory by at most 40 MB (+$((after - before)) MB)" \
	test $((after - before)) -le 40
check "the hub still serves" "$NODE" sync --data "$T/S001" --timeout 20
kill $STALLS 2>/dev/null
wait $STALLS 2>/dev/null
finish
