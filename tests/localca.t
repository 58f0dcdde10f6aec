#!/bin/sh
# localca.t - pki-localca run by hand with its CA in files: making a CA
# (--init: the key encrypted at rest, the certificate, what it refuses),
# signing what pki-keygen | pki-csr made (what the certificates say and what
# the records say of them), records it leaves alone, and every way the CA
# or a CSR can be wrong.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

# The helpers below read the records of $recs.
recs=$T/out

# cert NAME ALGO: the certificate (PEM) of ALGO of the record NAME.
cert() {
	jq -r --arg n "$1" --arg a "$2" 'select(.name == $n) | .cert[$a].pem // empty' "$recs"
}

# field NAME ALGO KEY: the member KEY of that record's cert.ALGO.
field() {
	jq -r --arg n "$1" --arg a "$2" --arg k "$3" \
		'select(.name == $n) | .cert[$a][$k] // empty' "$recs"
}

# x509 NAME ALGO ARGS...: `openssl x509 -noout ARGS` on that certificate.
x509() {
	_x_n=$1 _x_a=$2
	shift 2
	cert "$_x_n" "$_x_a" | openssl x509 -noout "$@" 2>&1
}

# ext NAME ALGO EXT: extension EXT of that certificate on one line.
ext() {
	x509 "$1" "$2" -ext "$3" | tr -s ' \n' '  ' | sed 's/ $//'
}

# verify NAME ALGO [ARGS...]: that certificate verifies against $ca;
# verify_file [ARGS...]: $T/leaf.pem does.
verify() {
	_v_n=$1 _v_a=$2
	shift 2
	cert "$_v_n" "$_v_a" >"$T/leaf.pem"
	verify_file "$@"
}
verify_file() {
	openssl verify -x509_strict -CAfile "$ca" "$@" "$T/leaf.pem" >/dev/null 2>&1
}

# why NAME: the message of the record NAME's first error.
why() {
	jq -r --arg n "$1" 'select(.name == $n) | .errors[0].message' "$recs"
}

# lifetime FILE MIN MAX: the certificate in FILE is still valid MIN days
# from now and no longer MAX days from now.
lifetime() {
	openssl x509 -in "$1" -noout -checkend $(($2 * 86400)) >/dev/null &&
		! openssl x509 -in "$1" -noout -checkend $(($3 * 86400)) >/dev/null
}

# rfc3339 NAME ALGO start|end: the certificate's date as the record writes it.
rfc3339() {
	x509 "$1" "$2" -dateopt iso_8601 -"$3"date | sed 's/^not[A-Za-z]*=//; s/ /T/'
}

# before A B: the RFC 3339 time A lies before B.
before() {
	expr "$1" \< "$2" >/dev/null
}

# readkey FILE PASSFILE: openssl can read the key FILE with that passphrase.
readkey() {
	openssl pkey -in "$1" -passin "file:$2" -noout 2>/dev/null
}

# staple NAME ALGO: that certificate has the TLS feature status_request.
staple() {
	x509 "$1" "$2" -text | grep -q 'TLS Feature:'
}

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)

printf 'correct horse battery staple\n' >"$T/pass"
chmod 0600 "$T/pass"
printf 'wrong\n' >"$T/wrongpass"
chmod 0600 "$T/wrongpass"

# ------------------------------------------------------------ --init
ca=$T/ca.pem
run pki-localca --init --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/pass"
is "$rc" 0 "--init with a passphrase file: exit 0"
is "$(cat "$T/out")" "" "--init with files writes nothing on stdout"
is "$(stat -c %a "$T/ca.key")" 600 "the CA key file has mode 0600"
is "$(stat -c %a "$ca")" 644 "the CA certificate has mode 0644"
is "$(head -n 1 "$T/ca.key")" "-----BEGIN ENCRYPTED PRIVATE KEY-----" \
	"the CA key is encrypted PKCS#8"
