# The head office console in a real browser: a hub with three sites in two
# regions, sales in two currencies, a negative and a low stock, an invoice
# on account, a case, a site that disconnected and one gone silent. Every
# page is loaded in headless Chromium (Debian's chromium, which make deps
# installs) and its rendered DOM checked against what the API answers
# (tests/proc/console_dom.py): charts hold the API's figures and painted,
# tables show them, money in major units with its currency. Then the
# language: chosen by the browser's, switched by the header's link and
# remembered; a phone-sized screen; the page refreshing itself.
# Screenshots of every page go to build/test-logs/console/ (kept).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domain.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
SHOTS=${BL_SHOTS:-$top/build/test-logs/console}
mkdir -p "$SHOTS" "$T/api" "$T/dom"
CHECK_DOM="$top/tests/proc/console_dom.py"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)

# enroll_in SITE ROLE REGION: creates $T/SITE and enrolls it in REGION.
enroll_in() {
	key=$("$NODE" init --data "$T/$1" --site "$1" --hub "tcp://127.0.0.1:$HUB_SYNC" \
		--hub-key "$HUB_KEY" --http 127.0.0.1:0) &&
		"$HUB" enroll --data "$T/hub" --site "$1" --role "$2" --region "$3" \
			--key "$key" > /dev/null
}

# browse NAME URL [FLAGS...]: the DOM Chromium renders of URL into
# $T/dom/NAME.html, with a screenshot as $SHOTS/NAME.png. Each run has a
# profile of its own, or PROFILE's (what the page remembers).
browse() {
	local name=$1 target=$2
	shift 2
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-dev-shm-usage --hide-scrollbars --no-first-run \
		--user-data-dir="$T/profile-${PROFILE:-$name}" \
		--accept-lang="${ACCEPT:-en-US}" --window-size="${SIZE:-1280,1000}" \
		--virtual-time-budget="${BUDGET:-8000}" \
		--screenshot="$SHOTS/$name.png" --dump-dom "$@" "$target" \
		> "$T/dom/$name.html" 2>> "$T/chromium.log"
}

# page_check CHECK NAME [LANG] [ARG]: console_dom.py's lines as checks.
page_check() {
	out=$(python3 "$CHECK_DOM" "$1" "$T/dom/$2.html" "$T/api" "${3:-en}" "${4:-}")
	rc=$?
	[ $rc -eq 0 ] && [ -n "$out" ] || fail "$2: the DOM checker ran (exit $rc)"
	while IFS= read -r line; do
		case $line in
		ok\ *) pass "$2: ${line#ok }" ;;
		FAIL\ *) fail "$2: ${line#FAIL }" ;;
		esac
	done << EOF
$out
EOF
}

# api NAME PATH: the hub's answer to GET PATH into $T/api/NAME.json.
api() { curl -sS --max-time 5 "http://127.0.0.1:$HUB_HTTP$2" > "$T/api/$1.json"; }

# dom_attr NAME ID ATTR: an attribute of the element with id ID.
dom_attr() {
	python3 - "$T/dom/$1.html" "$2" "$3" << 'EOF'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<[a-z]+ [^>]*id="%s"[^>]*>' % re.escape(sys.argv[2]), dom)
a = re.search(r'%s="([^"]*)"' % re.escape(sys.argv[3]), m.group(0)) if m else None
print(a.group(1) if a else "")
EOF
}

check "chromium is installed (make deps installs it)" test -n "$CHROMIUM"
[ -n "$CHROMIUM" ] || { finish; exit 1; }

hub_init
echo "silent_after_s=5" >> "$T/hub/config"
hub_start
enroll_in S001 store north
enroll_in S002 store south
enroll_in W001 warehouse north
call PUT hub /v1/products/TEA '{"name":"Green tea, \"Dragon Well\" 龙井"}'
call PUT hub /v1/products/BOX '{"name":"Carton, gift box"}'
call PUT hub /v1/products/CUP '{"name":"Tea cup 茶杯"}'
call PUT hub /v1/safety-stock/S001/TEA '{"qty":5}'
check_eq "head office sets S001's safety stock of TEA" 200 "$CODE"
for s in S001 S002 W001; do
	check "$s pulls the catalog" "$NODE" sync --data "$T/$s" --timeout 5
