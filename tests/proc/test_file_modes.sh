# Who may read a data directory: its user only. init makes the directory
# 0700 even when it already exists as 0755, everything the programs create
# in it (databases, -wal, -shm, keys, config, ports) is 0600 whatever the
# umask, a chmod init cannot do is a one-line failure, and run warns when
# the directory lets others in.
. "$(dirname "$0")/lib.sh"
umask 022

# modes DIR: "NAME MODE" for the directory and every file in it, sorted.
modes() { (cd "$1" && stat -c '%n %a' . * | sort); }

mkdir -m 755 "$T/hub" "$T/S001"
hub_init
check_eq "hub init makes an existing 0755 directory 0700" "700" "$(stat -c %a "$T/hub")"
check_eq "and its files 0600" ". 700
config 600
hub.db 600
hub.key 600
hub.pub 600" "$(modes "$T/hub")"
hub_start
node_init S001
check_eq "node init makes an existing 0755 directory 0700" "700" "$(stat -c %a "$T/S001")"
node_start S001
http_post "$NODE_HTTP" /v1/customers '{"name":"Li Wei","phone":"13800000000"}' > /dev/null
at_hub() { http_get "$HUB_HTTP" /v1/customers | grep -q '"Li Wei"'; }
check "the node's write reaches the hub" eventually 10 at_hub
check_eq "the running node's files are 0600, WAL and shared memory too" ". 700
config 600
node.db 600
node.db-shm 600
node.db-wal 600
node.key 600
node.pub 600
ports 600
run.lock 600" "$(modes "$T/S001")"
check_eq "the hub's too" ". 700
config 600
hub.db 600
hub.db-shm 600
hub.db-wal 600
hub.key 600
hub.pub 600
ports 600
run.lock 600" "$(modes "$T/hub")"
check_eq "nothing in either is open to group or others" "" \
	"$(find "$T/hub" "$T/S001" -perm /077)"

# run: a directory opened up since init is served, with a warning.
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null
chmod 755 "$T/S001"
node_start S001
check_match "run warns about a 0755 data directory" \
	"bl-node: warning: $T/S001: mode 755 lets other local users read customers' data; chmod 700 it$" \
	"$(cat "$T/S001.log")"
check_match "and serves" '"site":"S001"' "$(http_get "$NODE_HTTP" /v1/status)"
check_eq "the hub, in its private directory, did not warn" "" "$(grep 'other local users' "$T/hub.log")"

# A directory init cannot make private is a failure, before anything is
# written into it (a /proc directory refuses chmod, even to root).
if [ -d /proc/self ]; then
	out=$("$NODE" init --data /proc/self --site S002 --hub "tcp://127.0.0.1:$HUB_SYNC" --hub-key "$HUB_KEY" 2>&1)
	check_eq "a failed chmod at init exits 1" "1" "$?"
	check_eq "saying so in one line" "bl-node: init: /proc/self: cannot make it private (chmod 700): Operation not permitted" "$out"
fi
finish
