#!/bin/sh
# cahier.t - the local CA as a hierarchy (a root and the intermediates it
# signs) and a CA made elsewhere: pki ca init --intermediate (the chains
# checked by openssl verify, the extensions of each CA), the root's key
# out of the database and back (a wrong key refused), pki ca roll of the
# intermediate (old and new certificates each with their own chain), the
# CRL of the intermediate (openssl verify -crl_check), pki import ca and
# what it refuses, and kill -9 while the CA is being made.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup
q "UPDATE localca_settings SET ca_algo = 'ec'"

# inst NAME: NAME's newest instance.
inst() { q "SELECT max(id) FROM inst WHERE name = '$1'"; }
# pem ID FILE: the certificate of instance ID into FILE, its chain (as
# pki-select gives it to targets) into FILE.chain.
pem() {
	q "SELECT convert_from(cert, 'UTF8') FROM certkeydata WHERE certinstance = $1" > "$2"
	q "SELECT instance_chain($1)" > "$2.chain"
}
# ext FILE EXT: extension EXT of the certificate in FILE on one line.
ext() {
	openssl x509 -in "$1" -noout -ext "$2" 2>&1 | tr -s ' \n' '  ' | sed 's/ $//'
}
# verify FILE [ARGS...]: the certificate of FILE verifies with the root
# of $T/root.pem as the one trusted and FILE.chain as untrusted.
verify() {
	_vf=$1
	shift
	openssl verify -x509_strict -CAfile "$T/root.pem" -untrusted "$_vf.chain" \
		"$@" "$_vf" >/dev/null 2>&1
}
root_inst() { q "SELECT max(i.id) FROM inst i WHERE name = 'Local Root CA'"; }
keylen() { q "SELECT length(key) FROM certkeydata WHERE certinstance = $1"; }

