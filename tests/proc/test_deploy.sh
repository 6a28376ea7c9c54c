# Deployment: `make install` with DESTDIR and PREFIX puts binaries, units,
# sysusers.d and tmpfiles.d entries, console files, the README and example
# configs where Debian would; the systemd units pass systemd-analyze verify
# and are hardened; every setting the programs read is explained in an
# example config, and the examples' settings are accepted by the daemons.
. "$(dirname "$0")/lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
inst() { make -s --no-print-directory -C "$top" install INSTALL_FROM="$BL_BIN" "$@" > "$T/make.log" 2>&1; }

# ---- make install DESTDIR=... (a package's build) ----
check "make install DESTDIR=... PREFIX=/usr" inst DESTDIR="$T/dest" PREFIX=/usr
d="$T/dest"
check_eq "what it installs, where Debian puts it" \
	"usr/bin/bl-hub usr/bin/bl-node usr/lib/systemd/system/bl-hub.service usr/lib/systemd/system/bl-node.service usr/lib/sysusers.d/branchline.conf usr/lib/tmpfiles.d/branchline.conf usr/share/branchline/console/console.css usr/share/branchline/console/console.js usr/share/branchline/console/index.html usr/share/doc/branchline/README.md usr/share/doc/branchline/examples/hub.config usr/share/doc/branchline/examples/node.config" \
	"$(cd "$d" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "binaries 0755, the rest 0644" "755 755 644 644 644" \
	"$(stat -c %a "$d/usr/bin/bl-hub" "$d/usr/bin/bl-node" "$d/usr/lib/systemd/system/bl-hub.service" "$d/usr/share/doc/branchline/examples/hub.config" "$d/usr/share/branchline/console/console.js" | tr '\n' ' ' | sed 's/ $//')"
check_match "the unit runs the binary where it is installed, not under DESTDIR" \
	'^ExecStart=/usr/bin/bl-hub run --data /var/lib/branchline/hub$' "$(grep '^ExecStart=' "$d/usr/lib/systemd/system/bl-hub.service")"
check "the console's files are the repository's" cmp -s "$top/hub/console/console.js" "$d/usr/share/branchline/console/console.js"
"$d/usr/bin/bl-hub" > /dev/null 2>&1
check_eq "the installed bl-hub runs (usage: exit 2)" 2 "$?"

# ---- the units ----
for u in bl-hub bl-node; do
	f="$d/usr/lib/systemd/system/$u.service"
	for want in User=branchline NoNewPrivileges=yes ProtectSystem=strict \
		ProtectHome=yes PrivateTmp=yes "StateDirectory=branchline/${u#bl-}" \
		StateDirectoryMode=0700 Restart=on-failure UMask=0077 CapabilityBoundingSet=; do
		check "$u.service has $want" grep -qx "$want" "$f"
	done
done
if command -v systemd-analyze > /dev/null; then
	check "make install PREFIX=$T/prefix (a real path, for verify)" inst PREFIX="$T/prefix"
	out=$(systemd-analyze verify "$T/prefix/lib/systemd/system/bl-hub.service" \
		"$T/prefix/lib/systemd/system/bl-node.service" 2>&1)
	check_eq "systemd-analyze verify passes both units, silently" "0 " "$? $out"
	sed 's/^Restart=on-failure/Restart=sometimes/' "$T/prefix/lib/systemd/system/bl-hub.service" > "$T/broken.service"
	out=$(systemd-analyze verify "$T/broken.service" 2>&1)
	check_match "(and would catch a bad setting)" "Failed to parse service restart specifier" "$out"
	for u in bl-hub bl-node; do
		level=$(systemd-analyze security --offline=yes "$T/prefix/lib/systemd/system/$u.service" 2>&1 |
			sed -n 's/.*Overall exposure level for [a-z-]*\.service: \([0-9.]*\).*/\1/p')
		check "$u.service's exposure (systemd-analyze security) is low: $level" \
			awk -v l="${level:-10}" 'BEGIN { exit !(l < 2.5) }'
	done
else
	echo "systemd-analyze is not on this machine: units not verified"
fi
if command -v systemd-sysusers > /dev/null && command -v systemd-tmpfiles > /dev/null; then
	mkdir -p "$T/root/etc"
	check "sysusers.d makes the user branchline (in a scratch root)" \
		systemd-sysusers --root="$T/root" "$d/usr/lib/sysusers.d/branchline.conf" > /dev/null 2>&1
	check "tmpfiles.d makes /var/lib/branchline (in a scratch root)" \
		systemd-tmpfiles --root="$T/root" --create "$d/usr/lib/tmpfiles.d/branchline.conf"
	check_eq "for that user only" "700 $(awk -F: '$1 == "branchline" { print $3 }' "$T/root/etc/passwd")" \
		"$(stat -c '%a %u' "$T/root/var/lib/branchline")"
fi

# ---- every setting explained, and accepted ----
names=$(grep -ho 'conf_get\(_int\)\?([^,]*, "[a-z_]*"' "$top"/sync/*.c "$top"/node/*.c "$top"/hub/*.c |
	sed 's/.*"\([a-z_]*\)"/\1/'; grep -ho 's_yes_no([^,]*, "[a-z_]*"' "$top"/hub/*.c | sed 's/.*"\([a-z_]*\)"/\1/')
names=$(echo "$names" | sort -u | tr '\n' ' ')
check_match "the programs read settings (found: $names)" 'token .*listen|listen .*token' "$names"
for n in $names; do
	check "setting $n is explained in an example config" \
		grep -q "^#\?$n=" "$top/deploy/hub.config.example" "$top/deploy/node.config.example"
done
hub_init
grep '^#[a-z_]*=' "$top/deploy/hub.config.example" | grep -v '^#token=' | sed 's/^#//' >> "$T/hub/config"
check_eq "the hub example's settings, all at once" "14" "$(grep -c '=' "$T/hub/config")"
hub_start
check_eq "are accepted by bl-hub run" 200 "$(http_code "$HUB_HTTP" GET /v1/status)"
key=$("$NODE" init --data "$T/S001" --site S001 --hub "tcp://127.0.0.1:$HUB_SYNC" --hub-key "$HUB_KEY" --http 127.0.0.1:0)
grep '^#[a-z_]*=' "$top/deploy/node.config.example" | grep -v '^#token=' | sed 's/^#//' >> "$T/S001/config"
node_start S001
check_eq "the node example's settings are accepted by bl-node run" 200 "$(http_code "$NODE_HTTP" GET /v1/status)"
check "and the example configs hold no spaces around =" sh -c "! grep -q '^#\?[a-z_]* *= ' '$top/deploy/hub.config.example' '$top/deploy/node.config.example'"
: "$key"
finish
