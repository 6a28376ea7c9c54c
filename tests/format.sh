#!/bin/sh
# The layout check: every C file of the project (sync, node, hub, tests)
# must read exactly as the committed .clang-format lays it out. Prints one
# "ok"/"FAIL" line per file that differs and "RESULT <passed> <failed>",
# one check per file. `make format` rewrites the files in place.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
if ! command -v clang-format > /dev/null; then
	echo "FAIL format: clang-format is not installed (make deps installs it)"
	echo "RESULT 0 1"
	exit 1
fi
passed=0
failed=0
for f in $(find sync node hub tests -name '*.[ch]' | sort); do
	if clang-format --dry-run --Werror "$f" > /dev/null 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL format: $f differs from .clang-format (make format)"
	fi
done
echo "RESULT $passed $failed"
[ "$failed" -eq 0 ]