# ------------------------------------------------------------ kill -9
# killed: pki ca init --intermediate killed with -9 while pki-store waits
# for certkeydata (held locked), then nothing half-made.
cas() { q "SELECT count(*) FROM inst WHERE name IN ('Local CA', 'Local Root CA')"; }
killed() {
	pg_hold "BEGIN; LOCK TABLE pki.certkeydata IN EXCLUSIVE MODE;"
	setsid pki -q ca init --intermediate 8>&- >/dev/null 2>&1 &
	_kpid=$!
	_n=0
	while [ "$(pg_waiting)" -eq 0 ] && [ "$_n" -lt 300 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	kill -9 "-$_kpid"
	wait "$_kpid" 2>/dev/null
	pg_release
}
killed
is "$(cas)" 0 "killed while the root is stored: no CA instance"
# The root alone, as the first half of a run makes it; then killed while
# the intermediate is stored.
pki-localca -q --init --root --passphrase-file "$T/home/ca.pass" 2>/dev/null |
	pki-store -q >/dev/null 2>&1 ||
	{ pki -q ca init --intermediate; echo "Bail out! no root"; exit 1; }
is "$(cas)" 1 "(a root)"
killed
is "$(cas)" 1 "killed while the intermediate is stored: the root alone"

# ------------------------------------------------------------ init
capture pki ca init --intermediate
is "$rc" 0 "pki ca init --intermediate"
like "$out" "*Local CA: issued instance*" "an intermediate"
is "$(q "SELECT count(*) FROM inst WHERE name = 'Local Root CA'")" 1 \
	"signed by the root the killed run left, no second one"
r1=$(root_inst) i1=$(inst 'Local CA')
pem "$r1" "$T/root.pem"
pem "$i1" "$T/i1.pem"
is "$(q "SELECT cacert FROM certinstances WHERE id = $i1")" "$r1" \
	"the intermediate's CAcert is the root"
ok "the intermediate verifies under the root" quiet openssl verify \
	-x509_strict -CAfile "$T/root.pem" "$T/i1.pem" 2>/dev/null
like "$(ext "$T/root.pem" basicConstraints)" "*critical*CA:TRUE, pathlen:1" \
	"the root: CA, path length 1"
like "$(ext "$T/root.pem" keyUsage)" "*critical*Certificate Sign, CRL Sign" \
	"the root: keyCertSign, cRLSign"
like "$(ext "$T/i1.pem" basicConstraints)" "*critical*CA:TRUE, pathlen:0" \
	"the intermediate: CA, path length 0"
like "$(ext "$T/i1.pem" keyUsage)" "*critical*Certificate Sign, CRL Sign*" \
	"the intermediate: keyCertSign, cRLSign"
is "$(ext "$T/i1.pem" authorityKeyIdentifier | sed 's/.*Identifier: //; s/keyid://')" \
	"$(ext "$T/root.pem" subjectKeyIdentifier | sed 's/.*Identifier: //')" \
	"the intermediate's AKI is the root's SKI"
capture pki ca init --intermediate
is "$rc:$out" "0:pki: the local CA exists already (pki ca roll makes a new one)" \
	"init again: nothing more"
is "$(q "SELECT count(*) FROM inst WHERE name IN ('Local CA', 'Local Root CA')")" 2 \
	"two CA instances"

# ------------------------------------------------------------ leaves
pki -q cert add a.example.test -a ec
capture pki issue
is "$rc" 0 "pki issue signs with the intermediate"
a1=$(inst a.example.test)
pem "$a1" "$T/a1.pem"
is "$(q "SELECT cacert FROM certinstances WHERE id = $a1")" "$i1" \
	"the certificate's CAcert is the intermediate"
ok "openssl verify -CAfile root -untrusted chain passes" verify "$T/a1.pem"
nok "and fails without the chain" quiet openssl verify -CAfile "$T/root.pem" "$T/a1.pem" 2>/dev/null
is "$(openssl x509 -in "$T/a1.pem.chain" -noout -subject)" "subject=CN = Local CA" \
	"the chain starts with the intermediate"
is "$(ext "$T/a1.pem" authorityKeyIdentifier | sed 's/.*Identifier: //; s/keyid://')" \
	"$(ext "$T/i1.pem" subjectKeyIdentifier | sed 's/.*Identifier: //')" \
	"the certificate's AKI is the intermediate's SKI"
# What pki-localca wrote is what the database gives targets.
pki-select -q --serial "$a1" </dev/null 2>/dev/null |
	jq -r '.cert.ec.chain // empty' > "$T/sel.chain"
ok "pki-select's chain is the intermediate and the root" \
	cmp -s "$T/sel.chain" "$T/a1.pem.chain"

# ------------------------------------------------------------ root key offline
capture pki ca root remove-key
is "$rc" 1 "remove-key before export-key: refused"
like "$out" "*never exported*" "says why"
nok "the root's key stays" test "$(keylen "$r1")" -eq 0
capture pki ca root export-key "$T/off/root.key"
nok "export-key to a missing directory fails" test "$rc" -eq 0
capture pki ca root export-key "$T/root.key"
is "$rc" 0 "pki ca root export-key FILE"
is "$(stat -c %a "$T/root.key")" 600 "mode 0600"
ok "openssl opens it with the CA passphrase" quiet openssl pkey -in "$T/root.key" \
	-passin "file:$T/home/ca.pass" -noout
case $out in *PRIVATE*) fail "the key was printed" ;; *) pass "not printed" ;; esac
: > "$T/exists"
capture pki ca root export-key "$T/exists"
is "$rc" 2 "export-key to an existing file: refused"
is "$(wc -c < "$T/exists")" 0 "and the file is left alone"
capture pki ca root remove-key
is "$rc" 0 "pki ca root remove-key"
is "$(keylen "$r1")" 0 "the root's key is out of the database"
capture pki ca roll
is "$rc" 2 "pki ca roll without the root's key fails"
like "$out" "*key of the root CA*offline*import-key*" "clearly"
is "$(inst 'Local CA')" "$i1" "no new intermediate"
capture pki issue -o a.example.test
pki -q cert add b.example.test -a ec
capture pki issue
is "$rc" 0 "the intermediate still signs without the root's key"

# A wrong key: another CA's.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
	-aes256 -pass "file:$T/home/ca.pass" -out "$T/wrong.key" 2>/dev/null
capture pki ca root import-key "$T/wrong.key"
is "$rc" 2 "import-key of a key that is not the root's: refused"
like "$out" "*does not belong to the certificate*" "says why"
is "$(keylen "$r1")" 0 "nothing stored"
capture pki ca root import-key "$T/root.key"
is "$rc" 0 "pki ca root import-key FILE"
like "$out" "*Local Root CA*" "said"
ok "the root's key is back" test "$(keylen "$r1")" -gt 0

# ------------------------------------------------------------ roll
capture pki ca roll
is "$rc" 0 "pki ca roll: a new intermediate"
i2=$(inst 'Local CA')
ok "a new instance" test "$i2" -gt "$i1"
is "$(q "SELECT cacert FROM certinstances WHERE id = $i2")" "$r1" \
	"signed by the same root"
