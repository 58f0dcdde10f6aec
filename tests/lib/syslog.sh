# syslog.sh - a syslog of the test's own.  There is no syslogd here: in
# a mount namespace of its own (unshare -m, /dev an overlay), /dev/log is
# a datagram socket of this test, where the workflows' logger(1) and the
# programs' syslog(3) both write; a receiver keeps each message as a line
# of $SYSLOG.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/syslog.sh"
#   syslog_start || skip "..."    start the receiver; 1 when no such
#                                 namespace can be made here (then ns
#                                 runs commands as they are)
#   ns CMD...                     CMD with that /dev/log
#   syslog_sync                   wait until every message sent before
#                                 is in $SYSLOG (a marker sent last is)
#
# SYSLOG is $T/syslog; the receiver stops when the test ends.

SYSLOG=$T/syslog
: >"$SYSLOG"
ns() { "$@"; }

syslog_start() {
	mkdir -p "$T/ovl/up" "$T/ovl/work"
	# shellcheck disable=SC2016 # for sh -c
	_sl_in_ns='mount --make-rprivate / && mount -t overlay overlay \
		-o "lowerdir=/dev,upperdir=$1/ovl/up,workdir=$1/ovl/work" /dev &&
		ln -sf "$1/log.sock" /dev/log && shift && exec "$@"'
	unshare -m sh -c "$_sl_in_ns" sh "$T" true 2>/dev/null || return 1
	rm -f "$T/ovl/up/log"
	# shellcheck disable=SC2317 # called by the tests
	ns() { unshare -m sh -c "$_sl_in_ns" sh "$T" "$@"; }
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$T/log.sock" "$SYSLOG" &
	_sl_pid=$!
	at_exit "kill $_sl_pid"
	_sl_n=0
	while [ ! -S "$T/log.sock" ] && [ "$_sl_n" -lt 200 ]; do
		sleep 0.05
		_sl_n=$((_sl_n + 1))
	done
	[ -S "$T/log.sock" ] && _sl_on=1
}

_sl_marks=0 _sl_on=
syslog_sync() {
	[ -n "$_sl_on" ] || return 0
	_sl_marks=$((_sl_marks + 1))
	ns logger -t syslog.sh "mark $_sl_marks" 2>/dev/null || return 1
	_sl_n=0
	until grep -q "syslog.sh: mark $_sl_marks\$" "$SYSLOG"; do
		_sl_n=$((_sl_n + 1))
		[ "$_sl_n" -lt 200 ] || return 1
		sleep 0.02
	done
}
