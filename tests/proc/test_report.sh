# bl-hub report sales|stock|receivables|alerts|sites on known data: the
# figures of the API's reports, names in Chinese intact, money in major
# units of each currency; CSV that RFC 4180 and python's csv module read
# back exactly (quotes, commas, CRLF, UTF-8, a BOM only with --bom); the
# table lined up for a terminal, Chinese taking two columns; alerts and
# sites asked of the running hub, and from the database without one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

hub_init
hub_start
node_init S001
node_init S002
call PUT hub /v1/products/TEA '{"name":"Green tea, \"Dragon Well\" 龙井"}'
call PUT hub /v1/products/BOX '{"name":"Carton, gift box"}'
call PUT hub /v1/safety-stock/S001/TEA '{"qty":5}'
check_eq "the catalog is set" 200 "$CODE"
for s in S001 S002; do check "$s pulls the catalog" "$NODE" sync --data "$T/$s" --timeout 5; done
cli stock receive --data "$T/S001" --sku TEA --qty 10
cli customer add --data "$T/S001" --id S001-C1 --name '王小明, "Ming"' --tier wholesale --credit-limit 100000000 --currency CNY
check_eq "a customer with a comma and quotes in the name" 0 "$RC"
cli order create --data "$T/S001" --id S001-O1 --channel store --currency CNY --line TEA:7:1250 --status confirmed
cli order create --data "$T/S001" --id S001-O2 --channel b2b --fulfil-site S001 --currency CNY --customer S001-C1 --on-account yes --line BOX:2:123450 --status confirmed
cli invoice issue --data "$T/S001" --order S001-O2 --due-days 0
check_eq "S001 sells and invoices" 0 "$RC"
cli order create --data "$T/S002" --id S002-O3 --channel store --currency JPY --line TEA:2:750 --status confirmed
cli order create --data "$T/S002" --id S002-O4 --channel store --currency CNY --line BOX:1:100
check_eq "S002 sells in yen and keeps a draft" 0 "$RC"
for s in S001 S002; do check "$s pushes" "$NODE" sync --data "$T/$s" --timeout 5; done

# report ARGS...: bl-hub report ARGS; OUT (stdout, also $T/out), ERR, RC.
report() {
	"$HUB" report "$@" > "$T/out" 2> "$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	cat "$T/err" >> "$T/cli.log"
}

# ---- sales as CSV, byte for byte ----
report sales --data "$T/hub" --group sku --format csv
check_eq "report sales --group sku --format csv" 0 "$RC"
printf 'sku,name,currency,orders,qty,total\r\nBOX,"Carton, gift box",CNY,1,2,2469.00\r\nTEA,"Green tea, ""Dragon Well"" 龙井",CNY,1,7,87.50\r\nTEA,"Green tea, ""Dragon Well"" 龙井",JPY,1,2,1500\r\n' > "$T/want.csv"
check "is exactly the RFC 4180 text (quotes doubled, CRLF, yen without minor units)" cmp -s "$T/want.csv" "$T/out"
# csv_rows FILE [ENCODING]: the rows python's csv module reads, as JSON.
csv_rows() {
	python3 -c 'import csv, json, sys
with open(sys.argv[1], newline="", encoding=sys.argv[2]) as f:
    print(json.dumps(list(csv.reader(f)), ensure_ascii=False))' "$1" "${2:-utf-8}"
}
check_eq "python's csv reads back every field exactly" \
	'[["sku", "name", "currency", "orders", "qty", "total"], ["BOX", "Carton, gift box", "CNY", "1", "2", "2469.00"], ["TEA", "Green tea, \"Dragon Well\" 龙井", "CNY", "1", "7", "87.50"], ["TEA", "Green tea, \"Dragon Well\" 龙井", "JPY", "1", "2", "1500"]]' \
	"$(csv_rows "$T/out")"
api_totals=$(curl -s "http://127.0.0.1:$HUB_HTTP/v1/reports/sales?group=sku" | jq -c '[.items[]|[.sku, .currency, .total]]')
check_eq "the same figures as GET /v1/reports/sales, in minor units" '[["BOX","CNY",246900],["TEA","CNY",8750],["TEA","JPY",1500]]' "$api_totals"
check "no byte order mark without --bom" sh -c "[ \"\$(head -c 3 '$T/out' | od -An -tx1 | tr -d ' ')\" != efbbbf ]"

report sales --data "$T/hub" --group customer --format csv --bom
check_eq "with --bom the file starts with EF BB BF (for Excel)" efbbbf "$(head -c 3 "$T/out" | od -An -tx1 | tr -d ' ')"
check_eq "and reads back, names in Chinese intact, with utf-8-sig" \
	'[["customer", "name", "currency", "orders", "qty", "total"], ["(walk-in)", "", "CNY", "1", "7", "87.50"], ["(walk-in)", "", "JPY", "1", "2", "1500"], ["S001-C1", "王小明, \"Ming\"", "CNY", "1", "2", "2469.00"]]' \
	"$(csv_rows "$T/out" utf-8-sig)"

report sales --data "$T/hub" --group site --format json
check_eq "--format json is the API's answer, with names" '[["S001","S001",2,255650],["S002","S002",1,1500]]' \
	"$(jqr "$OUT" '[.items[]|[.site, .name, .orders, .total]]|tojson')"
