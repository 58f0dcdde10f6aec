#!/bin/sh
# profiles.t - ACME profiles (draft-ietf-acme-profiles) against real
# Pebbles on loopback: Debian forky's Pebble 2.10 with a 90-day default
# and a 6-day "shortlived" profile, and Debian 12's Pebble 2.4, which
# offers none.  The profile comes from the record (pki cert add -P, the
# database), else from --profile (PKI_ACME_PROFILE); one the CA does not
# offer fails its record alone, before any order is placed.  (Pebble 2.10
# picks a profile at random for an order that names none: so does each
# assertion on a lifetime here name one.)
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v pebble >/dev/null 2>&1 || skip_all "no pebble"
# shellcheck source=tests/lib/pebble.sh
. "$(dirname "$0")/lib/pebble.sh"
pebble_new_available ||
	skip_all "no Pebble 2.10 in $PEBBLE_NEW (make deps fetches it)"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"

err=$T/stderr.all
DAY=86400
pebble_start VERSION=2.10 VALIDITY=$((90 * DAY)) PEBBLE_AUTHZREUSE=100 \
	PROFILES="\"shortlived\": {\"description\": \"6 days\", \"validityPeriod\": $((6 * DAY))}"
CA=$PEBBLE_CA_BUNDLE
LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT
is "$(curl -sf --cacert "$CA" "$PEBBLE_DIRECTORY" | jq -c '.meta.profiles | keys')" \
	'["default","shortlived"]' "Pebble 2.10's directory lists its profiles"

pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA" > "$T/acct.json" 2>>"$err"
chmod 600 "$T/acct.json"
# issue [ORDER-FLAGS...]: the records in $T/in through keygen | csr |
# order | finish, into $T/out; status in $rc.
issue() {
	pki-keygen < "$T/in" 2>>"$err" | pki-csr > "$T/csr" 2>>"$err"
	rc=0
	pki-acme order --account "$T/acct.json" --ca-bundle "$CA" \
		--challenge http-01 -v "$@" < "$T/csr" > "$T/ordered" \
		2>"$T/order.err" || rc=$?
	pki-acme finish --account "$T/acct.json" --ca-bundle "$CA" \
		--http-listen "$LISTEN" < "$T/ordered" > "$T/out" 2>>"$err"
	cat "$T/order.err" >> "$err"
}
rec() {	# rec NAME [PROFILE]: a record of NAME asking for PROFILE
	jq -cn --arg n "$1" --arg p "${2:-}" \
		'{name: $n, ca: "acme", algos: ["ec"]} + if $p == "" then {} else {profile: $p} end'
}
# days NAME: the lifetime in days of NAME's certificate in $T/out
days() {
	jq -r --arg n "$1" 'select(.name == $n) | .cert.ec.pem' "$T/out" > "$T/$1.pem"
	echo $((($(date -d "$(openssl x509 -in "$T/$1.pem" -noout -enddate | cut -d= -f2)" +%s) -
		$(date -d "$(openssl x509 -in "$T/$1.pem" -noout -startdate | cut -d= -f2)" +%s) + 60) / DAY))
}
errmsg() { jq -r --arg n "$1" 'select(.name == $n) | .errors[]? | "\(.field): \(.message)"' "$T/out"; }

# ------------------------------------------------------------ pki-acme order
{ rec short.test shortlived; rec plain.test default; rec none.test; } > "$T/in"
issue
is "$rc" 0 "records asking for shortlived, for default and for nothing: exit 0"
is "$(days short.test)" 6 "the shortlived profile gave a 6-day certificate (openssl x509)"
is "$(days plain.test)" 90 "... the default one 90 days"
like "$(days none.test)" "[69]*" "... and the one asking for nothing one of the two"

{ rec flag.test; rec own.test default; } > "$T/in"
issue --profile shortlived
is "$rc:$(days flag.test):$(days own.test)" "0:6:90" \
	"--profile applies to a record that names none; a record's own profile wins"

{ rec bogus.test bogus; rec fine.test default; rec bad.test '../x y'; } > "$T/in"
issue
is "$rc" 1 "a profile the CA does not offer: exit 1"
is "$(errmsg bogus.test)" 'profile: the CA offers no profile "bogus" (it offers default, shortlived)' \
	"... its record says so, naming the profiles offered"
is "$(errmsg bad.test)" 'profile: not a profile name (letters, digits, ".", "_" and "-", at most 64)' \
	"a profile that is no name: refused on its record"
