#!/bin/sh
# acme.t - pki-acme against a real Pebble on loopback: register (terms,
# EAB), key rollover and deactivation; http-01 through the built-in
# responder and through --http-root; one name, several, must-staple, rsa
# plus ec, every chain verified against Pebble's root; nonce rejection;
# alternate chains; the CA down; problem documents as record errors;
# revocation; the account and the revocation through PostgreSQL, and
# pki register; valgrind on every subcommand; no key on stderr.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v pebble >/dev/null 2>&1 || skip_all "no pebble"
command -v pebble-challtestsrv >/dev/null 2>&1 || skip_all "no pebble-challtestsrv"
# shellcheck source=tests/lib/pebble.sh
. "$(dirname "$0")/lib/pebble.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"

err=$T/stderr.all	# every program's stderr, searched for keys at the end
rec() {	# rec NAME [ALGOS] [JQ]: a record of the ACME CA
	jq -cn --arg n "$1" --argjson a "${2:-[\"ec\"]}" \
		"{name: \$n, ca: \"acme\", algos: \$a} | ${3:-.}"
}
keys() { pki-keygen 2>>"$err" | pki-csr 2>>"$err"; }
# verify FILE ALGO NAME: the certificate of ALGO of record NAME in FILE
# verifies up to Pebble's root $PEBBLE_ROOT through its chain.
verify() {
	jq -r --arg n "$3" "select(.name == \$n) | .cert.$2.pem" "$1" > "$T/v.leaf"
	jq -r --arg n "$3" "select(.name == \$n) | .cert.$2.chain" "$1" > "$T/v.chain"
	openssl verify -CAfile "${4:-$PEBBLE_ROOT}" -untrusted "$T/v.chain" \
		"$T/v.leaf" >/dev/null 2>&1
}
text() {	# text FILE ALGO NAME: the certificate as openssl prints it
	jq -r --arg n "$3" "select(.name == \$n) | .cert.$2.pem" "$1" |
		openssl x509 -noout -text
}
field() {	# field FILE NAME JQ [JQ ARGS]
	_f=$1 _n=$2 _q=$3
	shift 3
	jq -c --arg n "$_n" "$@" "select(.name == \$n) | $_q" "$_f"
}

pebble_start PEBBLE_AUTHZREUSE=100
CA=$PEBBLE_CA_BUNDLE
LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT

# ------------------------------------------------------------ register
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--ca-bundle "$CA"
is "$rc" 2 "register without --agree-tos: exit 2"
like "$(cat "$T/err")" "*terms of service at data:text/plain,Do%20what%20thou%20wilt*--agree-tos*" \
	"and it names the terms and the flag"
is "$(cat "$T/out")" "" "and writes no account"

run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos
is "$rc" 2 "TLS to the CA is verified: without its CA bundle, exit 2"
like "$(cat "$T/err")" "*cannot reach the ACME CA*certificate*" "says why"

run pki-acme register --directory "$PEBBLE_DIRECTORY" --email 'no address' \
	--agree-tos --ca-bundle "$CA"
is "$rc" 2 "a bad e-mail address: exit 2"

run pki-acme register -v --directory "$PEBBLE_DIRECTORY" \
	--email admin@example.test --agree-tos --ca-bundle "$CA"
is "$rc" 0 "register"
cp "$T/out" "$T/acct.json"
is "$(jq -c '[.action, .account.directory == env.PEBBLE_DIRECTORY,
	.account.status, .account.contact, .account.key_type]' "$T/acct.json")" \
	'["register",true,"valid",["mailto:admin@example.test"],"ec"]' \
	"writes the account record"
like "$(jq -r .account.url "$T/acct.json")" "https://127.0.0.1:*/my-account/*" \
	"with the account's URL"
jq -r .account.key "$T/acct.json" > "$T/acct.key"
like "$(openssl pkey -in "$T/acct.key" -noout -text 2>&1)" "*ASN1 OID: prime256v1*" \
	"and its key: EC P-256 by default, PKCS#8"
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA" --key-type rsa
like "$(jq -r .account.key "$T/out" | openssl pkey -noout -text 2>&1)" \
	"*Private-Key: (2048 bit*" "--key-type rsa: RSA 2048"
