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
(umask 077 && cp "$T/out" "$T/acct.json")	# holds the key: 0600
is "$(jq -c '[.action, .account.directory == env.PEBBLE_DIRECTORY,
	.account.status, .account.contact, .account.key_type]' "$T/acct.json")" \
	'["register",true,"valid",["mailto:admin@example.test"],"ec"]' \
	"writes the account record"
like "$(jq -r .account.url "$T/acct.json")" "https://127.0.0.1:*/my-account/*" \
	"with the account's URL"
(umask 077 && jq -r .account.key "$T/acct.json" > "$T/acct.key")
like "$(openssl pkey -in "$T/acct.key" -noout -text 2>&1)" "*ASN1 OID: prime256v1*" \
	"and its key: EC P-256 by default, PKCS#8"
run pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA" --key-type rsa
like "$(jq -r .account.key "$T/out" | openssl pkey -noout -text 2>&1)" \
	"*Private-Key: (2048 bit*" "--key-type rsa: RSA 2048"
(umask 077 && cp "$T/out" "$T/acct-rsa.json")
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

# ------------------------------------------------------------ a mixed batch
# Local records among ACME ones: finish holds only the records with
# orders to finish and writes the others at once (first, unchanged); a
# line that is not JSON is skipped and named.
{
	jq -cn '{name: "l1.test", ca: "local", algos: ["ec"]}'
	rec mix1.test
	jq -cn '{name: "l2.test", ca: "local", algos: ["ec"]}'
	rec mix2.test '["rsa"]'
	jq -cn '{name: "l3.test", ca: "local", algos: ["ec"]}'
} | keys > "$T/x1"
order --challenge http-01 < "$T/x1" > "$T/x2" 2>>"$err"
is "$?" 0 "a mixed batch: order"
{ head -n 2 "$T/x2"; echo 'not json'; tail -n +3 "$T/x2"; } > "$T/x3"
finish --http-listen "$LISTEN" < "$T/x3" > "$T/x4" 2>"$T/x.err"
is "$?" 1 "finish of a mixed batch with a line that is not JSON: exit 1"
cat "$T/x.err" >> "$err"
like "$(cat "$T/x.err")" "*line 3: not JSON*" "... the line named by its number"
is "$(jq -r .name "$T/x4" | tr '\n' ' ')" "l1.test l2.test l3.test mix1.test mix2.test " \
	"... every record out: the local ones at once, the ACME ones after"
for n in l1.test l2.test l3.test; do
	is "$(field "$T/x4" "$n" .)" "$(field "$T/x2" "$n" .)" "... $n unchanged"
done
ok "... mix1.test finished" verify "$T/x4" ec mix1.test
ok "... mix2.test finished" verify "$T/x4" rsa mix2.test

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
# The responder is pki-acme executed anew (no account key in its
# memory), as nobody when pki-acme runs as root, with only its socket.
rsp=$(pgrep -f '^pki-acme http01-serve$' || true)
is "$(echo "$rsp" | wc -w)" 1 "the responder is a process of its own: pki-acme http01-serve"
if [ "$(id -u)" = 0 ]; then
	is "$(awk '/^(Uid|Gid|Groups):/ { $1 = ""; printf "%s;", $0 }' "/proc/$rsp/status" | tr -s ' \t' ' ')" \
		" 65534 65534 65534 65534; 65534 65534 65534 65534; 65534;" \
		"... started as root, it serves as nobody: user, group and groups"
else
	is "$(awk '/^Uid:/ { print $2 }' "/proc/$rsp/status")" "$(id -u)" "... as the user pki-acme runs as"
fi
is "$(find "/proc/$rsp/fd" -mindepth 1 -printf '%f\n' | sort -n | tr '\n' ' ')" "0 1 2 3 " \
	"... with no descriptor but the standard three and its socket"
wait "$fin"
is "$?" 1 "finish: exit 1 when an order times out"
like "$(jq -r '.errors[0].message' "$T/w2")" "ec: timed out after 3 s waiting for the authorizations" \
	"the record says so"

