#!/bin/sh
# csrinput.t - certificates whose key pki never sees (CSR input): pki
# cert add --csr and pki cert set --csr check the CSR (signature, key,
# names) and keep it; pki issue has the local CA sign it and Pebble
# finalize an ACME order with it; pki-store stores the instances without
# a key; pki-deploy writes certificate and chain only, and a place that
# needs the key fails for that certificate alone; the TLSA record is the
# CSR's key's; a renewal signs the stored CSR.  Negative cases: a CSR
# for other names (at add, set and in a record that lies), one with a
# bad signature, garbage; a pki issue killed with -9 while its ACME order
# for a given CSR is open, and the immediate re-run that resumes it.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/acmedns.sh
. "$(dirname "$0")/lib/acmedns.sh"
acmedns_setup PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0

all=$T/all	# everything pki printed, checked for keys at the end
umask 022
# newcsr NAME ALGO OUT SAN...: a key of ALGO (kept in $T/keys, never
# given to pki) and its CSR for CN=NAME and the SANs, in OUT.
mkdir -p "$T/keys"
newcsr() {
	_n=$1 _a=$2 _o=$3
	shift 3
	_san=$(printf 'DNS:%s,' "$@")
	if [ "$_a" = ec ]; then _k="ec -pkeyopt ec_paramgen_curve:P-256"; else _k="rsa:2048"; fi
	# shellcheck disable=SC2086 # _k is two words
	openssl req -new -newkey $_k -nodes -keyout "$T/keys/${_o##*/}.key" \
		-subj "/CN=$_n" -addext "subjectAltName=${_san%,}" -out "$_o" 2>/dev/null
}
names() { for f in "$@"; do printf '%s ' "${f##*/}"; done; }	# names FILE...: the last parts
has_txt() { [ -n "$(dig +short +norecurse -p "$NAMED_PORT" @127.0.0.1 TXT "$1")" ]; }
# spki FILE: the SHA-256 of the public key of the CSR (or certificate) FILE
spki() {
	{ openssl req -in "$1" -noout -pubkey 2>/dev/null ||
		openssl x509 -in "$1" -noout -pubkey; } |
		openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}

q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init >/dev/null
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE

# ------------------------------------------------------------ pki cert add --csr
newcsr c.test ec "$T/c.csr" c.test www.c.test
newcsr c.test ec "$T/other.csr" c.test other.c.test
openssl req -in "$T/c.csr" -outform DER -out "$T/c.der"
# The last byte of the signature changed: it parses, it does not verify.
python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[-1]^=1; open(sys.argv[2],'wb').write(d)" \
	"$T/c.der" "$T/bad.der"
openssl req -inform DER -in "$T/bad.der" -out "$T/bad.csr" 2>/dev/null
printf 'not a request\n' > "$T/garbage.csr"

capture pki cert add c.test -A www.c.test -S https:443 --csr "$T/other.csr"
is "$rc:$out" "1:pki: certificate c.test: --csr $T/other.csr: csr.ec: it asks for the names \"c.test other.c.test\", the certificate has \"c.test www.c.test\"" \
	"a CSR for other names: refused, naming certificate and field"
capture pki cert add c.test -A www.c.test --csr "$T/bad.csr"
is "$rc:$out" "1:pki: certificate c.test: --csr $T/bad.csr: csr.ec: its signature does not verify" \
	"a CSR with a bad signature: refused"
capture pki cert add c.test --csr "$T/garbage.csr"
is "$rc:$out" "1:pki: certificate c.test: --csr $T/garbage.csr: csr.rsa: not a PEM certificate request" \
	"garbage: refused"
capture pki cert add c.test -a rsa -A www.c.test --csr "$T/c.csr"
is "$rc:$out" "1:pki: certificate c.test: --csr $T/c.csr: csr.rsa: its key is not an rsa key" \
	"-a rsa with an EC CSR: refused"
is "$(q "SELECT count(*) FROM subjects WHERE name = 'c.test'")" 0 "nothing of them is stored"

capture pki cert add c.test -A www.c.test -S https:443 --csr "$T/c.csr"
is "$rc:$out" "0:pki: certificate c.test added" "pki cert add --csr"
is "$(q "SELECT encryption_algo || ' ' || (csr = '$(cat "$T/c.csr")') FROM certificates c
	JOIN subjects s ON s.certificate = c.id WHERE s.name = 'c.test'")" "ec true" \
	"the CSR is stored, the algorithm is its key's"

