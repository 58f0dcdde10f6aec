# acmedns.sh - an ACME CA that validates dns-01 through BIND, for the
# tests of whole runs (issue-acme.t, resume.t, schedule-kill.t,
# faults-acme.t): the servers (named.sh, pebble.sh, pg.sh), the lines of
# a pki.conf for them, and what the tests that kill runs or servers at
# chosen moments share.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/acmedns.sh"
#   acmedns_setup [PEBBLE_VAR=VALUE]...
#
# acmedns_setup skips the test where the servers cannot run (no pebble,
# not root: named -g; no setsid), starts BIND, Pebble with the variables
# given and PostgreSQL, and keeps the runs' directories in $T (TMPDIR).
#   acmedns_conf      the pki.conf lines for Pebble and BIND, on stdout
#   acmedns_account   PKI_CONF: those lines, the terms agreed to; and an
#                     account registered
#   orders            how many orders Pebble has taken
#   wait_for S CMD... poll CMD every 20 ms until it succeeds, S seconds
#                     at most (1 when the time is up)
#   kill_when WHAT PID LOG CMD...
#                     once CMD succeeds (60 s at most), kill the process
#                     group PID with -9 and pass "WHAT killed with -9";
#                     else kill it all the same and fail, showing LOG;
#                     then wait for PID
#   challenges SET    the _acme-challenge TXT values that the primary or
#                     the secondary serves for a name of the certificates
#                     named *.SET.example.test (altnames included)
#   converged WHAT SET WANT
#                     pass or fail, each prefixed by WHAT: the issued
#                     instances of the certificates *.SET.example.test
#                     are WANT ("a.SET.example.test:1 b...:1", by name);
#                     no claim, no challenge TXT, no open order of them
#                     (nor one with its challenges out or its key) left
# shellcheck shell=sh

# shellcheck source=tests/lib/named.sh
. "$PKI_TOP/tests/lib/named.sh"
# shellcheck source=tests/lib/pebble.sh
. "$PKI_TOP/tests/lib/pebble.sh"
# shellcheck source=tests/lib/pg.sh
. "$PKI_TOP/tests/lib/pg.sh"

acmedns_setup() {
	command -v pebble >/dev/null 2>&1 || skip_all "no pebble"
	command -v setsid >/dev/null 2>&1 || skip_all "no setsid"
	[ "$(id -u)" -eq 0 ] || skip_all "named -g needs root"
	named_start
	pebble_start "$@"
	pg_setup
	pebble_log=$(dirname "$PEBBLE_ROOT")/log
	TMPDIR=$T
	export TMPDIR
}

acmedns_account() {
	{ acmedns_conf; echo PKI_ACME_AGREE_TOS=yes; } > "$T/pki.conf"
	PKI_CONF=$T/pki.conf
	export PKI_CONF
	pki -q register >/dev/null || { echo "Bail out! pki register"; exit 1; }
}

acmedns_conf() {
	cat <<EOF
PKI_ACME_DIRECTORY=$PEBBLE_DIRECTORY
PKI_ACME_CA_BUNDLE=$PEBBLE_CA_BUNDLE
PKI_ACME_EMAIL=admin@example.test
PKI_DNS_SERVER=127.0.0.1:$NAMED_PORT
PKI_DNS_RESOLVER=127.0.0.1:$NAMED_PORT
PKI_DNS_NS="127.0.0.1:$NAMED_PORT 127.0.0.1:$NAMED2_PORT"
PKI_TSIG_KEY_FILE=$NAMED_TSIG_KEYFILE
PKI_DNS_TIMEOUT=15
PKI_ACME_TIMEOUT=60
EOF
}

orders() { grep -c 'Added order' "$pebble_log"; }

wait_for() {
	_wf_n=$(($1 * 50))
	shift
	until "$@"; do
		_wf_n=$((_wf_n - 1))
		[ "$_wf_n" -gt 0 ] || return 1
		sleep 0.02
	done
}

kill_when() {
	_kw_what=$1 _kw_pid=$2 _kw_log=$3
	shift 3
	if wait_for 60 "$@"; then
		kill -9 "-$_kw_pid"
		pass "$_kw_what killed with -9"
	else
		kill -9 "-$_kw_pid" 2>/dev/null
		fail "$_kw_what: the moment to kill never came"
		sed 's/^/# /' "$_kw_log"
	fi
	wait "$_kw_pid" 2>/dev/null
}

challenges() {
	q "SELECT name FROM subjects WHERE name LIKE '%.$1.example.test'" |
	while read -r _n; do
		for _p in "$NAMED_PORT" "$NAMED2_PORT"; do
			dig +short +norecurse -p "$_p" @127.0.0.1 TXT \
				"_acme-challenge.$_n"
		done
	done
}

converged() {
	is "$(q "SELECT string_agg(s.name || ':' || (SELECT count(*) FROM certinstances i
		WHERE i.certificate = s.certificate AND i.state = 'issued'), ' ' ORDER BY s.name)
		FROM subjects s WHERE NOT s.isaltname AND s.name LIKE '%.$2.example.test'")" \
		"$3" "$1: one issued instance of each certificate"
	is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 0 \
		"$1: no claim left"
	is "$(challenges "$2")" "" \
		"$1: no _acme-challenge TXT left on the primary or the secondary"
	is "$(q "SELECT count(*) FROM acme_orders o JOIN subjects s ON s.certificate = o.certificate
		AND NOT s.isaltname WHERE s.name LIKE '%.$2.example.test'
		AND (state = 'open' OR withdrawn IS NULL OR key IS NOT NULL)")" 0 \
		"$1: no stored order left open, with challenges out or with a key"
}