pki -q cert add c.example.test -a ec
pki -q cert add d.example.test -a ec
capture pki issue -o c.example.test -o d.example.test
is "$rc" 0 "issue after the roll"
c1=$(inst c.example.test)
pem "$c1" "$T/c1.pem"
pem "$i2" "$T/i2.pem"
ok "the new certificate verifies with its chain" verify "$T/c1.pem"
is "$(openssl x509 -in "$T/c1.pem.chain" -noout -fingerprint)" \
	"$(openssl x509 -in "$T/i2.pem" -noout -fingerprint)" \
	"the new certificate's chain starts with the new intermediate"
pem "$a1" "$T/a1again.pem"
ok "the old certificate still verifies with its chain" verify "$T/a1again.pem"
is "$(openssl x509 -in "$T/a1again.pem.chain" -noout -fingerprint)" \
	"$(openssl x509 -in "$T/i1.pem" -noout -fingerprint)" \
	"which still starts with the old intermediate"
cp "$T/c1.pem.chain" "$T/a1x.pem.chain"
cp "$T/a1.pem" "$T/a1x.pem"
nok "(the new chain would not do for it)" verify "$T/a1x.pem"

# ------------------------------------------------------------ CRL
capture pki revoke "$c1" --reason keyCompromise
is "$rc" 0 "pki revoke of a certificate of the intermediate"
capture pki ca crl "$T/crl.pem"
is "$rc" 0 "pki ca crl"
like "$(openssl crl -in "$T/crl.pem" -noout -issuer)" "issuer=CN = Local CA" \
	"the CRL is the intermediate's"
ok "signed by the new intermediate" quiet openssl crl -in "$T/crl.pem" -noout 2>/dev/null \
	-CAfile "$T/i2.pem"
cat "$T/root.pem" "$T/i2.pem" > "$T/trust.pem"
capture openssl verify -crl_check -CAfile "$T/trust.pem" -CRLfile "$T/crl.pem" "$T/c1.pem"
nok "openssl verify -crl_check refuses the revoked certificate" test "$rc" -eq 0
like "$out" "*certificate revoked*" "as revoked"
pem "$(inst d.example.test)" "$T/d1.pem"
ok "and accepts another of the intermediate" quiet openssl verify -crl_check \
	-CAfile "$T/trust.pem" -CRLfile "$T/crl.pem" "$T/d1.pem"
# A certificate of the rolled intermediate: in that one's CRL.
capture pki revoke "$a1"
is "$rc" 0 "pki revoke of a certificate of the old intermediate"
is "$(grep -c 'BEGIN X509 CRL' "$T/home/crl.pem")" 2 \
	"the CRL file holds a CRL of each intermediate"
cat "$T/root.pem" "$T/i1.pem" > "$T/trust1.pem"
capture openssl verify -crl_check -CAfile "$T/trust1.pem" -CRLfile "$T/home/crl.pem" "$T/a1.pem"
like "$rc:$out" "[12]:*certificate revoked*" "openssl verify -crl_check refuses it as revoked"
pem "$(inst b.example.test)" "$T/b1.pem"
ok "and accepts another of the old intermediate" quiet openssl verify -crl_check \
	-CAfile "$T/trust1.pem" -CRLfile "$T/home/crl.pem" "$T/b1.pem"
ok "and still refuses the new one's revoked certificate" sh -c "! openssl verify \
	-crl_check -CAfile '$T/trust.pem' -CRLfile '$T/home/crl.pem' '$T/c1.pem' >/dev/null 2>&1"

# ------------------------------------------------------------ by hand
# The hierarchy in files, no database: pki-localca run by hand.
export PKI_CA_PASSPHRASE_FILE="$T/home/ca.pass"
run pki-localca --init --intermediate --root-cert "$T/f-root.pem" --algo ec
is "$rc:$(cat "$T/err")" "2:pki-localca: --root-cert and --root-key go together" \
	"--root-cert without --root-key: refused"
run pki-localca --init --root --root-cert "$T/x" --root-key "$T/y" \
	--ca-cert "$T/f-i.pem" --ca-key "$T/f-i.key"
is "$rc:$(cat "$T/err")" "2:pki-localca: --root-cert and --root-key need --intermediate" \
	"--root-cert with --root: refused"
run pki-localca --init --root --algo ec --ca-cert "$T/f-root.pem" --ca-key "$T/f-root.key"
is "$rc" 0 "pki-localca --init --root with files"
run pki-localca --init --intermediate --algo ec --root-cert "$T/f-root.pem" \
	--root-key "$T/f-root.key" --ca-cert "$T/f-i.pem" --ca-key "$T/f-i.key"
