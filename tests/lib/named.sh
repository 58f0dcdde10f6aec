# named.sh - two private BIND 9 servers for a test: a primary and its
# secondary, on 127.0.0.1, on free ports, in $T.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/named.sh"
#   named_start
#
# named_start starts the primary ($T/named) and the secondary ($T/named2,
# which transfers every zone from the primary), waits until both serve
# every zone (polled with dig), and stops both when the test ends.  It must
# run as root (named -g keeps root; no systemd is involved).  Zones:
#
#   example.test   dynamic: RFC 2136 UPDATE signed with the TSIG key
#                  update-key (update-policy zonesub ANY); NOTIFY to the
#                  secondary at once.  "* A 127.0.0.1", so that every name
#                  resolves to loopback (Pebble's http-01 lookups), and
#                  _acme-challenge.alias.example.test. CNAME
#                  alias.acme.delegate.test. (delegated validation).
#                  NS ns1 (127.0.0.1) and ns2 (127.0.0.2): port 53, where
#                  nothing of the test listens.
#   delegate.test  dynamic, like example.test: where that CNAME points.
#   lag.test       dynamic, but the primary sends no NOTIFY for it and the
#                  secondary refreshes it hourly: the secondary gets a
#                  change only after "$NAMED2_RNDC refresh lag.test".
#   inc.test       static: its records under $INCLUDE "$NAMED_INCLUDE_FILE"
#                  (empty at first); "$NAMED_RELOAD_CMD" reloads it and, by
#                  raising the zone's serial, gets it to the secondary.
#
# Exported:
#   NAMED_PORT, NAMED2_PORT    the primary's and the secondary's port
#                              (UDP and TCP, 127.0.0.1)
#   NAMED_TSIG_KEYFILE         the key file of update-key (mode 0600),
#                              BIND's 'key "update-key" { ... };'
#   NAMED_TSIG_NAME            update-key
#   NAMED_TSIG_SECRET          its secret (base64), for nsupdate -y and the like
#   NAMED_RNDC, NAMED2_RNDC    rndc command prefixes: "$NAMED_RNDC status"
#   NAMED_INCLUDE_PATTERN      $T/named/{}.acme.inc: pki-dnsup --include-file
#   NAMED_INCLUDE_FILE         that pattern for inc.test
#   NAMED_RELOAD_CMD           "sh $T/named/reload.sh {}": raises the serial
#                              of zone {} and rndc-reloads it
#   NAMED_LOG, NAMED2_LOG      their logs (named -g: everything, updates too)
#   NAMED_PID, NAMED2_PID      their process ids
#
# Every command is overridable: NAMED (/usr/sbin/named), RNDC, DIG,
# TSIG_KEYGEN, NAMED_CHECKCONF.
#
# Pebble validates dns-01 and resolves http-01 names through the primary:
# pebble -dnsserver "127.0.0.1:$NAMED_PORT".  The servers keep their pid,
# session key and journals in $T (no /run or /var directory is needed);
# when AppArmor is on, named runs from a copy of its binary in $T, which
# Debian's profile for /usr/sbin/named does not confine.

NAMED=${NAMED:-/usr/sbin/named}
RNDC=${RNDC:-rndc}
DIG=${DIG:-dig}
TSIG_KEYGEN=${TSIG_KEYGEN:-tsig-keygen}
NAMED_CHECKCONF=${NAMED_CHECKCONF:-named-checkconf}
_named_rndc_port=	# the rndc ports, set by named_start
_named2_rndc_port=

# _named_zone_file ZONE EXTRA [REFRESH]: the zone file of a primary zone
# (its secondary refreshes it every REFRESH seconds, at least 300).
_named_zone_file() {
	cat <<EOF
\$TTL 60
@	IN SOA ns1.$1. hostmaster.$1. ( 1 ${3:-60} 60 3600 60 )
	IN NS ns1.$1.
	IN NS ns2.$1.
ns1	IN A 127.0.0.1
ns2	IN A 127.0.0.2
@	IN A 127.0.0.1
$2
EOF
}

