#!/bin/sh
# import.t - pki import pem and pki import certbot: a certbot directory
# made here by Debian's certbot against Pebble (an rsa lineage renewed
# twice, an ecdsa one renewed once) becomes certificates,
# instances in the states their versions have, keys and the ACME account;
# importing twice changes nothing; broken lineages are named and the
# others imported; pki renews an imported certificate at its lineage's
# ACME server with certbot's account, though pki.conf names another CA.
# Certificates of two ACME servers in one run (pki cert add
# --acme-server), each with its CA's account; one whose server has no
# account fails alone.  pki import pem: a certificate with its key and chain, and
# what it refuses.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pebble.sh
. "$(dirname "$0")/lib/pebble.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"

CERTBOT=${CERTBOT:-certbot}
if ! command -v "$CERTBOT" >/dev/null 2>&1 || ! command -v pebble >/dev/null 2>&1; then
	[ -n "${CI:-}" ] && { echo "Bail out! certbot or pebble missing (make deps)"; exit 1; }
	skip_all "no certbot or no pebble (make deps installs them)"
fi

# Pebble takes every challenge as valid: certbot --manual and pki's
# http-01 answer none.
pebble_start PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_WFE_NONCEREJECT=0
pg_setup
CB=$T/certbot
cb() {
	REQUESTS_CA_BUNDLE=$PEBBLE_CA_BUNDLE "$CERTBOT" --config-dir "$CB" \
		--work-dir "$T/cb-work" --logs-dir "$T/cb-logs" \
		--server "$PEBBLE_DIRECTORY" --non-interactive --agree-tos \
		--register-unsafely-without-email "$@" >>"$T/certbot.log" 2>&1 ||
		{ echo "Bail out! certbot $*"; sed 's/^/# /' "$T/certbot.log"; exit 1; }
}
new() {	# new KEY_TYPE NAME...: a lineage by certbot --manual
	_kt=$1
	shift
	for _d in "$@"; do
		case $_d in
		-*) set -- "$@" "$_d" ;;
		*) set -- "$@" -d "$_d" ;;
		esac
		shift
	done
	cb certonly --manual --manual-auth-hook true \
		--preferred-challenges http --key-type "$_kt" "$@"
}
new rsa rsa.example.test www.rsa.example.test
new ecdsa ec.example.test
cb renew --no-random-sleep-on-renew --force-renewal
cb renew --no-random-sleep-on-renew --force-renewal --cert-name rsa.example.test
# A second lineage of the same name (certbot's NAME-0001, as --duplicate
# or a change of names makes it), newer than the first's live version;
# its renewal file comes first.
new ecdsa ec.example.test --duplicate
accounts=$(grep -c 'accounts in memory' "$PEBBLE_LOG" || true)

