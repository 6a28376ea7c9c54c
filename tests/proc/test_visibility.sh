# Each site receives only what it may see (SPEC §5): catalog and customers
# everywhere; orders, their payments and invoices at the sites that created
# or fulfil them; stock movements of its region and of every warehouse.
# Head office receives everything.
. "$(dirname "$0")/lib.sh"

# site SITE ROLE REGION: a node enrolled in a region.
site() {
	key=$("$NODE" init --data "$T/$1" --site "$1" --hub "tcp://127.0.0.1:$HUB_SYNC" \
		--hub-key "$HUB_KEY" --http 127.0.0.1:0)
	"$HUB" enroll --data "$T/hub" --site "$1" --role "$2" --key "$key" --region "$3" > /dev/null
}
sync_round() {
	for s in N1 N2 S1 W1 N1 N2 S1 W1; do "$NODE" sync --data "$T/$s" > /dev/null 2>&1 || echo "sync $s failed"; done
}
stock_sites() {   # SITE: the sites whose stock SITE knows, in order
	"$NODE" stock list --data "$T/$1" --json | jq -r '[.items[].site]|unique|join(" ")'
}
has_order() {     # SITE ORDER: yes/no
	"$NODE" order show "$2" --data "$T/$1" --json > /dev/null 2>&1 && echo yes || echo no
}

hub_init
hub_start
site N1 store north
site N2 store north
site S1 store south
site W1 warehouse south
curl -s -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/products/TEA" -d '{"name":"Tea"}'
curl -s -o /dev/null -X PUT "http://127.0.0.1:$HUB_HTTP/v1/prices/retail/TEA" -d '{"amount":100,"currency":"CNY"}'
sync_round
for s in N1 N2 S1 W1; do
	"$NODE" stock receive --data "$T/$s" --sku TEA --qty 50 > /dev/null
done
"$NODE" customer add --data "$T/S1" --id C-SOUTH --name "Chen" > /dev/null
"$NODE" order create --data "$T/N1" --id O-N1W1 --channel online --currency CNY --line TEA:2 \
	--fulfil-site W1 --status confirmed > /dev/null
"$NODE" payment take --data "$T/N1" --order N1-O-N1W1 --method card --amount 200 --currency CNY > /dev/null
"$NODE" order create --data "$T/N2" --id O-N2 --channel store --currency CNY --line TEA:1 \
	--status completed > /dev/null
sync_round

check_eq "N1 knows the stock of its region and of the warehouse" "N1 N2 W1" "$(stock_sites N1)"
check_eq "N2 the same" "N1 N2 W1" "$(stock_sites N2)"
check_eq "S1 knows the south and the warehouse, not the north" "S1 W1" "$(stock_sites S1)"
check_eq "W1 (a warehouse in the south) knows the south" "S1 W1" "$(stock_sites W1)"
check_eq "the hub knows every site's stock" "N1 N2 S1 W1" \
	"$(http_get "$HUB_HTTP" /v1/stock | jq -r '[.items[].site]|unique|join(" ")')"
check_eq "N1's order is at N1 (created it)" yes "$(has_order N1 N1-O-N1W1)"
check_eq "and at W1 (fulfils it)" yes "$(has_order W1 N1-O-N1W1)"
check_eq "not at N2" no "$(has_order N2 N1-O-N1W1)"
check_eq "not at S1" no "$(has_order S1 N1-O-N1W1)"
check_eq "W1 sees its payment" "200" "$("$NODE" order show N1-O-N1W1 --data "$T/W1" --json | jq .paid)"
check_eq "N2's till sale stays at N2" "yes no no no" \
	"$(has_order N2 N2-O-N2) $(has_order N1 N2-O-N2) $(has_order S1 N2-O-N2) $(has_order W1 N2-O-N2)"
check_eq "the hub has both orders" "N1-O-N1W1 N2-O-N2" \
	"$(http_get "$HUB_HTTP" /v1/orders | jq -r '[.items[].id]|sort|join(" ")')"
check_eq "a customer made in the south works in the north" "Chen" \
	"$("$NODE" customer show S1-C-SOUTH --data "$T/N1" --json | jq -r .name)"
check_eq "the catalog is everywhere" "Tea Tea Tea Tea" \
	"$(for s in N1 N2 S1 W1; do "$NODE" product show TEA --data "$T/$s" --json | jq -r .name; done | paste -sd' ')"
# N2's till sale moved N2's stock: the north sees it, the south does not.
check_eq "N1 sees N2's sale in N2's stock" "49" \
	"$("$NODE" stock list --data "$T/N1" --site N2 --json | jq '.items[0].on_hand')"
check_eq "S1 pulled no northern stock movement" "0" \
	"$(sqlite3 "$T/S1/node.db" "SELECT count(*) FROM stock_movements WHERE site IN ('N1', 'N2')")"
finish