is "$rc" 0 "pki-localca --init --intermediate with the root's files"
is "$(grep -c 'BEGIN CERTIFICATE' "$T/f-i.pem")" 2 "its certificate file: it and the root"
echo '{"name":"f.example.test","algos":["ec"]}' | pki-keygen -q | pki-csr -q |
	pki-localca -q --ca-cert "$T/f-i.pem" --ca-key "$T/f-i.key" > "$T/f.json"
jq -r '.cert.ec.pem' "$T/f.json" > "$T/f.pem"
jq -r '.cert.ec.chain' "$T/f.json" > "$T/f.pem.chain"
cp "$T/f-root.pem" "$T/root.pem"
ok "a certificate it signs verifies with its chain" verify "$T/f.pem"
unset PKI_CA_PASSPHRASE_FILE

# ------------------------------------------------------------ import ca
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/ext.key" -out "$T/ext.pem" -subj "/CN=serverPKI CA" -days 3650 \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/noku.key" -out "$T/noku.pem" -subj "/CN=No Sign" -days 3650 \
	-addext "keyUsage=critical,digitalSignature" 2>/dev/null
q "SELECT convert_from(key, 'UTF8') FROM certkeydata WHERE certinstance = $(inst d.example.test)" > "$T/d1.key"
echo garbage > "$T/garbage.pem"
chmod 0600 "$T"/*.key "$T/garbage.pem"
n=$(q "SELECT count(*) FROM certinstances")
capture pki import ca --cert "$T/ext.pem" --key "$T/wrong.key"
is "$rc" 2 "pki import ca with a key that is not the certificate's: refused"
like "$out" "*does not belong to the certificate*" "says why"
# The others where pki import ca finds them, in pki-localca --import.
export PKI_CA_PASSPHRASE_FILE="$T/home/ca.pass"
for bad in "d1.pem d1.key:no basicConstraints CA:TRUE" \
	"noku.pem noku.key:no keyUsage keyCertSign" \
	"garbage.pem ext.key:no PEM certificate" \
	"ext.pem garbage.pem:not a PEM private key"; do
	files=${bad%%:*} why=${bad#*:}
	run pki-localca --import --ca-cert "$T/${files% *}" --ca-key "$T/${files#* }"
	is "$rc:$(wc -c < "$T/out")" 2:0 "pki-localca --import $files: refused, no record"
	like "$(cat "$T/err")" "*$why*" "because $why"
done
unset PKI_CA_PASSPHRASE_FILE
is "$(q "SELECT count(*) FROM certinstances")" "$n" "nothing stored"
capture pki import ca --cert "$T/ext.pem"
is "$rc" 2 "pki import ca without --key: usage"
capture pki import ca --cert "$T/ext.pem" --key "$T/ext.key"
is "$rc" 0 "pki import ca --cert F --key F"
e1=$(inst 'Local CA')
ok "a new CA instance" test "$e1" -gt "$i2"
is "$(q "SELECT to_char(not_after, 'YYYYMMDDHH24MISS') || ' ' || hash FROM certinstances i JOIN certkeydata d ON d.certinstance = i.id WHERE i.id = $e1")" \
	"$(date -u -d "$(openssl x509 -in "$T/ext.pem" -noout -enddate | sed 's/^notAfter=//')" +%Y%m%d%H%M%S) $(openssl x509 -in "$T/ext.pem" -outform DER | sha256sum | cut -c1-64 | tr a-f A-F)" \
	"its not_after and hash are the certificate's"
ok "its key is stored encrypted" quiet sh -c "psql -X -At -c \"SELECT convert_from(key, 'UTF8') FROM pki.certkeydata WHERE certinstance = $e1\" | grep -q 'ENCRYPTED PRIVATE KEY'"
capture pki import ca --cert "$T/ext.pem" --key "$T/ext.key"
is "$rc" 0 "imported again"
is "$(q "SELECT count(*) FROM certinstances")" "$((n + 1))" "changes nothing"
pki -q cert add e.example.test -a ec
capture pki issue -o e.example.test
is "$rc" 0 "pki issue after the import"
pem "$(inst e.example.test)" "$T/e1.pem"
ok "signed by the imported CA" quiet openssl verify -x509_strict -CAfile "$T/ext.pem" "$T/e1.pem"
is "$(openssl x509 -in "$T/e1.pem.chain" -noout -fingerprint)" \
	"$(openssl x509 -in "$T/ext.pem" -noout -fingerprint)" "whose certificate is its chain"

if grep -q 'PRIVATE KEY' "$T/all" "$T/stderr.all" 2>/dev/null; then
	fail "a key in some output"
else
	pass "no key in any output"
fi

done_testing