inst() {	# inst NAME: "state:hash" of NAME's instances, oldest first
	q "SELECT i.state || ':' || k.hash FROM certinstances i
		JOIN certkeydata k ON k.certinstance = i.id
		JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
		WHERE s.name = '$1' ORDER BY i.id"
}
sha() {	# sha FILE: the SHA-256 of the certificate, as pki-store writes it
	openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r |
		cut -c1-64 | tr a-f A-F
}
pki_certbot_versions() {	# as sh/import.sh's: ARCHIVE's N of certN.pem
	for _f in "$1"/cert*.pem; do
		_n=${_f##*/cert}
		echo "${_n%.pem}"
	done | sort -n
}
states() {	# states LINEAGE [OLD [LIVE]]: what its versions must be, oldest first
	_cur=$(readlink "$CB/live/$1/cert.pem")
	for _v in $(pki_certbot_versions "$CB/archive/$1"); do
		if [ "cert$_v.pem" = "${_cur##*/}" ]; then _s=${3:-deployed}; else _s=${2:-expired}; fi
		echo "$_s:$(sha "$CB/archive/$1/cert$_v.pem")"
	done
}
dump() {	# the database's data, sequences included
	pg_dump --data-only --schema=pki 2>>"$T/pg_dump.err" | grep -v -e '^--' -e '^.restrict' \
		-e '^.unrestrict'
}

# ------------------------------------------------------------ broken first
# A copy with an ecdsa key swapped for the rsa one's, and a lineage
# third.example.test (a copy of rsa's) with a chain gone.
B=$T/broken
cp -a "$CB" "$B"
cp "$B/archive/rsa.example.test/privkey1.pem" "$B/archive/ec.example.test/privkey2.pem"
cp -a "$B/archive/rsa.example.test" "$B/archive/third.example.test"
mkdir "$B/live/third.example.test"
ln -s ../../archive/third.example.test/cert3.pem "$B/live/third.example.test/cert.pem"
sed 's/rsa[.]example[.]test/third.example.test/g' "$B/renewal/rsa.example.test.conf" \
	> "$B/renewal/third.example.test.conf"
rm "$B/archive/third.example.test/chain1.pem"
chmod 644 "$B/archive/ec.example.test-0001/privkey1.pem"
# (as at a time when the older versions' not_after has passed)
capture pki import certbot --now 2040-01-01T00:00:00Z "$B"
is "$rc" 1 "pki import certbot with two broken lineages: exit 1"
like "$out" "*certbot lineage ec.example.test not imported: key: version 2: *privkey2.pem does not belong to the certificate*" \
	"the lineage whose key does not match is named, with the version and file"
like "$out" "*certbot lineage third.example.test not imported: chain: version 1: *chain1.pem: cannot be read*" \
	"the lineage with a file missing is named"
like "$out" "*certbot lineage ec.example.test-0001 not imported: key: version 1: *privkey1.pem: others may read or write it, or group write it (mode 0644); chmod 0640 it*" \
	"a key others may read: refused, named"
is "$(inst rsa.example.test)" "$(states rsa.example.test archived)" \
	"the good lineage is imported: every version, the live one deployed, the older ones archived (their time has passed)"
is "$(inst ec.example.test)$(q "SELECT name FROM subjects WHERE name = 'third.example.test'")" "" \
	"nothing of the broken ones"

# ------------------------------------------------------------ import
# certbot keeps a renewed key's group read (an admin's ssl-cert group).
chmod 640 "$CB/archive/ec.example.test/privkey2.pem"
capture pki import certbot "$CB"
is "$rc" 0 "pki import certbot: exit 0"
is "$(inst ec.example.test)" "$(states ec.example.test-0001)
$(states ec.example.test expired expired)" \
	"ec.example.test and ec.example.test-0001: one certificate, an instance per version; the newest live one deployed, the other lineage's live one expired"
like "$out" "*certbot ec.example.test-0001 and ec.example.test are one certificate, ec.example.test: the live ec.example.test-0001 version 1 is deployed*" \
	"... and that is said"
is "$(inst rsa.example.test)" "$(states rsa.example.test archived)" \
	"rsa.example.test, imported before, is as it was"
is "$(q "SELECT encryption_algo || ' ' || c.type FROM certificates c JOIN subjects s
	ON s.certificate = c.id AND NOT s.isaltname WHERE s.name IN
	('rsa.example.test', 'ec.example.test') ORDER BY s.name")" "ec LE
rsa LE" "the algorithms are the certificates' own, and the CA is ACME"
is "$(q "SELECT string_agg(name, ' ' ORDER BY name) FROM subjects s WHERE certificate =
	(SELECT certificate FROM subjects WHERE name = 'rsa.example.test')")" \
	"rsa.example.test www.rsa.example.test" "the names are the certificate's"
# Each stored certificate and key, in files, then compared.
mkdir "$T/kd"
q "SELECT json_build_object('id', k.id, 'cert', convert_from(k.cert, 'UTF8'),
	'key', convert_from(k.key, 'UTF8')) FROM certkeydata k
	JOIN certinstances i ON i.id = k.certinstance
	JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
	WHERE s.name LIKE '%.example.test'" |
	jq -r '"==\(.id).crt", .cert, "==\(.id).key", .key' |
	awk -v d="$T/kd" '/^==/ { f = d "/" substr($0, 3); next } { print > f }'