is "$(days fine.test)" 90 "... and the other record of the batch is issued"
nok "... no order was placed for them" grep -q 'bogus.test: ec order\|bad.test: ec order' "$T/order.err"
is "$(grep -c 'bogus.test: ec order\|fine.test: ec order' "$T/order.err")" 1 \
	"... (the record beside them had its order)"

rec x.test > "$T/in"
issue --profile 'no way'
is "$rc" 2 "--profile that is no name: exit 2"

# Debian 12's Pebble 2.4 has no profiles at all.
pebble_stop
pebble_start PEBBLE_AUTHZREUSE=100
CA=$PEBBLE_CA_BUNDLE
LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT
pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA" > "$T/acct.json" 2>>"$err"
{ rec old.test shortlived; rec none.test; } > "$T/in"
issue
is "$(errmsg old.test)" 'profile: "shortlived": the CA'"'"'s directory offers no profiles' \
	"a CA without profiles: the record asking for one fails, saying so"
is "$rc:$(days none.test)" "1:1826" "... the other is issued as ever (Pebble 2.4's 5 years)"
pebble_stop

# ------------------------------------------------------------ pki cert add -P, pki issue
pebble_start VERSION=2.10 VALIDITY=$((90 * DAY)) PEBBLE_AUTHZREUSE=100 \
	PROFILES="\"shortlived\": {\"description\": \"6 days\", \"validityPeriod\": $((6 * DAY))}"
pg_setup
cat > "$T/pki.conf" <<EOF
PKI_ACME_DIRECTORY=$PEBBLE_DIRECTORY
PKI_ACME_CA_BUNDLE=$PEBBLE_CA_BUNDLE
PKI_ACME_EMAIL=admin@example.test
PKI_ACME_HTTP_LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT
PKI_ACME_TIMEOUT=60
EOF
PKI_CONF=$T/pki.conf
export PKI_CONF
pki -q register --agree-tos > /dev/null 2>>"$err"
pki -q cert add short.test -c acme -a ec -C http-01 -P shortlived
pki -q cert add plain.test -c acme -a ec -C http-01 -P default
pki -q cert add unset.test -c acme -a ec -C http-01
pki -q cert add local.test -a ec -P shortlived
rc=0
pki -q cert add bad.test -c acme -P 'x;y' 2>"$T/e" || rc=$?
is "$rc" 1 "pki cert add -P with no profile name: refused"
like "$(cat "$T/e")" "*acme_profile*" "... naming the column"
is "$(pki-select -a | jq -c 'select(.name | test("^(short|unset|local)")) | [.name, .profile]' | sort | tr '\n' ' ')" \
	'["local.test",null] ["short.test","shortlived"] ["unset.test",null] ' \
	"pki-select: the ACME certificate's profile in its record; none for a local one, nor where unset"
rc=0
pki -q issue -o short.test -o plain.test > "$T/issue.out" 2>>"$err" || rc=$?
is "$rc" 0 "pki issue"
life() {	# life NAME: the lifetime in days of NAME's stored certificate
	psql -X -At -c "SELECT round(extract(epoch FROM i.not_after - i.not_before) / $DAY)
		FROM pki.certinstances i JOIN pki.subjects s ON s.certificate = i.certificate
		AND NOT s.isaltname WHERE s.name = '$1' AND i.state = 'issued'"
}
is "$(life short.test):$(life plain.test)" "6:90" \
	"the certificate added with -P shortlived lives 6 days, the one with -P default 90"
echo "PKI_ACME_PROFILE=shortlived" >> "$T/pki.conf"
rc=0
pki -q issue -o unset.test > "$T/issue.out" 2>>"$err" || rc=$?
is "$rc:$(life unset.test)" "0:6" "PKI_ACME_PROFILE in pki.conf: a certificate with none gets it"
echo "PKI_ACME_PROFILE=nosuch" >> "$T/pki.conf"
pki -q cert add conf2.test -c acme -a ec -C http-01
rc=0
pki issue -o conf2.test -o short.test > "$T/issue.out" 2>&1 || rc=$?
is "$rc" 1 "PKI_ACME_PROFILE that the CA does not offer: exit 1"
like "$(cat "$T/issue.out")" '*conf2.test: FAILED: *profile: the CA offers no profile "nosuch"*' \
	"... pki issue says so for that certificate"
is "$(psql -X -At -c "SELECT count(*) FROM pki.certinstances i JOIN pki.subjects s
	ON s.certificate = i.certificate WHERE s.name = 'conf2.test'")" 0 \
	"... and leaves no instance, not even a claim"

nok "no private key in anything printed" grep -q "PRIVATE KEY" "$err" "$T/issue.out"
done_testing
