#!/bin/sh
# secrets-all.t - the workflows of an admin's day with the local CA (ca
# init, cert add, issue, status, export, distribute, schedule, renew,
# revoke, ca crl, metrics, report, -v everywhere), while the process
# table is sampled: afterwards no private key that exists - the CA's and
# every certificate's, decrypted - is in anything pki printed (stdout
# and stderr, verbose), in the events and runs the database keeps, in a
# command line, or in any file of the run that group or others may read.
# Each key is looked for as its PEM text, its base64 on one line, and
# the hex of its DER.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

# Everything pki prints goes to $T/all (capture); command lines,
# sampled every 20 ms while the workflows run, to $T/ps.
(while :; do ps -eo args= 2>/dev/null; sleep 0.02; done) >"$T/ps" &
sampler=$!
at_exit "kill $sampler 2>/dev/null"

q "UPDATE localca_settings SET ca_algo = 'ec'"
capture pki -v ca init
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
mkdir -p "$T/loc" "$T/exp"
q "INSERT INTO disthosts (fqdn) VALUES ('localhost');
   INSERT INTO places (name, cert_path, mode) VALUES ('loc', '$T/loc/{}', 600)"
capture pki -v cert add www.example.test -a rsa_plus_ec -A example.test
capture pki -v cert add mail.example.test -a ec
capture pki -v cert add app1 -t client -a rsa
q "SELECT add_target('www.example.test', 'localhost', NULL, 'loc')" >/dev/null
q "SELECT add_target('mail.example.test', 'localhost', NULL, 'loc')" >/dev/null
capture pki -v issue
is "$rc" 0 "pki issue"
capture pki -v status
capture pki status --json
capture pki -v distribute
is "$rc" 0 "pki distribute"
www=$(q "SELECT i.id FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'www.example.test' ORDER BY i.id DESC LIMIT 1")
capture pki -v export "$www" "$T/exp"
is "$rc" 0 "pki export"
capture pki -v schedule
capture pki -v renew mail.example.test
serial=$(q "SELECT i.id FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'app1' ORDER BY i.id DESC LIMIT 1")
capture pki -v revoke "$serial"
capture pki -v ca crl "$T/crl.pem"
capture pki metrics "$T/pki.prom"
capture pki report --html "$T/report.html"
capture pki -v distribute
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null

# Every private key there is, in clear: the CA's and each instance's.
for i in $(q "SELECT DISTINCT certinstance FROM certkeydata"); do
	pki-select --serial "$i" --with-keys 2>/dev/null | jq -r '.key // {} | .[]'
done >"$T/keys.pem"
q "SELECT convert_from(k.key, 'UTF8') FROM certkeydata k
	JOIN certinstances i ON i.id = k.certinstance
	JOIN subjects s ON s.certificate = i.certificate
	WHERE s.type = 'CA'" |
	openssl pkey -passin "file:$PKI_CA_PASSPHRASE_FILE" 2>/dev/null >>"$T/keys.pem"
is "$(grep -c -- '-----BEGIN PRIVATE KEY-----' "$T/keys.pem")" \
	"$(q "SELECT count(*) FROM certkeydata")" \
	"the keys to look for: every one of the database, the CA's too"
# One file per key; for each, what to look for: a line of its PEM, its
# base64 on one line, the hex of its DER.
awk '/BEGIN PRIVATE KEY/ { n++ } { print > (dir "/key." n) }' dir="$T" "$T/keys.pem"
for k in "$T"/key.*; do
	sed -n 3p "$k"
	sed '1d;$d' "$k" | tr -d '\n' | cut -c1-80
	echo
	openssl pkey -in "$k" -outform DER | od -An -tx1 -v | tr -d ' \n' | cut -c1-96
	echo
done | grep -v '^$' >"$T/needles"

# Where they must not be.
q "SELECT * FROM events" >"$T/events" 2>/dev/null || true
q "SELECT * FROM runs" >"$T/runs" 2>/dev/null || true
find "$T" "$PKI_HOME" -type f -perm /044 ! -path "$T/key.*" ! -name keys.pem \
	! -name needles 2>/dev/null >"$T/readable"
is "$(wc -l <"$T/events" | tr -d ' '):$(wc -l <"$T/runs" | tr -d ' ')" \
	"$(q "SELECT count(*) FROM events"):$(q "SELECT count(*) FROM runs")" \
	"the events and runs are there to be searched"
ok "the process table was sampled" [ "$(grep -c 'pki-' "$T/ps")" -gt 10 ]

for what in all ps events runs; do
	nok "no key in $what" grep -a -q -F -f "$T/needles" "$T/$what"
	nok "... nor a PEM header for a key" grep -a -q 'PRIVATE KEY' "$T/$what"
done
leaky=
while IFS= read -r f; do
	grep -a -q -F -f "$T/needles" "$f" && leaky="$leaky $f"
	od -An -tx1 -v "$f" | tr -d ' \n' | grep -q -F -f "$T/needles" && leaky="$leaky $f"
done <"$T/readable"
is "$leaky" "" "no key in any of the $(wc -l <"$T/readable" | tr -d ' ') files group or others may read"
# The files that hold keys are there, and closed.
is "$(stat -c %a "$T/loc/www.example.test/www.example.test_server_key.pem" 2>/dev/null ||
	find "$T/loc" -name '*key*' -exec stat -c %a {} + | sort -u)" 600 \
	"the deployed keys are mode 600 (the place's)"
# The needles would be found: they are in the key files themselves.
ok "the search finds a key where there is one" grep -a -q -F -f "$T/needles" "$T/keys.pem"

done_testing
