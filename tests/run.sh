#!/bin/sh
# Runs every test binary and script, then prints one line: "N passed, N failed".
#
# Unit and fuzz binaries (sanitized, in build/san/tests/) and process tests
# (tests/proc/test_*.sh) each print "RESULT <passed> <failed>" as their last
# result line; a program that dies before printing it counts as one failure.
# The layout check (tests/format.sh) runs first, as one more such program.
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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
