# Helpers shared by the test_domain_*.sh scripts (source after lib.sh):
# site daemons started and stopped by name, one-shot sync rounds, HTTP calls
# that keep status and body, and command-line runs that keep stdout, stderr
# and exit status.

# site_up SITE...: runs each SITE's daemon; sets PID_SITE and HTTP_SITE.
site_up() {
	local site
	for site in "$@"; do
		node_start "$site"
		eval "PID_$site=\$NODE_PID; HTTP_$site=\$NODE_HTTP"
	done
}

# site_down SITE...: stops those daemons (SIGTERM) and waits for them.
site_down() {
	local site p pids=""
	for site in "$@"; do
		eval "pids=\"\$pids \${PID_$site:-}\"; PID_$site="
	done
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
}

# http_port SITE: the HTTP port of SITE's running daemon (hub: the hub's).
http_port() {
	if [ "$1" = hub ]; then echo "$HUB_HTTP"; else eval "echo \${HTTP_$1:-0}"; fi
}

# sync_all: two one-shot rounds of every site, so every replica has every op.
# S002 goes first so that the hub receives later writes before earlier ones.
sync_all() {
	local site
	for site in S002 S001 W001 S002 S001 W001; do
		check "$site syncs" "$NODE" sync --data "$T/$site" --timeout 5
	done
}

# call METHOD SITE PATH [BODY]: one HTTP request to SITE (or hub); sets CODE
# (000 when nothing answered) and BODY.
call() {
	CODE=$(curl -s -o "$T/call.body" -w '%{http_code}' --max-time 5 \
		-X "$1" "http://127.0.0.1:$(http_port "$2")$3" ${4:+-d "$4"})
	BODY=$(cat "$T/call.body" 2>/dev/null)
	rm -f "$T/call.body"
}

# get SITE PATH: the body of a GET.
get() { call GET "$1" "$2"; printf '%s' "$BODY"; }

# jqr JSON FILTER: jq -r of a JSON text, or "(not JSON)" when it is not.
jqr() { printf '%s' "$1" | jq -r "$2" 2>/dev/null || echo "(not JSON)"; }

# cli ARGS...: runs bl-node ARGS; sets OUT, ERR and RC. stderr also goes to
# $T/cli.log, so finish() sees any sanitizer report of a command.
cli() {
	"$NODE" "$@" > "$T/cli.out" 2> "$T/cli.err"
	RC=$?
	OUT=$(cat "$T/cli.out")
	ERR=$(cat "$T/cli.err")
	{ echo "\$ bl-node $*"; cat "$T/cli.err"; } >> "$T/cli.log"
	rm -f "$T/cli.out" "$T/cli.err"
}

# everywhere DESC WANT PATH FILTER: at S001, S002, W001 (daemons running) and
# at the hub, jq FILTER of GET PATH gives WANT.
everywhere() {
	local r
	for r in S001 S002 W001 hub; do
		check_eq "$1 at $r" "$2" "$(jqr "$(get "$r" "$3")" "$4")"
	done
}

# at "SITE..." DESC WANT PATH FILTER: like everywhere, at the sites named
# (daemons running; "hub" for the hub).
at() {
	local r sites=$1
	shift
	for r in $sites; do
		check_eq "$1 at $r" "$2" "$(jqr "$(get "$r" "$3")" "$4")"
	done
}

# unseen "SITE..." DESC PATH: GET PATH answers 404 at each site named: the
# record is not among what that site may see (visibility by site, SPEC §5).
unseen() {
	local r
	for r in $1; do
		call GET "$r" "$3"
		check_eq "$2 is not sent to $r" 404 "$CODE"
	done
}