cp "$T/out" "$T/acct-rsa.json"
# The subcommands with the first account (a file) and Pebble's TLS CA.
order() { pki-acme order --account "$T/acct.json" --ca-bundle "$CA" "$@"; }
finish() { pki-acme finish --account "$T/acct.json" --ca-bundle "$CA" "$@"; }
revoke() { pki-acme revoke --account "$T/acct.json" --ca-bundle "$CA" "$@"; }

# ------------------------------------------------------------ http-01
{
	rec one.test
	rec multi.test '["ec"]' '.altnames = ["www.multi.test", "mail.multi.test"]'
	rec staple.test '["ec"]' '.ocsp_must_staple = true'
	rec dual.test '["rsa", "ec"]'
	echo '{"name":"local.test","algos":["ec"]}'
} | keys > "$T/h1"
order --challenge http-01 < "$T/h1" > "$T/h2" 2>>"$err"
is "$?" 0 "order"
is "$(jq -c 'select(.ca == "acme") | [.name, (.challenges | map(.type) | unique),
	(.acme.orders | keys)]' "$T/h2" | tr -d '\n')" \
	'["one.test",["http-01"],["ec"]]["multi.test",["http-01"],["ec"]]["staple.test",["http-01"],["ec"]]["dual.test",["http-01"],["ec","rsa"]]' \
	"one order per algorithm, the challenges to answer"
is "$(field "$T/h2" multi.test '.challenges | map(.identifier) | sort')" \
	'["mail.multi.test","multi.test","www.multi.test"]' "one challenge per name"
# The RFC 7638 thumbprint of the account key, computed here: the JWK's
# x and y are the last 64 bytes of the P-256 public key.
b64u() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
openssl pkey -in "$T/acct.key" -pubout -outform DER 2>/dev/null | tail -c 64 > "$T/xy"
x=$(head -c 32 "$T/xy" | b64u)
y=$(tail -c 32 "$T/xy" | b64u)
thumb=$(printf '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' "$x" "$y" |
	openssl dgst -sha256 -binary | b64u)
# shellcheck disable=SC2016 # $t is jq's
is "$(field "$T/h2" one.test '.challenges[0] | .key_authorization == .token + "." + $t' \
	--arg t "$thumb")" true "a key authorization is token.thumbprint (RFC 7638)"
is "$(field "$T/h2" local.test .)" "$(field "$T/h1" local.test .)" \
	"a record of the local CA passes unchanged"
is "$(field "$T/h2" one.test '.acme | [.directory == env.PEBBLE_DIRECTORY,
	(.account | startswith("https://")), (.orders.ec | has("url") and has("finalize"))]')" \
	'[true,true,true]' "acme: directory, account, orders with url and finalize"

start=$(date +%s)
finish --http-listen "$LISTEN" < "$T/h2" > "$T/h3" 2>>"$err"
is "$?" 0 "finish through the built-in responder"
diag "finish: $(($(date +%s) - start)) s for 5 certificates"
for n in one.test multi.test staple.test dual.test; do
	ok "$n: the ec chain verifies up to Pebble's root" verify "$T/h3" ec "$n"
done
ok "dual.test: the rsa chain verifies too" verify "$T/h3" rsa dual.test
like "$(text "$T/h3" rsa dual.test)" "*rsaEncryption*" "rsa plus ec: an RSA certificate ..."
like "$(text "$T/h3" ec dual.test)" "*id-ecPublicKey*" "... and an EC one"
is "$(text "$T/h3" ec multi.test | grep -o 'DNS:[a-z.]*' | sort | tr '\n' ' ')" \
	"DNS:mail.multi.test DNS:multi.test DNS:www.multi.test " "multi-SAN: every name"
# Pebble 2.4 leaves must-staple out of its certificates; the CSR it was
# sent asks for it.
like "$(field "$T/h3" staple.test '.csr.ec' | jq -r . | openssl req -noout -text)" \
	"*TLS Feature*status_request*" "must-staple: finalized with a CSR asking for it"