# pki-acme killed with -9 while it serves: the responder sees its pipe
# end and goes too, and the port is free for the next run.
rec kill.test | keys | order --challenge http-01 2>>"$err" |
	jq -c '.challenges[0].status = "processing"' > "$T/k1"
finish --http-listen "$LISTEN" --timeout 30 < "$T/k1" > /dev/null 2>>"$err" &
fin=$!
n=0
until rsp=$(pgrep -f '^pki-acme http01-serve$') || [ $n -ge 200 ]; do
	sleep 0.02
	n=$((n + 1))
done
kill -9 "$(ps -o ppid= -p "$rsp")"	# pki-acme, not the shell of finish
wait "$fin" 2>/dev/null
n=0
while kill -0 "$rsp" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.02; n=$((n + 1)); done
nok "pki-acme killed with -9: its responder is gone too" kill -0 "$rsp"
nok "... and nothing listens on its port" curl -s -o /dev/null "http://$LISTEN/"
# As root with a user that does not exist: refused before anything is
# served.  By hand, http01-serve refuses to run.
if [ "$(id -u)" = 0 ]; then
	finish --http-listen "$LISTEN" --http-user no-such-user < "$T/k1" > "$T/k2" 2>"$T/k.err"
	is "$?" 2 "--http-user of no such user: exit 2"
	is "$(grep -c 'http-user no-such-user: no such user' "$T/k.err")" 1 "... saying so"
	is "$(jq -r '.name' "$T/k2")" kill.test "... the record still comes out"
else
	skip "--http-user matters only to root"; skip "..."; skip "..."
fi
pki-acme http01-serve < /dev/null > /dev/null 2>"$T/k.err"
is "$?:$(cat "$T/k.err")" "2:pki-acme: http01-serve: run by pki-acme finish --http-listen, not by hand" \
	"http01-serve by hand: exit 2, saying who runs it"
# Given its listening socket (fd 3) but a token map that is not JSON, or
# JSON but not an object, on its stdin pipe: one line, exit 2, no crash.
for tokens in 'not json' '["a"]' '{"a":' ''; do
	printf '%s' "$tokens" | python3 -c 'import os, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.execvp("pki-acme", ["pki-acme", "http01-serve"])' > /dev/null 2>"$T/k.err"
	like "$?:$(cat "$T/k.err")" "2:pki-acme: http01-serve: the tokens: *" \
		"http01-serve given the tokens '$tokens': exit 2, saying what is wrong"
	is "$(wc -l < "$T/k.err")" 1 "... in one line"
done

# Connections that send nothing do not hold up the CA's request: the
# responder serves them all at once, each for 2 s at most.  A finish that
# does not answer the challenge (marked processing) runs the responder;
# 12 idle connections are opened to it; then a second finish answers the
# challenge, and the CA asks that responder.
rec idle.test | keys | order --challenge http-01 2>>"$err" > "$T/i1"
token=$(jq -r '.challenges[0].token' "$T/i1")
jq -c '.challenges[0].status = "processing"' "$T/i1" |
	finish --http-listen "$LISTEN" --timeout 5 > /dev/null 2>>"$err" &
fin=$!
# 12 connections, opened as soon as the responder listens and left idle
# (until $T/i.done appears); how many the responder closed within 3 s.
perl -MIO::Socket::INET -MIO::Select -MTime::HiRes=time,sleep -e '
	my ($port, $n, $ready, $closed, $done) = @ARGV;
	my (@c, $c); my $end = time + 20;
	while (@c < $n && time < $end) {
		if ($c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port)) {
			push @c, $c } else { sleep 0.005 } }
	open(my $f, ">", $ready) or die; close $f;
	my $sel = IO::Select->new(@c); my $gone = 0; $end = time + 3;
	while ($sel->count && (my $left = $end - time) > 0) {
		for my $s ($sel->can_read($left)) {
			next if sysread($s, my $b, 512);
			$sel->remove($s); $gone++ } }
	open($f, ">", $closed) or die; print $f "$gone\n"; close $f;
	$end = time + 20;
	sleep 0.05 until -e $done || time > $end;' \
	"$PEBBLE_HTTP_PORT" 12 "$T/i.ready" "$T/i.closed" "$T/i.done" 2>>"$err" &
