#!/usr/bin/env bash
# Branchline demo: a head office hub, two stores and a warehouse on
# 127.0.0.1. The stores and the warehouse record stock while the hub is
# down; the hub starts; every site's view converges to the same numbers.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
HUB="$top/bin/bl-hub"
NODE="$top/bin/bl-node"
D=$(mktemp -d "${TMPDIR:-/tmp}/branchline-demo.XXXXXX")
PIDS=()
SITES=(S001 S002 W001)
declare -A HTTP

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

if [ -t 1 ]; then BOLD='\033[1m' PLAIN='\033[0m'; else BOLD='' PLAIN=''; fi
say() { printf "\n${BOLD}== %s${PLAIN}\n" "$*"; }
wait_ports() { for _ in $(seq 100); do [ -s "$1/ports" ] && return 0; sleep 0.1; done; echo "no ports in $1" >&2; exit 1; }
port() { sed -n "s/^$2=//p" "$1/ports"; }
post() {   # site, json
	printf '  %s  POST /v1/stock/movements %s\n' "$1" "$2"
	curl -sS -o /dev/null -X POST "http://127.0.0.1:${HTTP[$1]}/v1/stock/movements" -d "$2"
}

# One table: a row per (site, sku), a column per replica, "." = not known there.
show() {
	local views=()
	for s in "${SITES[@]}" HQ; do
		views+=("$(curl -sS "http://127.0.0.1:${HTTP[$s]}/v1/stock" 2>/dev/null || echo '{"items":[]}')")
	done
	printf '  %-14s' "stock of"
	for s in "${SITES[@]}" HQ; do printf '%9s' "at $s"; done
	printf '\n'
	printf '%s\n' "${views[@]}" | jq -r '.items[] | "\(.site) \(.sku)"' | sort -u |
	while read -r site sku; do
		printf '  %-14s' "$site $sku"
		for v in "${views[@]}"; do
			printf '%9s' "$(jq -r --arg s "$site" --arg k "$sku" \
				'[.items[] | select(.site == $s and .sku == $k) | .on_hand][0] // "."' <<< "$v")"
		done
		printf '\n'
	done
}

say "Head office: bl-hub init (keys, database, config in $D/hub)"
HUB_KEY=$("$HUB" init --data "$D/hub" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
echo "  hub public key: $HUB_KEY"
"$HUB" run --data "$D/hub" 2> "$D/hub.log" & PIDS+=($!)
wait_ports "$D/hub"
SYNC=$(port "$D/hub" sync)
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()
echo "  the hub will listen on tcp://127.0.0.1:$SYNC; it is DOWN for now"

say "Sites: bl-node init, then enrolled at head office by public key"
for s in "${SITES[@]}"; do
	role=store; [ "${s:0:1}" = W ] && role=warehouse
	key=$("$NODE" init --data "$D/$s" --site "$s" --hub "tcp://127.0.0.1:$SYNC" --hub-key "$HUB_KEY" --http 127.0.0.1:0)
	"$HUB" enroll --data "$D/hub" --site "$s" --role "$role" --key "$key" | sed 's/^/  /'
	"$NODE" run --data "$D/$s" 2> "$D/$s.log" & PIDS+=($!)
	wait_ports "$D/$s"
	HTTP[$s]=$(port "$D/$s" http)
done
HTTP[HQ]=0

say "The hub is down. Tills and back offices keep working on their local node:"
post W001 '{"sku":"TEA-GREEN","delta":500,"reason":"receipt","ref":"PO-1001"}'
post W001 '{"sku":"RICE-5KG","delta":200,"reason":"receipt","ref":"PO-1001"}'
post S001 '{"sku":"TEA-GREEN","delta":48,"reason":"receipt"}'
post S001 '{"id":"till1-0001","sku":"TEA-GREEN","delta":-2,"reason":"sale"}'
post S001 '{"id":"till1-0001","sku":"TEA-GREEN","delta":-2,"reason":"sale"}'
echo "            (the till retried the same sale id: recorded once)"
post S002 '{"sku":"TEA-GREEN","delta":24,"reason":"receipt"}'
post S002 '{"sku":"RICE-5KG","delta":-1,"reason":"sale"}'
echo
show
echo
echo "  each site sees only its own movements; S002 sold rice it had not received: -1"

say "Head office comes up: bl-hub run"
"$HUB" run --data "$D/hub" --listen "tcp://127.0.0.1:$SYNC" 2>> "$D/hub.log" & PIDS+=($!)
rm -f "$D/hub/ports"; wait_ports "$D/hub"
HTTP[HQ]=$(port "$D/hub" http)
converged() {
	local want; want=$(curl -sS "http://127.0.0.1:${HTTP[HQ]}/v1/stock")
	[ "$(jq '.items | length' <<< "$want")" -eq 5 ] || return 1
	for s in "${SITES[@]}"; do
		[ "$(curl -sS "http://127.0.0.1:${HTTP[$s]}/v1/stock")" = "$want" ] || return 1
	done
}
for i in $(seq 100); do converged && break; sleep 0.1; done
converged || { echo "did not converge; logs in $D" >&2; exit 1; }
echo "  converged after about $((i * 100)) ms"
echo
show
echo
echo "  every replica now shows the same numbers, nothing lost, nothing doubled"

say "A sale at S001 while everything is connected reaches every site:"
post S001 '{"sku":"TEA-GREEN","delta":-5,"reason":"sale"}'
for i in $(seq 50); do converged && [ "$(curl -sS "http://127.0.0.1:${HTTP[S002]}/v1/stock?site=S001&sku=TEA-GREEN" | jq '.items[0].on_hand')" = 41 ] && break; sleep 0.1; done
echo
show
echo
"$NODE" status --data "$D/S002" | sed 's/^/  /'
echo
echo "Data, keys and logs: $D"
