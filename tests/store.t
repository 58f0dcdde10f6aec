#!/bin/sh
# store.t - pki-select and pki-store against a real PostgreSQL: selection,
# claims, the issue pipeline into the database, the event log, failures
# that leave nothing half-written, export by serial, keys encrypted at
# rest, CA rollover.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

err=$T/stderr	# every stage's stderr, checked for keys at the end
names() { jq -r .name | sort | tr '\n' ' '; }
issue() {	# the issue pipeline after pki-select
	pki-keygen 2>>"$err" | pki-csr 2>>"$err" | pki-localca 2>>"$err" |
		pki-tlsa 2>>"$err" | pki-store "$@" 2>>"$err"
}

q "UPDATE localca_settings SET ca_algo = 'ec'"
ok "pki ca init makes the CA" quiet pki -q ca init
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
ca1=$(q "SELECT max(id) FROM inst WHERE name = 'Local CA'")

pki -q cert add a.test -a ec -A www.a.test -S https:443
pki -q cert add b.test -a rsa
pki -q cert add c.test -a rsa_plus_ec -m -A mail.c.test
pki -q cert add d.test -a ec
pki -q cert add client1 -t client -a ec
q "UPDATE certificates SET disabled = true WHERE id =
	(SELECT certificate FROM subjects WHERE name = 'd.test')"

# ------------------------------------------------------------ selection
pki-select > "$T/all" 2>>"$err"
is "$(names < "$T/all")" "a.test b.test c.test client1 " \
	"pki-select: every enabled certificate, no CA, no disabled one"
a=$(jq -c 'select(.name == "a.test")' "$T/all")
is "$(echo "$a" | jq -c '[.ca, .algos, .altnames, .subject_type, .ocsp_must_staple]')" \
	'["local",["ec"],["www.a.test"],"server",false]' "a record carries the configuration"
is "$(echo "$a" | jq -r '.services[0].tlsa_prefix')" "_443._tcp.{}. 3600 IN TLSA 3 1 1" \
	"with the service's TLSA prefix"
is "$(jq -c 'select(.name == "c.test") | [.algos, .ocsp_must_staple]' "$T/all")" \
	'[["rsa","ec"],true]' "rsa_plus_ec is both algorithms"
is "$(pki-select -a | names)" "a.test b.test c.test client1 d.test " "-a includes the disabled"
is "$(pki-select -i d.test | names)" "a.test b.test c.test client1 d.test " "-i includes one"
is "$(pki-select -o a.test -o B.TEST | names)" "a.test b.test " "-o selects (without case)"
is "$(pki-select -o d.test | names)" "" "-o alone skips a disabled certificate"
is "$(pki-select -e a.test -e client1 | names)" "b.test c.test " "-e excludes"
out=$(pki-select -o nosuch.test 2>&1 >/dev/null)
is "$?" 1 "an unknown -o name: exit 1"
like "$out" "*-o: no certificate \"nosuch.test\"*" "and says so"
pki-select --serial 1 --create >/dev/null 2>&1
is "$?" 2 "--serial with --create: usage error"

# ------------------------------------------------------------ claims
pki-select --create -o a.test -o b.test > "$T/claim1" 2>>"$err"
is "$(names < "$T/claim1")" "a.test b.test " "--create selects what has no valid instance"
is "$(jq -r '[.action, .instance.state] | join(" ")' "$T/claim1" | sort -u)" "issue reserved" \
	"and claims each with a reserved instance"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 2 \
	"the claims are in the database"
is "$(pki-select --create -o a.test -o b.test | names)" "" \
	"a second run does not claim them again"
# A checkpoint that cannot store an order touches no claim: the record
# goes on with its error and its claim, for the end of the pipeline.
head -n 1 "$T/claim1" | jq -c '.acme = {directory: "https://ca.test/dir",
	account: "https://ca.test/acct/1", orders: {ec: {url: "https://ca.test/o/1",
	status: "pending", authorizations: []}}}' |
	pki-store --checkpoint > "$T/cp.out" 2>>"$err"
is "$?:$(jq -c '[.instance.state, (.errors | length)]' "$T/cp.out")" '1:["reserved",1]' \
	"--checkpoint: an order without its key is an error, the claim stays in the record"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 2 \
	"and in the database"

q "DELETE FROM certinstances WHERE state = 'reserved'"
for i in 1 2 3; do
	pki-select --create > "$T/par$i" 2>>"$err" &
