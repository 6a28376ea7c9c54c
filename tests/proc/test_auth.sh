# Who may connect: an unenrolled key, a revoked site (also on an open
# connection) and a wrong pinned hub key each fail with a one-line reason
# and change nothing at the hub.
. "$(dirname "$0")/lib.sh"

hub_init
hub_start
node_init S001
"$NODE" init --data "$T/S009" --site S009 --hub "tcp://127.0.0.1:$HUB_SYNC" --hub-key "$HUB_KEY" > /dev/null
check "an enrolled store syncs" "$NODE" sync --data "$T/S001"

"$NODE" move --data "$T/S009" --sku X --delta 1 --reason receipt > /dev/null
out=$("$NODE" sync --data "$T/S009" --timeout 5 2>&1)
check_eq "an unenrolled key fails" "1" "$?"
check_eq "with exactly one line" "1" "$(printf '%s\n' "$out" | wc -l)"
check_match "saying the hub refused the key" "^bl-node: sync: hub tcp://127.0.0.1:[0-9]+ refused this node's key \(status 400\): not enrolled, or revoked$" "$out"
check_eq "and the hub holds nothing of it" '{"items":[]}' "$(http_get "$HUB_HTTP" '/v1/stock?site=S009')"

# Wrong hub key: the node pins another key than the hub's.
other=$("$NODE" key --data "$T/S001")
key=$("$NODE" init --data "$T/S010" --site S010 --hub "tcp://127.0.0.1:$HUB_SYNC" --hub-key "$other")
"$HUB" enroll --data "$T/hub" --site S010 --role store --key "$key" > /dev/null
out=$("$NODE" sync --data "$T/S010" --timeout 5 2>&1)
check_eq "a wrong hub key fails" "1" "$?"
check_eq "with exactly one line" "1" "$(printf '%s\n' "$out" | wc -l)"
check_match "saying the handshake failed" "^bl-node: sync: hub tcp://127.0.0.1:[0-9]+: CURVE handshake failed: is --hub-key the hub's key\?$" "$out"

# Revoked while connected: the running node is refused within seconds.
node_start S001
up() { http_get "$NODE_HTTP" /v1/status | grep -q '"hub_link":"up"'; }
check "the S001 daemon is connected" eventually 10 up
# Head office writes the moment revoke returns: nothing more reaches the
# revoked site, not even before the hub's next tick.
check_match "revoke answers" "^revoked S001$" "$("$HUB" revoke --data "$T/hub" --site S001 &&
	curl -s -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/products/AFTER" -d '{"name":"After","unit":"pc"}')"
sleep 2
check_eq "an op written after revoke returned never reaches the revoked site" "" \
	"$(http_get "$NODE_HTTP" /v1/products/AFTER | jq -r '.sku // ""')"
refused() { http_get "$NODE_HTTP" /v1/status | grep -q '"hub_link":"refused"'; }
check "the open connection is refused within seconds" eventually 5 refused
http_post "$NODE_HTTP" /v1/stock/movements '{"sku":"Y","delta":5,"reason":"receipt"}' > /dev/null
sleep 2.5
check_eq "a write after revocation does not reach the hub" '{"items":[]}' "$(http_get "$HUB_HTTP" '/v1/stock?sku=Y')"
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
out=$("$NODE" sync --data "$T/S001" --timeout 5 2>&1)
check_eq "a revoked site's sync fails" "1" "$?"
check_match "in one line saying it was refused" "^bl-node: sync: hub tcp://127.0.0.1:[0-9]+ refused this node's key \(status 400\): not enrolled, or revoked$" "$out"

# Enrolment acts on the running hub without a restart.
key=$("$NODE" key --data "$T/S009")
"$HUB" enroll --data "$T/hub" --site S009 --role store --key "$key" > /dev/null
check "a newly enrolled site syncs without a hub restart" "$NODE" sync --data "$T/S009"
check_eq "and its offline movement reaches the hub" '{"items":[{"site":"S009","sku":"X","on_hand":1,"reserved":0,"available":1}]}' "$(http_get "$HUB_HTTP" '/v1/stock?site=S009')"

