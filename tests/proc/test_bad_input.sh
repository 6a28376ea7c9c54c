# Bad input from a till (HTTP) or the network (the sync socket) gets a clear
# error, changes nothing, and never takes a daemon down.
. "$(dirname "$0")/lib.sh"
POKE="$BL_BIN/tests/tools/blpoke"
# blpoke signs its pushes over the chain the hub holds of the site, as the
# site itself knows it from what it pushed.

hub_init
export BL_HUB_DB="$T/hub/hub.db"
hub_start
node_init S001
node_init S002
node_start S001
P=$NODE_HTTP
http_post "$P" /v1/stock/movements '{"id":"ok-1","sku":"TEA","delta":5,"reason":"receipt"}' > /dev/null
before=$(http_get "$P" /v1/stock)

# expect_400 BODY MESSAGE: the answer is 400 with exactly that message.
expect_error() {
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$P/v1/stock/movements" -d "$2")
	check_eq "$1: status" "$3" "$code"
	check_eq "$1: message" "$4" "$(jq -r .error.message "$T/body")"
}
expect_error "invalid JSON" '{"sku":' 400 "body: invalid JSON at line 1: unexpected token near end of file"
expect_error "not an object" '[1,2]' 400 "body: must be a JSON object"
expect_error "missing sku" '{"delta":1,"reason":"receipt"}' 400 "sku: missing"
expect_error "sku not a string" '{"sku":7,"delta":1,"reason":"receipt"}' 400 "sku: must be a string"
expect_error "delta missing" '{"sku":"TEA","reason":"receipt"}' 400 "delta: missing"
expect_error "delta a string" '{"sku":"TEA","delta":"5","reason":"receipt"}' 400 "delta: must be an integer"
expect_error "delta a float" '{"sku":"TEA","delta":1.5,"reason":"receipt"}' 400 "delta: must be an integer"
expect_error "delta zero" '{"sku":"TEA","delta":0,"reason":"receipt"}' 400 "delta: must be non-zero and within ±1000000000"
expect_error "a sale adding stock" '{"sku":"TEA","delta":3,"reason":"sale"}' 400 "delta: a sale must be negative"
expect_error "unknown reason" '{"sku":"TEA","delta":3,"reason":"gift"}' 400 "reason: 'gift' is not one of receipt, sale, return, adjustment, transfer_out, transfer_in, count"
expect_error "bad site id" '{"site":"no such site!","sku":"TEA","delta":3,"reason":"receipt"}' 400 "site: 'no such site!' is not a site id"
expect_error "id reused for another movement" '{"id":"ok-1","sku":"TEA","delta":6,"reason":"receipt"}' 409 "stock movement S001-ok-1: id already used for a different movement"
check_eq "unknown path is 404" "404" "$(http_code "$P" GET /v1/nothing)"
check_eq "wrong method is 405" "405" "$(http_code "$P" DELETE /v1/stock)"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$P/v1/products/%FF")
check_eq "a path that is not UTF-8: 400" "400 path: segment 1 is not UTF-8 text" "$code $(jq -r .error.message "$T/body")"
long=$(printf 'a%.0s' $(seq 100); printf '%%C3%%A9%.0s' $(seq 200))
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$P/v1/orders?status=$long")
check_eq "an error quoting text cut mid-character still answers 400" "400" "$code"
check_match "with a message" "^status: 'a+" "$(jq -r .error.message "$T/body")"
check_eq "nothing changed" "$before" "$(http_get "$P" /v1/stock)"
check_match "the node is still serving" '"site":"S001"' "$(http_get "$P" /v1/status)"

# The network: raw bytes at the ZeroMQ port, then misbehaving CURVE peers.
exec 3<> "/dev/tcp/127.0.0.1/$HUB_SYNC" && printf '\377\377\377garbage that is not ZMTP\n' >&3 && exec 3>&-
check_eq "garbage CBOR" "ERROR 400 proto: cbor: indefinite length at byte 0" "$("$POKE" "$T/S002" garbage)"
# (The offset moves with the HELLO's fields: a schema version of 24 or more
# takes two bytes.)
check_eq "a truncated HELLO" "ERROR 400 proto: HELLO: cbor: truncated at byte 29" "$("$POKE" "$T/S002" truncated)"
check_eq "a 2^36-element array header" "ERROR 400 proto: cbor: array of 68719476736 items at byte 0 exceeds the 0 bytes left" "$("$POKE" "$T/S002" huge-count)"
check_eq "PUSH before HELLO" "ERROR 400 send HELLO first" "$("$POKE" "$T/S002" push-first)"
check_match "an older schema is told to upgrade the node" "^ERROR 426 hello: node protocol ([0-9]+) schema [0-9]+, hub protocol \1 schema [0-9]+: upgrade the node$" "$("$POKE" "$T/S002" old-node)"
check_eq "claiming another site" "ERROR 403 hello: site S999 claimed, but this key is enrolled as S002" "$("$POKE" "$T/S002" other-site)"
check_match "giving head office an op of its own it did not sign" \
	"^ERROR 403 relay: ops HQ/[0-9]+-[0-9]+: the signature does not match them \(altered on the way, or not signed by HQ's key\)$" \
	"$("$POKE" "$T/S002" relay-forged)"
