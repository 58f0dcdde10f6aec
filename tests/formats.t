#!/bin/sh
# formats.t - the formats of places and of pki export (Places.format):
# pem, der, fullchain, bundle and p12, each written to a local target by
# pki distribute and read back with the openssl CLI, with the modes of
# the files; pki place add/set --format; pki export --format to a
# directory; an unknown format and a p12 place without a passphrase file
# refused by name while the other targets go on.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

all=$T/all	# everything pki printed, checked for keys at the end
mode() { stat -c %a "$1"; }
names() { for f in "$@"; do printf '%s ' "${f##*/}"; done; }	# names FILE...: the last parts
# certs FILE: how many certificates the PEM FILE holds
certs() { grep -c -- '-----BEGIN CERTIFICATE-----' "$1"; }
# pubkey CMD...: the SHA-256 of the public key the command's PEM output holds
pubkey() { "$@" 2>/dev/null | openssl pkey -pubout -outform DER 2>/dev/null | sha256sum; }
certkey() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum; }

q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init >/dev/null
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
umask 022
printf 'p12 secret\n' > "$T/p12.pass"
chmod 600 "$T/p12.pass"

# ------------------------------------------------------------ places
capture pki place add fpem --cert-path "$T/pem/{}" --mode 640
is "$rc:$out" "0:pki: place fpem added" "pki place add"
capture pki place add fp12 --cert-path "$T/p12/{}" --mode 640 --format p12
is "$rc:$out" "0:pki: place fp12 added" "pki place add --format p12"
capture pki place set fp12 --key-path "$T/p12/{}/private" --p12-passphrase-file "$T/p12.pass"
is "$rc:$out" "0:pki: place fp12 changed" "pki place set --p12-passphrase-file"
q "INSERT INTO places (name, cert_file_type, cert_path, key_path, mode, format) VALUES
	('fder', 'separate', '$T/der/{}', '$T/der/{}/private', 640, 'der'),
	('ffullchain', 'separate', '$T/fullchain/{}', '$T/fullchain/{}/private', 640, 'fullchain'),
	('fbundle', 'separate', '$T/bundle/{}', '$T/bundle/{}/private', 640, 'bundle'),
	('cbder', 'certbot', '$T/cbder/{}', NULL, NULL, 'der'),
	('abundle', 'separate', '$T/abundle/{}', NULL, 640, 'bundle'),
	('nopass', 'separate', '$T/nopass/{}', NULL, NULL, 'p12');
   UPDATE places SET atomic = true WHERE name = 'abundle'"

capture pki place set fpem --format xml
is "$rc:$out" "1:pki: place fpem: --format \"xml\": not pem, der, fullchain, bundle or p12" \
	"an unknown format: one line naming place and field"
capture pki place set fpem --p12-passphrase-file rel.pass
is "$rc" 1 "a relative passphrase file is refused"
capture psql -X -q -v ON_ERROR_STOP=1 -c "UPDATE pki.places SET format = 'xml' WHERE name = 'fpem'"
like "$out" "*places_format*" "the database refuses it too (CHECK places_format)"
is "$(q "SELECT string_agg(name || '=' || format, ' ' ORDER BY name) FROM places")" \
	"abundle=bundle cbder=der fbundle=bundle fder=der ffullchain=fullchain fp12=p12 fpem=pem nopass=p12" \
	"the formats are stored"
is "$(q "SELECT count(*) FROM places WHERE p12_passphrase_file IS NOT NULL")" 1 \
	"only the passphrase file's path is stored"
nok "the passphrase is nowhere in the database" \
	sh -c "pg_dump -X 2>/dev/null | grep -q 'p12 secret'"

# ------------------------------------------------------------ distribute
q "INSERT INTO disthosts (fqdn) VALUES ('localhost')" >/dev/null
pki -q cert add f.test -a ec
for p in fpem fder ffullchain fbundle fp12 cbder abundle nopass; do
	q "SELECT add_target('f.test', 'localhost', NULL, '$p')" >/dev/null
done
pki -q issue >/dev/null
serial=$(q "SELECT max(id) FROM inst WHERE name = 'f.test'")
pki-select --serial "$serial" --with-keys > "$T/sel" 2>>"$all"
is "$(jq -r '[.targets[].place | .format // "-"] | join(" ")' "$T/sel")" \
	"bundle der bundle der fullchain p12 pem p12" \
	"the record carries each place's format"