# Bad usage: exit 2 and one line.
out=$("$HUB" enroll --data "$T/hub" --site S011 --role king --key "$key" 2>&1)
check_eq "enroll with a bad role exits 2" "2" "$?"
check_eq "saying so" "bl-hub: enroll: --role 'king': must be store, warehouse or hq" "$out"
out=$("$HUB" enroll --data "$T/hub" --site S012 --role store --key "$key" 2>&1)
check_eq "enrolling a key twice fails" "bl-hub: enroll: site S012: key already enrolled as S009" "$out"
out=$("$HUB" revoke --data "$T/hub" --site NOPE 2>&1)
check_eq "revoking an unknown site fails" "bl-hub: revoke: site NOPE: not an enrolled, active store or warehouse" "$out"
# The HTTP API beyond loopback: refused without a token, then only with it.
sed -i 's/^http=.*/http=0.0.0.0:0/' "$T/S009/config"
out=$("$NODE" run --data "$T/S009" 2>&1)
check_eq "binding the API beyond loopback without a token fails" "1" "$?"
check_match "saying why in one line" "^bl-node: run: http 0.0.0.0:0: binding beyond loopback needs token= in the config$" "$out"
echo "token=s3cret-till-token" >> "$T/S009/config"
node_start S009
check_eq "without the bearer token: 403" "403" "$(http_code "$NODE_HTTP" GET /v1/status)"
check_eq "with a wrong token: 403" "403" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' "http://127.0.0.1:$NODE_HTTP/v1/status")"
check_eq "with a longer wrong token: 403" "403" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret-till-token-and-more' "http://127.0.0.1:$NODE_HTTP/v1/status")"
check_eq "with the token: 200" "200" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret-till-token' "http://127.0.0.1:$NODE_HTTP/v1/status")"

# The token is kept and compared whole: a long one works only in full, its
# first 127 bytes (all that used to be kept) do not, and the header is
# "Bearer " and the token, nothing else.
auth() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "http://127.0.0.1:$NODE_HTTP/v1/status"; }
restart_s009() {
	kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
	sed -i "s/^token=.*/token=$1/" "$T/S009/config"
	node_start S009
}
long=$(printf 'A%.0s' $(seq 199))z
restart_s009 "$long"
check_eq "a 200-byte token: 200" "200" "$(auth -H "Authorization: Bearer $long")"
check_eq "its first 127 bytes: 403" "403" "$(auth -H "Authorization: Bearer $(printf %.127s "$long")")"
check_eq "all but its last byte: 403" "403" "$(auth -H "Authorization: Bearer $(printf %.199s "$long")")"
check_eq "with a byte after it: 403" "403" "$(auth -H "Authorization: Bearer ${long}z")"
check_eq "after two spaces: 403" "403" "$(auth -H "Authorization: Bearer  $long")"
check_eq "under another scheme name: 403" "403" "$(auth -H "Authorization: bearer $long")"
check_eq "alone, without the scheme: 403" "403" "$(auth -H "Authorization: $long")"
check_eq "right, then a second Authorization header: 403" "403" \
	"$(auth -H "Authorization: Bearer $long" -H "Authorization: Bearer wrong")"
max=$(printf '~%.0s' $(seq 255))!
restart_s009 "$max"
check_eq "a token of 256 bytes, the limit: 200" "200" "$(auth -H "Authorization: Bearer $max")"
# A token over the limit, or with a byte that is not visible ASCII, is a
# config error: run says so in one line and exits 1 before serving (a run
# that serves instead is stopped after 5 s: status 124).
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
rm -f "$T/S009/ports"
sed -i "s/^token=.*/token=${max}x/" "$T/S009/config"
out=$(timeout 5 "$NODE" run --data "$T/S009" 2>&1)
check_eq "a 257-byte token: run exits 1" "1" "$?"
check_eq "naming the setting in one line" "bl-node: run: config token: 257 bytes, more than the 256 allowed" "$out"
check "and serving nothing" test ! -e "$T/S009/ports"
sed -i "s/^token=.*/token=$(printf 'x%.0s' $(seq 600))/" "$T/S009/config"
check_eq "a 600-byte token: the config refuses it whole, not cut" \
	"bl-node: run: config token: 600 bytes, more than the 511 a setting may hold" "$(timeout 5 "$NODE" run --data "$T/S009" 2>&1)"
sed -i "s/^token=.*/token=two words/" "$T/S009/config"
check_eq "a space in the token" "bl-node: run: config token: byte 4 of 9 is not visible ASCII (! to ~)" "$(timeout 5 "$NODE" run --data "$T/S009" 2>&1)"
printf 'token=tab\there\n' >> "$T/hub/config"
out=$(timeout 5 "$HUB" run --data "$T/hub" 2>&1)
check_eq "a tab in the hub's token: run exits 1" "1" "$?"
check_eq "saying so" "bl-hub: run: config token: byte 4 of 8 is not visible ASCII (! to ~)" "$out"
sed -i '/^token=/d' "$T/hub/config"
check "the hub survived all of it" kill -0 "$HUB_PID"
finish