ok "must-staple: issued" verify "$T/h3" ec staple.test
is "$(field "$T/h3" one.test '.cert.ec | keys')" \
	'["chain","issuer","not_after","not_before","pem","serial","sha256","subject"]' \
	"the cert entry has pki-localca's fields"
is "$(field "$T/h3" one.test '[.cert.ec.subject, (.cert.ec.issuer | startswith("CN=Pebble Intermediate CA"))]')" \
	'["CN=one.test",true]' "subject and issuer"
is "$(field "$T/h3" one.test '[.challenges[0].status, .acme.orders.ec.status, (.acme.authorized_until | test("Z$"))]')" \
	'["valid","valid",true]' "challenge and order valid; authorized_until noted"
is "$(field "$T/h3" local.test .)" "$(field "$T/h1" local.test .)" \
	"finish passes the local record unchanged"
nok "the responder is gone after finish" curl -s -o /dev/null "http://$LISTEN/"
field "$T/h3" dual.test . > "$T/h4"
order < "$T/h4" > "$T/h5" 2>>"$err"
is "$(cat "$T/h5")" "$(cat "$T/h4")" "order passes a record with its certificates unchanged"

# a second order for the same names reuses the valid authorizations
rec one.test | keys > "$T/r1"
order --challenge http-01 < "$T/r1" > "$T/r2" 2>>"$err"
is "$(jq -c '[.challenges, (.acme.authorized_until | type)]' "$T/r2")" \
	'[[],"string"]' "valid authorizations are reused: no challenge to answer"
finish < "$T/r2" > "$T/r3" 2>>"$err"
is "$?" 0 "and finish needs no responder for them"
ok "the certificate verifies" verify "$T/r3" ec one.test

# ------------------------------------------------------------ the responder
# A challenge answered before (status processing) is served but not
# answered: its authorization stays pending until --timeout.
rec wait.test | keys | order --challenge http-01 2>>"$err" |
	jq -c '.challenges[0].status = "processing"' > "$T/w1"
token=$(jq -r '.challenges[0].token' "$T/w1")
finish --http-listen "$LISTEN" --timeout 3 < "$T/w1" > "$T/w2" 2>>"$err" &
fin=$!
n=0
until curl -s -o /dev/null "http://$LISTEN/" || [ $n -ge 100 ]; do
	sleep 0.02
	n=$((n + 1))
done
is "$(curl -s "http://$LISTEN/.well-known/acme-challenge/$token")" \
	"$(jq -r '.challenges[0].key_authorization' "$T/w1")" \
	"the responder serves the key authorization"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://$LISTEN/.well-known/acme-challenge/nope")" \
	404 "404 for another token"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://$LISTEN/etc/passwd")" 404 \
	"404 for another path"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x \
	"http://$LISTEN/.well-known/acme-challenge/$token")" 405 "405 for POST"
is "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' x)" \
	"http://$LISTEN/.well-known/acme-challenge/$token")" 400 "400 for a request over 8 KiB"
wait "$fin"
is "$?" 1 "finish: exit 1 when an order times out"
like "$(jq -r '.errors[0].message' "$T/w2")" "ec: timed out after 3 s waiting for the authorizations" \
	"the record says so"

# ------------------------------------------------------------ --http-root
# A web server of the document root on Pebble's httpPort.
mkdir -p "$T/www"
perl -MIO::Socket::INET -e '
	my ($root, $port) = @ARGV;
	my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port,
		Listen => 8, ReuseAddr => 1) or die "$!";
	while (my $c = $s->accept) {
		my $line = <$c>; my $h; do { $h = <$c> } while (defined $h && $h =~ /\S/);
		my ($p) = $line =~ m{^GET (/\.well-known/acme-challenge/[\w-]+) };
		if ($p && open(my $f, "<", "$root$p")) { local $/; my $b = <$f>;
			print $c "HTTP/1.0 200 OK\r\nContent-Length: ", length($b), "\r\n\r\n$b";
		} else { print $c "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n" }
		close $c;
	}' "$T/www" "$PEBBLE_HTTP_PORT" 2>>"$err" &