check_eq "and it is not taken" "404" "$(http_code "$HUB_HTTP" GET /v1/products/FORGED)"
check_eq "giving head office another site's op as its own" \
	"ERROR 403 relay: op S999/1: not an op of this hub's own (HQ)" "$("$POKE" "$T/S002" relay-other)"
check_eq "comparing another site's ops" \
	"ERROR 403 digest: S001: anti-entropy covers only a site's own ops" "$("$POKE" "$T/S002" digest-other)"
check_eq "fetching another site's op" \
	"ERROR 403 fetch: S001: anti-entropy covers only a site's own ops" "$("$POKE" "$T/S002" fetch-other)"
# A backfill (proto.h) only of what the site may see now: not another
# site's order, not another region's stock.
curl -s -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/products/TEA" -d '{"name":"Tea"}'
check_eq "head office records an order of its own" "HQ-BF-1" \
	"$(http_post "$HUB_HTTP" /v1/orders '{"id":"BF-1","channel":"store","currency":"CNY","lines":[{"sku":"TEA","qty":1,"unit_price":100}]}' | jq -r .id)"
check_eq "a backfill of another site's order" \
	"ERROR 403 backfill: order:HQ-BF-1: site S002 may not see this order" "$("$POKE" "$T/S002" backfill=order:HQ-BF-1)"
check_eq "a backfill of another region's stock" \
	"ERROR 403 backfill: region:east: site S002 is in region default" "$("$POKE" "$T/S002" backfill=region:east)"
check_eq "a backfill of its own region's stock is answered" "BACKFILL_OPS" "$("$POKE" "$T/S002" backfill=region:default)"
check_eq "a backfill key of another kind" \
	"ERROR 400 proto: BACKFILL: key is not order:ID, region:NAME or site:ID" "$("$POKE" "$T/S002" backfill=customer:C1)"
check_eq "a site's stock, of a site of its region, is answered" "BACKFILL_OPS" "$("$POKE" "$T/S002" backfill=site:S001)"
check_eq "of a site not enrolled" \
	"ERROR 403 backfill: site:S999: no such site" "$("$POKE" "$T/S002" backfill=site:S999)"
check_eq "a site key that is not a site id" \
	"ERROR 400 proto: BACKFILL: key is not order:ID, region:NAME or site:ID" "$("$POKE" "$T/S002" backfill=site:S-1)"
check_eq "nor one without the id" \
	"ERROR 400 proto: BACKFILL: key is not order:ID, region:NAME or site:ID" "$("$POKE" "$T/S002" backfill=site:)"
# Floods of BACKFILLs: those over the pace are answered 503, those asking
# for what the site may not see 403; each kind is logged once, then, once
# they stopped, how many more, in one line: not a line each.
n403=$(grep -c "site S002: 403 backfill: region:east" "$T/hub.log")
out=$("$POKE" "$T/S002" backfills=600:region:default)
check_match "600 BACKFILLs at once: most refused 503" "^BACKFILL_OPS [0-9]+, ERROR 503 [0-9]{3}, other 0$" "$out"
refused=$(echo "$out" | sed 's/.*ERROR 503 \([0-9]*\),.*/\1/')
check_eq "the hub logs the first refusal" \
	"site S002: 503 backfill: more than 64 at once: one more every 10 ms (more such refusals: a line every 10 s)" \
	"$(grep -o "site S002: 503 backfill: .*" "$T/hub.log")"
out=$("$POKE" "$T/S002" backfills=300:region:east)
check_match "300 BACKFILLs of another region's stock: refused 403 (other), or 503" "^BACKFILL_OPS 0, ERROR 503 [0-9]+, other [0-9]+$" "$out"
forbidden=$(echo "$out" | sed 's/.*other \([0-9]*\)$/\1/')
check "once they stopped, how many more 503s, in one line" eventually 20 \
	grep -q "site S002: 503 backfill: more than 64 at once: one more every 10 ms: $((refused - 1)) more refused in [0-9]* s$" "$T/hub.log"