# A record typed by hand, keyless, with a CSR and no key: pki-keygen leaves it
# alone, pki-csr keeps it, the local CA signs it.
jq -cn --rawfile c "$T/c.csr" '{name: "c.test", altnames: ["www.c.test"],
	algos: ["ec"], keyless: true, csr: {ec: $c}}' > "$T/hand"
pki-keygen < "$T/hand" 2>>"$all" | pki-csr 2>>"$all" > "$T/hand.out"
is "$(jq -c '[has("key"), (.csr.ec == $c), has("errors")]' --rawfile c "$T/c.csr" "$T/hand.out")" \
	"[false,true,false]" "pki-keygen | pki-csr: no key made, the CSR passed through"
jq -c '.altnames = ["www.c.test", "evil.test"]' "$T/hand" | pki-csr > "$T/lie.out" 2>>"$all"
is "$?:$(jq -r '.errors[0] | "\(.stage) \(.field)"' "$T/lie.out")" "1:pki-csr csr.ec" \
	"a record whose names are not its CSR's: refused by pki-csr, naming the field"

# ------------------------------------------------------------ places
q "INSERT INTO disthosts (fqdn) VALUES ('localhost')" >/dev/null
pki -q place add cb --type certbot --cert-path "$T/cb/{}"
pki -q place add sep --type separate --cert-path "$T/sep/{}" --key-path "$T/sep/{}/private"
pki -q place add bun --type separate --cert-path "$T/bun/{}" --format bundle
for p in cb sep bun; do q "SELECT add_target('c.test', 'localhost', NULL, '$p')" >/dev/null; done

# ------------------------------------------------------------ issue (local CA)
capture pki issue -o c.test
is "$rc" 0 "pki issue of a CSR certificate with the local CA"
like "$out" "*c.test: issued instance * (ec)*" "says it issued it"
serial=$(q "SELECT max(id) FROM inst WHERE name = 'c.test'")
is "$(q "SELECT count(*) || ' ' || count(key) FROM certkeydata WHERE certinstance = $serial")" "1 0" \
	"the instance is stored without a key"
pki-select --serial "$serial" --with-keys > "$T/sel" 2>>"$all"
jq -r '.cert.ec.pem' "$T/sel" > "$T/c.crt"
is "$(spki "$T/c.crt")" "$(spki "$T/c.csr")" "the certificate is for the CSR's key"
ok "and verifies against the local CA" \
	quiet openssl verify -CAfile "$(jq -r '.cert.ec.chain' "$T/sel" > "$T/ca.pem"; echo "$T/ca.pem")" "$T/c.crt"
is "$(jq -c '[has("key"), .keyless]' "$T/sel")" "[false,true]" \
	"pki-select --with-keys has no key to give; the record says keyless"
jq -c 'del(.keyless)' "$T/sel" | pki-deploy > "$T/nokey.out" 2>>"$all"
is "$?:$(jq -r '.errors[0] | "\(.field): \(.message)"' "$T/nokey.out")" \
	"1:key.ec: missing (a target needs the key: pki-select --with-keys gives it)" \
	"a record that merely lacks its key is not CSR input: pki-deploy refuses it"

# TLSA 3 1 1 of the certificate is the hash of the CSR's public key.
is "$(pki-tlsa < "$T/sel" 2>>"$all" | jq -r '.tlsa[0] | "\(.usage) \(.selector) \(.mtype) \(.data)"' | tr 'A-F' 'a-f')" \
	"3 1 1 $(spki "$T/c.csr")" "pki-tlsa: 3 1 1 from the CSR's key"

# ------------------------------------------------------------ distribute
capture pki distribute -o c.test
is "$rc" 1 "pki distribute: exit 1 (the bundle place needs the key)"
is "$(q "SELECT \"Place\" || ' ' || \"Status\" FROM deploy_state WHERE \"Cert Name\" = 'c.test' ORDER BY 1" | tr '\n' ,)" \
	"bun failed,cb ok,sep ok," "the other places got their files"
is "$(q "SELECT \"Last Error\" FROM deploy_state WHERE \"Place\" = 'bun'")" \
	"place bun: format bundle needs the key, and the key of c.test is not pki's (its CSR was given)" \
	"the bundle place: one line naming place and format"
ok "nothing of it was written" [ ! -e "$T/bun" ]
is "$(names "$T"/cb/c.test/*)" "cert.pem chain.pem fullchain.pem " \
	"certbot place: certificate, chain, fullchain; no privkey.pem, no bundle.pem"