mismatch=0 n=0
for c in "$T"/kd/*.crt; do
	n=$((n + 1))
	[ "$(openssl x509 -in "$c" -noout -pubkey)" = \
		"$(openssl pkey -in "${c%.crt}.key" -pubout)" ] || mismatch=$((mismatch + 1))
done
is "$n:$mismatch" 6:0 "every stored key (6, one of them group-readable at certbot) belongs to its certificate"
acct=$(jq -r .uri "$CB"/accounts/*/dir/*/regr.json)
is "$(q "SELECT directory || ' ' || url || ' ' || key_type || ' ' || status FROM acme_accounts")" \
	"$PEBBLE_DIRECTORY $acct rsa valid" "certbot's account, with its URL from regr.json"
n=$(jq -r .n "$CB"/accounts/*/dir/*/private_key.json | tr -- '-_' '+/')
m=$(q "SELECT convert_from(key, 'UTF8') FROM acme_accounts" |
	openssl pkey -pubout | openssl pkey -pubin -noout -text |
	sed -n '/^Modulus/,/^Exponent/p' | grep -v '^[ME]' | tr -d ' :\n' |
	sed 's/^00//' | xxd -r -p | openssl base64 -A | tr -d =)
is "$m" "$(printf '%s' "$n" | tr -d =)" "its key is the JWK's (the same modulus)"

# ------------------------------------------------------------ twice
dump > "$T/before"
capture pki import certbot "$CB"
is "$rc" 0 "pki import certbot again: exit 0"
dump > "$T/after"
ok "importing twice changes nothing in the database" diff -u "$T/before" "$T/after"

# ------------------------------------------------------------ renew
# at the lineage's server (Pebble A, certbot's) with certbot's account,
# although pki.conf names another CA (Pebble B) with an account of its
# own.
A=$PEBBLE_DIRECTORY A_MGMT=$PEBBLE_MGMT A_LOG=$PEBBLE_LOG
is "$(q "SELECT string_agg(DISTINCT coalesce(c.acme_directory, 'none'), ' ') FROM certificates c
	JOIN subjects s ON s.certificate = c.id AND NOT s.isaltname
	WHERE s.name IN ('rsa.example.test', 'ec.example.test')")" "$A" \
	"the imported certificates' ACME server is their lineage's"
pebble_start PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_WFE_NONCEREJECT=0
B=$PEBBLE_DIRECTORY B_MGMT=$PEBBLE_MGMT
cat > "$T/pki.conf" <<EOF
PKI_ACME_DIRECTORY=$B
PKI_ACME_CA_BUNDLE=$PEBBLE_CA_BUNDLE
PKI_ACME_EMAIL=admin@example.test
PKI_ACME_AGREE_TOS=yes
PKI_ACME_CHALLENGE=http-01
PKI_ACME_HTTP_LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT
EOF
PKI_CONF=$T/pki.conf
export PKI_CONF
quiet pki -q register
bacct=$(q "SELECT url FROM acme_accounts WHERE directory = '$B'")
# issuer NAME: the issuer of NAME's newest certificate; subject MGMT:
# the subject of that Pebble's intermediate, which issues.
issuer() {
	q "SELECT convert_from(k.cert, 'UTF8') FROM certkeydata k JOIN certinstances i ON i.id = k.certinstance
		JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
		WHERE s.name = '$1' ORDER BY i.id DESC LIMIT 1" | openssl x509 -noout -issuer | sed 's/^issuer=//'
}
subject() {
	curl -sf --cacert "$PEBBLE_CA_BUNDLE" "$1/intermediates/0" | openssl x509 -noout -subject | sed 's/^subject=//'
}
capture pki renew --force -o ec.example.test
is "$rc" 0 "pki renew of an imported certificate: exit 0"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	AND NOT s.isaltname WHERE s.name = 'ec.example.test'")" 4 "a new instance"
is "$(q "SELECT DISTINCT directory || ' ' || account FROM acme_orders")" "$A $acct" \
	"ordered at the lineage's server with certbot's account, not at PKI_ACME_DIRECTORY"
is "$(issuer ec.example.test)" "$(subject "$A_MGMT")" "issued by the lineage's CA"
is "$(grep -c 'accounts in memory' "$A_LOG" || true)" "$accounts" \
	"no new account registered at the CA"

# ------------------------------------------------------------ servers
# Certificates of two CAs in one run, each with its CA's account; one
# whose server has no account fails in a line naming it and the server,
# and the others go on.
quiet pki -q cert add two-a.example.test -c acme -a ec --acme-server "$A"
quiet pki -q cert add two-b.example.test -c acme -a ec
none=https://127.0.0.1:9/dir
capture pki cert add none.example.test -c acme -a ec --acme-server "$none"
like "$rc:$out" "0:*certificate none.example.test added*no ACME account of $none yet: pki register --acme-server $none makes one*" \
	"pki cert add --acme-server of a CA without an account: added, with a warning"
capture pki issue
is "$rc" 2 "certificates of two ACME servers and one without an account: pki issue exits 2"
like "$out" "*none.example.test: FAILED: pki-acme: acme: no ACME account or CA: no valid ACME account of $none in the database (pki register makes one)*" \
	"... a line naming the certificate and its server"
is "$(issuer two-a.example.test)" "$(subject "$A_MGMT")" "... the one of --acme-server A issued by A"
is "$(issuer two-b.example.test)" "$(subject "$B_MGMT")" "... the other by the CA of pki.conf, B"
ok "... two CAs indeed" [ "$(subject "$A_MGMT")" != "$(subject "$B_MGMT")" ]
is "$(q "SELECT s.name || ' ' || o.directory || ' ' || o.account FROM acme_orders o
	JOIN subjects s ON s.certificate = o.certificate AND NOT s.isaltname
	WHERE s.name LIKE 'two-%' ORDER BY 1")" "two-a.example.test $A $acct
two-b.example.test $B $bacct" "... each ordered with its CA's account"
# Revoked at its own CA too (B does not know A's certificate).
capture pki revoke "$(q "SELECT i.id FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'two-a.example.test'")"
is "$rc:$(q "SELECT i.state FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'two-a.example.test'")" 0:revoked "pki revoke: at the certificate's own ACME server"
capture pki cert set none.example.test --acme-server http://ca.test/dir
like "$rc:$out" "2:*certificate none.example.test: --acme-server http://ca.test/dir: not an https:// URL*" \
	"pki cert set --acme-server refuses a URL that is not https"
quiet pki -q cert set none.example.test --acme-server "$B"
is "$(q "SELECT acme_directory FROM certificates c JOIN subjects s ON s.certificate = c.id
	WHERE s.name = 'none.example.test'")" "$B" "pki cert set --acme-server: the certificate's CA"
quiet pki -q cert set none.example.test --acme-server-default
is "$(q "SELECT count(*) FROM certificates WHERE acme_directory = '$none'")" 0 \
	"pki cert set --acme-server-default: back to the CA of pki.conf"
capture pki cert add local.example.test --acme-server "$A"
like "$rc:$out" "2:*--acme-server: certificate local.example.test is not one of the ACME CA*" \
	"--acme-server for a certificate of the local CA: refused"

# ------------------------------------------------------------ JWK
# An EC account key (certbot's are RSA), as josepy (certbot's own JOSE
# library) writes it, becomes the same key; one whose d is another
# key's is refused.
umask 077
PY=$(sed -n '1s/^#! *//p' "$(command -v "$CERTBOT")")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/ec.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/ec2.key"
jwk() {
	$PY -c 'import sys, josepy
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
print(josepy.JWKEC(key=k).json_dumps())' "$1"
}
jwk "$T/ec.key" > "$T/ec.jwk"
pki-import account --jwk "$T/ec.jwk" --url https://ca.test/acct/1 \
	--directory https://ca.test/dir > "$T/ec.rec" 2>>"$T/all"