ok "openssl reads it with the passphrase" readkey "$T/ca.key" "$T/pass"
nok "... and not with another one" readkey "$T/ca.key" "$T/wrongpass"
openssl asn1parse -in "$T/ca.key" >"$T/asn1" 2>&1
like "$(cat "$T/asn1")" "*:PBES2*" "it is PBES2"
like "$(cat "$T/asn1")" "*:scrypt*" "... with the key from scrypt"
like "$(cat "$T/asn1")" "*:aes-256-cbc*" "... and AES-256-CBC"
is "$(openssl x509 -in "$ca" -noout -pubkey)" \
	"$(openssl pkey -in "$T/ca.key" -passin "file:$T/pass" -pubout)" \
	"the key belongs to the certificate"

openssl x509 -in "$ca" -noout -text >"$T/catext"
cp "$ca" "$T/leaf.pem"
ok "the CA certificate is self-signed" verify_file
is "$(openssl x509 -in "$ca" -noout -subject -issuer | tr '\n' ' ')" \
	"subject=CN = Local CA issuer=CN = Local CA " "subject and issuer are CN = Local CA"
is "$(openssl x509 -in "$ca" -noout -ext basicConstraints | tr -s ' \n' '  ')" \
	"X509v3 Basic Constraints: critical CA:TRUE " "basicConstraints: critical, CA:TRUE"
like "$(openssl x509 -in "$ca" -noout -ext keyUsage | tr -s ' \n' '  ')" \
	"X509v3 Key Usage: critical *Certificate Sign*" "keyUsage: critical, keyCertSign"
like "$(cat "$T/catext")" "*Public-Key: (4096 bit)*" "an RSA 4096 key by default"
like "$(cat "$T/catext")" "*Signature Algorithm: sha256WithRSAEncryption*" "signed with SHA-256"
openssl x509 -in "$ca" >"$T/life.pem"
ok "it is valid for 3680 days (10 years and a bit)" lifetime "$T/life.pem" 3679 3681
ok "it is valid now" lifetime "$ca" 0 3681
cafrom=$(openssl x509 -in "$ca" -noout -dateopt iso_8601 -startdate | sed 's/^notBefore=//; s/ /T/')
ok "its not_before lies in the past" before "$cafrom" "$now"
serial=$(openssl x509 -in "$ca" -noout -serial | sed 's/^serial=//')
ok "its serial has at most 20 octets" test "${#serial}" -le 40

# (--algo ec in the refused runs: pki-localca makes the key before it
# looks at the files, and an RSA 4096 key takes seconds.)
cp "$ca" "$T/ca.pem.orig"
cp "$T/ca.key" "$T/ca.key.orig"
run pki-localca --init --algo ec --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/pass"
is "$rc" 2 "--init over an existing CA: exit 2"
like "$(cat "$T/err")" "*exists; a CA is never overwritten*" "... saying a CA is never overwritten"
ok "... the certificate is unchanged" cmp -s "$ca" "$T/ca.pem.orig"
ok "... the key is unchanged" cmp -s "$T/ca.key" "$T/ca.key.orig"
run pki-localca --init --algo ec --ca-cert "$T/new.pem" --ca-key "$T/ca.key" --passphrase-file "$T/pass"
is "$rc" 2 "--init with only the key file existing: exit 2"
nok "... and no certificate is written" test -e "$T/new.pem"
ok "... the key is unchanged" cmp -s "$T/ca.key" "$T/ca.key.orig"

run pki-localca --init --ca-cert "$T/n.pem" --ca-key "$T/n.key"
is "$rc" 2 "--init without any passphrase: exit 2"
like "$(cat "$T/err")" "*passphrase*--passphrase-file*PKI_CA_PASSPHRASE_FILE*" \
	"... saying how to give the passphrase"
nok "... and no file is written" test -e "$T/n.pem" -o -e "$T/n.key"

cp "$T/pass" "$T/openpass"
chmod 0644 "$T/openpass"
run pki-localca --init --ca-cert "$T/n.pem" --ca-key "$T/n.key" --passphrase-file "$T/openpass"
is "$rc" 2 "--init with a world-readable passphrase file: exit 2"
like "$(cat "$T/err")" "*openpass: group or others may read or write it (mode 0644); chmod 0600 it*" \
	"... saying why, with the mode"
nok "... and no file is written" test -e "$T/n.pem" -o -e "$T/n.key"