idle=$!
n=0
until [ -e "$T/i.ready" ] || [ $n -ge 200 ]; do
	sleep 0.05
	n=$((n + 1))
done
is "$(curl -s --max-time 1 "http://$LISTEN/.well-known/acme-challenge/$token")" \
	"$(jq -r '.challenges[0].key_authorization' "$T/i1")" \
	"with 12 idle connections open, a GET is answered at once"
mkdir "$T/nowhere"	# a document root no server serves
finish --http-root "$T/nowhere" --timeout 10 < "$T/i1" > "$T/i2" 2>>"$err"
is "$?" 0 "and the CA's validation through that responder succeeds"
ok "idle.test verifies" verify "$T/i2" ec idle.test
touch "$T/i.done"
wait "$idle"
is "$(cat "$T/i.closed")" 12 "the idle connections are closed within 2 s"
wait "$fin"

# ------------------------------------------------------------ --http-root
# A web server of the document root on Pebble's httpPort; it notes the
# mode of each file it serves and of its directories.
mkdir -p "$T/www"
perl -MIO::Socket::INET -e '
	my ($root, $port, $log) = @ARGV;
	my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port,
		Listen => 8, ReuseAddr => 1) or die "$!";
	open(my $l, ">>", $log) or die; $l->autoflush(1);
	while (my $c = $s->accept) {
		my $line = <$c>; my $h; do { $h = <$c> } while (defined $h && $h =~ /\S/);
		my ($p) = $line =~ m{^GET (/\.well-known/acme-challenge/[\w-]+) };
		if ($p && open(my $f, "<", "$root$p")) { local $/; my $b = <$f>;
			printf $l "%o %o %o\n", map { (stat "$root$_")[2] & 07777 }
				"/.well-known", "/.well-known/acme-challenge", $p;
			print $c "HTTP/1.0 200 OK\r\nContent-Length: ", length($b), "\r\n\r\n$b";
		} else { print $c "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n" }
		close $c;
	}' "$T/www" "$PEBBLE_HTTP_PORT" "$T/www.modes" 2>>"$err" &
www=$!
at_exit "kill $www"
{ rec root1.test; rec root2.test '["ec"]' '.altnames = ["www.root2.test"]'; } | keys |
	order --challenge http-01 2>>"$err" > "$T/w3"
# Under umask 077 too, the web server (another user) must read them.
(umask 077 && finish --http-root "$T/www" < "$T/w3" > "$T/w4") 2>>"$err"
is "$?" 0 "finish --http-root (umask 077)"
ok "root1.test verifies" verify "$T/w4" ec root1.test
ok "root2.test verifies" verify "$T/w4" ec root2.test
is "$(find "$T/www/.well-known/acme-challenge" -type f | wc -l)" 0 \
	"the token files are removed afterwards"
is "$(sort -u "$T/www.modes")" "755 755 644" \
	"umask 077: the directories made are 0755, the token files 0644"
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

# An order entry that is not one fails its record, and none of the
# record's orders runs: not half of its certificates.
{ rec half.test '["rsa", "ec"]'; rec whole.test; } | keys |
	order --challenge http-01 2>>"$err" |
	jq -c 'if .name == "half.test" then .acme.orders = {rsa: .acme.orders.rsa,
		ec: (.acme.orders.ec | del(.finalize))} else . end' > "$T/m1"
finish --http-listen "$LISTEN" < "$T/m1" > "$T/m2" 2>>"$err"
is "$?" 1 "finish: an order entry that is not one: exit 1"
is "$(field "$T/m2" half.test '[has("cert"), (.errors | map(.field + ": " + .message))]')" \
	'[false,["acme.orders: ec: not an order"]]' "its record: no certificate, one error"
ok "the other record is issued" verify "$T/m2" ec whole.test