is "$(jq -r .account.key "$T/ec.rec" | openssl pkey -pubout)" \
	"$(openssl pkey -in "$T/ec.key" -pubout)" "an EC P-384 JWK becomes its key"
is "$(jq -c '.account | del(.key)' "$T/ec.rec")" \
	'{"directory":"https://ca.test/dir","url":"https://ca.test/acct/1","key_type":"ec","status":"valid"}' \
	"with its URL and directory"
jq -c --argjson o "$(jwk "$T/ec2.key")" '.d = $o.d' "$T/ec.jwk" > "$T/bad.jwk"
run pki-import account --jwk "$T/bad.jwk" --url https://ca.test/acct/1 --directory https://ca.test/dir
is "$rc:$(jq -r '.errors[0].message' "$T/out")" \
	"1:JWK file $T/bad.jwk: its private and public parts do not make one key" \
	"a JWK whose private part is another key's: refused"

# ------------------------------------------------------------ pem
P=$T/pem
mkdir "$P"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=pem CA" -keyout "$P/ca.key" -out "$P/ca.pem" -days 30 \
	-addext basicConstraints=critical,CA:TRUE 2>/dev/null
leaf() {	# leaf NAME: NAME.key and NAME.pem, signed by the CA
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$P/$1.key" \
		-addext "subjectAltName=DNS:$1,DNS:www.$1" 2>/dev/null |
	openssl x509 -req -CA "$P/ca.pem" -CAkey "$P/ca.key" -days 20 \
		-copy_extensions copy -out "$P/$1.pem" 2>/dev/null
	chmod 600 "$P/$1.key"
}
leaf pem.example.test
leaf other.example.test
capture pki import pem --cert "$P/pem.example.test.pem" --key "$P/other.example.test.key" \
	--chain "$P/ca.pem"