done
wait
cat "$T/par1" "$T/par2" "$T/par3" > "$T/par"
is "$(names < "$T/par")" "a.test b.test c.test client1 " \
	"three concurrent runs: each certificate claimed exactly once"

q "UPDATE certinstances SET created = now() - interval '2 hours' WHERE state = 'reserved'"
is "$(pki-select --create --stale 3600 | names)" "a.test b.test c.test client1 " \
	"a claim older than --stale is void and claimed anew"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 4 \
	"the stale claims are gone"

# ------------------------------------------------------------ issue
q "DELETE FROM certinstances WHERE state = 'reserved'"
pki-select --create 2>>"$err" | issue > "$T/issued"
is "$?" 0 "the issue pipeline succeeds"
is "$(jq -r '.instance.state' "$T/issued" | sort -u)" "issued" "every record is stored"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 0 \
	"no claim is left"
is "$(q "SELECT string_agg(name || ':' || encryption_algo, ' ' ORDER BY name, encryption_algo::text)
	FROM inst WHERE state = 'issued' AND name <> 'Local CA'")" \
	"a.test:ec b.test:rsa c.test:ec c.test:rsa client1:ec" \
	"one CertKeyData row per algorithm"
is "$(q "SELECT DISTINCT cacert FROM inst WHERE name = 'a.test'")" "$ca1" \
	"the instance names its CA"