done
site_up S001 S002
call POST S001 /v1/stock/movements '{"sku":"TEA","delta":10,"reason":"receipt"}'
call POST S001 /v1/customers '{"id":"S001-C1","name":"王小明, \"Ming\"","tier":"wholesale","credit_limit":10000000000,"currency":"CNY"}'
check_eq "S001 adds a customer with a comma and quotes in the name" 201 "$CODE"
call POST S001 /v1/orders '{"id":"S001-O1","channel":"store","customer":"S001-C1","currency":"CNY","status":"confirmed","lines":[{"sku":"TEA","qty":7,"unit_price":1250}],"payments":[{"method":"card","amount":5000}]}'
check_eq "S001 sells 7 TEA, paid 50.00 of 87.50" 201 "$CODE"
call POST S001 /v1/orders '{"id":"S001-O3","channel":"b2b","fulfil_site":"S001","customer":"S001-C1","currency":"CNY","on_account":true,"status":"confirmed","lines":[{"sku":"BOX","qty":30,"unit_price":4115226}]}'
check_eq "S001 sells 1,234,567.80 CNY of boxes on account" 201 "$CODE"
call POST S001 /v1/cases '{"id":"S001-K1","kind":"complaint","order":"S001-O1","description":"leaky lid, 漏水"}'
check_eq "S001 opens a case on its sale" 201 "$CODE"
call POST S002 /v1/orders '{"id":"S002-O2","channel":"b2b","fulfil_site":"S002","customer":"S001-C1","currency":"CNY","on_account":true,"status":"confirmed","lines":[{"sku":"BOX","qty":3,"unit_price":9900}]}'
check_eq "S002 sells on account" 201 "$CODE"
call POST S002 /v1/invoices '{"order":"S002-O2","due_days":0}'
check_eq "S002 invoices it, due at once" 201 "$CODE"
call POST S002 /v1/orders '{"id":"S002-O4","channel":"store","currency":"JPY","status":"confirmed","lines":[{"sku":"TEA","qty":2,"unit_price":750}]}'
check_eq "S002 sells 2 TEA in yen it does not hold (negative stock)" 201 "$CODE"

orders_at_hub() { [ "$(jqr "$(get hub /v1/orders)" '.items|length')" = 4 ]; }
check "the hub has the four orders" eventually 15 orders_at_hub
# Special prices (approval.h): one waiting for head office, one rejected.
call PUT hub /v1/prices/retail/CUP '{"amount":2000,"currency":"CNY"}'
call PUT hub /v1/approval/threshold '{"percent":20}'
check_eq "head office allows 20% off without approval" 200 "$CODE"
s001_has_threshold() { [ "$(jqr "$(get S001 /v1/approval/threshold)" '.items|length')" = 1 ] &&
	[ "$(jqr "$(get S001 /v1/products/CUP)" '.prices.items|length')" = 1 ]; }
check "S001 has the threshold and CUP's price" eventually 15 s001_has_threshold
call POST S001 /v1/orders '{"id":"S001-O5","channel":"store","currency":"CNY","status":"confirmed","lines":[{"sku":"CUP","qty":1,"unit_price":1500}]}'
check_eq "S001 sells a CUP 25% off: it waits for head office" "201 pending_approval" "$CODE $(jqr "$BODY" .status)"
call POST S001 /v1/orders '{"id":"S001-O6","channel":"store","currency":"CNY","status":"confirmed","lines":[{"sku":"CUP","qty":2,"unit_price":1000}]}'
check_eq "and two at half price" "201 pending_approval" "$CODE $(jqr "$BODY" .status)"
approvals_at_hub() { [ "$(jqr "$(get hub /v1/approvals)" '.items|length')" = 2 ]; }
check "the hub has both approvals to decide" eventually 15 approvals_at_hub
call POST hub /v1/approvals/S001-O6/decision '{"approve":false,"comment":"half price, 半价"}'
check_eq "head office rejects the half price" "200 rejected" "$CODE $(jqr "$BODY" .status)"
site_down S002
s002_down() { [ "$(jqr "$(get hub /v1/sites/sync)" '[.items[]|select(.site=="S002")|.link]|join("")')" = down ]; }
check "S002 stopped: its link is down at the hub" eventually 15 s002_down
silent() { [ "$(jqr "$(get hub /v1/sites/sync)" '[.items[]|select(.silent)|.site]|join(" ")')" = "S002 W001" ]; }
check "W001, heard from by no PING, and S002, stopped, are silent after 5 s" eventually 20 silent

# On loopback without a token the console asks no login, as the API; a
# page of another site still cannot write through the browser, nor a name
# other than loopback reach it (DNS rebinding).
call GET hub /console/session
check_eq "no login on loopback" "200 false manager" "$CODE $(jqr "$BODY" '"\(.login) \(.role)"')"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Origin: http://evil.example' \
	-d '{"name":"x"}' "http://127.0.0.1:$HUB_HTTP/v1/products/TEA")