: >"$T/emptypass"
chmod 0600 "$T/emptypass"
run pki-localca --init --ca-cert "$T/n.pem" --ca-key "$T/n.key" --passphrase-file "$T/emptypass"
is "$rc:$(cat "$T/err")" "2:pki-localca: passphrase file $T/emptypass: empty" \
	"--init with an empty passphrase: exit 2, said"
run pki-localca --init --ca-cert "$T/n.pem" --ca-key "$T/n.key" --passphrase-file "$T/nonesuch"
is "$rc" 2 "--init with a missing passphrase file: exit 2"
run pki-localca --init --algo ec --ca-cert "$T/nodir/n.pem" --ca-key "$T/nodir/n.key" \
	--passphrase-file "$T/pass"
is "$rc" 2 "--init into a directory that does not exist: exit 2"
run pki-localca --init --ca-cert "$T/n.pem" --ca-key "$T/n.key" --passphrase-file "$T/pass" --subject nonsense
is "$rc" 2 "--init --subject that is not a DN: exit 2"
like "$(cat "$T/err")" "*not of the form CN=name,O=org*" "... with the form it wants"
run pki-localca --init --ca-cert "$T/n.pem" --ca-key "$T/n.key" --passphrase-file "$T/pass" --algo dsa
is "$rc" 2 "--init --algo dsa: exit 2"
nok "no file was written by the refused --init runs" test -e "$T/n.pem" -o -e "$T/n.key"

# An EC CA, the passphrase from the environment, a subject of its own.
run env PKI_CA_PASSPHRASE_FILE="$T/pass" pki-localca --init --algo ec \
	--subject "CN=Test EC CA,O=Example Org" --ca-cert "$T/ec.pem" --ca-key "$T/ec.key"
is "$rc" 0 "--init --algo ec with PKI_CA_PASSPHRASE_FILE: exit 0"
like "$(openssl x509 -in "$T/ec.pem" -noout -text)" "*NIST CURVE: P-384*" \
	"the EC CA key is on P-384"
like "$(openssl x509 -in "$T/ec.pem" -noout -text)" "*Signature Algorithm: ecdsa-with-SHA384*" \
	"... and signs with SHA-384"
is "$(openssl x509 -in "$T/ec.pem" -noout -subject)" "subject=CN = Test EC CA, O = Example Org" \
	"--subject sets the CA's DN"
is "$(head -n 1 "$T/ec.key")" "-----BEGIN ENCRYPTED PRIVATE KEY-----" "its key is encrypted too"
ok "openssl reads it with the passphrase" readkey "$T/ec.key" "$T/pass"

# ------------------------------------------------------------ signing
jq -c . >"$T/in" <<'EOF'
{"name":"www.example.test","ca":"local","algos":["rsa","ec"],"altnames":["alt.example.test","*.www.example.test"],"ocsp_must_staple":true}
{"name":"noca.example.test","algos":["ec"],"x-mine":{"kept":[1,"two"]}}
{"name":"gall_op","subject_type":"client","algos":["ec"]}
{"name":"acme.example.test","ca":"acme","algos":["ec"]}
{"name":"Sub CA","subject_type":"CA","ca":"local","algos":["ec"]}
EOF
pki-keygen <"$T/in" 2>>"$T/stderr.all" | pki-csr >"$T/csrs" 2>>"$T/stderr.all"
is "$(jq 'select(.csr)' "$T/csrs" | jq -s length)" 5 "five records with CSRs to sign"

run env PKI_CA_PASSPHRASE_FILE="$T/pass" pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" <"$T/csrs"
cp "$T/out" "$T/signed"
recs=$T/signed
is "$rc" 0 "pki-localca with PKI_CA_PASSPHRASE_FILE: exit 0"
is "$(jq -r .name "$recs" | tr '\n' ' ')" \
	"www.example.test noca.example.test gall_op acme.example.test Sub CA " \
	"every record comes out, in order"
is "$(jq -c 'select(.cert) | [.name, (.cert | keys)]' "$recs" | tr '\n' ' ')" \
	'["www.example.test",["ec","rsa"]] ["noca.example.test",["ec"]] ["gall_op",["ec"]] ' \
	"the local records are signed, a record without \"ca\" too"