is "$rc" 1 "pki import pem with another certificate's key: exit 1"
is "$out" "pem.example.test: import FAILED: pki-import: key: $P/other.example.test.key does not belong to the certificate" \
	"refused in one line naming the key file"
capture pki import pem --cert "$P/missing.pem" --key "$P/pem.example.test.key"
is "$rc:$out" "1:$P/missing.pem: import FAILED: pki-import: cert: $P/missing.pem: cannot be read" \
	"a missing file: named"
echo 'garbage' > "$P/garbage.pem"
capture pki import pem --cert "$P/garbage.pem" --key "$P/pem.example.test.key"
like "$rc:$out" "1:*cert: $P/garbage.pem: no PEM certificate" "garbage PEM: named"
printf -- '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' > "$P/bad.key"
chmod 600 "$P/bad.key"
capture pki import pem --cert "$P/pem.example.test.pem" --key "$P/bad.key" --chain "$P/ca.pem"
like "$rc:$out" "1:*key: $P/bad.key: not a PEM private key" "a garbage key: named"
is "$(q "SELECT count(*) FROM subjects WHERE name = 'pem.example.test'")" 0 "nothing stored of them"
capture pki import pem --cert "$P/pem.example.test.pem" --key "$P/pem.example.test.key" \
	--chain "$P/ca.pem"
is "$rc" 0 "pki import pem: exit 0"
is "$(inst pem.example.test)" "deployed:$(sha "$P/pem.example.test.pem")" \
	"a deployed instance of the certificate, named by its CN"
na=$(openssl x509 -in "$P/pem.example.test.pem" -noout -enddate | cut -d= -f2)
is "$(q "SELECT to_char(not_after, 'YYYY-MM-DD HH24:MI:SS') FROM certinstances WHERE certificate =
	(SELECT certificate FROM subjects WHERE name = 'pem.example.test')")" \
	"$(date -u -d "$na" '+%Y-%m-%d %H:%M:%S')" "its dates are the certificate's"
dump > "$T/before"
capture pki import pem --cert "$P/pem.example.test.pem" --key "$P/pem.example.test.key" \
	--chain "$P/ca.pem"
is "$rc" 0 "pki import pem again: exit 0"
dump > "$T/after"
ok "and it changes nothing" diff -u "$T/before" "$T/after"

# A database that keeps keys encrypted gets the key encrypted.
echo 'db passphrase' > "$T/db.pass"
PKI_DB_PASSPHRASE_FILE=$T/db.pass
export PKI_DB_PASSPHRASE_FILE
pki -q db encrypt
capture pki import pem --cert "$P/other.example.test.pem" --key "$P/other.example.test.key" \
	--chain "$P/ca.pem"
is "$rc" 0 "pki import pem into a database that keeps keys encrypted: exit 0"
q "SELECT convert_from(k.key, 'UTF8') FROM certkeydata k JOIN certinstances i ON i.id = k.certinstance
	JOIN subjects s ON s.certificate = i.certificate WHERE s.name = 'other.example.test'" > "$T/enc.key"
like "$(head -n 1 "$T/enc.key")" "-----BEGIN ENCRYPTED PRIVATE KEY-----" "the key is stored encrypted"
is "$(openssl pkey -in "$T/enc.key" -passin "file:$T/db.pass" -pubout)" \
	"$(openssl x509 -in "$P/other.example.test.pem" -noout -pubkey)" \
	"with the database's passphrase, and it is the certificate's"

nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$T/all"
done_testing