check_eq "a write from a page of another site: 403" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "http://127.0.0.1:$HUB_HTTP/v1/status")
check_eq "a request for another host name: 403" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Origin: http://127.0.0.1:$HUB_HTTP" \
	-d '{"qty":5}' "http://127.0.0.1:$HUB_HTTP/v1/safety-stock/S001/TEA")
check_eq "the console's own write: 200" 200 "$code"

today=$(date -u +%F)
from=$(date -u -d '29 days ago' +%F)
api sales_today_site "/v1/reports/sales?group=site&from=$today&to=$today"
api sales_site "/v1/reports/sales?group=site&from=$from&to=$today"
api sales_day "/v1/reports/sales?group=day&from=$from&to=$today"
api sales_sku "/v1/reports/sales?group=sku&from=$from&to=$today"
api products /v1/products
api stock /v1/stock
api alerts /v1/alerts
api report_stock /v1/reports/stock
api sites /v1/sites
api orders /v1/orders
api order /v1/orders/S001-O1
api order_payments "/v1/payments?order=S001-O1"
api cases /v1/cases
api customers /v1/customers
api receivables /v1/reports/receivables
api approvals /v1/approvals
api sites_sync /v1/sites/sync
check_eq "the data has two currencies" "CNY JPY" "$(jq -r '[.items[].currency]|unique|join(" ")' "$T/api/sales_site.json")"
check_eq "and a negative and a low stock" "low negative" \
	"$(jq -r '[.items[]|if .available < 0 then "negative" elif .available < (.safety_stock // -1) then "low" else empty end]|sort|join(" ")' "$T/api/report_stock.json")"

# ---- every page, in English; the language; a phone ----
# Chromium runs two or three at a time (each in its own profile), the
# checks after.
url="http://127.0.0.1:$HUB_HTTP/"
# together NAME URL [NAME URL...]: browse them at once, and wait for them.
together() {
	local pids=""
	while [ $# -ge 2 ]; do
		browse "$1" "$2" &
		pids="$pids $!"
		shift 2
	done
	wait $pids
}
together overview "$url#/overview" stock "$url#/stock" \
	stock-north "$url#/stock?region=north"
together orders "$url#/orders" order "$url#/orders/S001-O1" \
	customers "$url#/customers" approvals "$url#/approvals"
# The sync page for 70 s of its own time: it redraws itself every 30 s.
BUDGET=70000 together receivables "$url#/receivables" sync "$url#/sync"
page_check overview overview
page_check stock stock
page_check stock stock-north en north
page_check orders orders
page_check order order
page_check customers customers
page_check approvals approvals
page_check receivables receivables
page_check sync sync

refreshes=$(dom_attr sync page data-refreshes)
check "the page redrew itself twice in 70 s (every 30 s): $refreshes" test "${refreshes:-0}" -ge 2

# A browser asking for Chinese gets Chinese: on a phone-sized screen, the
# page no wider than the screen; on a desk's, the same figures.
PROFILE=zh ACCEPT=zh-CN,zh browse overview-zh "$url#/overview" &
p1=$!
PROFILE=phone ACCEPT=zh-CN,zh SIZE=390,844 browse phone-overview "$url#/overview" &
wait $p1 $!
page_check overview overview-zh zh
page_check overview phone-overview zh
check_eq "on a phone the page is no wider than the screen" no \
	"$(grep -o '<body [^>]*data-overflow="[a-z]*"' "$T/dom/phone-overview.html" | sed 's/.*data-overflow="//; s/"//')"

# The switch on an English page is a link; following it gives Chinese,
# and the choice is remembered over the browser's language.
switch=$(dom_attr sync lang-switch href)
check_match "the English page's switch leads to Chinese" '^\?lang=zh#/sync$' "$switch"
PROFILE=switch browse sync-zh "$url$switch"
page_check sync sync-zh zh
PROFILE=switch browse receivables-zh "$url#/receivables"
page_check receivables receivables-zh zh
switch=$(dom_attr receivables-zh lang-switch href)
check_match "the Chinese page's switch leads back to English" '^\?lang=en#/receivables$' "$switch"
PROFILE=switch browse receivables-en "$url$switch"
page_check receivables receivables-en en

for p in overview stock orders order approvals customers receivables sync overview-zh phone-overview; do
	check "screenshot of $p" test -s "$SHOTS/$p.png"
done
echo "screenshots in $SHOTS"
finish