is "$(sed -n 4p "$recs")" "$(sed -n 4p "$T/csrs")" \
	"a record with \"ca\": \"acme\" passes through unsigned, byte-identical"
is "$(sed -n 5p "$recs")" "$(sed -n 5p "$T/csrs")" \
	"a CA record is not signed as a leaf"
is "$(jq -c 'select(.cert) | del(.cert)' "$recs")" "$(jq -c 'select(.name | test("^(www|noca|gall)"))' "$T/csrs")" \
	"pki-localca adds cert and nothing else"

ok "the RSA server certificate verifies against the CA" verify www.example.test rsa -purpose sslserver
ok "the EC server certificate verifies against the CA" verify www.example.test ec -purpose sslserver
ok "the record without \"ca\" verifies" verify noca.example.test ec -purpose sslserver
ok "the client certificate verifies as a client" verify gall_op ec -purpose sslclient
nok "... and not as a server" verify gall_op ec -purpose sslserver
nok "a server certificate does not verify as a client" verify www.example.test ec -purpose sslclient

cert www.example.test ec >"$T/life.pem"
ok "a leaf is valid for 375 days by default" lifetime "$T/life.pem" 374 376
ok "its not_before lies in the past" before "$(field www.example.test ec not_before)" "$now"
is "$(x509 www.example.test ec -subject -issuer | tr '\n' ' ')" \
	"subject=CN = www.example.test issuer=CN = Local CA " "subject CN = name, issuer the CA"
is "$(ext www.example.test ec subjectAltName)" \
	"X509v3 Subject Alternative Name: DNS:www.example.test, DNS:alt.example.test, DNS:*.www.example.test" \
	"subjectAltName: the name and the altnames"
is "$(ext www.example.test rsa subjectAltName)" "$(ext www.example.test ec subjectAltName)" \
	"the RSA certificate has the same names"
is "$(ext www.example.test ec basicConstraints)" "X509v3 Basic Constraints: critical CA:FALSE" \
	"basicConstraints: critical, CA:FALSE"
is "$(ext www.example.test ec keyUsage)" "X509v3 Key Usage: critical Digital Signature" \
	"EC keyUsage: critical, digitalSignature"
is "$(ext www.example.test rsa keyUsage)" "X509v3 Key Usage: critical Digital Signature, Key Encipherment" \
	"RSA keyUsage: critical, digitalSignature, keyEncipherment"
is "$(ext www.example.test ec extendedKeyUsage)" \
	"X509v3 Extended Key Usage: TLS Web Server Authentication" "EKU serverAuth for a server"
is "$(ext gall_op ec extendedKeyUsage)" \
	"X509v3 Extended Key Usage: TLS Web Client Authentication" \
	"EKU clientAuth for subject_type client"
is "$(x509 gall_op ec -subject)" "subject=CN = gall_op" "the client's subject is its name"
caski=$(openssl x509 -in "$ca" -noout -ext subjectKeyIdentifier | sed -n '2s/^ *//p')
is "$(x509 www.example.test ec -ext authorityKeyIdentifier | sed -n '2{s/^ *//;s/^keyid://;p;}')" \
	"$caski" "the authorityKeyIdentifier is the CA's subjectKeyIdentifier"
like "$(ext www.example.test ec subjectKeyIdentifier)" "X509v3 Subject Key Identifier: ??:*" \
	"a leaf has a subjectKeyIdentifier"
is "$(ext www.example.test ec tlsfeature)" "TLS Feature: status_request" \
	"must-staple is carried over (EC)"
ok "must-staple is carried over (RSA)" staple www.example.test rsa
nok "no must-staple when the record does not ask for it" staple noca.example.test ec
like "$(x509 www.example.test ec -text)" "*Signature Algorithm: sha256WithRSAEncryption*" \
	"the RSA CA signs with SHA-256"

