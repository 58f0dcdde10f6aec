#!/bin/sh
# ipcert.t - IP-address certificates (RFC 8738): an IPv4 or IPv6 name
# becomes an iPAddress subjectAltName (not DNS:192.0.2.1), with an empty
# subject and the extension critical; an address not in RFC 5952's form
# is refused by name and field; a local CA signs them; pki-acme orders
# them as identifiers of type "ip" from a real Pebble, validated by
# http-01 at the address; no TLSA owner and no dns-01 record for one.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

err=$T/stderr.all
# san FILE: the subjectAltName of the certificate or CSR in FILE
san() {
	openssl "$1" -in "$2" -noout -text 2>/dev/null |
		sed -n '/Subject Alternative Name/{n;s/^ *//;p;}'
}
# verify HOW NAME: openssl verify -verify_HOW NAME of $T/a.pem
verify() {
	openssl verify -CAfile "$T/ca.pem" "-verify_$1" "$2" "$T/a.pem" \
		>/dev/null 2>&1
}
pem() {	# pem NAME FIELD FILE: the ec PEM of FIELD of record NAME in FILE
	jq -r --arg n "$1" --arg f "$2" 'select(.name == $n) | .[$f].ec |
		if type == "object" then .pem else . end // empty' "$3"
}
errs() {	# errs NAME FILE: the record's errors, "field: message" each
	jq -r --arg n "$1" 'select(.name == $n) | .errors[]? |
		"\(.field): \(.message)"' "$2"
}

# ------------------------------------------------------------ pki-csr
{
	echo '{"name":"192.0.2.1","algos":["ec"],"altnames":["2001:db8::1","www.ip.test"]}'
	echo '{"name":"ip6.test","algos":["ec"],"altnames":["2001:DB8::2"]}'
	echo '{"name":"ip7.test","algos":["ec"],"altnames":["2001:db8:0:0:0:0:0:3"]}'
	echo '{"name":"2001:db8::4","algos":["ec"]}'
} > "$T/in"
rc=0
pki-keygen < "$T/in" 2>>"$err" | pki-csr > "$T/csr" 2>"$T/csr.err" || rc=$?
cat "$T/csr.err" >> "$err"
is "$rc" 1 "pki-csr: two records with addresses not in RFC 5952's form: exit 1"
pem 192.0.2.1 csr "$T/csr" > "$T/a.csr"
is "$(san req "$T/a.csr")" \
	"IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1, DNS:www.ip.test" \
	"an IPv4 name and an IPv6 altname are iPAddress names, a host name DNS"
is "$(openssl req -in "$T/a.csr" -noout -subject)" "subject=" \
	"an address is no common name: the subject is empty"
like "$(openssl req -in "$T/a.csr" -noout -text)" \
	"*Subject Alternative Name: critical*" \
	"so the subjectAltName is critical (RFC 5280 4.2.1.6)"
is "$(errs ip6.test "$T/csr")" \
	"altnames[0]: IP address not in its canonical form (RFC 5952: lower case, no leading zeros, :: for the longest run of zeros)" \
	"upper case IPv6: refused, naming the record's field"
like "$(errs ip7.test "$T/csr")" "altnames\[0\]: IP address not in its canonical form*" \
	"zeros written out: refused"
pem 2001:db8::4 csr "$T/csr" > "$T/b.csr"
is "$(san req "$T/b.csr")" "IP Address:2001:DB8:0:0:0:0:0:4" \
	"an IPv6 name alone"

# ------------------------------------------------------------ local CA
printf 'ip test passphrase\n' > "$T/pass"
chmod 600 "$T/pass"
pki-localca --init --algo ec --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass" 2>>"$err" >/dev/null
rc=0
jq -c 'select(.name == "192.0.2.1" or .name == "2001:db8::4")' "$T/csr" |
	pki-localca --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass" > "$T/signed" 2>>"$err" || rc=$?
is "$rc" 0 "pki-localca signs certificates of addresses"
pem 192.0.2.1 cert "$T/signed" > "$T/a.pem"
is "$(san x509 "$T/a.pem")" \
	"IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1, DNS:www.ip.test" \
	"its certificate has the same names"
ok "openssl verify -verify_ip 2001:db8::1: OK" verify ip 2001:db8::1
ok "openssl verify -verify_ip 192.0.2.1: OK" verify ip 192.0.2.1
nok "openssl verify -verify_ip 192.0.2.2: refused" verify ip 192.0.2.2
nok "openssl verify -verify_hostname 192.0.2.1 (a DNS name): refused" \
	verify hostname 192.0.2.1

# ------------------------------------------------------------ pki-tlsa
jq -c 'select(.name == "192.0.2.1") |
	. + {services: [{port: 443, proto: "tcp", usage: 3, selector: 1, mtype: 1}]}' \
	"$T/signed" | pki-tlsa > "$T/tlsa" 2>>"$err"
is "$(jq -r '.tlsa[].owner' "$T/tlsa")" "_443._tcp.www.ip.test." \
	"pki-tlsa: an owner for the host name only, none for the addresses"