# The CA's authorizations must be for the names ordered.  Pebble does not
# lie; a record whose order lists another record's authorization does.
{ rec mine.test; rec theirs.test; } | keys | order --challenge http-01 2>>"$err" > "$T/z1"
# shellcheck disable=SC2016 # $a is jq's
field "$T/z1" mine.test '.acme.orders.ec.authorizations = $a' \
	--argjson a "$(field "$T/z1" theirs.test '.acme.orders.ec.authorizations')" > "$T/z2"
finish --http-listen "$LISTEN" --timeout 5 < "$T/z2" > "$T/z3" 2>>"$err"
is "$?" 1 "an authorization for a name not ordered: exit 1"
like "$(jq -r '.errors[0].message' "$T/z3")" \
	"the CA's authorization https://*/authZ/* is for dns \"theirs.test\", not a name ordered" \
	"says so"
is "$(jq -c 'has("cert")' "$T/z3")" false "and no certificate"

# ------------------------------------------------------------ account files
# A file holding the account key is refused when others may read it.
rec open.test | keys > "$T/o1"
cp "$T/acct.json" "$T/open.json"
chmod 644 "$T/open.json"
pki-acme order --account "$T/open.json" --ca-bundle "$CA" < "$T/o1" > "$T/o2" 2>"$T/o.err"
is "$?" 2 "--account: a file others may read is refused: exit 2"
cat "$T/o.err" >> "$err"
like "$(cat "$T/o.err")" \
	"*account file $T/open.json: group or others may read or write it (mode 0644); chmod 0600 it*" \
	"says so, as of a passphrase file"
like "$(jq -r '.errors[0].message' "$T/o2")" "no ACME account or CA: account file *mode 0644*" \
	"and the record carries it"
cp "$T/acct.key" "$T/open.key"
chmod 602 "$T/open.key"
acctkey() {
	pki-acme order --directory "$PEBBLE_DIRECTORY" --account-key "$T/open.key" \
		--account-url "$(jq -r .account.url "$T/acct.json")" --ca-bundle "$CA" \
		< "$T/o1" > /dev/null 2>>"$err"
}
acctkey
is "$?" 2 "--account-key: a file others may write is refused"
chmod 640 "$T/open.key"
acctkey
is "$?" 2 "--account-key: a file the group may read (0640) is refused"
chmod 600 "$T/open.key"
ok "a file of mode 0600 is used" acctkey

# ------------------------------------------------------------ setup errors
# A passphrase file that cannot be used: every record still comes out,
# those that need the account with the error, and pki-acme exits 2.
printf 'secret\n' > "$T/open.pass"
chmod 644 "$T/open.pass"
jq -cn '{name: "local.test", ca: "local", csr: {ec: "x"}, cert: {ec: {pem: "y"}}}' > "$T/local"
field "$T/z1" mine.test . > "$T/s.finish"
field "$T/h3" one.test . > "$T/s.revoke"
for sub in order finish revoke; do
	[ "$sub" = order ] && cp "$T/o1" "$T/s.order"
	cat "$T/local" "$T/s.$sub" | PKI_DB_PASSPHRASE_FILE=$T/open.pass \
		pki-acme "$sub" --account "$T/acct.json" --ca-bundle "$CA" \
		> "$T/s.out" 2>>"$err"
	is "$?" 2 "$sub: a passphrase file others may read: exit 2"
	is "$(head -n 1 "$T/s.out")" "$(cat "$T/local")" \
		"$sub: and the record of the local CA comes out unchanged"
	is "$(sed -n 2p "$T/s.out" | jq -r '.errors[-1].message')" \
		"no ACME account or CA: cannot read the passphrase file $T/open.pass" \
		"$sub: the ACME record with the error"
done

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
like "$(jq -r '.errors[0].message' "$T/d2")" \
	"no ACME account or CA: cannot reach the ACME CA: GET https://127.0.0.1:$dead/dir: *" \
	"the record carries the error, which says why"
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
(umask 077 && exec pki-acme rollover --account "$T/roll.json" --ca-bundle "$CA" \
	> "$T/roll2.json") 2>>"$err"
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
pki-acme order --account "$T/roll2.json" --ca-bundle "$CA" < "$T/k1" >/dev/null 2>"$T/k.err"
is "$?" 1 "a deactivated account orders nothing"
cat "$T/k.err" >> "$err"
like "$(cat "$T/k.err")" "*ACME account $(jq -r .account.url "$T/roll2.json"): urn:ietf:params:acme:error:unauthorized: *if it was deactivated or revoked, run pki register*" \
	"... and says so, naming the account and pki register"

