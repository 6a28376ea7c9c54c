#!/bin/sh
# Runs every test binary and script, then prints one line: "N passed, N failed".
#
# Unit and fuzz binaries (sanitized, in build/san/tests/) and process tests
# (tests/proc/test_*.sh) each print "RESULT <passed> <failed>" as their last
# result line; a program that dies before printing it counts as one failure.
# The layout check (tests/format.sh) runs first, as one more such program.
# Tests that need PostgreSQL get BL_PG_URI (see the cluster below). A list
# of process tests then runs again with the hub's log in PostgreSQL, each
# named proc-pg-test_X (pg_procs below).
# Output of each goes to build/test-logs/NAME.log; failures are shown.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
logs="$top/build/test-logs"
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export BL_BIN="$top/build/san"

passed=0
failed=0

run_one() {
	name=$1
	shift
	log="$logs/$name.log"
	"$@" > "$log" 2>&1
	rc=$?
	result=$(grep '^RESULT ' "$log" | tail -n 1)
	if [ -z "$result" ]; then
		p=0
		f=1
	else
		p=$(echo "$result" | cut -d' ' -f2)
		f=$(echo "$result" | cut -d' ' -f3)
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name (exit $rc), log $log:"
		grep -E 'FAIL|ERROR|Sanitizer|runtime error' "$log" | head -n 20 | sed 's/^/    /'
	else
		echo "ok   $name ($p)"
	fi
}

# One throwaway PostgreSQL cluster (tests/pg.sh) when a test names
# BL_PG_URI or pg_procs (below) lists any, started here and stopped at the
# end, also on failure or interruption; its server log is kept as
# pg-server.log. In /tmp: as root it runs as nobody, which must reach the
# folder. When it cannot start, that is one failure, and the tests that
# need it skip (pg_procs too).
pg_dir=""
pg_stop() {
	[ -n "$pg_dir" ] || return 0
	sh "$top/tests/pg.sh" stop "$pg_dir" >> "$logs/pg-cluster.log" 2>&1
	cp "$pg_dir/log" "$logs/pg-server.log" 2> /dev/null
	rm -rf "$pg_dir"
	pg_dir=""
}
trap pg_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Both hub back ends run the same suite (issue 14): after the normal pass,
# these process tests run again with the hub's op log in PostgreSQL
# (BL_HUB_STORE=postgresql: tests/proc/lib.sh gives each a database of its
# own on the cluster below; hub.db is the log's projection, which the tests
# read). Together they cover sync: offline, kill -9 mid-push and
# mid-ingest, a cut link, visibility and backfill, the domain merges and
# races, forgery, auth, bad input, the clock quarantine, group commit, the
# bounded stream scan, audit, twin sites and anti-entropy (an op lost from
# hub.db only goes back where the shared log holds it); about 165 s on 2 cores,
# measured one by one beside other work. Left out:
#   - whose subject is the SQLite hub itself: hub_restore, restore, backup
#     and restored_writes (hub.db from a backup or a copy), inbox_progress
#     and inbox_wal (the inbox and WAL of hub.db), disk (hub.db's WAL and
#     size), storage_errors (a table dropped from a database), file_modes
#     (the files of a data folder), stalled_sites (enrolls its thousand
#     sites by writing hub.db's sites table, which a cluster's registry in
#     PostgreSQL does not see);
#   - already on PostgreSQL: cluster_registry, cluster_sync;
#   - not about the hub's log: console, console_login, deploy, fd_limit,
#     failover (a node's endpoints), stalled (a session's memory);
#   - for time: allocation, approvals, quotas, quota_oversell, transfers,
#     report, domain_cli, domain_orders, mangle. What they add to the list
#     is domain rules, which the same store code applies on both back ends
#     once an op is in the log.
pg_procs="offline_sync kill9 cut_link visibility backfill domain_merge
domain_races domain_money forgery auth bad_input clock group_commit
stream_scan audit twins entropy"

if [ -n "$pg_procs" ] || grep -qs BL_PG_URI "$top"/tests/unit/test_*.c "$top"/tests/proc/test_*.sh; then
	pg_dir=$(mktemp -d /tmp/bl-pg.XXXXXX)
	if uri=$(sh "$top/tests/pg.sh" start "$pg_dir" 2> "$logs/pg-cluster.log"); then
		export BL_PG_URI="$uri"
	else
		failed=$((failed + 1))
		echo "FAIL pg-cluster (tests/pg.sh start), log $logs/pg-cluster.log:"
		tail -n 20 "$logs/pg-cluster.log" | sed 's/^/    /'
		pg_stop
	fi
fi

run_one "style-format" sh "$top/tests/format.sh"
for t in "$top"/build/san/tests/unit/core/test_*; do
	[ -x "$t" ] && run_one "core-$(basename "$t")" "$t"
done
for t in "$top"/build/san/tests/unit/test_*; do
	[ -x "$t" ] && run_one "unit-$(basename "$t")" "$t"
done
for t in "$top"/build/san/tests/fuzz/fuzz_*; do
	[ -x "$t" ] && run_one "fuzz-$(basename "$t")" "$t"
done
for t in "$top"/tests/proc/test_*.sh; do
	[ -f "$t" ] && run_one "proc-$(basename "$t" .sh)" bash "$t"
done
if [ -n "${BL_PG_URI:-}" ]; then
	for t in $pg_procs; do
		run_one "proc-pg-test_$t" env BL_HUB_STORE=postgresql \
		    bash "$top/tests/proc/test_$t.sh"
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
