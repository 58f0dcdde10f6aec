#!/bin/sh
# frontdoor.t - the pki commands for what was only a pipeline: pki revoke
# (an ACME certificate at Pebble, a local one in the CRL of pki ca crl,
# checked by openssl verify -crl_check), pki account list, rollover (a
# new key that no output shows, and orders with it) and deactivate (then
# orders fail, saying why).  http-01 through pki-acme's own responder:
# no DNS server needed.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v pebble >/dev/null 2>&1 || skip_all "no pebble"
# shellcheck source=tests/lib/pebble.sh
. "$(dirname "$0")/lib/pebble.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pebble_start PEBBLE_WFE_NONCEREJECT=0
pg_setup

lines() { printf '%s\n' "$1" | grep -c .; }
inst() { q "SELECT max(id) FROM inst WHERE name = '$1'"; }
# The RFC 7638 thumbprint of the stored account key (EC P-256: x and y
# are the last 64 bytes of the public key), the key itself only on a pipe.
b64u() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
thumb() {
	q "SELECT convert_from(key, 'UTF8') FROM acme_accounts WHERE id = 1" |
		openssl pkey -pubout -outform DER 2>/dev/null | tail -c 64 > "$T/xy"
	printf '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' \
		"$(head -c 32 "$T/xy" | b64u)" "$(tail -c 32 "$T/xy" | b64u)" |
		openssl dgst -sha256 -binary | b64u
}

cat > "$T/pki.conf" <<EOF
PKI_ACME_DIRECTORY=$PEBBLE_DIRECTORY
PKI_ACME_CA_BUNDLE=$PEBBLE_CA_BUNDLE
PKI_ACME_EMAIL=admin@example.test
PKI_ACME_AGREE_TOS=yes
PKI_ACME_CHALLENGE=http-01
PKI_ACME_HTTP_LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT
PKI_ACME_TIMEOUT=60
PKI_HOME=$T/home
EOF
PKI_CONF=$T/pki.conf
export PKI_CONF

q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init >/dev/null
pki -q register >/dev/null
pki -q cert add acme.example.test -c acme -a ec
pki -q cert add local.example.test -a ec
pki -q cert add other.example.test -a ec
capture pki issue
is "$rc" 0 "pki issue: an ACME and two local certificates"

# ------------------------------------------------------------ account list
capture pki account list
is "$rc" 0 "pki account list"
like "$out" "*$PEBBLE_DIRECTORY*https://127.0.0.1:*/my-account/*mailto:admin@example.test*valid*" \
	"the directory, the account, its contact and status"
like "$out" "*Created*$(date -u +%Y-)*" "and when it was made"

# ------------------------------------------------------------ revoke, negative
capture pki revoke 99999
is "$rc:$(lines "$out")" "1:1" "an unknown serial: exit 1, one line"
like "$out" "pki: revoke: no instance 99999*" "naming it"
acme=$(inst acme.example.test)
capture pki revoke "$acme" --reason whim
is "$rc:$(lines "$out")" "2:1" "an unknown reason: exit 2, one line"
like "$out" "*reason*whim*" "naming it"
is "$(q "SELECT state FROM certinstances WHERE id = $acme")" issued \
	"and nothing is revoked"
capture pki revoke
is "$rc" 2 "no serial: usage, exit 2"

# ------------------------------------------------------------ revoke ACME
serial=$(q "SELECT convert_from(cert, 'UTF8') FROM certkeydata WHERE certinstance = $acme" |
	openssl x509 -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f')
is "$(pebble_get "/cert-status-by-serial/$serial" | jq -r .Status)" Valid \
	"Pebble knows the ACME certificate as valid"
capture pki revoke "$acme" --reason keyCompromise
is "$rc" 0 "pki revoke SERIAL --reason keyCompromise (ACME)"
like "$out" "*acme.example.test: revoked instance $acme (keyCompromise)*" "says so"
is "$(pebble_get "/cert-status-by-serial/$serial" | jq -c '[.Status, .Reason]')" \
	'["Revoked",1]' "Pebble reports it revoked, for keyCompromise"
is "$(q "SELECT state, revoke_reason FROM certinstances WHERE id = $acme")" \
	"revoked|keyCompromise" "the instance is revoked in the database"
is "$(q "SELECT count(*) FROM events WHERE instance = $acme AND message LIKE 'revoked instance%'")" \
	1 "an event says so"
capture pki revoke "$acme"
is "$rc:$(lines "$out")" "0:1" "revoking it twice: exit 0, one line"
like "$out" "*instance $acme (acme.example.test) is revoked already*" "saying so"

# ------------------------------------------------------------ revoke local, CRL
local=$(inst local.example.test)
other=$(inst other.example.test)
# The certificates and the CA's, from the database.
pem() { q "SELECT convert_from(cert, 'UTF8') FROM certkeydata WHERE certinstance = $1"; }
pem "$local" > "$T/local.pem"
pem "$other" > "$T/other.pem"
pem "$(q "SELECT max(i.id) FROM certinstances i JOIN subjects s
	ON s.certificate = i.certificate WHERE s.name = (SELECT subject_name FROM localca_settings LIMIT 1)")" > "$T/ca.pem"
capture pki revoke "$local" --reason 4
is "$rc" 0 "pki revoke SERIAL --reason 4 (local)"
like "$out" "*local.example.test: revoked instance $local (superseded)*" \
	"the number is superseded's"
is "$(q "SELECT state FROM certinstances WHERE id = $local")" revoked \
	"the local instance is revoked in the database"
ok "the CRL is written" test -s "$T/home/crl.pem"
capture openssl verify -crl_check -CAfile "$T/ca.pem" -CRLfile "$T/home/crl.pem" "$T/local.pem"
nok "openssl verify -crl_check refuses the revoked certificate" test "$rc" -eq 0
like "$out" "*certificate revoked*" "as revoked"
ok "and accepts the other one with the same CRL" quiet openssl verify -crl_check \
	-CAfile "$T/ca.pem" -CRLfile "$T/home/crl.pem" "$T/other.pem"
like "$(openssl crl -in "$T/home/crl.pem" -noout -text)" \
	"*Serial Number: $(openssl x509 -in "$T/local.pem" -noout -serial |
	sed 's/^serial=//')*Superseded*" "the CRL lists its serial and reason"
