#!/bin/sh
# Installs the Debian packages Branchline builds and tests with, only those
# that are missing. libjs-chart.js is what the hub's console draws charts
# with (served from /usr/share/javascript/chart.js); chromium is the
# headless browser the console's test renders it in, fonts-noto-cjk lets it
# draw the Chinese labels, and python3 reads its DOM and the reports' CSV
# back. postgresql and libpq-dev: the hubs' shared op log (hub/pglog.c links
# libpq) and the throwaway cluster tests/pg.sh starts for its tests. Runs
# apt-get through sudo when not root.
# Called by `make` whenever pkg-config cannot find one of our libraries.
set -eu

PACKAGES="build-essential pkg-config libzmq3-dev libsodium-dev libcbor-dev
libevent-dev libsqlite3-dev libjansson-dev sqlite3 curl jq procps clang-format
libjs-chart.js chromium fonts-noto-cjk python3 postgresql libpq-dev"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: packages missing ($missing) and not root, no sudo" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
