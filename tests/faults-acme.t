#!/bin/sh
# faults-acme.t - pki issue with ACME certificates (dns-01 through BIND,
# RFC 2136) when a server it talks to is killed with -9 under it: Pebble
# during an order (its orders placed and stored, no challenge answered),
# Pebble during finalize (a certificate issued, the others being
# finalized or downloaded), and named, primary and secondary, during the
# propagation wait (the primary has the challenges, the secondary,
# stopped, has not).  Each time the run ends within its timeouts with a
# one-line error per certificate naming what went away and where, stores
# nothing half-way (no instance, no claim, no key printed), and once the
# server is back an immediate re-run issues each certificate exactly once
# and leaves no claim, no _acme-challenge TXT and no open order.
# Pebble keeps its state in memory: the Pebble that comes back knows no
# account, order or certificate of the one killed, and says so
# (accountDoesNotExist); pki-acme registers the account's key again by
# itself (no pki register in between), the new URL is stored and used,
# and the re-run places new orders (the stored ones are replaced).
# named keeps its journal: the re-run withdraws the challenges the failed
# run could not, and resumes its orders.  An account the CA refuses
# (deactivated) is not replaced: a one-line error says to run pki
# register, and no account is made.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/acmedns.sh
. "$(dirname "$0")/lib/acmedns.sh"
if ! pebble_new_available; then
	[ -n "${CI:-}" ] && { echo "Bail out! no Pebble 2.10 (make deps)"; exit 1; }
	skip_all "no Pebble 2.10 in $PEBBLE_NEW (make deps fetches it)"
fi
acmedns_setup VERSION=2.10 PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0
acmedns_account
# Short waits: what went away is given up on within seconds.
printf '%s\n' PKI_ACME_TIMEOUT=3 PKI_DNS_TIMEOUT=2 >> "$T/pki.conf"
CA=${PEBBLE_DIRECTORY%/dir}

issued() { [ "$(grep -c 'Issued certificate serial' "$PEBBLE_LOG")" -gt "$1" ]; }
has_txt() { [ -n "$(dig +short +norecurse -p "$NAMED_PORT" @127.0.0.1 TXT "$1")" ]; }
# certs SET: two ACME certificates named for SET, one with an altname.
# (What pki cert add does, in one psql: it costs a second each.)
certs() {
	q "SELECT add_cert('a.$1.example.test', 'server', 'LE', 'ec', false,
		NULL, NULL, NULL, NULL, NULL, NULL);
	   SELECT add_cert('b.$1.example.test', 'server', 'LE', 'ec', false,
		NULL, NULL, NULL, NULL, NULL, NULL);
	   SELECT add_altname('b.$1.example.test', 'www.b.$1.example.test')" >/dev/null
}

# fault WHAT SET KILL WAIT...: start pki issue, and once WAIT succeeds
# run KILL (for eval); the run's exit status in $rc, its output in
# $T/SET.out, its seconds in $secs.
fault() {
	_what=$1 _set=$2 _kill=$3
	shift 3
	certs "$_set"
	_t0=$(date +%s)
	setsid pki issue > "$T/$_set.out" 2> "$T/$_set.err" &
	_pid=$!
	if wait_for 30 "$@"; then
		pass "$_what: killed with -9"
	else
		fail "$_what: the moment to kill never came"
		sed 's/^/# /' "$T/$_set.err"
	fi
	eval "$_kill"
	rc=0
	wait "$_pid" || rc=$?
	secs=$(($(date +%s) - _t0))
	cat "$T/$_set.out" "$T/$_set.err" >> "$T/all"
}

# after WHAT SET REASON STATUS: what the killed run left: its exit
# STATUS (2: pki-acme could not reach the CA at all), one error line per
# certificate naming it and REASON (a pattern); nothing stored.
after() {
	is "$rc" "$4" "$1: pki issue exits $4"
	ok "$1: within the timeouts ($secs s)" [ "$secs" -le 20 ]
	is "$(grep -c "^[ab]\.$2\.example\.test: FAILED: $3" "$T/$2.out")" 2 \
		"$1: an error for each certificate, naming what went away"
	diag "$(sed -n 1p "$T/$2.out")"
	is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
		WHERE s.name LIKE '%.$2.example.test'")" 0 "$1: no instance stored, none left claimed"
}

# rerun WHAT SET: pki issue at once, then what it converged to.
rerun() {
	rc=0
	pki issue > "$T/$2.rerun" 2>&1 || rc=$?
	cat "$T/$2.rerun" >> "$T/all"
	is "$rc" 0 "$1: the re-run exits 0"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/$2.rerun"
	converged "$1" "$2" "a.$2.example.test:1 b.$2.example.test:1"
}

# ------------------------------------------------------------ an order
# The orders placed and stored, their challenges published on the
# primary, pki-dnsup waiting for the secondary (stopped): Pebble is
# killed before any challenge is answered, then the secondary goes on.
kill -STOP "$NAMED2_PID"
fault "Pebble during an order" o "kill -9 $PEBBLE_PID; kill -CONT $NAMED2_PID" \
	has_txt _acme-challenge.b.o.example.test