capture pki ca crl "$T/crl2.pem"
is "$rc" 0 "pki ca crl FILE"
ok "verifies with the CA" quiet openssl crl -in "$T/crl2.pem" -noout -out /dev/null \
	-CAfile "$T/ca.pem" 2>/dev/null

# ------------------------------------------------------------ rollover
t1=$(thumb)
# The filter by hand, its output a terminal: refused before the CA is
# asked, without the key (script(1) gives it a pseudo-terminal).
capture script -qec "pki-acme rollover --directory $PEBBLE_DIRECTORY" /dev/null
is "$rc" 2 "pki-acme rollover to a terminal: exit 2"
like "$out" "*carries the account key*not a terminal*" "says why"
is "$(thumb)" "$t1" "and the key is not changed"
capture pki account rollover --bogus
is "$rc" 2 "rollover with an unknown option: exit 2"
capture pki account rollover
is "$rc" 0 "pki account rollover"
like "$out" "*ACME account https://*: new key*" "says so"
t2=$(thumb)
ok "the stored key's JWK thumbprint changed" test -n "$t2" -a "$t1" != "$t2"
is "$(q "SELECT count(*) FROM acme_accounts")" 1 "the same account"
pki -q cert add after.example.test -c acme -a ec
capture pki issue -o after.example.test
is "$rc" 0 "an order with the new key works"
like "$out" "*after.example.test: issued instance*" "and issues"

# When the CA's answer to the key change is lost and pki-acme cannot
# learn the outcome (acme.t makes that happen through a relay), it exits
# 1 with a record that carries the new key and an error; here a stand-in
# pki-acme writes such a record, to show that the workflow keeps it in a
# private file, prints no key and stores nothing.
mkdir "$T/bin"
for p in "$PKI_BUILD"/bin/*; do ln -s "$p" "$T/bin/"; done
rm "$T/bin/pki-acme"
cat > "$T/bin/pki-acme" <<'EOF'
#!/bin/sh
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
	jq -Rsc --arg d "$PKI_ACME_DIRECTORY" '{action: "rollover",
	account: {directory: $d, url: "https://acme.invalid/acct/1", key: .,
		key_type: "ec", status: "valid"},
	errors: [{stage: "pki-acme", field: "account", message:
		"the outcome of the key change is unknown"}]}'
echo "pki-acme: rollover: the outcome of the key change is unknown" >&2
exit 1
EOF
chmod +x "$T/bin/pki-acme"
capture env PKI_BINDIR="$T/bin" pki account rollover
is "$rc" 1 "rollover, its outcome unknown: exit 1"
kept=$(ls "$T"/home/rollover-*.json 2>/dev/null)
like "$out" "*the new key is kept in $kept (mode 0600)*" "says where the new key is kept"
is "$(stat -c %a "$kept" 2>/dev/null)" 600 "in a file only its owner reads"
like "$(jq -r .account.key "$kept")" "*BEGIN PRIVATE KEY*" "which has the new key"
is "$(thumb)" "$t2" "and the stored key is left alone"

# ------------------------------------------------------------ deactivate
capture pki account deactivate </dev/null
is "$rc" 2 "deactivate without --yes and no terminal: exit 2"
like "$out" "*--yes*" "says to give --yes"
is "$(q "SELECT status FROM acme_accounts")" valid "the account is left alone"
capture pki account deactivate --yes
is "$rc" 0 "pki account deactivate --yes"
like "$out" "*ACME account https://*: deactivated*" "says so"
like "$(pki account list)" "*deactivated*" "account list shows it"
pki -q cert add late.example.test -c acme -a ec
capture pki issue -o late.example.test
is "$rc" 2 "an order after the deactivation fails: exit 2 (no account, like pki-acme)"
like "$out" "*late.example.test: FAILED:*no valid ACME account*" "saying why"
capture pki account rollover
is "$rc:$(lines "$out")" "1:1" "no account to roll: exit 1, one line"

# ------------------------------------------------------------ secrets
nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$T/all"
nok "nor in the output of psql's account list" grep -q "BEGIN" "$T/all"
done_testing