www=$!
at_exit "kill $www"
{ rec root1.test; rec root2.test '["ec"]' '.altnames = ["www.root2.test"]'; } | keys |
	order --challenge http-01 2>>"$err" > "$T/w3"
finish --http-root "$T/www" < "$T/w3" > "$T/w4" 2>>"$err"
is "$?" 0 "finish --http-root"
ok "root1.test verifies" verify "$T/w4" ec root1.test
ok "root2.test verifies" verify "$T/w4" ec root2.test
is "$(find "$T/www/.well-known/acme-challenge" -type f | wc -l)" 0 \
	"the token files are removed afterwards"
kill "$www"

# ------------------------------------------------------------ problems
# bad.test resolves to an address where nothing listens: its http-01
# validation fails with a problem document; the others are issued.
curl -sf -X POST -d '{"host":"bad.test","addresses":["127.0.0.9"]}' \
	"$PEBBLE_CTS_MGMT/add-a" >/dev/null
{ rec good1.test; rec bad.test; rec good2.test; } | keys |
	order --challenge http-01 2>>"$err" > "$T/p1"
finish --http-listen "$LISTEN" < "$T/p1" > "$T/p2" 2>>"$err"
is "$?" 1 "finish: exit 1 when an order failed"
is "$(field "$T/p2" bad.test '.errors[0] | [.stage, .field, .type]')" \
	'["pki-acme","acme","urn:ietf:params:acme:error:connection"]' \
	"the problem document's type is the record's error"
like "$(field "$T/p2" bad.test '.errors[0].detail')" "*127.0.0.9*" "with its detail"
is "$(field "$T/p2" bad.test 'has("cert")')" false "and no certificate"
ok "the other records are issued (1)" verify "$T/p2" ec good1.test
ok "the other records are issued (2)" verify "$T/p2" ec good2.test

# A CSR that does not match the order's names: finalize is refused.
rec csr.test | keys | jq -c '.altnames = ["more.csr.test"]' |
	order --challenge http-01 2>>"$err" > "$T/p3"
finish --http-listen "$LISTEN" < "$T/p3" > "$T/p4" 2>>"$err"
is "$?" 1 "a CSR without an ordered name: exit 1"
like "$(jq -r '.errors[0] | .type + " " + .message' "$T/p4")" \
	"urn:ietf:params:acme:error:*finalize: *" "finalize's problem is the error"

# A record with an error passes untouched.
rec failed.test | keys | jq -c '.errors = [{"stage": "x", "message": "y"}]' > "$T/p5"
order < "$T/p5" > "$T/p6" 2>>"$err"
is "$?" 0 "order passes a failed record"
is "$(cat "$T/p6")" "$(cat "$T/p5")" "unchanged"

# The CA down: a clear error within the timeout.
dead=''
free_port dead
start=$(date +%s)
rec down.test | keys > "$T/d1"
pki-acme order --directory "https://127.0.0.1:$dead/dir" --account-key "$T/acct.key" \
	--account-url https://127.0.0.1/acct/1 --ca-bundle "$CA" --timeout 3 \
	< "$T/d1" > "$T/d2" 2>"$T/d.err"
is "$?" 2 "the CA down: exit 2"
cat "$T/d.err" >> "$err"
like "$(cat "$T/d.err")" "*cannot reach the ACME CA: GET https://127.0.0.1:$dead/dir: *onnect*" \
	"says it cannot reach the CA"
is "$(jq -r '.errors[0].message' "$T/d2")" "no ACME account or CA" \
	"the record carries the error"
ok "within the timeout" test $(($(date +%s) - start)) -le 4

# A CA that accepts the connection and never answers: the same, in time.
hung=''
free_port hung
perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
		Listen => 8, ReuseAddr => 1) or die "$!";
	my @c; while (my $c = $s->accept) { push @c, $c }' "$hung" 2>>"$err" &
