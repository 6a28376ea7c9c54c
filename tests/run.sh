#!/bin/bash
# Runs every test binary and script, then prints one line: "N passed, N failed".
#
# Unit and fuzz binaries (sanitized, in build/san/tests/) and process tests
# (tests/proc/test_*.sh) each print "RESULT <passed> <failed>" as their last
# result line; a program that dies before printing it counts as one failure.
# The layout check (tests/format.sh) runs first, as one more such program.
# Tests that need PostgreSQL get BL_PG_URI (see the cluster below). The
# process tests then run again with the hub's log in PostgreSQL, each
# named proc-pg-test_X (pg_procs below).
# Output of each goes to build/test-logs/NAME.log; failures are shown.
#
# Tests run BL_TEST_JOBS at a time (default 3): a process test spends most
# of its time waiting on its daemons, so three share 2 cores well. Each
# test has its own folders, ports and database, so none sees another. The
# lines come in the order tests end; the last line is the same either way.
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

jobs=${BL_TEST_JOBS:-3}
declare -A job_name=()

# tally NAME RC: counts the test's RESULT line and prints its line.
tally() {
	local name=$1 rc=$2 log="$logs/$1.log" result p f

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

# reap: waits for one running test to end and tallies it.
reap() {
	local pid rc
	wait -n -p pid
	rc=$?
	tally "${job_name[$pid]}" "$rc"
	unset "job_name[$pid]"
}

# run_one NAME CMD...: starts CMD in the background, its output in
# NAME.log, once fewer than $jobs tests are running.
run_one() {
	local name=$1
	shift
	while [ "${#job_name[@]}" -ge "$jobs" ]; do
		reap
	done
	"$@" > "$logs/$name.log" 2>&1 < /dev/null &
	job_name[$!]=$name
}

# run_all: waits for every running test.
run_all() {
	while [ "${#job_name[@]}" -gt 0 ]; do
		reap
	done
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
# On the way out, also when interrupted: the tests still running are
# stopped (a process test's trap, in tests/proc/lib.sh, stops its
# daemons) before the cluster they may use.
on_exit() {
	[ "${#job_name[@]}" -gt 0 ] && kill "${!job_name[@]}" 2> /dev/null && wait
	pg_stop
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Both hub back ends run the same suite (issue 14): after the normal pass,
# every process test runs again with the hub's op log in PostgreSQL
# (BL_HUB_STORE=postgresql: tests/proc/lib.sh gives each a database of its
# own on the cluster below; hub.db is the log's projection, which the tests
# read). Where the back ends are meant to differ, the test says so and
# checks each (hub_restore: a restored hub of a cluster catches up from the
# log and waits for no site). Left out of the second pass:
#   - on PostgreSQL already: cluster_* and migrate;
#   - deploy: the packaging (units, example configs, the installer), which
#     starts no hub of its own;
# BL_PG_PROCS="a b ..." runs those only (by name, without test_).
pg_skip="cluster_alloc cluster_attack cluster_flood cluster_registry cluster_sync cluster_twins migrate deploy"
if [ -n "${BL_PG_PROCS+set}" ]; then
	pg_procs=$BL_PG_PROCS
else
	pg_procs=""
	for t in "$top"/tests/proc/test_*.sh; do
		t=$(basename "$t" .sh)
		t=${t#test_}
		case " $pg_skip " in
		*" $t "*) ;;
		*) pg_procs="$pg_procs $t" ;;
		esac
	done
fi

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
run_all

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