# ------------------------------------------------------------ pki-dnsup
# Its probe before an order (--check) refuses dns-01 for an address
# before it asks any server (none listens at port 9).
jq -c 'select(.name == "192.0.2.1") | .ca = "acme"' "$T/csr" |
	pki-dnsup --check --ns 127.0.0.1:9 --timeout 1 > "$T/probe" 2>>"$err"
is "$(errs 192.0.2.1 "$T/probe")" \
	"challenge: 192.0.2.1: an IP address is validated by http-01 or tls-alpn-01, not dns-01 (RFC 8738 7)" \
	"pki-dnsup --check: no dns-01 for an address, said on the record's challenge"

# ------------------------------------------------------------ ACME (Pebble)
if ! command -v pebble >/dev/null 2>&1; then
	for _ in 1 2 3 4 5; do skip "no pebble"; done
else
	# shellcheck source=tests/lib/pebble.sh
	. "$(dirname "$0")/lib/pebble.sh"
	pebble_start PEBBLE_AUTHZREUSE=100	# (Debian 12's Pebble 2.4)
	CA=$PEBBLE_CA_BUNDLE
	pki-acme register --directory "$PEBBLE_DIRECTORY" \
		--email admin@example.test --agree-tos --ca-bundle "$CA" \
		> "$T/acct.json" 2>>"$err"
	chmod 600 "$T/acct.json"
	printf '%s\n' '{"name":"127.0.0.1","ca":"acme","algos":["ec"]}' \
		'{"name":"ok.test","ca":"acme","algos":["ec"],"altnames":["127.0.0.01"]}' |
		pki-keygen 2>>"$err" | pki-csr 2>>"$err" > "$T/acsr"
	rc=0
	pki-acme order --account "$T/acct.json" --ca-bundle "$CA" \
		--challenge http-01 < "$T/acsr" > "$T/ordered" 2>>"$err" || rc=$?
	pki-acme finish --account "$T/acct.json" --ca-bundle "$CA" \
		--http-listen "127.0.0.1:$PEBBLE_HTTP_PORT" < "$T/ordered" \
		> "$T/issued" 2>>"$err" || rc=$?
	is "$rc" 0 "pki-acme order and finish: exit 0 (the address validated by http-01)"
	pem 127.0.0.1 cert "$T/issued" > "$T/acme.pem"
	is "$(san x509 "$T/acme.pem")" "IP Address:127.0.0.1" \
		"Pebble issued an iPAddress certificate for identifier 127.0.0.1"
	is "$(errs ok.test "$T/issued")" "altnames[0]: the last label is all digits (not a host name, nor an IP address as 192.0.2.1 or 2001:db8::1)" \
		"127.0.0.01 (not a dotted quad, not a host name) is refused by pki-csr, by name and field, and ordered from no CA"
	# (another address: Pebble reuses 127.0.0.1's valid authorization)
	printf '%s\n' '{"name":"127.0.0.3","ca":"acme","algos":["ec"]}' |
		pki-keygen 2>>"$err" | pki-csr 2>>"$err" > "$T/acsr"
	rc=0
	pki-acme order --account "$T/acct.json" --ca-bundle "$CA" \
		--challenge dns-01 < "$T/acsr" > "$T/ordered" 2>>"$err" || rc=$?
	is "$rc" 1 "dns-01 for an address: the record fails"
	like "$(errs 127.0.0.3 "$T/ordered")" \
		"challenge: 127.0.0.3: an IP address is validated by http-01 or tls-alpn-01, not dns-01*" \
		"and says why (RFC 8738 7)"
fi

# ------------------------------------------------------------ the database
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup
pki -q ca init >/dev/null 2>>"$err"
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
run pki cert add 2001:db8::5 -a ec -A 192.0.2.5 -A www.ip5.test
is "$rc" 0 "pki cert add: an IPv6 name, an IPv4 and a host altname"
run pki cert add ip6.test -a ec -A 2001:DB8::6
is "$rc" 1 "pki cert add: an address not in RFC 5952's form is refused"
like "$(cat "$T/err")" '*Subject name "2001:DB8::6": IP address not in its canonical form (RFC 5952: *' \
	"by the database, in the words of pki-csr"
run pki cert add ip7.test -a ec -A 192.0.2.07
like "$(cat "$T/err")" '*Subject name "192.0.2.07": the last label is all digits*' \
	"192.0.2.07 is neither an address nor a host name"
run pki issue
is "$rc" 0 "pki issue: the local CA signs it"
psql -X -At -c "SELECT convert_from(k.cert, 'UTF8') FROM pki.certkeydata k
	JOIN pki.certinstances i ON i.id = k.certinstance
	JOIN pki.subjects s ON s.certificate = i.certificate
	WHERE s.name = '2001:db8::5' AND i.state = 'issued'" > "$T/db.pem"
is "$(san x509 "$T/db.pem")" \
	"IP Address:2001:DB8:0:0:0:0:0:5, IP Address:192.0.2.5, DNS:www.ip5.test" \
	"stored with its iPAddress names"

nok "no private key on stderr" grep -q "$SECRET_PATTERN" "$err"
done_testing