# _named_primary_conf: named.conf of the primary.
_named_primary_conf() {
	cat <<EOF
include "$T/named/update.key";
include "$T/named/rndc.key";
options {
	directory "$T/named";
	pid-file "$T/named/named.pid";
	session-keyfile "$T/named/session.key";
	managed-keys-directory "$T/named";
	listen-on port $NAMED_PORT { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	allow-query { any; };
	allow-transfer { 127.0.0.1; };
	dnssec-validation no;
	notify explicit;
	also-notify { 127.0.0.1 port $NAMED2_PORT; };
	notify-delay 0;
};
controls {
	inet 127.0.0.1 port $_named_rndc_port allow { 127.0.0.1; }
	    keys { "rndc-key"; };
};
zone "example.test" {
	type primary; file "example.test.zone";
	update-policy { grant update-key zonesub ANY; };
};
zone "delegate.test" {
	type primary; file "delegate.test.zone";
	update-policy { grant update-key zonesub ANY; };
};
zone "lag.test" {
	type primary; file "lag.test.zone"; notify no;
	update-policy { grant update-key zonesub ANY; };
};
zone "inc.test" { type primary; file "inc.test.zone"; };
EOF
}

# _named_secondary_conf: named.conf of the secondary.
_named_secondary_conf() {
	cat <<EOF
include "$T/named2/rndc.key";
options {
	directory "$T/named2";
	pid-file "$T/named2/named.pid";
	session-keyfile "$T/named2/session.key";
	managed-keys-directory "$T/named2";
	listen-on port $NAMED2_PORT { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	allow-query { any; };
	dnssec-validation no;
	notify no;
};
controls {
	inet 127.0.0.1 port $_named2_rndc_port allow { 127.0.0.1; }
	    keys { "rndc-key"; };
};
EOF
	for _z in example.test delegate.test lag.test inc.test; do
		echo "zone \"$_z\" { type secondary; primaries { 127.0.0.1 port $NAMED_PORT; }; };"
	done
}

# _named_rndc_conf DIR PORT: an rndc.conf for the server of DIR.
_named_rndc_conf() {
	{
		cat "$1/rndc.key"
		echo "options { default-key \"rndc-key\"; default-server 127.0.0.1; default-port $2; };"
	} >"$1/rndc.conf"
}

# _named_reload_script: reload.sh ZONE, the reload command of inc.test.
_named_reload_script() {
	cat <<EOF
#!/bin/sh
# reload.sh ZONE: raise the serial of ZONE's file (so that the secondary
# transfers it), then reload ZONE on the primary.
set -eu
f="$T/named/\$1.zone"
s=\$(sed -n 's/.*SOA [^(]*( *\([0-9][0-9]*\) .*/\1/p' "\$f")
sed "s/\(SOA [^(]*( *\)[0-9][0-9]*/\1\$((s + 1))/" "\$f" >"\$f.new"
mv "\$f.new" "\$f"
exec $NAMED_RNDC reload "\$1"
EOF
}

# _named_files: keys, configurations and zones of both servers.
_named_files() {
	mkdir -p "$T/named" "$T/named2" || return 1
	(umask 077 && "$TSIG_KEYGEN" -a hmac-sha256 update-key >"$T/named/update.key") &&
		"$TSIG_KEYGEN" -a hmac-sha256 rndc-key >"$T/named/rndc.key" &&
		"$TSIG_KEYGEN" -a hmac-sha256 rndc-key >"$T/named2/rndc.key" || return 1
	_named_rndc_conf "$T/named" "$_named_rndc_port"
	_named_rndc_conf "$T/named2" "$_named2_rndc_port"
	NAMED_RNDC="$RNDC -c $T/named/rndc.conf"
	NAMED2_RNDC="$RNDC -c $T/named2/rndc.conf"
	_named_primary_conf >"$T/named/named.conf"
	_named_secondary_conf >"$T/named2/named.conf"
	_named_zone_file example.test '*	IN A 127.0.0.1
_acme-challenge.alias	IN CNAME alias.acme.delegate.test.' >"$T/named/example.test.zone"
	_named_zone_file delegate.test '' >"$T/named/delegate.test.zone"
	_named_zone_file lag.test '' 3600 >"$T/named/lag.test.zone"
	_named_zone_file inc.test "*	IN A 127.0.0.1
\$INCLUDE \"$NAMED_INCLUDE_FILE\"" >"$T/named/inc.test.zone"
	: >"$NAMED_INCLUDE_FILE"
	_named_reload_script >"$T/named/reload.sh"
	"$NAMED_CHECKCONF" "$T/named/named.conf" &&
		"$NAMED_CHECKCONF" "$T/named2/named.conf"
}

# _named_run DIR: start named on DIR/named.conf, a child of this shell;
# its pid in _named_pid.
_named_run() {
	_bin=$NAMED
	# Debian's AppArmor profile confines /usr/sbin/named to /etc/bind
	# and /var: a copy of the binary elsewhere is not confined.
	if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
		cp "$NAMED" "$1/named-bin" && _bin=$1/named-bin
	fi
	"$_bin" -g -c "$1/named.conf" >"$1/named.log" 2>&1 </dev/null &
	_named_pid=$!
}

# _named_ready PID PORT: poll until the server PID serves every zone on
# PORT (10 s at most); 1 if it died or did not.
_named_ready() {
	_n=0
	while [ "$_n" -lt 200 ]; do
		kill -0 "$1" 2>/dev/null || return 1
		_all=1
		for _z in example.test delegate.test lag.test inc.test; do
			"$DIG" +short +norec +time=1 +tries=1 -p "$2" @127.0.0.1 SOA "$_z" 2>/dev/null |
				grep -q "^ns1\.$_z\. " || { _all=0; break; }
		done
		[ "$_all" = 1 ] && return 0
		sleep 0.05
		_n=$((_n + 1))
	done
	return 1
}

named_start() {
	free_port NAMED_PORT
	free_port NAMED2_PORT
	free_port _named_rndc_port
	free_port _named2_rndc_port
	NAMED_INCLUDE_PATTERN="$T/named/{}.acme.inc"
	NAMED_INCLUDE_FILE="$T/named/inc.test.acme.inc"
	NAMED_RELOAD_CMD="sh $T/named/reload.sh {}"
	NAMED_TSIG_KEYFILE=$T/named/update.key
	NAMED_TSIG_NAME=update-key
	NAMED_LOG=$T/named/named.log
	NAMED2_LOG=$T/named2/named.log
	if ! _named_files; then
		echo "Bail out! named.sh: cannot set up named in $T"
		exit 1
	fi
	NAMED_TSIG_SECRET=$(sed -n 's/.*secret "\(.*\)";.*/\1/p' "$NAMED_TSIG_KEYFILE")
	_named_run "$T/named"
	NAMED_PID=$_named_pid
	at_exit "named_stop $NAMED_PID"
	_named_run "$T/named2"
	NAMED2_PID=$_named_pid
	at_exit "named_stop $NAMED2_PID"
	if ! _named_ready "$NAMED_PID" "$NAMED_PORT" ||
		! _named_ready "$NAMED2_PID" "$NAMED2_PORT"; then
		echo "Bail out! named did not start; see $NAMED_LOG and $NAMED2_LOG"
		exit 1
	fi
	export NAMED_PORT NAMED2_PORT NAMED_TSIG_KEYFILE NAMED_TSIG_NAME \
		NAMED_TSIG_SECRET NAMED_RNDC NAMED2_RNDC NAMED_INCLUDE_PATTERN \
		NAMED_INCLUDE_FILE NAMED_RELOAD_CMD NAMED_LOG NAMED2_LOG \
		NAMED_PID NAMED2_PID
}

# named_restart: start the primary and the secondary again where they
# are gone (killed with -9, say), on the same ports and files, and wait
# until both serve every zone: the primary what its journal kept, the
# secondary what it transfers from the primary.
named_restart() {
	wait "$NAMED_PID" "$NAMED2_PID" 2>/dev/null
	if ! kill -0 "$NAMED_PID" 2>/dev/null; then
		_named_run "$T/named"
		NAMED_PID=$_named_pid
		at_exit "named_stop $NAMED_PID"
	fi
	if ! kill -0 "$NAMED2_PID" 2>/dev/null; then
		_named_run "$T/named2"
		NAMED2_PID=$_named_pid
		at_exit "named_stop $NAMED2_PID"
	fi
	export NAMED_PID NAMED2_PID
	if ! _named_ready "$NAMED_PID" "$NAMED_PORT" ||
		! _named_ready "$NAMED2_PID" "$NAMED2_PORT"; then
		echo "Bail out! named did not start again; see $NAMED_LOG and $NAMED2_LOG"
		exit 1
	fi
}

# named_resolver_start: a third named, a recursive resolver that forwards
# every query to the primary, follows CNAMEs from zone to zone as any
# resolver does, and caches nothing for long; like the resolvers an ACME
# CA validates through.  Exports NAMED_RESOLVER_PORT, NAMED_RESOLVER_PID.
# (The primary and secondary, without recursion, stop at a CNAME.)
named_resolver_start() {
	free_port NAMED_RESOLVER_PORT
	mkdir -p "$T/named3" || exit 1
	cat >"$T/named3/named.conf" <<EOF
options {
	directory "$T/named3";
	pid-file "$T/named3/named.pid";
	session-keyfile "$T/named3/session.key";
	managed-keys-directory "$T/named3";
	listen-on port $NAMED_RESOLVER_PORT { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion yes;
	allow-recursion { 127.0.0.1; };
	allow-query { 127.0.0.1; };
	dnssec-validation no;
	forwarders { 127.0.0.1 port $NAMED_PORT; };
	forward only;
	max-cache-ttl 1;
	max-ncache-ttl 0;
};
EOF
	_named_run "$T/named3"
	NAMED_RESOLVER_PID=$_named_pid
	at_exit "named_stop $NAMED_RESOLVER_PID"
	_n=0
	until "$DIG" +short +time=1 +tries=1 -p "$NAMED_RESOLVER_PORT" @127.0.0.1 \
		SOA example.test 2>/dev/null | grep -q '^ns1\.'; do
		_n=$((_n + 1))
		if [ "$_n" -ge 200 ] || ! kill -0 "$NAMED_RESOLVER_PID" 2>/dev/null; then
			echo "Bail out! the resolver named did not start; see $T/named3/named.log"
			exit 1
		fi
		sleep 0.05
	done
	export NAMED_RESOLVER_PORT NAMED_RESOLVER_PID
}

# named_stop PID: stop the named of PID (stopped with SIGSTOP or not) and
# wait (5 s at most) until it is gone (reaped when it is this shell's
# child, a zombie otherwise).
named_stop() {
	kill "$1" 2>/dev/null || return 0
	kill -CONT "$1" 2>/dev/null
	wait "$1" 2>/dev/null && return 0
	_n=0
	while kill -0 "$1" 2>/dev/null && [ "$_n" -lt 100 ]; do
		case $(cut -d ' ' -f 3 "/proc/$1/stat" 2>/dev/null) in
		Z | '') return 0 ;;
		esac
		sleep 0.05
		_n=$((_n + 1))
	done
}
