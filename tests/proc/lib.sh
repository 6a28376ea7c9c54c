# Shared helpers for process-level tests: real bl-hub and bl-node processes
# on 127.0.0.1 with port 0, in a temporary directory. Source it, call the
# checks, end with `finish`. A passing test removes its directory; a failing
# one keeps it and says where.
set -u
BL_BIN=${BL_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/san}
HUB="$BL_BIN/bl-hub"
NODE="$BL_BIN/bl-node"
T=$(mktemp -d "${TMPDIR:-/tmp}/bl-test.XXXXXX")
PASSED=0
FAILED=0
PIDS=""

# A test stopped by a signal (tests/run.sh interrupted) stops the daemons
# it started, so none keeps its ports or database, and keeps its folder.
interrupted() {
	for p in $PIDS; do kill "$p" 2> /dev/null; done
	echo "interrupted: logs kept in $T"
	exit 143
}
trap interrupted TERM INT

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: expected [$2], got [$3]"
	fi
}

# check_match DESCRIPTION PATTERN TEXT (grep -E pattern)
check_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		pass "$1"
	else
		fail "$1: [$3] does not match /$2/"
	fi
}

# check_refused DESCRIPTION TEXT COMMAND...: passes when the command exits 1
# and prints exactly TEXT (its one-line failure, stdout and stderr).
check_refused() {
	desc=$1
	want=$2
	shift 2
	got=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$got" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc: expected exit 1 and [$want], got exit $rc and [$got]"
	fi
}

# port DIR NAME: the port a daemon wrote to DIR/ports.
port() { sed -n "s/^$2=//p" "$1/ports"; }
# fixed_port: a port for a process that cannot take port 0 (a relay that
# must come back on the same port after a cut): below the kernel's
# ephemeral range (32768 up), so no daemon's port 0 nor outgoing connection
# takes it meanwhile, and free now.
fixed_port() {
	python3 -c 'import os, socket
for i in range(12000):
	p = 20000 + (os.getppid() + i) % 12000
	s = socket.socket()
	s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	try:
		s.bind(("127.0.0.1", p))
	except OSError:
		continue
	finally:
		s.close()
	print(p)
	break'
}