hungpid=$!
at_exit "kill $hungpid"
n=0
while [ $n -lt 100 ]; do	# until it listens: curl times out (28)
	curl -s -o /dev/null --max-time 0.1 "http://127.0.0.1:$hung/"
	[ $? -eq 28 ] && break
	sleep 0.05
	n=$((n + 1))
done
start=$(date +%s)
pki-acme order --directory "https://127.0.0.1:$hung/dir" --account-key "$T/acct.key" \
	--account-url https://127.0.0.1/acct/1 --ca-bundle "$CA" --timeout 2 \
	< "$T/d1" > "$T/d3" 2>"$T/d.err"
is "$?" 2 "a CA that does not answer: exit 2"
cat "$T/d.err" >> "$err"
like "$(cat "$T/d.err")" "*cannot reach the ACME CA*imed out*" "says it timed out"
ok "within the timeout" test $(($(date +%s) - start)) -le 3
kill "$hungpid"

# ------------------------------------------------------------ revoke
serial=$(field "$T/h3" one.test '.cert.ec.serial' | tr -d '"' | tr 'A-F' 'a-f')
is "$(pebble_get "/cert-status-by-serial/$serial" | jq -r .Status)" Valid \
	"Pebble knows the certificate as valid"
field "$T/h3" one.test '.instance = {"id": 7, "state": "issued"}' > "$T/rv1"
revoke --reason keyCompromise < "$T/rv1" > "$T/rv2" 2>>"$err"
is "$?" 0 "revoke"
is "$(jq -c '[.revoked.reason, (.revoked.at | test("Z$"))]' "$T/rv2")" \
	'["keyCompromise",true]' "marks the record revoked"
is "$(pebble_get "/cert-status-by-serial/$serial" | jq -c '[.Status, .Reason]')" \
	'["Revoked",1]' "Pebble reports it revoked, for keyCompromise"
jq -c 'del(.revoked)' "$T/rv2" | revoke > "$T/rv3" 2>>"$err"
is "$?" 0 "revoking it again is no error (alreadyRevoked)"
nok "an unknown reason is a usage error" revoke --reason whim \
	</dev/null 2>>"$err"

# ------------------------------------------------------------ rollover, deactivate
cp "$T/acct-rsa.json" "$T/roll.json"
pki-acme rollover --account "$T/roll.json" --ca-bundle "$CA" > "$T/roll2.json" 2>>"$err"
is "$?" 0 "rollover"
is "$(jq -c '[.action, .account.url == $u, .account.status]' \
	--arg u "$(jq -r .account.url "$T/roll.json")" "$T/roll2.json")" \
	'["rollover",true,"valid"]' "the same account"
nok "with a new key" test "$(jq -r .account.key "$T/roll.json")" = \
	"$(jq -r .account.key "$T/roll2.json")"
like "$(jq -r .account.key "$T/roll2.json" | openssl pkey -noout -text 2>&1)" \
	"*Private-Key: (2048 bit*" "of the account's key type"
rec rolled.test | keys > "$T/k1"
pki-acme order --account "$T/roll.json" --ca-bundle "$CA" < "$T/k1" > /dev/null 2>"$T/k.err"
is "$?" 1 "the old key is refused"
cat "$T/k.err" >> "$err"
like "$(cat "$T/k.err")" "*urn:ietf:params:acme:error:*" "with the CA's problem"
pki-acme order --account "$T/roll2.json" --ca-bundle "$CA" --challenge http-01 \
	< "$T/k1" > "$T/k2" 2>>"$err"
is "$?" 0 "the new key orders"
pki-acme deactivate --account "$T/roll2.json" --ca-bundle "$CA" > "$T/de.json" 2>>"$err"
is "$?" 0 "deactivate"
is "$(jq -c '[.action, .account.status, has("key")]' "$T/de.json")" \
	'["deactivate","deactivated",false]' "the record: deactivated, no key"
pki-acme order --account "$T/roll2.json" --ca-bundle "$CA" < "$T/k1" >/dev/null 2>>"$err"
is "$?" 1 "a deactivated account orders nothing"

