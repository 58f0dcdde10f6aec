#!/bin/sh
# issue-acme.t - pki register and pki issue with ACME certificates, as an
# admin runs them from pki.conf: local and ACME certificates in one
# pipeline (dns-01 through BIND, http-01 through pki-acme's responder),
# and a name whose challenge cannot be published, which fails alone and
# leaves nothing behind.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/acmedns.sh
. "$(dirname "$0")/lib/acmedns.sh"
acmedns_setup PEBBLE_AUTHZREUSE=0

txt() {	# txt OWNER: the TXT values the primary serves
	dig +short +norecurse -p "$NAMED_PORT" @127.0.0.1 TXT "$1"
}

{ acmedns_conf; echo "PKI_ACME_HTTP_LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT"; } > "$T/pki.conf"
PKI_CONF=$T/pki.conf
export PKI_CONF

# ------------------------------------------------------------ register
capture pki register
is "$rc" 2 "pki register without agreeing to the terms: exit 2"
like "$out" "*terms*" "says why"
capture pki register --agree-tos
is "$rc" 0 "pki register --agree-tos"
like "$out" "registered ACME account https://127.0.0.1:*" "says which account"
is "$(q "SELECT count(*) FROM acme_accounts WHERE status = 'valid'")" 1 \
	"the account is in the database"

# ------------------------------------------------------------ issue
q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init >/dev/null
pki -q cert add local.example.test -a ec
pki -q cert add dns.example.test -c acme -a ec -A www.dns.example.test -S https:443
pki -q cert add dual.example.test -c acme -a rsa_plus_ec
pki -q cert add http.example.test -c acme -a ec -C http-01
pki -q cert add nozone.invalid -c acme -a ec
capture pki cert add bad-challenge.example.test -c acme -C tls-alpn-01
is "$rc:$out" "2:pki: -C tls-alpn-01: use dns-01, http-01 or dns-persist-01" \
	"pki cert add -C with an unknown challenge type: exit 2, naming it"
is "$(q "SELECT count(*) FROM subjects WHERE name = 'bad-challenge.example.test'")" 0 \
	"and nothing of it is stored"

capture pki issue
is "$rc" 1 "pki issue, one certificate failing: exit 1"
for n in local.example.test dns.example.test http.example.test; do
	like "$out" "*$n: issued instance * (ec), valid until *" "$n issued"
done
like "$out" "*dual.example.test: issued instance * (ec+rsa)*" "dual.example.test issued, both"
like "$out" "*nozone.invalid: FAILED: pki-dnsup: *zone*" "nozone.invalid fails with the reason"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'nozone.invalid'")" 0 "no half instance of the failed certificate"
ok "its failure is in the event log" \
	test "$(q "SELECT count(*) FROM events WHERE name = 'nozone.invalid' AND level = 'error'")" -ge 1
is "$(txt _acme-challenge.dns.example.test)$(txt _acme-challenge.www.dns.example.test)" "" \
	"the published TXT records are withdrawn"
is "$(q "SELECT \"Type\" FROM certs WHERE \"Cert Name\" = 'dns.example.test' LIMIT 1")" LE \
	"serverPKI's type LE is the ACME CA"

for n in dns.example.test dual.example.test http.example.test; do
	serial=$(q "SELECT max(id) FROM inst WHERE name = '$n'")
	pki -q export "$serial" "$T/out"
	for d in "$T/out/$n"/*; do
		ok "$n $(basename "$d"): chain verifies against Pebble's root" \
			quiet openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$d/chain.pem" "$d/cert.pem"
	done
done
is "$(q "SELECT count(*) FROM inst WHERE name = 'dns.example.test' AND hash IS NOT NULL")" 1 \
	"the ACME certificate is stored like a local one"
ok "its issuer is stored as a CA instance" \
	test "$(q "SELECT count(*) FROM inst WHERE name = 'ACME CA'")" -ge 1

capture pki issue -e nozone.invalid
is "$rc:$out" "0:" "a second run issues nothing"

# ------------------------------------------------------------ secrets
nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$T/all"
done_testing
