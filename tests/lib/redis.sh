# redis.sh - a private Redis server for a test, on 127.0.0.1, on a free
# port, in $T.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/redis.sh"
#   redis_start
#
# redis_start starts redis-server ($T/redis: its configuration, log and
# nothing else: no snapshot, no append-only file), with the password of
# $REDIS_PASS_FILE required (AUTH), waits until it answers PING, and
# stops it when the test ends.  redis_stop stops it (a server that is
# away); redis_start again starts it anew, empty, on the same port.
#
# Exported:
#   REDIS_PORT        its port (TCP, 127.0.0.1)
#   REDIS_PASS_FILE   the file (mode 0600) holding its password
#   REDIS_LOG         its log (loglevel verbose)
#   REDIS_PID         its process id
#   REDIS_CLI         a redis-cli command prefix that reaches it, logged
#                     in: "$REDIS_CLI -n 3 keys '*'"
#
# Every command is overridable: REDIS_SERVER (/usr/bin/redis-server),
# REDIS_CLI_BIN (redis-cli).

REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
REDIS_CLI_BIN=${REDIS_CLI_BIN:-redis-cli}

redis_start() {
	_d=$T/redis
	mkdir -p "$_d"
	[ -n "${REDIS_PORT:-}" ] || free_port REDIS_PORT
	REDIS_PASS_FILE=$_d/pass
	REDIS_LOG=$_d/log
	if [ ! -f "$REDIS_PASS_FILE" ]; then
		(umask 077 && od -An -N12 -tx1 /dev/urandom | tr -d ' \n' > "$REDIS_PASS_FILE")
	fi
	cat > "$_d/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
dir $_d
logfile $REDIS_LOG
loglevel verbose
daemonize no
save ""
appendonly no
protected-mode yes
requirepass $(cat "$REDIS_PASS_FILE")
CONF
	"$REDIS_SERVER" "$_d/redis.conf" >/dev/null 2>&1 &
	REDIS_PID=$!
	REDIS_CLI="$REDIS_CLI_BIN -h 127.0.0.1 -p $REDIS_PORT --no-auth-warning -a $(cat "$REDIS_PASS_FILE")"
	export REDIS_PORT REDIS_PASS_FILE REDIS_LOG REDIS_PID REDIS_CLI
	at_exit "redis_stop"
	_n=0
	while [ "$($REDIS_CLI ping 2>/dev/null)" != PONG ]; do
		_n=$((_n + 1))
		if [ "$_n" -gt 100 ] || ! kill -0 "$REDIS_PID" 2>/dev/null; then
			echo "Bail out! redis-server did not start (see $REDIS_LOG)"
			exit 1
		fi
		sleep 0.1
	done
}

# redis_stop: stop the server and wait until it is gone.
redis_stop() {
	[ -n "${REDIS_PID:-}" ] || return 0
	kill "$REDIS_PID" 2>/dev/null || true
	_n=0
	while kill -0 "$REDIS_PID" 2>/dev/null && [ "$_n" -lt 100 ]; do
		_n=$((_n + 1))
		sleep 0.05
	done
	kill -9 "$REDIS_PID" 2>/dev/null || true
	wait "$REDIS_PID" 2>/dev/null || true
	REDIS_PID=
}
