#!/bin/sh
# resume.t - left alone, pki issue recovers: the whole process group of
# a pki issue with ACME certificates is killed with -9 at several moments
# (ordering, the DNS wait, finish, store), and an immediate re-run issues
# every certificate exactly once, leaves no claim and no _acme-challenge
# TXT record on the primary or the secondary, and costs the CA no order
# and no certificate beyond those needed: stored orders are resumed
# (pki-acme order --resume, pki-store --checkpoint), the challenge
# records of the dead run withdrawn (pki-select --orphans).  Negative
# cases: a stored order that the CA made invalid, and one that expired,
# are replaced by a new order, not resumed.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/acmedns.sh
. "$(dirname "$0")/lib/acmedns.sh"
acmedns_setup PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0

issued() { grep -c 'Issued certificate serial' "$pebble_log"; }
at_least() { [ "$($1)" -ge "$2" ]; }
in_err() { [ "$(grep -c -- "$1" "$T/killed.err")" -ge "$2" ]; }
has_txt() { [ -n "$(dig +short +norecurse -p "$NAMED_PORT" @127.0.0.1 TXT "$1")" ]; }

acmedns_account
pki -q ca init >/dev/null || { echo "Bail out! pki ca init"; exit 1; }

# certs SET: five ACME certificates named for SET, the first with an
# altname and both algorithms: six orders.
certs() {
	pki -q cert add "a.$1.example.test" -c acme -a rsa_plus_ec \
		-A "www.a.$1.example.test"
	for _c in b c d e; do
		pki -q cert add "$_c.$1.example.test" -c acme -a ec
	done
}

# killed MOMENT SET WAIT...: start pki -v issue in a session of its own,
# wait until WAIT succeeds, kill the whole process group with -9, then
# re-run pki issue at once and check what the CA, DNS and the database
# have.  MAX_EXTRA: orders the kill may have cost (an order placed in
# the instant before its checkpoint).
killed() {
	_moment=$1 _set=$2
	shift 2
	certs "$_set"
	_o0=$(orders) _i0=$(issued)
	setsid pki -v issue > "$T/killed.out" 2> "$T/killed.err" &
	kill_when "$_moment: pki issue" $! "$T/killed.err" "$@"
	diag "$_moment: when killed: $(($(orders) - _o0)) orders, $(($(issued) - _i0)) certificates at the CA, $(q "SELECT count(*) FROM acme_orders") orders stored, $(challenges "$_set" | wc -l) TXT served"
	rc=0
	pki issue > "$T/rerun.out" 2> "$T/rerun.err" || rc=$?
	is "$rc" 0 "$_moment: the re-run: exit 0"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/rerun.out" "$T/rerun.err"
	_orders=$(($(orders) - _o0)) _issued=$(($(issued) - _i0))
	diag "$_moment: in all $_orders orders, $_issued certificates for 6 needed"
	ok "$_moment: the CA got at most $((6 + MAX_EXTRA)) orders for 6 needed ($_orders)" \
		[ "$_orders" -le $((6 + MAX_EXTRA)) ]
	ok "$_moment: the CA issued at most $((6 + MAX_EXTRA)) certificates ($_issued)" \
		[ "$_issued" -le $((6 + MAX_EXTRA)) ]
	converged "$_moment" "$_set" \
		"a.$_set.example.test:1 b.$_set.example.test:1 c.$_set.example.test:1 d.$_set.example.test:1 e.$_set.example.test:1"
	is "$(q "SELECT count(*) FROM certkeydata k JOIN certinstances i ON i.id = k.certinstance
		JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
		WHERE s.name LIKE '%.$_set.example.test'")" 6 \
		"$_moment: with six certificates (rsa and ec of the first)"
}

# ------------------------------------------------------------ the moments
# Ordering: three orders placed, stored or not yet (those the CA lists
# for the account are taken up, not placed again).
MAX_EXTRA=0
orders0=$(orders)
killed ordering k1 at_least orders "$((orders0 + 3))"
# The DNS wait: a challenge served by the primary.
MAX_EXTRA=0
killed "DNS wait" k2 has_txt _acme-challenge.c.k2.example.test
# Finish: two certificates issued by the CA.
issued0=$(issued)
killed finish k3 at_least issued "$((issued0 + 2))"
# Store: the first instance stored.
killed store k4 in_err 'issued instance' 1

# ------------------------------------------------------------ negative cases
# A wrong TSIG key: every ACME record fails before anything is ordered.
tsig-keygen -a hmac-sha256 update-key > "$T/wrong.key"
chmod 600 "$T/wrong.key"
sed "s|^PKI_TSIG_KEY_FILE=.*|PKI_TSIG_KEY_FILE=$T/wrong.key|" "$T/pki.conf" > "$T/wrong.conf"
pki -q cert add a.t1.example.test -c acme -a ec
pki -q cert add b.t1.example.test -c acme -a rsa_plus_ec
o0=$(orders)
rc=0
PKI_CONF=$T/wrong.conf pki issue > "$T/wrong.out" 2>&1 || rc=$?
is "$rc" 1 "a wrong TSIG key: pki issue exits 1"
is "$(grep -c 'FAILED: pki-dnsup: dns: zone example.test.: update refused by .*BADSIG' "$T/wrong.out")" 2 \
	"each ACME record fails with the reason: BADSIG"