# wait_ports DIR: waits (10 s) for a daemon to write DIR/ports.
wait_ports() {
	i=0
	while [ ! -s "$1/ports" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$1/ports" ]
}

# The hub's back end: BL_HUB_STORE=postgresql (tests/run.sh's second pass)
# puts the hub's op log in a database of the test's own, PG_DB on the
# cluster BL_PG_URI names (hub/pgstore.h); finish drops it. hub.db is then
# the log's projection, position for position, so the checks read it as
# they read a hub on its own. Unset or sqlite: the hub on its own.
BL_HUB_STORE=${BL_HUB_STORE:-sqlite}
PG_DB=""

# pg_db_create NAME: creates database NAME on BL_PG_URI's cluster; sets
# PG_DB to it and PG_URI to BL_PG_URI with its database replaced by it.
pg_db_create() {
	psql -q "$BL_PG_URI" -c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" > /dev/null || return 1
	PG_DB=$1
	PG_URI=$(printf '%s\n' "$BL_PG_URI" | sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\1/$PG_DB#")
}

# need_pg: a test of the hubs' PostgreSQL back end ends here, passing
# nothing, when no cluster is given (make test gives one: tests/run.sh).
need_pg() {
	[ -n "${BL_PG_URI:-}" ] && return 0
	echo "SKIP $(basename "$0" .sh): BL_PG_URI is not set (make test sets it; or start a cluster with tests/pg.sh)"
	rm -rf "$T"
	echo "RESULT 0 0"
	exit 0
}

# cluster_hub NAME PORT: runs the hub of a cluster in $T/NAME on sync port
# PORT (nodes name it before it runs); sets NAME_PID and NAME_HTTP.
cluster_hub() {
	rm -f "$T/$1/ports"
	"$HUB" run --data "$T/$1" --listen "tcp://127.0.0.1:$2" >> "$T/$1.log" 2>&1 &
	eval "${1}_PID=$!"
	PIDS="$PIDS $!"
	wait_ports "$T/$1" || { echo "hub $1 did not start"; cat "$T/$1.log"; }
	eval "${1}_HTTP=$(port "$T/$1" http)"
}

# cluster_pair NAME: two hubs of one cluster on a database of the test's
# own (bl_NAME_PID, dropped by finish), both running: A created first, B
# joined with A's key. Sets URI, HUB_KEY, and A_ and B_ PID, SYNC, HTTP.
cluster_pair() {
	pg_db_create "bl_$1_$$" || fail "create database bl_$1_$$ at $BL_PG_URI"
	URI=$PG_URI
	HUB_KEY=$("$HUB" init --data "$T/A" --store "$URI" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
	"$HUB" init --data "$T/B" --store "$URI" --key "$T/A/hub.key" \
		--listen tcp://127.0.0.1:0 --http 127.0.0.1:0 > /dev/null
	A_SYNC=$(fixed_port)
	cluster_hub A "$A_SYNC"
	B_SYNC=$(fixed_port) # after A is bound: fixed_port would pick A's again
	cluster_hub B "$B_SYNC"
}

# hub_init: creates $T/hub, sets HUB_KEY. With BL_HUB_STORE=postgresql,
# on a database of the test's own (above); a test that cannot have one
# fails and ends here.
hub_init() {
	case $BL_HUB_STORE in
	sqlite)
		HUB_KEY=$("$HUB" init --data "$T/hub" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
		;;
	postgresql)
		if [ -z "${BL_PG_URI:-}" ]; then
			fail "hub_init: BL_HUB_STORE=postgresql needs BL_PG_URI (start a cluster with tests/pg.sh)"
		elif ! pg_db_create "bl_proc_$$"; then
			fail "hub_init: create database bl_proc_$$ at $BL_PG_URI"
		else
			HUB_KEY=$("$HUB" init --data "$T/hub" --store "$PG_URI" \
				--listen tcp://127.0.0.1:0 --http 127.0.0.1:0)
			return
		fi
		finish
		exit 1
		;;
	*)
		fail "hub_init: BL_HUB_STORE=$BL_HUB_STORE: not sqlite or postgresql"
		finish
		exit 1
		;;
	esac
}

# hub_start [LISTEN]: runs the hub; the first start picks a port, later
# starts reuse it (nodes have it in their config). Sets HUB_PID, HUB_SYNC,
# HUB_HTTP.
hub_start() {
	rm -f "$T/hub/ports"
	if [ -n "${HUB_SYNC:-}" ]; then
		"$HUB" run --data "$T/hub" --listen "tcp://127.0.0.1:$HUB_SYNC" >> "$T/hub.log" 2>&1 &
	else
		"$HUB" run --data "$T/hub" >> "$T/hub.log" 2>&1 &
	fi
	HUB_PID=$!
	PIDS="$PIDS $HUB_PID"
	wait_ports "$T/hub" || { echo "hub did not start"; cat "$T/hub.log"; }
	HUB_SYNC=$(port "$T/hub" sync)
	HUB_HTTP=$(port "$T/hub" http)
}

hub_stop() { kill "$HUB_PID" 2>/dev/null; wait "$HUB_PID" 2>/dev/null; }

# node_init SITE [ROLE]: creates $T/SITE and enrolls it at the hub.
node_init() {
	key=$("$NODE" init --data "$T/$1" --site "$1" --hub "tcp://127.0.0.1:$HUB_SYNC" \
		--hub-key "$HUB_KEY" --http 127.0.0.1:0) || return 1
	"$HUB" enroll --data "$T/hub" --site "$1" --role "${2:-store}" --key "$key" > /dev/null
}

# node_start SITE: runs the node daemon; sets NODE_PID and NODE_HTTP.
node_start() {
	rm -f "$T/$1/ports"
	"$NODE" run --data "$T/$1" >> "$T/$1.log" 2>&1 &
	NODE_PID=$!
	PIDS="$PIDS $NODE_PID"
	wait_ports "$T/$1" || { echo "node $1 did not start"; cat "$T/$1.log"; }
	NODE_HTTP=$(port "$T/$1" http)
}

# stock_json DIR: canonical stock of a node replica.
node_stock() { "$NODE" stock list --data "$T/$1" --json; }
http_get() { curl -sS --max-time 5 "http://127.0.0.1:$1$2"; }
http_post() { curl -sS --max-time 5 -X POST "http://127.0.0.1:$1$2" -d "$3"; }
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$2" "http://127.0.0.1:$1$3" ${4:+-d "$4"}; }

# eventually SECONDS COMMAND...: retries every 0.2 s until it succeeds.
eventually() {
	limit=$(( $1 * 5 ))
	shift
	i=0
	while [ $i -lt $limit ]; do
		"$@" && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

finish() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	if [ -n "$PG_DB" ] && ! psql -q "$BL_PG_URI" \
		-c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" > /dev/null; then
		fail "drop database $PG_DB at $BL_PG_URI"
	fi
	# A sanitizer report in any daemon log is a failure.
	if grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error' "$T"/*.log > /dev/null 2>&1; then
		fail "no sanitizer reports in daemon logs ($(grep -l -E 'Sanitizer|runtime error' "$T"/*.log | tr '\n' ' '))"
	fi
	if [ "$FAILED" -eq 0 ]; then
		rm -rf "$T"
	else
		echo "logs kept in $T"
	fi
	echo "RESULT $PASSED $FAILED"
	[ "$FAILED" -eq 0 ]
}