# ------------------------------------------------------------ EAB
pebble_start EAB=1
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA"
is "$rc" 2 "EAB required: without a binding, exit 2"
like "$(cat "$T/err")" "*requires an external account binding*" "says so"
cp "$PEBBLE_EAB_HMAC_FILE" "$T/open.hmac"
chmod 644 "$T/open.hmac"
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA" --eab-kid "$PEBBLE_EAB_KID" --eab-hmac-file "$T/open.hmac"
is "$rc" 2 "an HMAC key file others may read is refused"
printf 'AAAA-not-the-key\n' > "$T/wrong.hmac"
chmod 600 "$T/wrong.hmac"
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA" --eab-kid "$PEBBLE_EAB_KID" --eab-hmac-file "$T/wrong.hmac"
is "$rc" 1 "a wrong HMAC key: the CA refuses, exit 1"
like "$(cat "$T/err")" "*urn:ietf:params:acme:error:*" "with its problem"
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA" --eab-kid "$PEBBLE_EAB_KID" \
	--eab-hmac-file "$PEBBLE_EAB_HMAC_FILE"
is "$rc" 0 "with the binding: registered"
is "$(jq -c '[.account.status, .account.eab_kid]' "$T/out")" '["valid","kid-1"]' \
	"the record names the external account"
nok "the HMAC key is never printed" grep -q "$(cat "$PEBBLE_EAB_HMAC_FILE")" "$err"

# ------------------------------------------------------------ nonces
pebble_start PEBBLE_WFE_NONCEREJECT=50
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA"
is "$rc" 0 "register with half the nonces rejected"
cp "$T/out" "$T/acct50.json"
for i in $(seq 1 20); do rec "n$i.test"; done | keys |
	pki-acme order --account "$T/acct50.json" --ca-bundle "$CA" --challenge http-01 \
	2>>"$err" > "$T/n1"
start=$(date +%s)
pki-acme finish --account "$T/acct50.json" --ca-bundle "$CA" \
	--http-listen "127.0.0.1:$PEBBLE_HTTP_PORT" < "$T/n1" > "$T/n2" 2>>"$err"
is "$?" 0 "PEBBLE_WFE_NONCEREJECT=50: finish succeeds"
diag "finish: $(($(date +%s) - start)) s for 20 certificates"
is "$(jq -r 'select(.cert.ec.pem) | .name' "$T/n2" | wc -l)" 20 "20 of 20 certificates issued"
n=0
for i in $(seq 1 20); do verify "$T/n2" ec "n$i.test" && n=$((n + 1)); done
is "$n" 20 "and every chain verifies"

# ------------------------------------------------------------ alternate chains
pebble_start PEBBLE_ALTERNATE_ROOTS=2 PEBBLE_CHAIN_LENGTH=2
pebble_get /roots/1 > "$T/root1.pem"
cn1=$(openssl x509 -in "$T/root1.pem" -noout -subject -nameopt multiline |
	sed -n 's/^ *commonName *= //p')
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA"
cp "$T/out" "$T/acct-alt.json"
rec alt.test | keys | pki-acme order --account "$T/acct-alt.json" --ca-bundle "$CA" \
	--challenge http-01 2>>"$err" > "$T/a1"
pki-acme finish --account "$T/acct-alt.json" --ca-bundle "$CA" \
	--http-listen "127.0.0.1:$PEBBLE_HTTP_PORT" --preferred-chain "$cn1" \
	< "$T/a1" > "$T/a2" 2>>"$err"
is "$?" 0 "finish --preferred-chain"
is "$(jq -r '.acme.orders.ec.chain.top_issuer' "$T/a2")" "$cn1" "picks the chain of that root"
ok "which verifies against that root" verify "$T/a2" ec alt.test "$T/root1.pem"
nok "and not against the default root" verify "$T/a2" ec alt.test "$PEBBLE_ROOT"
is "$(jq -r '.acme.orders.ec.alternates | length' "$T/a2")" 2 "the other chains are kept"
is "$(jq -r '.cert.ec.chain' "$T/a2" | grep -c 'BEGIN CERTIFICATE')" 2 \
	"PEBBLE_CHAIN_LENGTH=2: two issuers in the chain"