after "Pebble during an order" o \
	"pki-acme: acme: .*cannot reach the ACME CA: GET $CA/dir: .*Couldn't connect" 2
pebble_restart
# The CA back without the account: the re-run registers its key again.
account() { q "SELECT url FROM acme_accounts WHERE status = 'valid' ORDER BY created DESC, id DESC LIMIT 1"; }
old=$(account)
accounts=$(q "SELECT count(*) FROM acme_accounts")
rerun "Pebble during an order" o
new=$(account)
ok "the CA forgot the account: a new URL is stored ($new)" [ -n "$new" ] && [ "$new" != "$old" ]
is "$(q "SELECT count(*) FROM acme_accounts")" "$((accounts + 1))" "... one account row more, no pki register run"
is "$(q "SELECT key FROM acme_accounts WHERE url = '$new'")" "$(q "SELECT key FROM acme_accounts WHERE url = '$old'")" \
	"... with the same key"
is "$(q "SELECT status FROM acme_accounts WHERE url = '$old'")" replaced "... and the old one marked replaced"
is "$(q "SELECT string_agg(DISTINCT account, ' ') FROM acme_orders o JOIN subjects s ON s.certificate = o.certificate
	AND NOT s.isaltname WHERE s.name LIKE '%.o.example.test' AND state <> 'replaced'")" "$new" \
	"... and the new orders are placed with it, not with the old one"
is "$(grep -c "^pki-acme: ACME account $old registered again as $new" "$T/o.rerun")" 1 \
	"... which pki-acme order says once"
like "$(cat "$T/o.rerun")" "*ACME account $new: registered again with its key (the CA did not know $old any more)*" \
	"... and the run's summary too"
is "$(q "SELECT count(*) FROM acme_orders o JOIN subjects s ON s.certificate = o.certificate
	AND NOT s.isaltname WHERE s.name LIKE '%.o.example.test' AND state = 'replaced'")" 2 \
	"Pebble during an order: the stored orders replaced by new ones"

# ------------------------------------------------------------ finalize
# The first certificate issued by the CA, not yet stored.
fault "Pebble during finalize" f "kill -9 $PEBBLE_PID" issued "$(grep -c 'Issued certificate serial' "$PEBBLE_LOG")"
after "Pebble during finalize" f "pki-acme: acme: .*$CA/" 1
pebble_restart
rerun "Pebble during finalize" f
ok "Pebble during finalize: the account registered again, once more" [ "$(account)" != "$new" ]

# ------------------------------------------------------------ propagation
# The secondary stopped, so that pki-dnsup waits for it; both killed
# once the primary serves a challenge.
kill -STOP "$NAMED2_PID"
fault "named during the propagation wait" n "kill -9 $NAMED_PID $NAMED2_PID" \
	has_txt _acme-challenge.b.n.example.test
after "named during the propagation wait" n \
	"pki-dnsup: dns: _acme-challenge\..*: not served by .*127.0.0.1#$NAMED2_PORT (no answer).* within 2 s; .*no answer from 127.0.0.1#$NAMED_PORT" 1
named_restart
o0=$(orders)
rerun "named during the propagation wait" n
is "$(($(orders) - o0))" 0 "named during the propagation wait: the stored orders resumed, none placed"

# ------------------------------------------------------------ deactivated
# pki account deactivate: the database knows, and so does the CA.  No
# account of the directory is left: pki issue says so, makes none.
acct=$(account)
accounts=$(q "SELECT count(*) FROM acme_accounts")
new0=$(grep -c 'There are now [0-9]* accounts in memory' "$PEBBLE_LOG" || true)
quiet pki -q account deactivate --yes
certs d
capture pki issue
is "$rc" 2 "a deactivated account: pki issue exits 2"
is "$(printf '%s\n' "$out" | grep -c "^[ab]\.d\.example\.test: FAILED: pki-acme: acme: no ACME account or CA: no valid ACME account of $PEBBLE_DIRECTORY in the database (pki register makes one)$")" 2 \
	"... one line per certificate naming the CA and pki register"
# The database says valid (a lie, or a deactivation it never heard of):
# the CA refuses the account, and pki-acme does not replace it.
q "UPDATE acme_accounts SET status = 'valid' WHERE url = '$acct'"
capture pki issue
is "$rc" 1 "an account the CA deactivated: pki issue exits 1"
is "$(printf '%s\n' "$out" | grep -c "^[ab]\.d\.example\.test: FAILED: pki-acme: acme: new order: ACME account $acct: urn:ietf:params:acme:error:unauthorized: .*: if it was deactivated or revoked, run pki register (pki makes no new account in its place by itself)")" 2 \
	"... one line per certificate naming the account and pki register"
is "$(q "SELECT count(*) FROM acme_accounts")" "$accounts" "... and no account is made, in the database"
is "$(grep -c 'There are now [0-9]* accounts in memory' "$PEBBLE_LOG" || true)" "$new0" "... nor at the CA"
printf '%s\n' "$out" >> "$T/all"

nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$T/all"
done_testing