is "$(jq -r '[.targets[].place.p12_passphrase_file // empty] | length' "$T/sel")" 1 \
	"and the p12 place's passphrase file"
capture pki distribute -a
is "$rc" 1 "pki distribute: exit 1 (one target failed)"
is "$(q "SELECT \"Place\" || ' ' || \"Status\" FROM deploy_state ORDER BY 1" | tr '\n' ,)" \
	"abundle ok,cbder ok,fbundle ok,fder ok,ffullchain ok,fp12 ok,fpem ok,nopass failed," \
	"every other target got its files"
is "$(q "SELECT \"Last Error\" FROM deploy_state WHERE \"Place\" = 'nopass'")" \
	"place nopass: p12_passphrase_file: missing (format p12 needs a passphrase)" \
	"p12 without a passphrase file: one line naming place and field"
ok "and nothing of it was written" [ ! -e "$T/nopass" ]

d=$T/pem/f.test
ok "pem: serverPKI's file set as before" [ -f "$d/f.test_server_cert.pem" ] && [ -f "$d/f.test_server_key.pem" ]

d=$T/der/f.test
ok "der: the certificate parses with x509 -inform DER" \
	sh -c "openssl x509 -inform DER -in '$d/f.test_server_cert.der' -noout -subject | grep -q f.test"
is "$(pubkey openssl pkey -inform DER -in "$d/private/f.test_server_key.der")" \
	"$(openssl x509 -inform DER -in "$d/f.test_server_cert.der" -outform PEM > "$T/c.pem" && certkey "$T/c.pem")" \
	"der: the key (PKCS#8 DER, in key_path) is the certificate's"
is "$(mode "$d/f.test_server_cert.der") $(mode "$d/private/f.test_server_key.der")" "644 640" \
	"der: certificate 0644, key the place's mode"
is "$(names "$d"/* "$d"/private/*)" "f.test_server_cert.der private f.test_server_key.der " \
	"der: no PEM beside them"

d=$T/fullchain/f.test
is "$(certs "$d/f.test_server_fullchain.pem")" 2 "fullchain: certificate and chain in one file"
is "$(openssl x509 -in "$d/f.test_server_fullchain.pem" -noout -subject)" "subject=CN = f.test" \
	"fullchain: the certificate first"
is "$(mode "$d/f.test_server_fullchain.pem") $(mode "$d/private/f.test_server_key.pem")" "644 640" \
	"fullchain: the key beside it in key_path, the place's mode"

d=$T/bundle/f.test
f=$d/f.test_server_bundle.pem
is "$(grep -- '^-----BEGIN' "$f" | tr '\n' ,)" \
	"-----BEGIN PRIVATE KEY-----,-----BEGIN CERTIFICATE-----,-----BEGIN CERTIFICATE-----," \
	"bundle: key, then certificate, then chain, in PEM"
is "$(pubkey cat "$f")" "$(certkey "$f")" "bundle: the key is the certificate's"
is "$(mode "$f")" 640 "bundle: the place's key mode"
ok "bundle: no key file of its own" [ ! -e "$d/private" ]

f=$T/p12/f.test/f.test_server_cert.p12
ok "p12: opens with openssl pkcs12 -passin file: -nodes" \
	openssl pkcs12 -in "$f" -passin "file:$T/p12.pass" -nodes -out "$T/p12.out"
is "$(grep -c -- '-----BEGIN PRIVATE KEY-----' "$T/p12.out"):$(certs "$T/p12.out")" "1:2" \
	"p12: the key, the certificate and the chain"
is "$(pubkey cat "$T/p12.out")" "$(certkey "$T/pem/f.test/f.test_server_cert.pem")" \
	"p12: the key is the certificate's"
nok "p12: a wrong passphrase does not open it" \
	sh -c "openssl pkcs12 -in '$f' -passin pass:wrong -nodes >/dev/null 2>&1"
is "$(mode "$f")" 640 "p12: the place's key mode"

d=$T/cbder/f.test
is "$(names "$d"/*)" "cert.der privkey.der " "certbot in der: cert.der and privkey.der"
is "$(mode "$d/privkey.der")" 400 "with the default key mode 0400"