tomorrow=$(date -u -d tomorrow +%F)
report sales --data "$T/hub" --from "$tomorrow" --format csv
check_eq "--from tomorrow: only the header" "site,name,currency,orders,qty,total" "$(printf '%s' "$OUT" | tr -d '\r')"
today=$(date -u +%F)
report sales --data "$T/hub" --from "$today" --to "$today" --group day --format csv
check_eq "--from/--to today, by day" "day,currency,orders,qty,total|$today,CNY,2,9,2556.50|$today,JPY,1,2,1500" \
	"$(printf '%s' "$OUT" | tr -d '\r' | tr '\n' '|')"

# ---- the table, lined up ----
report sales --data "$T/hub" --group sku
check_eq "report sales as a table" 0 "$RC"
check_eq "its columns line up on a terminal (Chinese two columns wide)" "ok" "$(python3 -c '
import sys, unicodedata
def width(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
starts = set()
for l in lines:
    i = l.index("CNY") if "CNY" in l else l.index("JPY") if "JPY" in l else l.index("currency")
    starts.add(width(l[:i]))
print("ok" if len(starts) == 1 and len(lines) == 4 else "columns at %s in %d lines" % (sorted(starts), len(lines)))
' "$T/out")"
check_match "money in major units" 'BOX +Carton, gift box +CNY +1 +2 +2469\.00' "$OUT"

# ---- stock, receivables ----
report stock --data "$T/hub" --format csv
check_eq "report stock --format csv: state from safety stock and on hand" \
	'[["site", "region", "sku", "name", "on_hand", "reserved", "available", "safety_stock", "state"], ["S001", "default", "TEA", "Green tea, \"Dragon Well\" 龙井", "3", "0", "3", "5", "low"], ["S002", "default", "TEA", "Green tea, \"Dragon Well\" 龙井", "-2", "0", "-2", "", "negative"]]' \
	"$(csv_rows "$T/out")"
report receivables --data "$T/hub" --format csv
check_eq "report receivables --format csv" \
	'[["invoice", "order", "site", "currency", "amount", "age_days", "bucket", "overdue"], ["S001-INV-000001", "S001-O2", "S001", "CNY", "2469.00", "0", "0-30", "yes"]]' \
	"$(csv_rows "$T/out")"
report receivables --data "$T/hub"
check_match "the table ends with the totals per bucket" 'total CNY:  0-30 2469\.00  31-60 0\.00  61-90 0\.00  90\+ 0\.00' "$OUT"

# ---- alerts and sites: the running hub's, then the database's ----
report alerts --data "$T/hub" --format csv
check_eq "report alerts beside the running hub" 0 "$RC"
check_eq "its alerts: low and negative stock, an invoice due at once" \
	"low_stock:S001:TEA negative_stock:S002:TEA overdue_receivable:S001:S001-INV-000001" \
	"$(csv_rows "$T/out" | jq -r '[.[1:][]|"\(.[1]):\(.[2]):\(.[3])"]|sort|join(" ")')"
report sites --data "$T/hub" --format json
check_eq "report sites beside the running hub: their links (each synced once)" "HQ:self S001:down S002:down" \
	"$(jqr "$OUT" '[.items[]|"\(.site):\(.link)"]|join(" ")')"
check_eq "what each pushed, as the hub holds it" "S001:6 S002:3" \
	"$(jqr "$OUT" '[.items[]|select(.role=="store")|"\(.site):\(.ops_held)"]|join(" ")')"
hub_stop
report sites --data "$T/hub" --format csv
check_eq "without the hub running, sites from the database: link unknown" "HQ:self S001:unknown S002:unknown" \
	"$(csv_rows "$T/out" | jq -r '[.[1:][]|"\(.[0]):\(.[4])"]|join(" ")')"
report alerts --data "$T/hub" --format csv
check_eq "alerts from the database say what they lack" \
	"0 bl-hub: report alerts: the hub is not running here: without the sites' silences, disks and twins" "$RC $ERR"

# ---- bad usage ----
report sales --data "$T/hub" --from 2026-13-01
check_eq "a bad day is bad usage" "2 bl-hub: report sales: from: '2026-13-01' is not a YYYY-MM-DD day" "$RC $ERR"
report sales --data "$T/hub" --group region
check_eq "a bad group" "2 bl-hub: report sales: group: 'region' is not one of site, sku, customer, day" "$RC $ERR"
report stock --data "$T/hub" --group site
check_eq "--group is for sales" "2 bl-hub: report stock: --group, --from and --to are for report sales" "$RC $ERR"
report stock --data "$T/hub" --format xml
check_eq "a bad format" "2 bl-hub: report stock: --format 'xml': must be table, json or csv" "$RC $ERR"
report stock --data "$T/hub" --bom
check_eq "--bom without csv" "2 bl-hub: report stock: --bom is for --format csv" "$RC $ERR"
report stock --data "$T/nowhere"
check_eq "no hub there" "1 bl-hub: report stock: $T/nowhere: no hub here (run bl-hub init)" "$RC $ERR"
finish