# ------------------------------------------------------------ the database
pg_setup
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "SET search_path TO pki, dd" -c "$1"; }
pebble_start PEBBLE_AUTHZREUSE=100
LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT
PKI_ACME_DIRECTORY=$PEBBLE_DIRECTORY PKI_ACME_CA_BUNDLE=$CA
export PKI_ACME_DIRECTORY PKI_ACME_CA_BUNDLE
q "UPDATE revision SET keysencrypted = true"
(umask 077 && echo 'db secret' > "$T/db.pass")
PKI_DB_PASSPHRASE_FILE=$T/db.pass
export PKI_DB_PASSPHRASE_FILE
pki-acme register --email admin@example.test --agree-tos 2>>"$err" |
	pki-store > "$T/s1" 2>>"$err"
is "$?" 0 "register | pki-store"
url=$(jq -r .account.url "$T/s1")
is "$(q "SELECT status || ' ' || (directory = '$PEBBLE_DIRECTORY') || ' ' ||
	array_to_string(contact, ',') FROM acme_accounts WHERE url = '$url'")" \
	"valid true mailto:admin@example.test" "stores the account"
like "$(q "SELECT convert_from(key, 'UTF8') FROM acme_accounts WHERE url = '$url'")" \
	"-----BEGIN ENCRYPTED PRIVATE KEY-----*" "its key encrypted at rest (keysEncrypted)"

pki -q cert add shop.test -c acme -a rsa_plus_ec -A www.shop.test
q "UPDATE certificates SET acme_challenge = 'http-01'"
is "$(pki-select | jq -c '[.ca, .challenge]')" '["acme","http-01"]' \
	"pki-select: the record says its challenge type"
pki-select --create 2>>"$err" | keys | pki-acme order 2>>"$err" |
	pki-acme finish --http-listen "$LISTEN" 2>>"$err" | pki-store > "$T/s2" 2>>"$err"
is "$?" 0 "select | keygen | csr | order | finish | store, the account from the database"
is "$(jq -c '[.instance.state, (.cert | keys)]' "$T/s2")" '["issued",["ec","rsa"]]' \
	"both certificates issued and stored"
inst=$(jq -r .instance.id "$T/s2")
is "$(q "SELECT string_agg(encryption_algo::text, ' ' ORDER BY encryption_algo::text)
	FROM inst WHERE id = $inst")" "ec rsa" "one CertKeyData row per algorithm"
is "$(q "SELECT authorized_until IS NOT NULL FROM certificates c
	JOIN subjects s ON s.certificate = c.id WHERE s.name = 'shop.test'")" t \
	"authorized_until is noted"
pki-select --serial "$inst" 2>>"$err" | pki-acme revoke --reason superseded 2>>"$err" |
	pki-store > "$T/s3" 2>>"$err"
is "$?" 0 "select --serial | revoke | store"
is "$(jq -c .instance "$T/s3")" "{\"id\":$inst,\"state\":\"revoked\"}" "the record says revoked"
is "$(q "SELECT state FROM certinstances WHERE id = $inst")" revoked \
	"the instance is revoked in the database"
serial=$(jq -r '.cert.ec.serial' "$T/s2" | tr 'A-F' 'a-f')
is "$(pebble_get "/cert-status-by-serial/$serial" | jq -c '[.Status, .Reason]')" \
	'["Revoked",4]' "and at the CA, superseded"

old=$(q "SELECT md5(key) FROM acme_accounts WHERE url = '$url'")
pki-acme rollover 2>>"$err" | pki-store >/dev/null 2>>"$err"
is "$?" 0 "rollover | pki-store"
nok "the stored key changed" test "$(q "SELECT md5(key) FROM acme_accounts WHERE url = '$url'")" = "$old"
unset PKI_DB_PASSPHRASE_FILE
rec nopass.test | keys | pki-acme order > /dev/null 2>"$T/np.err"
is "$?" 2 "an encrypted account key without the passphrase: exit 2"
like "$(cat "$T/np.err")" "*encrypted*--passphrase-file*" "says so"
cat "$T/np.err" >> "$err"
pki-acme deactivate --passphrase-file "$T/db.pass" 2>>"$err" |
	pki-store --passphrase-file "$T/db.pass" >/dev/null 2>>"$err"