# ------------------------------------------------------------ forgotten
# An account URL the CA does not know (accountDoesNotExist): its key is
# registered again (newAccount; Pebble answers with the key's account),
# the order sent once more, and the account record written first.
(umask 077 && jq -c '.account.url += "-lost"' "$T/acct.json" > "$T/lost.json")
rec lost.test | keys > "$T/l1"
pki-acme order --account "$T/lost.json" --ca-bundle "$CA" --challenge http-01 \
	< "$T/l1" > "$T/l2" 2>"$T/l.err"
is "$?" 0 "an account the CA forgot: registered again, and the order placed"
cat "$T/l.err" >> "$err"
is "$(jq -sc --arg u "$(jq -r .account.url "$T/acct.json")" '[.[0].action,
	.[0].account.url == $u, .[0].account.replaces == $u + "-lost",
	(.[0].account.key | startswith("-----BEGIN PRIVATE KEY")), .[1].name,
	.[1].acme.account == $u, (.[1].acme.orders.ec.url != null)]' "$T/l2")" \
	'["register",true,true,true,"lost.test",true,true]' \
	"the account record (the key's URL, replacing the lost one) first, then the record ordered with it"

# ------------------------------------------------------------ lost answers
# A relay to Pebble that loses an answer: when the file $T/lose names an
# endpoint ("/rollover-account-key"), the connection that carries the
# next request Pebble's log shows for it is closed before the answer
# goes back; with "stop" after it, the relay ends then too.  Pebble makes
# its URLs of the Host asked, so every request goes through the relay.
cat > "$T/relay.pl" <<'EOF'
use strict; use warnings; use IO::Socket::INET; use IO::Select;
my ($port, $up, $log, $arm) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port,
	Listen => 16, ReuseAddr => 1) or die "$port: $!";