f=$T/abundle/f.test/f.test_server_bundle.pem
is "$(readlink "$f")" ".pki-f.test/current/f.test_server_bundle.pem" \
	"an atomic place in a format: its file a link into the version swapped in"
is "$(grep -c -- '^-----BEGIN' "$f") $(stat -L -c %a "$f")" "3 640" \
	"the bundle behind it, with the place's key mode"

capture pki consolidate -a
is "$(q "SELECT \"Place\" || ' ' || \"Status\" FROM deploy_state WHERE \"Status\" <> 'ok'")" \
	"nopass failed" "pki consolidate finds the formatted files as written"

# ------------------------------------------------------------ a record by hand
jq -c '.targets |= map(select(.place.name == "fp12" or .place.name == "fder"))' \
	"$T/sel" > "$T/again"
run pki-deploy < "$T/again"
is "$rc:$(jq -r '[.deployed[] | "\(.place) \(.status) \(.written)"] | join(",")' "$T/out")" \
	"0:fder ok false,fp12 ok false" \
	"deployed again: the same DER and PKCS#12 bytes, nothing rewritten"
jq -c '.targets |= map(select(.place.name == "fder") | .place.format = "xml")' \
	"$T/sel" > "$T/bad"
run pki-deploy < "$T/bad"
is "$rc" 1 "pki-deploy: an unknown format in the record: exit 1"
is "$(jq -r '.deployed[].error' "$T/out")" \
	"place fder: format \"xml\": not pem, der, fullchain, bundle or p12" \
	"names place and field"

# ------------------------------------------------------------ pki export
x=$T/export
for f in pem der fullchain bundle; do
	capture pki export --format "$f" "$serial" "$x/$f"
	is "$rc" 0 "pki export --format $f"
done
capture pki export --format p12 --passphrase-file "$T/p12.pass" "$serial" "$x/p12"
is "$rc:$out" "0:pki: exported f.test (ec) to $x/p12/f.test/ec" "pki export --format p12"
is "$(names "$x"/pem/f.test/ec/*)" "cert.pem chain.pem fullchain.pem key.pem " \
	"pem: the files as before"
ok "der: x509 -inform DER" openssl x509 -inform DER -in "$x/der/f.test/ec/cert.der" -noout
ok "der: pkey -inform DER" openssl pkey -inform DER -in "$x/der/f.test/ec/privkey.der" -noout
is "$(certs "$x/fullchain/f.test/ec/fullchain.pem")" 2 "fullchain: two certificates"
is "$(grep -c -- '^-----BEGIN' "$x/bundle/f.test/ec/bundle.pem")" 3 "bundle: key and two certificates"
ok "p12: opens" sh -c "openssl pkcs12 -in '$x/p12/f.test/ec/cert.p12' -passin 'file:$T/p12.pass' -nodes | grep -q 'PRIVATE KEY'"
is "$(mode "$x/der/f.test/ec/privkey.der") $(mode "$x/bundle/f.test/ec/bundle.pem") $(mode "$x/p12/f.test/ec/cert.p12") $(mode "$x/der/f.test/ec/cert.der")" \
	"600 600 600 644" "export: key files 0600, certificates 0644"

capture pki export --format p12 "$serial" "$x/nopass"
is "$rc:$out" "2:pki: export: --format p12 needs --passphrase-file FILE" \
	"export p12 without a passphrase file: refused"
ok "nothing written" [ ! -e "$x/nopass" ]
capture pki export --format xml "$serial" "$x/xml"
is "$rc:$out" "2:pki: export: --format \"xml\": not pem, der, fullchain, bundle or p12" \
	"export of an unknown format: refused by name"
chmod 644 "$T/p12.pass"
capture pki export --format p12 --passphrase-file "$T/p12.pass" "$serial" "$x/open"
is "$rc" 1 "export p12 with a passphrase file others can read: refused"
like "$out" "*p12_passphrase_file $T/p12.pass: group or others may read*" "and says why"
ok "no p12 written" [ ! -e "$x/open/f.test/ec/cert.p12" ]

# ------------------------------------------------------------ secrets
nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$all"
nok "no passphrase in anything pki printed" grep -q "p12 secret" "$all"
nok "none in the event log" \
	sh -c "psql -X -At -c 'SELECT message FROM pki.events' | grep -q -e 'PRIVATE KEY' -e 'p12 secret'"

done_testing