is "$(q "SELECT status FROM acme_accounts WHERE url = '$url'")" deactivated \
	"deactivate | pki-store"
rec after.test | keys | pki-acme order --passphrase-file "$T/db.pass" > /dev/null 2>"$T/np.err"
is "$?" 2 "no valid account left: exit 2"
like "$(cat "$T/np.err")" "*no valid ACME account*pki register*" "says so"
cat "$T/np.err" >> "$err"

# pki register: the same from pki.conf (serverPKI's -Z).
cat > "$T/pki.conf" <<EOF
PKI_ACME_DIRECTORY=$PEBBLE_DIRECTORY
PKI_ACME_EMAIL=ops@example.test
PKI_ACME_CA_BUNDLE=$CA
PKI_DB_PASSPHRASE_FILE=$T/db.pass
EOF
run pki -f "$T/pki.conf" register
is "$rc" 2 "pki register without agreeing to the terms: exit 2"
like "$(cat "$T/err")" "*terms of service at data:*--agree-tos*pki-acme failed*" "says why"
run pki -f "$T/pki.conf" register --agree-tos
like "$rc:$(cat "$T/out")" "0:registered ACME account https://*/my-account/* (valid)" \
	"pki register --agree-tos"
echo PKI_ACME_AGREE_TOS=yes >> "$T/pki.conf"
run pki -f "$T/pki.conf" -Z
is "$rc" 0 "pki -Z with PKI_ACME_AGREE_TOS=yes"
is "$(q "SELECT count(*) FROM acme_accounts WHERE status = 'valid'
	AND contact = '{mailto:ops@example.test}'")" 2 "both are stored"

# ------------------------------------------------------------ valgrind
if [ -z "${PKI_ASAN:-}" ] && command -v valgrind >/dev/null 2>&1; then
	vg() {	# vg NAME PROGRAM ARGS...: no memory error, no leak
		_n=$1
		shift
		valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect \
			--show-leak-kinds=definite,indirect --log-file="$T/vg.$_n" "$@"
	}
	clean() {
		[ "$1" -eq 0 ] && [ ! -s "$T/vg.$2" ] && return 0
		diag "exit $1" "$(cat "$T/vg.$2" 2>/dev/null)"
		return 1
	}
	unset PKI_DB_PASSPHRASE_FILE
	q "UPDATE revision SET keysencrypted = false"
	vg register pki-acme register --email vg@example.test --agree-tos \
		> "$T/vg1" 2>>"$err"
	ok "register: valgrind-clean" clean $? register
	vg store pki-store < "$T/vg1" > /dev/null 2>>"$err"
	ok "pki-store of the account: valgrind-clean" clean $? store
	{ rec vg.test '["rsa", "ec"]' '.altnames = ["www.vg.test"]'; rec bad..test; } |
		keys > "$T/vg2"
	vg order pki-acme order --challenge http-01 < "$T/vg2" > "$T/vg3" 2>>"$err"
	ok "order (a failed record too): valgrind-clean" clean $? order
	vg finish pki-acme finish --http-listen "$LISTEN" < "$T/vg3" > "$T/vg4" 2>>"$err"
	ok "finish: valgrind-clean" clean $? finish
	is "$(jq -r 'select(.cert) | .cert | keys | join("+")' "$T/vg4")" "ec+rsa" \
		"and it issued"
	jq -c 'select(.cert) | .instance = {"id": 1, "state": "issued"}' "$T/vg4" |
		vg revoke pki-acme revoke > /dev/null 2>>"$err"
	ok "revoke: valgrind-clean" clean $? revoke
	vg rollover pki-acme rollover > "$T/vg5" 2>>"$err"
	ok "rollover: valgrind-clean" clean $? rollover
fi

# ------------------------------------------------------------ secrets
nok "no private key on stderr" grep -q "$SECRET_PATTERN" "$err"
done_testing