my $sel = IO::Select->new($l);
my (%peer, %client, $want, $stop, $base);
sub seen {	# how many requests of $want Pebble has logged
	open(my $f, "<", $log) or return 0;
	return scalar grep { /POST \Q$want\E -> calling handler/ } <$f>;
}
sub shut {
	my $p = delete $peer{$_[0]};
	delete $peer{$p};
	for ($_[0], $p) { $sel->remove($_); close $_ }
}
while (1) {
	if (!defined $want && open(my $a, "<", $arm)) {
		($want, $stop) = split ' ', <$a>;
		$base = seen();
		if (open(my $r, ">", "$arm.armed")) { close $r }
	}
	for my $s ($sel->can_read(0.05)) {
		if ($s == $l) {
			my $c = $l->accept or next;
			my $u = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
				PeerPort => $up) or do { close $c; next };
			@peer{$c, $u} = ($u, $c);
			$client{$c} = 1;
			$sel->add($c, $u);
			next;
		}
		next unless $peer{$s};
		my $n = sysread($s, my $buf, 65536);
		if (!$n) { shut($s); next }
		if (!$client{$s} && defined $want && seen() > $base) {
			shut($s);	# the answer is lost
			unlink $arm, "$arm.armed";
			exit 0 if $stop;
			undef $want;
			next;
		}
		syswrite($peer{$s}, $buf);
	}
}
EOF
pebble_log=$(dirname "$PEBBLE_ROOT")/log
pebble_port=${PEBBLE_DIRECTORY#https://127.0.0.1:}
pebble_port=${pebble_port%/dir}
relay_port=''
free_port relay_port
# lose WHAT: arm the relay and wait until it has read what to lose.
lose() {
	echo "$1" > "$T/lose"
	n=0
	until [ -e "$T/lose.armed" ] || [ $n -ge 100 ]; do
		sleep 0.05
		n=$((n + 1))
	done
}
relay() {
	perl "$T/relay.pl" "$relay_port" "$pebble_port" "$pebble_log" "$T/lose" \
		2>>"$err" &
	relay=$!
	at_exit "kill $relay"
	n=0
	until curl -s -o /dev/null --cacert "$CA" "https://127.0.0.1:$relay_port/dir" ||
		[ $n -ge 100 ]; do
		sleep 0.05
		n=$((n + 1))
	done
}
relay
(umask 077 && exec pki-acme register --directory "https://127.0.0.1:$relay_port/dir" \
	--email admin@example.test --agree-tos --ca-bundle "$CA" > "$T/lost1.json") \
	2>>"$err"
is "$?" 0 "register through the relay"

# The key change made, its answer lost: the CA is asked with the new key,
# and the account record carries it.
lose /rollover-account-key
(umask 077 && exec pki-acme rollover --account "$T/lost1.json" --ca-bundle "$CA" \
	> "$T/lost2.json") 2>"$T/lost.err"
is "$?" 0 "rollover: the answer to the key change lost: exit 0"
cat "$T/lost.err" >> "$err"
nok "(the relay lost it)" test -e "$T/lose"
like "$(cat "$T/lost.err")" "*asking the CA which key is the account's*" \
	"it asks the CA which key is the account's"
is "$(jq -c '[.action, .account.url == $u, has("errors")]' \
	--arg u "$(jq -r .account.url "$T/lost1.json")" "$T/lost2.json")" \
	'["rollover",true,false]' "the account record"
nok "with the new key" test "$(jq -r .account.key "$T/lost1.json")" = \
	"$(jq -r .account.key "$T/lost2.json")"
rec lost.test | keys > "$T/l1"
pki-acme order --account "$T/lost2.json" --ca-bundle "$CA" --challenge http-01 \
	< "$T/l1" > "$T/l2" 2>>"$err"
is "$?" 0 "which is the account's"

# The finalization made, its answer lost: the order is polled.
lose /finalize-order/
pki-acme finish --account "$T/lost2.json" --ca-bundle "$CA" --http-listen "$LISTEN" \
	< "$T/l2" > "$T/l3" 2>"$T/lost.err"
is "$?" 0 "finish: the answer to the finalization lost: exit 0"
cat "$T/lost.err" >> "$err"
nok "(the relay lost it)" test -e "$T/lose"
like "$(cat "$T/lost.err")" "*finalize: *polling the order*" "it polls the order"
ok "and gets the certificate" verify "$T/l3" ec lost.test

# Lost, and the CA cannot be asked either (the relay ends): the record
# still carries the new key, with an error.
lose "/rollover-account-key stop"
(umask 077 && exec pki-acme rollover --account "$T/lost2.json" --ca-bundle "$CA" \
	--timeout 2 > "$T/lost3.json") 2>"$T/lost.err"
is "$?" 1 "rollover: the outcome unknown: exit 1"
cat "$T/lost.err" >> "$err"
like "$(jq -r '.errors[0].message' "$T/lost3.json")" \
	"the outcome of the key change is unknown: *keep the old one too*" \
	"the record says the outcome is unknown"
nok "and carries the new key" test "$(jq -r .account.key "$T/lost2.json")" = \
	"$(jq -r .account.key "$T/lost3.json")"
relay
# The outcome is unknown by nature: what the relay saw of Pebble may have
# been an HTTP/2 control frame before the key change was made.  Exactly
# one of the two keys is the account's, and pki kept both.
new=0 old=0
pki-acme order --account "$T/lost3.json" --ca-bundle "$CA" < "$T/l1" \
	>/dev/null 2>>"$err" && new=1
pki-acme order --account "$T/lost2.json" --ca-bundle "$CA" < "$T/l1" \
	>/dev/null 2>>"$err" && old=1
is "$((new + old))" 1 "one of the new key and the old one is the account's ($new new, $old old)"
kill "$relay"

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
(umask 077 && cp "$T/out" "$T/acct50.json")
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
(umask 077 && cp "$T/out" "$T/acct-alt.json")
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