# What the record says of its certificates.
for n_a in www.example.test:rsa www.example.test:ec noca.example.test:ec gall_op:ec; do
	n=${n_a%:*} a=${n_a#*:}
	is "$(field "$n" "$a" serial)" "$(x509 "$n" "$a" -serial | sed 's/^serial=//')" \
		"$n $a: serial is the certificate's"
	is "$(field "$n" "$a" sha256)" \
		"$(x509 "$n" "$a" -fingerprint -sha256 | sed 's/^.*=//; s/://g')" \
		"$n $a: sha256 is the certificate's fingerprint"
	is "$(field "$n" "$a" not_before) $(field "$n" "$a" not_after)" \
		"$(rfc3339 "$n" "$a" start) $(rfc3339 "$n" "$a" end)" \
		"$n $a: not_before and not_after are the certificate's"
done
like "$(field www.example.test ec not_after)" \
	"[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z" \
	"dates are RFC 3339 in UTC with a Z"
is "$(field www.example.test ec chain)" "$(cat "$ca")" "chain is the CA certificate"
is "$(field www.example.test ec subject) / $(field www.example.test ec issuer)" \
	"CN=www.example.test / CN=Local CA" "subject and issuer as RFC 2253 text"

jq -r '.cert[]?.serial' "$recs" >"$T/serials"
is "$(wc -l <"$T/serials")" 4 "four certificates"
is "$(sort -u "$T/serials" | wc -l)" 4 "... with four different serial numbers"
is "$(awk 'length($0) > 40 || length($0) % 2' "$T/serials")" "" \
	"each serial is whole octets, at most 20"

# The same CSRs again, with --passphrase-file and --days 30.
run pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/pass" --days 30 <"$T/csrs"
recs=$T/out
is "$rc" 0 "--passphrase-file and --days 30: exit 0"
cert www.example.test ec >"$T/life.pem"
ok "--days 30 gives a leaf valid for 30 days" lifetime "$T/life.pem" 29 31
jq -r '.cert[]?.serial' "$recs" >>"$T/serials"
is "$(sort -u "$T/serials" | wc -l)" 8 "signing again gives new serial numbers"

# Must-staple comes from the CSR or the record.
jq -c 'select(.name == "www.example.test") | .ocsp_must_staple = false' "$T/csrs" >"$T/in"
jq -c 'select(.name == "noca.example.test") | .ocsp_must_staple = true' "$T/csrs" >>"$T/in"
run pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/pass" <"$T/in"
ok "must-staple asked for in the CSR is kept when the record no longer says so" \
	staple www.example.test ec
ok "must-staple asked for by the record is added to a CSR without it" \
	staple noca.example.test ec

# A certificate already there is not made again.
jq -c 'select(.name == "www.example.test") | .cert = {"rsa": {"pem": "issued"}}' "$T/csrs" >"$T/in"
run pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/pass" <"$T/in"
is "$(jq -c '[.cert.rsa, (.cert | keys)]' "$T/out")" '[{"pem":"issued"},["ec","rsa"]]' \
	"an algorithm that has a cert is not signed again; the other one is"

# Only the names of the record go into a certificate, never the CSR's.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
	-subj "/CN=evil.test/O=Evil" -addext "subjectAltName=DNS:evil.test,DNS:*.bank.test" \
	-addext "basicConstraints=critical,CA:TRUE" -out "$T/evil.csr" 2>/dev/null
jq -nc --rawfile c "$T/evil.csr" '{name: "good.example.test", csr: {ec: $c}}' >"$T/in"
run pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/pass" <"$T/in"
is "$rc" 0 "a CSR made by openssl, with other names: exit 0"
is "$(x509 good.example.test ec -subject)" "subject=CN = good.example.test" \
	"the subject is the record's name, not the CSR's"
is "$(ext good.example.test ec subjectAltName)" \
	"X509v3 Subject Alternative Name: DNS:good.example.test" \
	"subjectAltName holds the record's names only"
is "$(ext good.example.test ec basicConstraints)" "X509v3 Basic Constraints: critical CA:FALSE" \
	"a CSR asking for CA:TRUE still gets CA:FALSE"

# A host name longer than a CN leaves the subject empty; RFC 5280 4.2.1.6
# then wants subjectAltName critical.
long=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.long.example.test
jq -nc --arg n "$long" '{name: $n, algos: ["ec"]}' | pki-keygen 2>>"$T/stderr.all" |
	pki-csr 2>>"$T/stderr.all" >"$T/in"
run pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/pass" <"$T/in"
is "$(x509 "$long" ec -subject)" "subject=" "an ${#long}-character name: empty subject"
ok "... and a critical subjectAltName (openssl verify -x509_strict)" \
	verify "$long" ec

# ------------------------------------------------------------ other CAs
# The EC (P-384) CA of --init signs with SHA-384.
ca=$T/ec.pem
run pki-localca --ca-cert "$ca" --ca-key "$T/ec.key" --passphrase-file "$T/pass" <"$T/csrs"
is "$rc" 0 "signing with the P-384 CA: exit 0"
ok "its RSA leaf verifies" verify www.example.test rsa
ok "its EC leaf verifies" verify www.example.test ec
like "$(x509 www.example.test rsa -text)" "*Signature Algorithm: ecdsa-with-SHA384*" \
	"the P-384 CA signs with SHA-384"
is "$(x509 www.example.test ec -issuer)" "issuer=CN = Test EC CA, O = Example Org" \
	"the issuer is that CA"
is "$(field www.example.test ec chain)" "$(cat "$ca")" "chain is that CA"

# A P-256 CA: --init makes P-384 EC CAs only (localca_settings.ca_ec_curve
# in the database would change it), so openssl makes this one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/p256.plain" \
	-subj "/CN=P-256 CA" -days 3650 -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$T/p256.pem" 2>/dev/null
openssl pkcs8 -topk8 -in "$T/p256.plain" -v2 aes-256-cbc -scrypt \
	-passout "file:$T/pass" -out "$T/p256.key"
ca=$T/p256.pem
run pki-localca --ca-cert "$ca" --ca-key "$T/p256.key" --passphrase-file "$T/pass" <"$T/csrs"
is "$rc" 0 "signing with a P-256 CA made by openssl: exit 0"
ok "its leaf verifies" verify www.example.test ec -purpose sslserver
like "$(x509 www.example.test ec -text)" "*Signature Algorithm: ecdsa-with-SHA256*" \
	"the P-256 CA signs with SHA-256"

run pki-localca --ca-cert "$ca" --ca-key "$T/p256.plain" <"$T/csrs"
is "$rc" 0 "a CA key kept in clear is used without a passphrase"
ok "... and its leaf verifies" verify www.example.test ec

# A CA that ends before 375 days: the leaf ends with it.
run pki-localca --init --algo ec --days 30 --ca-cert "$T/short.pem" --ca-key "$T/short.key" \
	--passphrase-file "$T/pass"
is "$rc" 0 "--init --days 30: exit 0"
openssl x509 -in "$T/short.pem" >"$T/life.pem"
ok "--init --days 30 makes a CA valid for 30 days" lifetime "$T/life.pem" 29 31
ca=$T/short.pem
run pki-localca --ca-cert "$ca" --ca-key "$T/short.key" --passphrase-file "$T/pass" <"$T/csrs"
is "$rc" 0 "signing with a CA that ends in 30 days: exit 0"
is "$(x509 www.example.test ec -enddate)" "$(openssl x509 -in "$ca" -noout -enddate)" \
	"the leaf ends when the CA ends"
like "$(cat "$T/err")" "*certificate cut to the CA's not_after*" "... and pki-localca says so"
ok "... and it verifies" verify www.example.test ec

# ------------------------------------------------------------ a CA it cannot use
ca=$T/ca.pem
run pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" <"$T/csrs"
is "$rc" 2 "an encrypted CA key and no passphrase: exit 2"
is "$(jq -r .name "$recs" | tr '\n' ' ')" \
	"www.example.test noca.example.test gall_op acme.example.test Sub CA " \
	"... every record is still written"
is "$(jq -c 'select(.errors) | [.name, (.errors | map(.stage, .field))[]]' "$recs" | tr '\n' ' ')" \
	'["www.example.test","pki-localca","ca"] ["noca.example.test","pki-localca","ca"] ["gall_op","pki-localca","ca"] ' \
	"... every local record gets one error for field ca"
like "$(why gall_op)" "*CA key is encrypted*--passphrase-file FILE or PKI_CA_PASSPHRASE_FILE*" \
	"... saying the key is encrypted and how to give the passphrase"
is "$(jq -c 'select(.cert)' "$recs")" "" "... and no record is signed"
is "$(sed -n 4p "$recs")" "$(sed -n 4p "$T/csrs")" "... the ACME record passes untouched"
like "$(cat "$T/err")" "pki-localca: $T/ca.key: the CA key is encrypted*" \
	"stderr says it first about the key file"

run pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/wrongpass" <"$T/csrs"
is "$rc" 2 "the wrong passphrase: exit 2"
like "$(why www.example.test)" "no CA: $T/ca.key: cannot decrypt key (wrong passphrase?)" \
	"... a clear error in each local record"

run env PKI_CA_PASSPHRASE_FILE="$T/wrongpass" pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass" <"$T/csrs"
is "$rc" 0 "--passphrase-file wins over PKI_CA_PASSPHRASE_FILE"

run env PKI_CA_PASSPHRASE_FILE="$T/openpass" pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" <"$T/csrs"
is "$rc" 2 "a world-readable passphrase file when signing: exit 2"
like "$(cat "$T/err")" "*others may read or write it*" "... said"
is "$(wc -l <"$T/out") $(jq -r '.errors[0].field // empty' "$T/out" | sort -u)" "$(wc -l <"$T/csrs") ca" \
	"... every record still goes on, with an error for field ca"

run pki-localca --ca-cert "$ca" --ca-key "$T/ec.key" --passphrase-file "$T/pass" <"$T/csrs"
is "$rc" 2 "a key that is not the certificate's: exit 2"
like "$(why gall_op)" "*the key does not belong to the certificate*" "... said in the records"

run pki-localca --ca-cert "$T/nonesuch.pem" --ca-key "$T/ca.key" --passphrase-file "$T/pass" <"$T/csrs"
is "$rc" 2 "a missing CA certificate file: exit 2"
like "$(cat "$T/err")" "*nonesuch.pem: No such file or directory*" "... said"
is "$(jq -c 'select(.errors) | .errors[0].field' "$recs" | sort -u)" '"ca"' \
	"... each local record gets an error for field ca"

recs=$T/signed
cert noca.example.test ec >"$T/leaf.pem"
jq -c 'select(.name == "noca.example.test") | .key.ec' "$T/csrs" | jq -r . >"$T/leaf.key"
chmod 0600 "$T/leaf.key"
run pki-localca --ca-cert "$T/leaf.pem" --ca-key "$T/leaf.key" <"$T/csrs"
is "$rc" 2 "a leaf certificate as the CA: exit 2"
recs=$T/out
like "$(why gall_op)" "*not a CA certificate*" "... said"

: >"$T/in"
run pki-localca --ca-cert "$T/nonesuch.pem" --ca-key "$T/nonesuch.key" <"$T/in"
is "$rc:$(wc -c <"$T/out")" "0:0" "no record to sign: the CA is not even read, exit 0"
sed -n 4p "$T/csrs" >"$T/in"
run pki-localca --ca-cert "$T/nonesuch.pem" --ca-key "$T/nonesuch.key" <"$T/in"
is "$rc:$(cat "$T/out")" "0:$(cat "$T/in")" "only ACME records: the CA is not read, exit 0"

# ------------------------------------------------------------ bad CSRs
# flip: change the 32nd character of the CSR's third line (a byte of the
# signed public key).
flip() {
	awk 'NR == 3 { c = substr($0, 32, 1); $0 = substr($0, 1, 31) (c == "A" ? "B" : "A") substr($0, 33) } { print }'
}
jq -r 'select(.name == "noca.example.test") | .csr.ec' "$T/csrs" | flip >"$T/bad.csr"
rsacsr=$(jq -c 'select(.name == "www.example.test") | .csr.rsa' "$T/csrs")
{
	jq -c 'select(.name == "www.example.test")' "$T/csrs"
	jq -c --rawfile c "$T/bad.csr" 'select(.name == "noca.example.test") | .name = "broken.test" | .csr.ec = $c' "$T/csrs"
	jq -c --argjson c "$rsacsr" 'select(.name == "noca.example.test") | .name = "wrongalgo.test" | .csr.ec = $c' "$T/csrs"
	jq -c 'select(.name == "noca.example.test") | .name = "garbage.test" | .csr.ec = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"' "$T/csrs"
	jq -c 'select(.name == "noca.example.test") | .name = "dsa.test" | .csr = {"dsa": "x"}' "$T/csrs"
	jq -c 'select(.name == "noca.example.test") | .name = "bad name.test"' "$T/csrs"
	jq -c 'select(.name == "noca.example.test") | .cert = "x"' "$T/csrs"
	jq -c 'select(.name == "gall_op")' "$T/csrs"
} >"$T/in"
# shellcheck disable=SC2016 # expanded by sh -c
ok "the flipped CSR differs from the good one" \
	sh -c '! jq -r "select(.name == \"noca.example.test\") | .csr.ec" "$1" | cmp -s - "$2"' sh "$T/csrs" "$T/bad.csr"
run pki-localca --ca-cert "$ca" --ca-key "$T/ca.key" --passphrase-file "$T/pass" <"$T/in"
is "$rc" 1 "a batch with bad CSRs: exit 1"
is "$(jq -c '[.name, (.errors // [] | map(.field))[]]' "$recs" | tr '\n' ' ')" \
	'["www.example.test"] ["broken.test","csr.ec"] ["wrongalgo.test","csr.ec"] ["garbage.test","csr.ec"] ["dsa.test","csr"] ["bad name.test","name"] ["noca.example.test","cert"] ["gall_op"] ' \
	"each bad record gets an error naming its field; the good ones go on"
like "$(why broken.test)" "bad CSR signature" "a CSR with a flipped character: bad CSR signature"
like "$(why wrongalgo.test)" "not an ec key" "an RSA CSR under csr.ec: not an ec key"
like "$(why garbage.test)" "not a PEM CSR" "a broken PEM: not a PEM CSR"
like "$(why "bad name.test")" "*character other than*" "the names are checked again before signing"
ok "the good records are signed" verify www.example.test ec
ok "... all of them" verify gall_op ec
is "$(jq -c 'select(.errors) | .cert' "$recs" | sort -u | tr '\n' ' ')" '"x" null ' \
	"no record with an error gets a certificate"

# ------------------------------------------------------------ flags
run pki-localca --ca-cert "$ca" <"$T/csrs"
is "$rc:$(cat "$T/err")" "2:pki-localca: --ca-cert and --ca-key go together" \
	"--ca-cert without --ca-key: exit 2, said"
is "$(wc -c <"$T/out")" 0 "... and no record is read"
run pki-localca --ca-key "$T/ca.key" <"$T/csrs"
is "$rc" 2 "--ca-key without --ca-cert: exit 2"
run pki-localca --algo ec --ca-cert "$ca" --ca-key "$T/ca.key" <"$T/csrs"
is "$rc:$(cat "$T/err")" "2:pki-localca: --algo and --subject need --init" \
	"--algo without --init: exit 2, said"
for d in 0 -1 36501 ten; do
	run pki-localca --days "$d" --ca-cert "$ca" --ca-key "$T/ca.key" <"$T/csrs"
	is "$rc" 2 "--days $d: exit 2"
done
like "$(cat "$T/err")" '*--days: "ten" is not a number from 1 to 36500*' "... with a message"
run pki-localca --no-such-option </dev/null
is "$rc" 2 "an unknown option: exit 2"
run pki-localca -h </dev/null
is "$rc" 0 "-h: exit 0"
like "$(cat "$T/out")" "usage: pki-localca *--init*" "-h prints the usage"

# ------------------------------------------------------------ secrets
ok "stderr of the runs above is not empty" test -s "$T/stderr.all"
nok "no private key ever appeared on stderr" grep -q "$SECRET_PATTERN" "$T/stderr.all"
nok "nor the passphrase" grep -q "correct horse" "$T/stderr.all"

done_testing
