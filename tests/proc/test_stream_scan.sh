# A batch of OPS looks through a bounded stretch of the hub's log
# (hub/server.c, STREAM_SCAN), so that a store that sees few of the log's
# ops never holds the hub's loop for long: it is streamed them in batches
# that each end at the bound, full or not, and still gets exactly what it
# may see, nothing skipped or repeated at a bound. The bound is 3 lsns
# here (BL_TEST_STREAM_SCAN), so that every op sits at or next to one.
. "$(dirname "$0")/lib.sh"

# site SITE ROLE REGION: a node enrolled in a region.
site() {
	key=$("$NODE" init --data "$T/$1" --site "$1" --hub "tcp://127.0.0.1:$HUB_SYNC" \
		--hub-key "$HUB_KEY" --http 127.0.0.1:0)
	"$HUB" enroll --data "$T/hub" --site "$1" --role "$2" --key "$key" --region "$3" > /dev/null
}
count() { sqlite3 "$T/$1/node.db" "$2"; }
product() {
	curl -s -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/products/$1" -d "{\"name\":\"$1\"}"
}
receive() {   # SITE FROM TO: one receipt of each sku PFROM..PTO
	i=$2
	while [ "$i" -le "$3" ]; do
		"$NODE" stock receive --data "$T/$1" --sku "P$i" --qty 1 > /dev/null || echo "receive $1 P$i failed"
		i=$((i + 1))
	done
}
sync_all() {
	for s in "$@"; do "$NODE" sync --data "$T/$s" > /dev/null 2>&1 || echo "sync $s failed"; done
}

hub_init
BL_TEST_STREAM_SCAN=3 hub_start
check "the hub takes the test's bound" grep -q "scan 3 lsns (BL_TEST_STREAM_SCAN)" "$T/hub.log"
site N1 store north
site S1 store south
site W1 warehouse south
site HQ1 hq default
for p in P1 P2 P3 P4 P5; do product "$p"; done
receive N1 1 7
receive S1 1 4
receive W1 1 2
sync_all N1 S1 W1
for p in P6 P7 P8 P9; do product "$p"; done
receive N1 8 9
sync_all N1 S1 W1 N1 S1 W1 HQ1

check_eq "N1 holds the whole catalog" 9 "$(count N1 'SELECT count(*) FROM products')"
check_eq "S1 too" 9 "$(count S1 'SELECT count(*) FROM products')"
check_eq "N1 holds its movements and the warehouse's, no more" "N1:9 W1:2" \
	"$(count N1 "SELECT group_concat(site || ':' || n, ' ') FROM (SELECT site, count(*) n FROM stock_movements GROUP BY site ORDER BY site)")"
check_eq "S1 holds the south's, no more" "S1:4 W1:2" \
	"$(count S1 "SELECT group_concat(site || ':' || n, ' ') FROM (SELECT site, count(*) n FROM stock_movements GROUP BY site ORDER BY site)")"
check_eq "W1 the same" "S1:4 W1:2" \
	"$(count W1 "SELECT group_concat(site || ':' || n, ' ') FROM (SELECT site, count(*) n FROM stock_movements GROUP BY site ORDER BY site)")"
check_eq "HQ1 (head office) holds each op of the hub's log once" \
	"$(sqlite3 "$T/hub/hub.db" 'SELECT count(*) FROM op_log')" "$(count HQ1 'SELECT count(*) FROM op_log')"
head=$(sqlite3 "$T/hub/hub.db" 'SELECT max(lsn) FROM op_log')
check_eq "S1's cursor is the hub's head" "$head" "$(count S1 "SELECT value FROM meta WHERE name = 'cursor'")"
check_eq "N1's too" "$head" "$(count N1 "SELECT value FROM meta WHERE name = 'cursor'")"
check "S1 says it is caught up" sh -c "\"$NODE\" sync --data \"$T/S1\" > /dev/null 2>&1"

finish