is "$(($(orders) - o0))" 0 "and the CA got no order"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 0 "no claim left"
rc=0
pki -q issue > "$T/out" 2>&1 || rc=$?
is "$rc:$(($(orders) - o0))" "0:3" "with the right key: issued, three orders"

# A stored order that is still pending is resumed by the next pipeline,
# one that expired is not: a new order replaces it.
PKI_ACME_DIRECTORY=$PEBBLE_DIRECTORY PKI_ACME_CA_BUNDLE=$PEBBLE_CA_BUNDLE
export PKI_ACME_DIRECTORY PKI_ACME_CA_BUNDLE
pki -q cert add a.t2.example.test -c acme -a ec
pki -q cert add b.t2.example.test -c acme -a ec
o0=$(orders)
pki-select -q --create -o a.t2.example.test -o b.t2.example.test | pki-keygen -q |
	pki-csr -q | pki-acme order -q --resume | pki-store -q --checkpoint |
	pki-store -q > "$T/out"
is "$(q "SELECT string_agg(status || ' ' || state, ',') FROM acme_orders o JOIN subjects s
	ON s.certificate = o.certificate WHERE s.name LIKE '%.t2.example.test'")" \
	"pending open,pending open" "two orders placed and stored, pending"
q "UPDATE acme_orders o SET expires = (now() AT TIME ZONE 'UTC') - interval '1 minute'
	FROM subjects s WHERE s.certificate = o.certificate AND s.name = 'b.t2.example.test'"
rc=0
pki -v issue > "$T/out" 2>&1 || rc=$?
is "$rc" 0 "pki issue after them: exit 0"
like "$(cat "$T/out")" "*a.t2.example.test: ec order * resumed (pending)*" "the pending order is resumed"
is "$(($(orders) - o0))" 3 "the expired one is replaced: three orders in all"
is "$(q "SELECT string_agg(s.name || ' ' || state, ',' ORDER BY s.name, o.id) FROM acme_orders o
	JOIN subjects s ON s.certificate = o.certificate WHERE s.name LIKE '%.t2.example.test'")" \
	"a.t2.example.test done,b.t2.example.test replaced,b.t2.example.test done" \
	"the resumed order done, the expired one replaced by a new one, done"

# An order placed by a run that died before its checkpoint is known to
# the CA alone: it is taken up (with the new run's key: it was never
# finalized), not placed again.
pki -q cert add d.t2.example.test -c acme -a ec -A www.d.t2.example.test
o0=$(orders)
pki-select -q -o d.t2.example.test | pki-keygen -q | pki-csr -q |
	pki-acme order -q > /dev/null
is "$(($(orders) - o0)):$(q "SELECT count(*) FROM acme_orders o JOIN subjects s
	ON s.certificate = o.certificate WHERE s.name = 'd.t2.example.test'")" "1:0" \
	"an order placed and not stored"
rc=0
pki -v issue > "$T/out" 2>&1 || rc=$?
is "$rc" 0 "pki issue after it: exit 0"
like "$(cat "$T/out")" "*d.t2.example.test: ec order * taken up: placed by a run that died before storing it*" \
	"the order the CA alone knows is taken up"
is "$(($(orders) - o0))" 1 "and not placed again"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'd.t2.example.test' AND i.state = 'issued'")" 1 "d.t2.example.test is issued"

# An order the CA made invalid (its challenge answered, never published)
# is not resumed either.
pki -q cert add c.t2.example.test -c acme -a ec
o0=$(orders)
pki-select -q --create -o c.t2.example.test | pki-keygen -q | pki-csr -q |
	pki-acme order -q --resume | pki-store -q --checkpoint |
	pki-acme finish -q --timeout 10 2>/dev/null | pki-store -q > "$T/out"
like "$(jq -r '.errors[0].message' "$T/out")" "*challenge failed*" \
	"an order whose challenge failed"
rc=0
pki -v issue > "$T/out" 2>&1 || rc=$?
is "$rc" 0 "pki issue after it: exit 0"
like "$(cat "$T/out")" "*c.t2.example.test: ec: the stored order * is invalid; placing a new one*" \
	"the invalid order is not resumed"
is "$(($(orders) - o0))" 2 "a new order replaces it"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'c.t2.example.test' AND i.state = 'issued'")" 1 "and it is issued"

nok "no private key in anything pki printed" \
	grep -q "$SECRET_PATTERN" "$T/killed.err" "$T/rerun.err" "$T/rerun.out"
done_testing
