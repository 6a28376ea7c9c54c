# The hub lifts its own descriptor limit: started with a soft limit of 256
# (each connected site takes a descriptor), it raises it to the hard limit,
# says how many sites that leaves room for (in its log and as sites_max in
# GET /v1/status), and then holds more sessions than 256 descriptors could:
# 400 idle sites of tests/tools/blswarm, each with a real CURVE session
# (HELLO, WELCOME).
. "$(dirname "$0")/lib.sh"
SWARM="$BL_BIN/tests/tools/blswarm"
N=400
LOW=256
RESERVE=256 # SERVER_FD_RESERVE: descriptors kept for all but sites
status() { http_get "$HUB_HTTP" /v1/status | jq -r ".$1"; }

hub_init
"$SWARM" keys "$N" F > "$T/swarm.keys"
{
	echo "BEGIN IMMEDIATE;"
	awk '{
		printf "INSERT INTO sites(id, role, pubkey, name, region, enrolled_at) VALUES (\047%s\047, \047store\047, \047%s\047, \047%s\047, \047default\047, 0);\n", $1, $2, $1
	}' "$T/swarm.keys"
	echo "COMMIT;"
} | sqlite3 "$T/hub/hub.db"
hard=$(ulimit -H -n)
check "the hard limit leaves room for the test ($hard)" \
	test "$hard" -ge $((N * 2 + RESERVE))

# The hub starts with the low soft limit; the shell takes back its own.
ulimit -S -n "$LOW"
hub_start
ulimit -S -n "$hard"
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$HUB_PID/limits")
check_eq "the hub runs with the hard limit" "$hard" "$soft"
check_match "and logs what it got" "descriptors: limit $hard, raised from $LOW" \
	"$(grep 'descriptors: limit' "$T/hub.log")"
room=$((hard - RESERVE))
check_match "and how many sites it has room for" \
	"descriptors: room for $room sites connected at once \(limit [0-9]+ less $RESERVE kept\), $N enrolled" \
	"$(grep 'descriptors: room' "$T/hub.log")"
check_eq "GET /v1/status says so" "$room" "$(status sites_max)"

"$SWARM" hold "$T/swarm.keys" "tcp://127.0.0.1:$HUB_SYNC" "$HUB_KEY" > "$T/swarm.out" 2> "$T/swarm.log" &
PIDS="$PIDS $!"
welcomed() { grep -qs WELCOMED "$T/swarm.out"; }
check "$N sites connect and say HELLO" eventually 60 welcomed
check_eq "every one is welcomed" "WELCOMED $N of $N" "$(cat "$T/swarm.out")"
sessions_in() { [ "$(status sessions)" -eq "$N" ] 2> /dev/null; }
check "the hub holds $N sessions, more than $LOW descriptors allow" eventually 20 sessions_in
check_eq "none refused for want of a descriptor" "" \
	"$(grep -iE 'too many open files|EMFILE' "$T/hub.log" "$T/swarm.log")"
finish
