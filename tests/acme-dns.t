#!/bin/sh
# acme-dns.t - dns-01 end to end: pki-acme order | pki-dnsup |
# pki-acme finish | pki-dnsup --remove, with Pebble validating through
# BIND (named, a primary and its secondary, on loopback): one name, a
# multi-SAN certificate, a wildcard with its apex, rsa plus ec,
# must-staple, a name whose challenge cannot be published, which fails
# alone, and delegated validation through a CNAME into another zone (the
# CA asking a resolver that follows it).
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v pebble >/dev/null 2>&1 || skip_all "no pebble"
[ -x "$PKI_BUILD/bin/pki-dnsup" ] || skip_all "no pki-dnsup"
[ "$(id -u)" -eq 0 ] || skip_all "named -g needs root"
# shellcheck source=tests/lib/named.sh
. "$(dirname "$0")/lib/named.sh"
# shellcheck source=tests/lib/pebble.sh
. "$(dirname "$0")/lib/pebble.sh"
named_start
pebble_start PEBBLE_AUTHZREUSE=0	# asks named: NAMED_PORT is set

err=$T/stderr.all
CA=$PEBBLE_CA_BUNDLE
rec() {	# rec NAME [ALGOS] [JQ]: a record of the ACME CA
	jq -cn --arg n "$1" --argjson a "${2:-[\"ec\"]}" \
		"{name: \$n, ca: \"acme\", algos: \$a} | ${3:-.}"
}
dnsup() {
	pki-dnsup --key-file "$NAMED_TSIG_KEYFILE" --resolver "127.0.0.1:$NAMED_PORT" \
		--server "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED_PORT" \
		--ns "127.0.0.1:$NAMED2_PORT" --interval 0.1 --timeout 10 "$@"
}
verify() {	# verify FILE ALGO NAME
	jq -r --arg n "$3" "select(.name == \$n) | .cert.$2.pem" "$1" > "$T/v.leaf"
	jq -r --arg n "$3" "select(.name == \$n) | .cert.$2.chain" "$1" > "$T/v.chain"
	openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$T/v.chain" "$T/v.leaf" \
		>/dev/null 2>&1
}
field() {	# field FILE NAME JQ
	jq -c --arg n "$2" "select(.name == \$n) | $3" "$1"
}
txt() {	# txt OWNER: the TXT values the primary serves
	dig +short +norecurse -p "$NAMED_PORT" @127.0.0.1 TXT "$1" | sort | tr '\n' ' '
}

(umask 077 && exec pki-acme register --directory "$PEBBLE_DIRECTORY" \
	--email admin@example.test --agree-tos --ca-bundle "$CA" > "$T/acct.json") \
	2>>"$err"	# the account file holds the key: 0600
is "$?" 0 "register"
# The subcommands with the first account (a file) and Pebble's TLS CA.
order() { pki-acme order --account "$T/acct.json" --ca-bundle "$CA"; }
finish() { pki-acme finish --account "$T/acct.json" --ca-bundle "$CA" "$@"; }

{
	rec one.example.test
	rec multi.example.test '["ec"]' '.altnames = ["www.multi.example.test", "mail.example.test"]'
	rec wild.example.test '["ec"]' '.altnames = ["*.wild.example.test"]'
	rec dual.example.test '["rsa", "ec"]'
	rec staple.example.test '["ec"]' '.ocsp_must_staple = true'
	rec nozone.invalid
} | pki-keygen 2>>"$err" | pki-csr 2>>"$err" > "$T/1"

order < "$T/1" > "$T/2" 2>>"$err"
is "$?" 0 "order (dns-01 is the default)"
is "$(jq -r '.challenges[] | .type' "$T/2" | sort -u)" dns-01 "every challenge is dns-01"
is "$(field "$T/2" wild.example.test '[.challenges[] | [.identifier, .owner, .wildcard]] | sort')" \
	'[["wild.example.test","_acme-challenge.wild.example.test.",false],["wild.example.test","_acme-challenge.wild.example.test.",true]]' \
	"a wildcard and its apex: two challenges at one owner, without the *."
is "$(field "$T/2" dual.example.test '[.challenges[].owner] | length')" 2 \
	"rsa plus ec: a challenge per order"
is "$(field "$T/2" one.example.test '.challenges[0] | [.owner, (.txt | test("^[A-Za-z0-9_-]{43}$"))]')" \
	'["_acme-challenge.one.example.test.",true]' "owner and txt (base64url SHA-256)"

dnsup < "$T/2" > "$T/3" 2>>"$err"
is "$?" 1 "pki-dnsup publishes; the name without a zone fails"
like "$(field "$T/3" nozone.invalid '.errors[0].stage')" '"pki-dnsup"' \
	"nozone.invalid carries pki-dnsup's error"
