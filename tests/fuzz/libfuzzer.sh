#!/bin/sh
# Long coverage-guided runs of every fuzz target with clang's libFuzzer
# (`make fuzz`). Each tests/fuzz/fuzz_*.c is compiled with
# -fsanitize=fuzzer,address,undefined together with the library sources
# (sync/, sync/domain/, sync/api/ and build/schema.c) and run for
# BL_FUZZ_SECONDS (default 60); BL_FUZZ_ONLY=NAME runs that target alone.
#
# The working corpus of a target lives in build/fuzz/NAME/corpus and starts
# from tests/fuzz/corpus/NAME/ plus the target's built-in seeds (written by
# the sanitized driver build, build/san/tests/fuzz/NAME, when it exists).
# Crashes are saved as build/fuzz/NAME/crash-*; replay one with
#   build/fuzz/NAME/NAME build/fuzz/NAME/crash-...
# or with the driver build: build/san/tests/fuzz/NAME FILE.
#
# Skips (status 0, with a message) when clang or its libFuzzer runtime is
# missing; exits 1 if a target fails to build or finds a crash.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
seconds=${BL_FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
out="$top/build/fuzz"

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "libfuzzer.sh: skipping: $CLANG not found"
	exit 0
fi
mkdir -p "$out"
probe="$out/probe"
cat > "$probe.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
EOF
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" \
    > "$probe.log" 2>&1; then
	echo "libfuzzer.sh: skipping: $CLANG cannot link -fsanitize=fuzzer" \
	    "(libFuzzer runtime missing?):"
	sed 's/^/    /' "$probe.log" | head -n 5
	exit 0
fi
rm -f "$probe" "$probe.c" "$probe.log"

if [ ! -f build/schema.c ]; then
	make -s build/schema.c || exit 1
fi
pkgs="libzmq libsodium libcbor libevent jansson sqlite3"
pkg-config --exists libevent_pthreads 2>/dev/null &&
	pkgs="$pkgs libevent_pthreads"
# shellcheck disable=SC2086
pkg_cflags=$(pkg-config --cflags $pkgs) || exit 1
# shellcheck disable=SC2086
pkg_libs=$(pkg-config --libs $pkgs) || exit 1

status=0
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" .c)
	[ -n "${BL_FUZZ_ONLY:-}" ] && [ "$name" != "$BL_FUZZ_ONLY" ] && continue
	dir="$out/$name"
	mkdir -p "$dir/corpus"
	echo "== $name: building"
	# shellcheck disable=SC2086
	if ! "$CLANG" -std=c11 -D_GNU_SOURCE -g -O1 \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
	    $pkg_cflags -Isync -Isync/domain -Isync/api -Ibuild -Itests/fuzz \
	    "$src" sync/*.c sync/domain/*.c sync/api/*.c build/schema.c \
	    $pkg_libs -o "$dir/$name" \
	    > "$dir/build.log" 2>&1; then
		echo "FAIL $name: does not build, see $dir/build.log"
		sed 's/^/    /' "$dir/build.log" | grep -m 10 -i error
		status=1
		continue
	fi
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp "tests/fuzz/corpus/$name"/* "$dir/corpus/" 2>/dev/null
	fi
	if [ -x "build/san/tests/fuzz/$name" ]; then
		"build/san/tests/fuzz/$name" --write-seeds "$dir/corpus" \
		    > /dev/null 2>&1
	fi
	echo "== $name: fuzzing for $seconds s"
	if ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
	    "$dir/$name" -max_total_time="$seconds" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$dir/" "$dir/corpus" > "$dir/fuzz.log" 2>&1; then
		echo "ok   $name ($(grep -m 1 'stat::number_of_executed_units' \
		    "$dir/fuzz.log" | awk '{print $2}') runs)"
	else
		echo "FAIL $name: see $dir/fuzz.log"
		grep -E 'ERROR|runtime error|fuzz_|Test unit written' \
		    "$dir/fuzz.log" | head -n 10 | sed 's/^/    /'
		status=1
	fi
done
exit $status