cid=$(jq -r 'select(.name == "a.test") | .instance.id' "$T/issued")
jq -r 'select(.name == "a.test") | .cert.ec.pem' "$T/issued" > "$T/a.pem"
fp=$(openssl x509 -in "$T/a.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g')
is "$(q "SELECT hash FROM certkeydata WHERE certinstance = $cid")" "$fp" \
	"hash is the SHA-256 of the certificate (serverPKI's)"
is "$(q "SELECT convert_from(cert, 'UTF8') FROM certkeydata WHERE certinstance = $cid")" \
	"$(cat "$T/a.pem")" "the certificate is stored as PEM"
is "$(q "SELECT to_char(not_after, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM certinstances WHERE id = $cid")" \
	"$(jq -r 'select(.name == "a.test") | .cert.ec.not_after' "$T/issued")" \
	"not_after is stored (UTC)"
is "$(q "SELECT count(*) FROM events WHERE level = 'info' AND stage = 'pki-store'
	AND message LIKE 'issued instance %' AND name <> 'Local CA'")" 4 "each issue is in the event log"
is "$(pki-select --create | names)" "" "--create has nothing more to do"

# ------------------------------------------------------------ export
pki-select --serial "$cid" --with-keys > "$T/export" 2>>"$err"
is "$?" 0 "pki-select --serial --with-keys"
is "$(jq -r '[.name, .action, .instance.state] | join(" ")' "$T/export")" "a.test export issued" \
	"gives the instance"
jq -r '.key.ec' "$T/export" | openssl pkey -pubout > "$T/k.pub"
openssl x509 -in "$T/a.pem" -noout -pubkey > "$T/c.pub"
ok "with the key of its certificate" cmp -s "$T/k.pub" "$T/c.pub"
jq -r '.cert.ec.chain' "$T/export" > "$T/chain.pem"
ok "and its chain (the CA) verifies it" quiet openssl verify -CAfile "$T/chain.pem" "$T/a.pem"
is "$(pki-select --serial "$cid" | jq 'has("key")')" false "no key without --with-keys"
pki-select --serial 99999 >/dev/null 2>&1
is "$?" 1 "an unknown serial: exit 1"

# ------------------------------------------------------------ failures
pki -q cert add e.test -a ec
pki -q cert add f.test -a ec
pki-select --create 2>>"$err" > "$T/ef"
jq -c 'if .name == "e.test" then .errors = [{"stage": "pki-test", "message": "broken on purpose"}] else . end' \
	"$T/ef" | issue > "$T/ef.out"
is "$?" 0 "pki-store logs errors it did not make: exit 0"
is "$(jq -c 'select(.name == "e.test") | [.errors, has("key"), has("cert"), .instance]' "$T/ef.out")" \
	'[[{"stage":"pki-test","message":"broken on purpose"}],false,false,null]' \
	"a record with errors passes every stage untouched; its claim is released"
is "$(jq -r 'select(.name == "f.test") | .instance.state' "$T/ef.out")" issued \
	"the other record is stored"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'e.test'")" 0 "no instance of the failed record"
is "$(q "SELECT stage || ': ' || message FROM events WHERE name = 'e.test' AND level = 'error'")" \
	"pki-test: broken on purpose" "the failure is in the event log"

# a record the database does not know, and a key that does not match
pki -q cert add g.test -a ec
pki -q cert add h.test -a ec
pki-select --create 2>>"$err" | pki-keygen | pki-csr | pki-localca 2>>"$err" > "$T/gh"
printf '%s\n' '{"name":"unknown.test","algos":["ec"]}' | pki-keygen | pki-csr |
	pki-localca 2>>"$err" >> "$T/gh"
h_key=$(jq -r 'select(.name == "h.test") | .key.ec' "$T/gh")
g_key=$(jq -r 'select(.name == "g.test") | .key.ec' "$T/gh")
jq -c --arg k "$g_key" 'if .name == "h.test" then .key.ec = $k else . end' "$T/gh" > "$T/gh2"
before=$(q "SELECT count(*) FROM certinstances")
pki-store < "$T/gh2" > "$T/gh.out" 2>"$T/gh.err"
is "$?" 1 "pki-store: exit 1 when it could not store a record"
like "$(jq -r 'select(.name == "h.test") | .errors[0].message' "$T/gh.out")" \
	"*does not belong to the certificate*" "a key that does not match is refused"
like "$(jq -r 'select(.name == "unknown.test") | .errors[0].message' "$T/gh.out")" \
	"*no such certificate*" "a certificate not in the database is refused"
is "$(jq -r 'select(.name == "g.test") | .instance.state' "$T/gh.out")" issued \
	"the good record in the same batch is stored"
is "$(q "SELECT count(*) FROM certinstances")" "$((before - 1))" \
	"no half instance: h.test's claim is gone, g.test's became its instance"
is "$(q "SELECT count(*) FROM events WHERE name IN ('h.test', 'unknown.test') AND level = 'error'")" 2 \
	"both failures are in the event log"
like "$(cat "$T/gh.err")" "*h.test: key.ec: does not belong*" "stderr names record and field"
[ -n "$h_key" ] || fail "h.test had a key"

# records the database itself refuses, in the middle of one transaction
for n in 1 2 3; do pki -q cert add "db$n.test" -a ec; done
pki-select --create -o db1.test -o db2.test -o db3.test | pki-keygen | pki-csr |
	pki-localca 2>>"$err" > "$T/db"
q "CREATE FUNCTION pki.refuse() RETURNS trigger LANGUAGE plpgsql AS
	\$\$ BEGIN IF NEW.state = 'issued' AND NEW.certificate =
	(SELECT certificate FROM subjects WHERE name = 'db2.test') THEN
	RAISE 'the database refuses db2.test'; END IF; RETURN NEW; END \$\$;
   CREATE TRIGGER refuse BEFORE UPDATE ON pki.certinstances FOR EACH ROW
	EXECUTE FUNCTION pki.refuse()"
{
	jq -c 'select(.name == "db1.test")' "$T/db"
	jq -c 'select(.name == "db1.test") | .instance = null' "$T/db"	# its twin
	jq -c 'select(.name == "db2.test")' "$T/db"
	jq -c 'select(.name == "db3.test")' "$T/db"
} > "$T/db.in"
pki-store < "$T/db.in" > "$T/db.out" 2>"$T/db.err"
is "$?" 1 "a record the database refuses: exit 1"
is "$(jq -r '[.name, .instance.state // "-", (.errors // [] | length)] | join(" ")' "$T/db.out" | tr '\n' ',')" \
	"db1.test issued 0,db1.test issued 0,db2.test - 1,db3.test issued 0," \
	"the others of the same transaction are stored"
is "$(jq -r 'select(.name == "db1.test") | .instance.id' "$T/db.out" | uniq | wc -l)" 1 \
	"a certificate stored twice is one instance"
like "$(jq -r 'select(.errors) | .errors[0].message' "$T/db.out")" \
	"*the database refuses db2.test*" "the refusal says why"
is "$(q "SELECT count(*) FROM events WHERE name = 'db2.test' AND level = 'error'")" 1 \
	"the refusal is in the event log"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'db2.test'")" 0 "the refused record's claim is released"
q "DROP TRIGGER refuse ON pki.certinstances"

# a failure the database will not even log, beside a good record: the good
# one is stored and says so only if it was committed
pki -q cert add good.test -a ec
pki -q cert add boom.test -a ec
q "CREATE FUNCTION pki.boom() RETURNS trigger LANGUAGE plpgsql AS
	\$\$ BEGIN IF NEW.name = 'boom.test' THEN RAISE 'the event log refuses'; END IF;
	RETURN NEW; END \$\$;
   CREATE TRIGGER boom BEFORE INSERT ON pki.events FOR EACH ROW EXECUTE FUNCTION pki.boom()"
pki-select --create -o good.test -o boom.test | pki-keygen | pki-csr | pki-localca 2>>"$err" |
	jq -c 'if .name == "boom.test" then .errors = [{"stage": "pki-test", "message": "x"}] else . end' \
	> "$T/boom.in"
pki-store < "$T/boom.in" > "$T/boom.out" 2>"$T/boom.err"
is "$?" 1 "a failure that cannot be logged: exit 1"
gid=$(jq -r 'select(.name == "good.test") | .instance.id' "$T/boom.out")
is "$(jq -r 'select(.name == "good.test") | .instance.state' "$T/boom.out"):$(q "SELECT state FROM certinstances WHERE id = $gid")" \
	"issued:issued" "the good record is stored, and the database agrees"
like "$(jq -r 'select(.name == "boom.test") | .errors | map(.message) | join("; ")' "$T/boom.out")" \
	"x; database: the event log refuses" "the other says why it is not logged (once)"
q "DROP TRIGGER boom ON pki.events; DROP FUNCTION pki.boom()"

# ids out of the database's range reach no SQL
printf '%s\n' '{"name":"good.test","id":9999999999,"instance":{"id":-5,"state":"reserved"},"errors":[{"stage":"pki-test","message":"odd ids"}]}' |
	pki-store > /dev/null 2>>"$err"
is "$?:$(q "SELECT count(*) FROM events WHERE message = 'odd ids' AND certificate IS NULL AND instance IS NULL")" \
	"0:1" "ids out of range: logged without them"

# a failure before the input pauses still counts at the end
{ printf '%s\n' '{"name":"paused.test","algos":["ec"]}' | pki-keygen | pki-csr |
	pki-localca 2>>"$err"; sleep 1; } | pki-store > /dev/null 2>>"$err"
is "$?" 1 "a record refused before the input paused: still exit 1"

# ------------------------------------------------------------ batches
for n in 1 2 3 4 5; do pki -q cert add "batch$n.test" -a ec; done
pki-select --create -o batch1.test -o batch2.test -o batch3.test -o batch4.test -o batch5.test |
	issue --batch 2 > "$T/batch"
is "$(jq -r .instance.state "$T/batch" | sort | uniq -c | tr -s ' ')" " 5 issued" \
	"--batch 2: five records in three transactions, all stored"

# ------------------------------------------------------------ keys at rest
q "UPDATE revision SET keysencrypted = true"
printf 'rest-secret\n' > "$T/dbpass"
chmod 0600 "$T/dbpass"
pki -q cert add enc.test -a ec
pki-select --create -o enc.test | pki-keygen | pki-csr | pki-localca 2>>"$err" > "$T/enc"
pki-store < "$T/enc" > "$T/enc.out" 2>"$T/enc.err"
is "$?" 2 "encrypted mode without a passphrase: exit 2"
like "$(cat "$T/enc.err")" "*keeps keys encrypted*PKI_DB_PASSPHRASE_FILE*" "and says how to give it"
is "$(q "SELECT count(*) FROM inst WHERE name = 'enc.test'")" 0 "and stores nothing"
pki-select --create -o enc.test | pki-keygen | pki-csr | pki-localca 2>>"$err" |
	PKI_DB_PASSPHRASE_FILE=$T/dbpass pki-store > "$T/enc.out" 2>>"$err"
eid=$(jq -r .instance.id "$T/enc.out")
q "SELECT convert_from(key, 'UTF8') FROM certkeydata WHERE certinstance = $eid" > "$T/enc.key"
like "$(head -1 "$T/enc.key")" "-----BEGIN ENCRYPTED PRIVATE KEY-----" "the stored key is encrypted"
ok "openssl reads it with the passphrase" openssl pkey -in "$T/enc.key" -passin "file:$T/dbpass" -noout
openssl asn1parse -in "$T/enc.key" > "$T/enc.asn1"
ok "PBES2 with scrypt and AES-256-CBC" grep -q ':scrypt' "$T/enc.asn1"
ok "  (aes-256-cbc)" grep -q 'aes-256-cbc' "$T/enc.asn1"
PKI_DB_PASSPHRASE_FILE=$T/dbpass pki-select --serial "$eid" --with-keys > "$T/enc.exp"
like "$(jq -r .key.ec "$T/enc.exp" | head -1)" "-----BEGIN PRIVATE KEY-----" \
	"pki-select --with-keys decrypts it for the pipe"
pki-select --serial "$eid" --with-keys > "$T/enc.exp2" 2>/dev/null
is "$?" 1 "without the passphrase: exit 1"
like "$(jq -r '.errors[0].message' "$T/enc.exp2")" "*stored encrypted*" "and an error in the record"
q "UPDATE revision SET keysencrypted = false"

# ------------------------------------------------------------ -X and -Y
clear() {	# clear: how many keys at rest are in clear (the CA's aside)
	q "SELECT count(*) FROM certkeydata d JOIN certinstances i ON i.id = d.certinstance
	   JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
	   WHERE s.type <> 'CA' AND convert_from(d.key, 'UTF8') LIKE '%BEGIN PRIVATE KEY%'"
}
cakey() { q "SELECT md5(key) FROM certkeydata WHERE certinstance = $ca1"; }
nclear=$(clear)
nall=$(q "SELECT count(*) FROM certkeydata d JOIN certinstances i ON i.id = d.certinstance
	JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
	WHERE s.type <> 'CA' AND length(d.key) > 0")
cabefore=$(cakey)
ok "there are keys in clear" test "$nclear" -gt 5
pki db encrypt >/dev/null 2>"$T/x.err"
is "$?" 2 "pki db encrypt without a passphrase: exit 2"
like "$(cat "$T/x.err")" "*PKI_DB_PASSPHRASE_FILE*" "and says what is missing"
is "$(clear)" "$nclear" "nothing changed"
PKI_DB_PASSPHRASE_FILE=$T/dbpass pki -q db encrypt
is "$?" 0 "pki db encrypt (serverPKI -X)"
is "$(clear):$(q "SELECT keysencrypted FROM revision")" "0:t" \
	"every key at rest is encrypted, and the database says so"
is "$(cakey)" "$cabefore" "the CA's key keeps its own passphrase"
q "SELECT convert_from(key, 'UTF8') FROM certkeydata WHERE certinstance = $cid" > "$T/x.key"
ok "openssl reads an encrypted key with the passphrase" \
	openssl pkey -in "$T/x.key" -passin "file:$T/dbpass" -noout
PKI_DB_PASSPHRASE_FILE=$T/dbpass pki-select --serial "$cid" --with-keys |
	jq -r .key.ec | openssl pkey -pubout > "$T/x.pub"
ok "pki-select --with-keys gives the same key back" cmp -s "$T/x.pub" "$T/c.pub"
printf 'wrong\n' > "$T/wrongpass"
chmod 0600 "$T/wrongpass"
PKI_DB_PASSPHRASE_FILE=$T/wrongpass pki db decrypt >/dev/null 2>"$T/y.err"
is "$?" 2 "pki db decrypt with a wrong passphrase: exit 2"
is "$(clear):$(q "SELECT keysencrypted FROM revision")" "0:t" "and nothing changed (all or nothing)"
PKI_DB_PASSPHRASE_FILE=$T/dbpass pki -q -Y
is "$?:$(clear):$(q "SELECT keysencrypted FROM revision")" "0:$nall:f" \
	"pki -Y decrypts them all, also one stored encrypted before"
nok "no key on stderr" grep -q "$SECRET_PATTERN" "$T/x.err" "$T/y.err"

# ------------------------------------------------------------ CA rollover
ok "pki ca roll makes a new CA" quiet pki -q ca roll
ca2=$(q "SELECT max(id) FROM inst WHERE name = 'Local CA'")
ok "a new CA instance" test "$ca2" -gt "$ca1"
pki -q cert add new.test -a ec
pki-select --create -o new.test 2>>"$err" | issue > "$T/new"
is "$(q "SELECT DISTINCT cacert FROM inst WHERE name = 'new.test'")" "$ca2" \
	"new certificates are signed by the newest CA"
pki-select --serial "$cid" > "$T/old"
jq -r '.cert.ec.chain' "$T/old" > "$T/oldchain.pem"
ok "an older certificate keeps its own CA as chain" \
	quiet openssl verify -CAfile "$T/oldchain.pem" "$T/a.pem"
jq -r '.cert.ec.chain' "$T/new" > "$T/newchain.pem"
nok "which is not the new CA" cmp -s "$T/oldchain.pem" "$T/newchain.pem"

# ------------------------------------------------------------ secrets
nok "no private key on any stderr" grep -q "$SECRET_PATTERN" "$err" "$T/gh.err" "$T/enc.err"
is "$(q "SELECT count(*) FROM events WHERE message LIKE '%PRIVATE KEY%'")" 0 \
	"no private key in the event log"

done_testing
