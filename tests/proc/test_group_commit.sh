# Group commit (sync/group.h): 64 tills posting at once to one node. Every
# sale answered 201 is on disk when the answer comes (the node killed -9
# right after still holds each, once), sales that fail inside a group
# (a bad payment after the order's ops were written, an id reused for
# another sale) fail alone and leave no trace, not even a gap in the
# node's op sequence, and the hub ends with exactly the sales answered 201.
. "$(dirname "$0")/lib.sh"

hub_init
hub_start
for sku in TEA CUP; do
	curl -sS -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/products/$sku" -d "{\"name\":\"$sku\"}"
done
node_init S001
node_start S001
has_cup() { http_get "$NODE_HTTP" /v1/products | grep -q CUP; }
check "the store has the catalog" eventually 15 has_cup

sale() { # ID-FIELD METHOD: a sale of two lines paid by METHOD
	echo "{$1\"channel\":\"store\",\"currency\":\"CNY\",\"status\":\"completed\",\"lines\":[{\"sku\":\"TEA\",\"qty\":1,\"unit_price\":300},{\"sku\":\"CUP\",\"qty\":2,\"unit_price\":100}],\"payments\":[{\"method\":\"$2\",\"amount\":500}]}"
}
# Four ids taken before, by sales of another amount.
for k in 1 2 3 4; do
	body=$(sale "\"id\":\"dup-$k\"," cash | sed 's/"qty":2/"qty":3/; s/"amount":500/"amount":600/')
	check_eq "sale dup-$k recorded first" 201 "$(http_code "$NODE_HTTP" POST /v1/orders "$body")"
done

# 64 requests: 50 sales with ids, 2 of them twice (one create, one
# replay, whichever comes first), 4 without (the node makes their ids),
# 4 whose payment is refused after the order was written, 4 reusing a
# taken id.
mkdir -p "$T/req" "$T/out"
n=0
add() { n=$((n + 1)); echo "$2" > "$T/req/$n"; echo "$1" > "$T/req/$n.kind"; }
add pair "$(sale '"id":"g-1",' card)"
add pair "$(sale '"id":"g-2",' card)"
for i in $(seq 3 50); do add ok "$(sale "\"id\":\"g-$i\"," card)"; done
add pair "$(sale '"id":"g-1",' card)"
add pair "$(sale '"id":"g-2",' card)"
for i in 1 2 3 4; do add ok "$(sale '' cash)"; done
for i in 1 2 3 4; do add bad "$(sale "\"id\":\"bad-$i\"," bitcoin)"; done
for i in 1 2 3 4; do add dup "$(sale "\"id\":\"dup-$i\"," card)"; done
check_eq "64 requests" 64 "$n"

# One curl, 64 transfers at once, each on its own connection.
fire() {
	: > "$T/curl.cfg"
	for i in $(seq 1 64); do
		[ "$i" -gt 1 ] && echo next >> "$T/curl.cfg"
		cat >> "$T/curl.cfg" <<-EOF
			url = "http://127.0.0.1:$NODE_HTTP/v1/orders"
			request = "POST"
			data = "@$T/req/$i"
			output = "$T/out/$i"
			write-out = "$i %{http_code}\\n"
		EOF
	done
	curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max 64 --max-time 20 -K "$T/curl.cfg" | sort -n > "$T/codes"
}
fire
kill -9 "$NODE_PID"
wait "$NODE_PID" 2>/dev/null

codes_of() { # KIND: the codes of requests of that kind, sorted and counted
	for i in $(seq 1 64); do
		[ "$(cat "$T/req/$i.kind")" = "$1" ] && sed -n "s/^$i //p" "$T/codes"
	done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' '
}
check_eq "the 52 other new sales answer 201" "201x52 " "$(codes_of ok)"
check_eq "an id twice in the burst: one create, one replay" "200x2 201x2 " "$(codes_of pair)"
check_eq "a refused payment answers 400 alone" "400x4 " "$(codes_of bad)"
check_eq "an id taken by another sale answers 409 alone" "409x4 " "$(codes_of dup)"
check_match "the refusal says why" 'payments\[0\].*bitcoin' "$(cat "$T/out/$(grep -l bad "$T"/req/*.kind | head -n 1 | xargs basename | cut -d. -f1)")"

db="$T/S001/node.db"
q() { sqlite3 "$db" "$1"; }
# What was answered 201 survived kill -9, once; nothing of a failed one.
check_eq "after kill -9 the node holds 4 + 54 sales" 58 "$(q "SELECT count(*) FROM orders")"
check_eq "each paid once" 58 "$(q "SELECT count(*) FROM payments")"
check_eq "nothing of the refused payments" 0 "$(q "SELECT count(*) FROM orders WHERE id LIKE '%bad-%'")"
check_eq "the taken ids keep their first sale" "600 600 600 600" "$(q "SELECT total FROM orders WHERE id LIKE '%dup-%' ORDER BY id" | tr '\n' ' ' | sed 's/ $//')"
check_eq "the node's ops have no gap (seq 1..N)" "$(q "SELECT count(*) FROM op_log WHERE origin = 'S001'")" "$(q "SELECT max(seq) FROM op_log WHERE origin = 'S001'")"
check_eq "and each is chained" 0 "$(q "SELECT count(*) FROM op_log WHERE origin = 'S001' AND chain IS NULL")"
check_eq "the meta seq is the last op's" "$(q "SELECT max(seq) FROM op_log WHERE origin = 'S001'")" "$(q "SELECT value FROM meta WHERE name = 'seq'")"
# The node holds head office's catalog too, whose chain is not its to keep.
out=$("$NODE" audit --data "$T/S001" 2>&1)
check_match "bl-node audit finds the store's chain whole, and audits only it" \
	'^0 S001: [0-9]+ ops, chain and 0 signatures verified$' "$? $out"

# The same burst again: every id'd sale is a replay now, new ones only for
# the four without ids.
node_start S001
check_eq "status shows the group commits, from zero after a restart" 0 "$(http_get "$NODE_HTTP" /v1/status | jq '.group_commit.failed')"
fire
check_eq "again: the id'd sales replay with 200" "200x52 " "$(for i in $(seq 1 52); do sed -n "s/^$i //p" "$T/codes"; done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')"
check_eq "again: the four without ids are new" "201x4 " "$(for i in 53 54 55 56; do sed -n "s/^$i //p" "$T/codes"; done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')"
check_eq "again: the refusals are the same" "400x4 409x4 " "$(for i in $(seq 57 64); do sed -n "s/^$i //p" "$T/codes"; done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')"
st=$(http_get "$NODE_HTTP" /v1/status)
echo "# group commit at the node: $(echo "$st" | jq -c .group_commit)"
check_eq "the node counts the writes it committed in groups (replays too)" 56 "$(echo "$st" | jq '.group_commit.writes')"
check_eq "and those it answered with an error" 8 "$(echo "$st" | jq '.group_commit.failed')"

hub_sales() { sqlite3 "$T/hub/hub.db" "SELECT count(*) FROM orders WHERE site = 'S001'"; }
all_at_hub() { [ "$(hub_sales)" = 62 ]; }
check "the hub ends with exactly the 62 sales answered 201" eventually 30 all_at_hub
check_eq "not one more" 62 "$(hub_sales)"
finish