is "$(names "$T"/sep/c.test/*)" "c.test_server_cert.pem " \
	"serverPKI separate place: the certificate, no key file"
is "$(openssl x509 -in "$T/cb/c.test/cert.pem" -noout -serial)" \
	"$(openssl x509 -in "$T/c.crt" -noout -serial)" "the deployed certificate is the instance's"

capture pki export --format der "$serial" "$T/x"
is "$rc:$(names "$T"/x/c.test/ec/*)" "0:cert.der " "pki export --format der: the certificate, no key"
capture pki export "$serial" "$T/xp"
is "$rc:$(names "$T"/xp/c.test/ec/*)" "0:cert.pem chain.pem fullchain.pem " "pki export: PEM without key.pem"

# ------------------------------------------------------------ pki cert set --csr, renewal
newcsr c.test ec "$T/c2.csr" c.test www.c.test
capture pki cert set c.test --csr "$T/other.csr"
is "$rc" 1 "pki cert set --csr with other names: refused"
like "$out" "*csr.ec: it asks for the names*" "and says why"
capture pki cert set c.test --csr "$T/c2.csr"
is "$rc:$out" "0:pki: certificate c.test is issued for the CSR of $T/c2.csr (ec)" "pki cert set --csr"
capture pki renew --force -o c.test
is "$rc" 0 "pki renew --force: the stored CSR is signed"
serial2=$(q "SELECT max(id) FROM inst WHERE name = 'c.test'")
ok "a new instance" [ "$serial2" -gt "$serial" ]
pki-select --serial "$serial2" 2>>"$all" | jq -r '.cert.ec.pem' > "$T/c2.crt"
is "$(spki "$T/c2.crt")" "$(spki "$T/c2.csr")" "for the key of the CSR now stored"
q "SELECT add_altname('c.test', 'late.c.test')" >/dev/null
capture pki renew --force -o c.test
is "$rc" 1 "an altname added after the CSR: the renewal fails"
like "$out" "*c.test: FAILED: pki-csr: csr.ec: it asks for the names \"c.test www.c.test\", the certificate has \"c.test late.c.test www.c.test\"*" \
	"the CSR does not lie for the record: pki-csr names the field"
q "SELECT remove_altname('late.c.test')" >/dev/null

# ------------------------------------------------------------ ACME (Pebble)
acmedns_account
newcsr a.example.test rsa "$T/a.csr" a.example.test www.a.example.test
pki -q cert add a.example.test -c acme -A www.a.example.test --csr "$T/a.csr"
is "$(q "SELECT encryption_algo FROM certificates c JOIN subjects s ON s.certificate = c.id
	WHERE s.name = 'a.example.test'")" rsa "an RSA CSR: the certificate's algorithm is rsa"
setsid pki -v issue -o a.example.test > "$T/killed.out" 2> "$T/killed.err" &
kill_when "pki issue with an ACME order for a given CSR" $! "$T/killed.err" \
	has_txt _acme-challenge.a.example.test
is "$(q "SELECT (key IS NULL) || ' ' || (csr = '$(cat "$T/a.csr")') FROM acme_orders WHERE state = 'open'")" \
	"true true" "the order was stored with the given CSR and no key"
o0=$(orders)
capture pki issue -o a.example.test
is "$rc" 0 "the immediate re-run: exit 0"
[ "$rc" -eq 0 ] || diag "$out"
is "$(($(orders) - o0))" 0 "it resumed the stored order: no new order at the CA"
serial=$(q "SELECT max(id) FROM inst WHERE name = 'a.example.test'")
pki-select --serial "$serial" 2>>"$all" > "$T/a.sel"
jq -r '.cert.rsa.pem' "$T/a.sel" > "$T/a.crt"
jq -r '.cert.rsa.chain' "$T/a.sel" > "$T/a.chain"
is "$(spki "$T/a.crt")" "$(spki "$T/a.csr")" "Pebble signed the CSR's key"
ok "the chain verifies against Pebble's root" \
	quiet openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$T/a.chain" "$T/a.crt"
is "$(q "SELECT count(*) || ' ' || count(key) FROM certkeydata WHERE certinstance = $serial")" "1 0" \
	"stored without a key"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'") $(q "SELECT count(*) FROM acme_orders WHERE state = 'open'")" \
	"0 0" "no claim and no open order left"

# ------------------------------------------------------------ secrets
cat "$T"/*.out "$T"/*.err >> "$all" 2>/dev/null
nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$all"
done_testing