check "and 403s" eventually 20 \
	grep -q "site S002: 403 backfill: region:east: site S002 is in region default: $((forbidden - 1)) more refused in [0-9]* s$" "$T/hub.log"
check_eq "two lines for $forbidden refusals 403" $((n403 + 2)) "$(grep -c "site S002: 403 backfill: region:east" "$T/hub.log")"
check "four lines for $refused refusals 503 and those of the second flood" eventually 5 \
	sh -c "[ \"\$(grep -c 'site S002: 503 backfill' '$T/hub.log')\" = 4 ]"
check_eq "pushing another site's op" "ERROR 403 push: op S999/1: origin is not the authenticated site S002" "$("$POKE" "$T/S002" forged-origin)"
check_eq "a gap in seq" "ERROR 409 push: op S002/1000: gap, the hub holds up to 0" "$("$POKE" "$T/S002" gap)"
check_eq "a malformed op in a batch" "ERROR 400 proto: PUSH op 0: op: 3 elements at byte 0, expected 7" "$("$POKE" "$T/S002" bad-op)"
check_eq "an op an hour ahead is acknowledged" "PUSH_ACK" "$("$POKE" "$T/S002" far-future)"
check_match "and quarantined with its reason" "^apply op S002/1: clock 3[56][0-9]{5} ms ahead \(max 300000 ms\)$" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT reason FROM quarantine WHERE origin = 'S002'")"
check_eq "not applied" "404" "$(http_code "$HUB_HTTP" GET /v1/customers/FUTURE-1)"
check_match "bl-hub quarantine list shows it with its reason" \
	"^S002/1 [0-9-]+ [0-9:]+ UTC: apply op S002/1: clock 3[56][0-9]{5} ms ahead \(max 300000 ms\)\$" \
	"$("$HUB" quarantine list --data "$T/hub" --origin S002 | head -n 1)"
check_eq "a retry before its time keeps it" "retried 1: 0 applied, 1 still quarantined" \
	"$("$HUB" quarantine retry --data "$T/hub" --origin S002 --seq 1)"
check_eq "an unknown verb is a usage error" "2" \
	"$("$HUB" quarantine purge --data "$T/hub" > /dev/null 2>&1; echo $?)"
check_eq "a store's quarantine is empty" "0 quarantined" "$("$NODE" quarantine list --data "$T/S002")"
check_eq "a replayed batch is acknowledged again" "PUSH_ACK" "$("$POKE" "$T/S002" replay)"
check_eq "and held once: two ops, on hand 2" "2 2" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'S002'") $(http_get "$HUB_HTTP" '/v1/stock?site=S002&sku=POKE' | jq '.items[0].on_hand')"
check_eq "another op under a held seq is refused" \
	"ERROR 409 push: op S002/2: differs from the op held under this seq (a restored or copied data folder, or a forgery)" \
	"$("$POKE" "$T/S002" rewrite)"
check_eq "kept on record, not applied: on hand still 2" "1 2" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_conflicts WHERE origin = 'S002' AND seq = 2") $(http_get "$HUB_HTTP" '/v1/stock?site=S002&sku=POKE' | jq '.items[0].on_hand')"
check_eq "and alerted" "S002 S002/2" \
	"$(http_get "$HUB_HTTP" '/v1/alerts?kind=op_conflict' | jq -r '.items[] | "\(.site) \(.subject)"')"
check_eq "a batch whose signature does not match is refused" \
	"ERROR 403 push: ops S002/4-4: the signature does not match them (altered on the way, or not signed by S002's key)" \
	"$("$POKE" "$T/S002" bad-signature)"
check_eq "and nothing of it kept" "0" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM op_log WHERE origin = 'S002' AND seq = 4")"
check_eq "the site's honest next op is still taken" "PUSH_ACK" "$("$POKE" "$T/S002" next)"
check_eq "and its signature kept" "4" \
	"$(sqlite3 "$T/hub/hub.db" "SELECT max(seq) FROM push_sigs WHERE origin = 'S002'")"
check_eq "nothing forged reached the hub" "" "$(http_get "$HUB_HTTP" '/v1/stock?sku=POKE' | jq -r '.items[] | select(.site != "S002") | .site')"
check "the hub is still running" kill -0 "$HUB_PID"
check "and a well-behaved node still syncs" "$NODE" sync --data "$T/S002"
check_match "S002 sees S001's movement" '"site":"S001","sku":"TEA","on_hand":5' "$(node_stock S002)"
finish
