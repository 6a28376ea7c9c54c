#!/bin/sh
# A throwaway PostgreSQL cluster for tests: Debian's server binaries
# (/usr/lib/postgresql/N/bin, from `make deps`), a fresh initdb in a folder
# of the caller's, a server on 127.0.0.1 only, trust authentication on
# loopback and the folder's unix socket only, a database `branchline`.
#
#   tests/pg.sh start DIR [--fsync]
#                           initdb in DIR/data, start the server on a free
#                           port (its socket in DIR, its log in DIR/log),
#                           create the database; print its URI
#                           postgresql://branchline@127.0.0.1:PORT/branchline
#                           and write it to DIR/uri. DIR must exist and be
#                           empty or not exist yet. --fsync: a durable
#                           cluster (below), for the benchmark's figures.
#   tests/pg.sh stop DIR    stop it (fast: open sessions are cut); does
#                           nothing when it is not running, so it is safe to
#                           call twice. Leaves DIR for the caller to remove.
#
# PostgreSQL refuses to run as root. As root (here and in CI) the cluster
# runs as `nobody` (or a system user blpg, created when there is no nobody):
# DIR is given to that user, so DIR's parents must be world-traversable, as
# /tmp is. As any other user, the cluster runs as that user.
#
# The port is picked below the kernel's ephemeral range (32768 up), as
# tests/proc/lib.sh's fixed_port does, so no port-0 daemon of a test takes it
# meanwhile; if another process binds it between the pick and the server's
# bind, start tries another (5 tries). fsync is off: the cluster is thrown
# away, it never has to survive a machine crash, and tests go faster. With
# --fsync it is on, with full_page_writes and synchronous_commit,
# PostgreSQL's defaults: every COMMIT waits for its WAL flush, as on a
# production server, so a benchmark measures what a durable append costs.
set -eu

PG_DB=branchline
PG_SUPERUSER=branchline

die() {
	echo "pg.sh: $*" >&2
	exit 1
}

# The newest installed server's bin folder.
pg_bindir() {
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# The user the server runs as: ourselves, or an unprivileged one as root.
pg_user() {
	if [ "$(id -u)" -ne 0 ]; then
		id -un
	elif id -u nobody > /dev/null 2>&1; then
		echo nobody
	else
		if ! id -u blpg > /dev/null 2>&1; then
			useradd --system --no-create-home --shell /usr/sbin/nologin \
			    blpg || die "start: cannot create system user blpg"
		fi
		echo blpg
	fi
}

# as USER CMD...: runs CMD as USER (directly when that is us), from /.
as() {
	u=$1
	shift
	if [ "$(id -un)" = "$u" ]; then
		(cd / && "$@")
	else
		(cd / && runuser -u "$u" -- "$@")
	fi
}

free_port() {
	python3 -c 'import random, socket
base = random.randrange(12000)
for i in range(12000):
	p = 20000 + (base + i) % 12000
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

start() {
	dir=$1
	durable=$2
	bin=$(pg_bindir) || die "start: no PostgreSQL server in /usr/lib/postgresql/*/bin (make deps installs postgresql)"
	user=$(pg_user)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ -e "$dir/data" ] && die "start: $dir/data: already exists"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$user" "$dir"
		chmod 0700 "$dir"
		as "$user" test -w "$dir" ||
		    die "start: $dir: not writable by $user (is a parent folder not world-traversable? use one under /tmp)"
	fi
	if ! as "$user" "$bin/initdb" -D "$dir/data" -U "$PG_SUPERUSER" \
	    -A trust -E UTF8 --no-locale --no-sync > "$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		die "start: initdb in $dir/data failed"
	fi
	# Trust, but only on the folder's socket and on 127.0.0.1, the one
	# address the server listens on.
	printf '%s\n' \
	    'local all all trust' \
	    'host all all 127.0.0.1/32 trust' > "$dir/data/pg_hba.conf"
	if [ "$durable" = 1 ]; then
		sync_conf="fsync = on
full_page_writes = on
synchronous_commit = on"
	else
		sync_conf="fsync = off
full_page_writes = off"
	fi
	printf '%s\n' \
	    "listen_addresses = '127.0.0.1'" \
	    "unix_socket_directories = '$dir'" \
	    "$sync_conf" \
	    "logging_collector = off" >> "$dir/data/postgresql.conf"

	tries=0
	while :; do
		port=$(free_port)
		[ -n "$port" ] || die "start: no free port on 127.0.0.1"
		if as "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
		    -t 60 -o "-p $port" start > /dev/null 2>&1; then
			break
		fi
		tries=$((tries + 1))
		if [ "$tries" -ge 5 ] || ! grep -q 'could not bind\|Address already in use' "$dir/log" 2>/dev/null; then
			tail -n 20 "$dir/log" >&2 2>/dev/null || true
			die "start: server in $dir/data did not start (port $port, try $tries)"
		fi
	done
	echo "$port" > "$dir/port"
	if ! "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" "$PG_DB" 2> "$dir/createdb.log"; then
		cat "$dir/createdb.log" >&2
		stop "$dir"
		die "start: createdb $PG_DB on 127.0.0.1:$port failed"
	fi
	uri="postgresql://$PG_SUPERUSER@127.0.0.1:$port/$PG_DB"
	echo "$uri" > "$dir/uri"
	echo "$uri"
}

stop() {
	dir=$1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	bin=$(pg_bindir) || die "stop: no PostgreSQL server in /usr/lib/postgresql/*/bin"
	user=$(stat -c %U "$dir/data")
	as "$user" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop > /dev/null 2>&1 ||
	    [ ! -f "$dir/data/postmaster.pid" ] || die "stop: pg_ctl stop in $dir/data failed"
}

usage="usage: pg.sh start DIR [--fsync] | stop DIR"
case $#:${1-}:${3-} in
2:start:) start "$2" 0 ;;
3:start:--fsync) start "$2" 1 ;;
2:stop:) stop "$2" ;;
*) die "$usage" ;;
esac