is "$(txt _acme-challenge.one.example.test)" \
	"$(field "$T/3" one.example.test '.challenges[0].txt') " "the TXT is served"
is "$(txt _acme-challenge.wild.example.test | wc -w)" 2 \
	"the wildcard and its apex: both values at the owner"

start=$(date +%s)
finish --timeout 30 < "$T/3" > "$T/4" 2>>"$err"
is "$?" 0 "finish: exit 0 (the failed record failed before, in pki-dnsup)"
diag "finish: $(($(date +%s) - start)) s"
for n in one.example.test multi.example.test wild.example.test staple.example.test; do
	ok "$n: issued, the chain verifies" verify "$T/4" ec "$n"
done
ok "dual.example.test: the rsa certificate" verify "$T/4" rsa dual.example.test
ok "dual.example.test: the ec certificate" verify "$T/4" ec dual.example.test
like "$(jq -r 'select(.name == "wild.example.test") | .cert.ec.pem' "$T/4" |
	openssl x509 -noout -ext subjectAltName)" "*DNS:\*.wild.example.test*" \
	"the wildcard is in the certificate"
like "$(jq -r 'select(.name == "multi.example.test") | .cert.ec.pem' "$T/4" |
	openssl x509 -noout -ext subjectAltName)" "*DNS:mail.example.test*" \
	"multi-SAN: every name"
like "$(field "$T/4" staple.example.test '.csr.ec' | jq -r . | openssl req -noout -text)" \
	"*TLS Feature*" "must-staple: finalized with a CSR asking for it"
is "$(field "$T/4" nozone.invalid '[has("cert"), (.errors | length)]')" '[false,1]' \
	"the failed record is passed on untouched"

dnsup --remove < "$T/4" > "$T/5" 2>>"$err"
is "$?" 0 "pki-dnsup --remove"
is "$(txt _acme-challenge.one.example.test)" "" "the challenge is withdrawn"
is "$(txt _acme-challenge.wild.example.test)" "" "both values of the wildcard's owner"

# The whole pipeline in one go, as the issue workflow runs it.
{ rec pipe.example.test; rec pipe2.example.test '["rsa", "ec"]'; } |
	pki-keygen 2>>"$err" | pki-csr 2>>"$err" |
	pki-acme order --account "$T/acct.json" --ca-bundle "$CA" 2>>"$err" |
	dnsup 2>>"$err" |
	pki-acme finish --account "$T/acct.json" --ca-bundle "$CA" 2>>"$err" |
	dnsup --remove 2>>"$err" > "$T/6"
is "$(jq -r 'select(.cert) | .name + " " + (.cert | keys | join("+"))' "$T/6" | sort | tr '\n' ' ')" \
	"pipe.example.test ec pipe2.example.test ec+rsa " \
	"order | dnsup | finish | dnsup --remove"

# Delegated validation: _acme-challenge.alias.example.test is a CNAME to
# alias.acme.delegate.test.  pki-dnsup publishes there; a CA validates
# through a resolver, which follows the CNAME: a second Pebble asks one.
named_resolver_start
pebble_start PEBBLE_AUTHZREUSE=0
(umask 077 && exec pki-acme register --directory "$PEBBLE_DIRECTORY" \
	--email admin@example.test --agree-tos --ca-bundle "$PEBBLE_CA_BUNDLE" \
	> "$T/acct2.json") 2>>"$err"
rec alias.example.test | pki-keygen 2>>"$err" | pki-csr 2>>"$err" |
	pki-acme order --account "$T/acct2.json" --ca-bundle "$PEBBLE_CA_BUNDLE" 2>>"$err" |
	dnsup 2>>"$err" > "$T/7"
is "$(jq -r '.dns.published[] | .owner + " for " + .for' "$T/7")" \
	"alias.acme.delegate.test. for _acme-challenge.alias.example.test." \
	"the challenge is published where the CNAME points"
pki-acme finish --account "$T/acct2.json" --ca-bundle "$PEBBLE_CA_BUNDLE" < "$T/7" 2>>"$err" |
	dnsup --remove 2>>"$err" > "$T/8"
is "$(jq -r '[has("cert"), (.errors // [] | length)] | @text' "$T/8")" '[true,0]' \
	"the CA validated it through the CNAME (delegated validation)"
ok "its chain verifies" verify "$T/8" ec alias.example.test
is "$(txt alias.acme.delegate.test)" "" "and the challenge is withdrawn from the target zone"

nok "no private key on stderr" grep -q "$SECRET_PATTERN" "$err"
done_testing
