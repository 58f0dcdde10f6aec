#!/bin/sh
# forged.t - pki-store believes no record: dates, serial and hash come
# from the certificate itself; a certificate of another certificate, with
# a bad signature, from an unknown CA, or of a claim that is no longer
# this run's is refused with an error naming the record and field, and
# the other records of the batch are stored.  Inputs that once crashed
# pki-store stay here.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

err=$T/stderr

ok "pki ca init" quiet pki -q ca init
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
for n in a b c d e f g h; do
	pki -q cert add "$n.test" -a ec -A "www.$n.test"
done
pki -q cert add r.test -a rsa_plus_ec

# Claimed and issued, not yet stored.
pki-select --create 2>>"$err" | pki-keygen 2>>"$err" | pki-csr 2>>"$err" |
	pki-localca 2>>"$err" > "$T/made"
rec() { jq -c --arg n "$1" 'select(.name == $n)' "$T/made"; }
inst() { q "SELECT state FROM certinstances WHERE id = $1"; }
claim_of() { rec "$1" | jq -r .instance.id; }

# store RECORD...: pki-store on the records; its output in $T/out, errors
# of each record by name in $T/why.
store() {
	printf '%s\n' "$@" > "$T/in"
	run pki-store < "$T/in"
	jq -r '.name + ": " + ((.errors // []) | map(.field + ": " + .message) |
		join("; "))' "$T/out" > "$T/why"
}
why() { sed -n "s/^$1: //p" "$T/why"; }

# ------------------------------------------------------------ dates
store "$(rec a.test | jq -c '.cert.ec.not_after = "2099-01-01T00:00:00Z"')" \
	"$(rec b.test)"
is "$rc" 1 "a record that lies about not_after: exit 1"
like "$(why a.test)" "cert: ec: the record says not_after 2099-01-01T00:00:00Z, the certificate 20*" \
	"refused, naming the field and both dates"
is "$(inst "$(claim_of a.test)")" "" "its claim is released"
is "$(jq -r 'select(.name == "b.test") | .instance.state' "$T/out")" issued \
	"the other record of the batch is stored"
na=$(rec b.test | jq -r .cert.ec.not_after | sed 's/T/ /; s/Z//')
is "$(q "SELECT not_after FROM certinstances WHERE id = $(claim_of b.test)")" "$na" \
	"not_after is the certificate's"

store "$(rec c.test | jq -c '.cert.ec.serial = "01" | .cert.ec.sha256 = "00"')"
like "$(why c.test)" "*the record says sha256 00, the certificate *" "a false hash is refused"
like "$(why c.test)" "*the record says serial 01, the certificate *" "and a false serial"

# ------------------------------------------------------------ another's pair
rec d.test | jq -c '.name = "e.test" | .id = $e | .instance = $i' \
	--argjson e "$(rec e.test | jq .id)" --argjson i "$(rec e.test | jq .instance)" \
	> "$T/swap"
store "$(cat "$T/swap")"
is "$rc" 1 "d.test's certificate and key as e.test's: exit 1"
like "$(why e.test)" "cert: covers d.test www.d.test, but e.test is configured for e.test www.e.test" \
	"refused: the names are not e.test's"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'e.test' AND i.state = 'issued'")" 0 "e.test has no instance"

store "$(rec f.test | jq -c '.key.ec = $k' --arg k "$(rec g.test | jq -r .key.ec)")"
like "$(why f.test)" "*key.ec: does not belong to the certificate*" "another certificate's key is refused"

# ------------------------------------------------------------ signature
rec g.test | jq -r .cert.ec.pem | openssl x509 -outform DER > "$T/g.der"
perl -e 'local $/; $_ = <STDIN>; substr($_, -2, 1) ^= "\x01"; print' \
	< "$T/g.der" > "$T/bad.der"
openssl x509 -inform DER -in "$T/bad.der" > "$T/bad.pem"
store "$(rec g.test | jq -c '.cert.ec.pem = $p | del(.cert.ec.sha256)' --rawfile p "$T/bad.pem")"
like "$(why g.test)" "cert: ec: the certificate is not signed by the chain's certificate 1" \
	"a certificate with a bad signature is refused"
store "$(rec g.test | jq -c '.cert.ec.pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"')"
like "$(why g.test)" "cert: ec: no PEM certificate" "unreadable DER is refused"
store "$(rec g.test | jq -c '.cert.ec.chain = ""')"
like "$(why g.test)" "cert: ec: no chain: the issuing CA is unknown" "no chain is refused"

# ------------------------------------------------------------ unknown CA
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/other.key" -subj "/CN=Local CA" -days 30 -out "$T/other.pem" 2>/dev/null
rec h.test | jq -r .csr.ec > "$T/h.csr"
printf 'subjectAltName=DNS:h.test,DNS:www.h.test\n' > "$T/ext"
openssl x509 -req -in "$T/h.csr" -CA "$T/other.pem" -CAkey "$T/other.key" \
	-CAcreateserial -days 10 -extfile "$T/ext" -out "$T/h.pem" 2>/dev/null
store "$(rec h.test | jq -c '.cert.ec.pem = $p | .cert.ec.chain = $c |
	del(.cert.ec.not_before, .cert.ec.not_after, .cert.ec.serial, .cert.ec.sha256)' \
	--rawfile p "$T/h.pem" --rawfile c "$T/other.pem")"
like "$(why h.test)" "cert: issued by a CA that is not pki's local CA (*)" \
	"a certificate of an outside CA named like the local one is refused"
is "$(q "SELECT count(*) FROM inst WHERE name = 'Local CA'")" 1 \
	"and the outside CA is not made an instance of the local CA"

# ------------------------------------------------------------ late claim
# f.test's claim is taken over by a run that follows (its own run looked
# dead); the late record is refused, not stored as a second instance.
fclaim=$(claim_of f.test)
q "UPDATE certinstances SET created = now() - interval '2 hours' WHERE id = $fclaim"
pki-select --create -o f.test --stale 60 > "$T/f2" 2>>"$err"
is "$(jq -r .name "$T/f2")" f.test "a later run claims f.test anew"
store "$(rec f.test)"
is "$rc" 1 "the late record: exit 1"
like "$(why f.test)" "instance: claim $fclaim is gone: another run took it over*not stored" \
	"refused: its claim is gone"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'f.test' AND i.state = 'issued'")" 0 "no instance was added"

# ------------------------------------------------------------ stored twice
store "$(rec r.test)"
is "$(jq -r .instance.state "$T/out")" issued "r.test stored"
first=$(jq -r .instance.id "$T/out")
store "$(rec r.test)"
is "$rc" 0 "the same record again (a replay): exit 0"
is "$(jq -r '[.instance.id, .instance.state] | join(" ")' "$T/out")" "$first issued" \
	"it is the instance stored before"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'r.test' AND i.state = 'issued'")" 1 "stored once"

# ------------------------------------------------------------ renewal info
ari() {	# ari NAME INSTANCE ARI: the record of pki-acme ari
	jq -n -c --arg n "$1" --argjson i "$2" --argjson a "$3" \
		'{name: $n, instance: {id: $i, state: "issued"}, ari: $a}'
}
ok_ari='{"status": "ok", "window": {"start": "2030-01-01T00:00:00Z",
	"end": "2030-01-03T00:00:00Z"}, "renew_at": "2030-01-02T00:00:00Z",
	"checked": "2026-12-01T00:00:00Z", "next_check": "2026-12-01T06:00:00Z"}'
store "$(ari r.test "$first" "$ok_ari")"
is "$rc" 0 "renewal information of an instance is stored"
is "$(q "SELECT status || ' ' || to_char(renew_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
	FROM ari WHERE certinstance = $first")" "ok 2030-01-02" "with the time chosen"
store "$(ari r.test "$first" '{"status": "error", "error": "HTTP 500",
	"checked": "2026-12-01T06:00:00Z", "next_check": "2026-12-01T12:00:00Z"}')"
is "$(q "SELECT status || ' ' || to_char(renew_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
	FROM ari WHERE certinstance = $first")" "error 2030-01-02" \
	"a lookup that failed keeps the window and time of the last good one"
store "$(ari r.test "$first" '{"status": "ok", "window": {"start":
	"2030-01-01T00:00:00Z", "end": "2030-01-03T00:00:00Z"},
	"renew_at": "2031-01-01T00:00:00Z"}')" "$(rec b.test | jq -c '.name = "b2"')"
is "$rc" 1 "a time chosen outside its window: exit 1"
like "$(why r.test)" "*database:*" "refused, with the database's reason"
is "$(wc -l < "$T/out")" 2 "and the other record comes out"
store "$(ari e.test "$first" "$ok_ari")"
is "$rc" 1 "renewal information for another certificate's instance: exit 1"
like "$(why e.test)" "instance: instance $first is not one of e.test's*" \
	"refused: the record lies about its instance"

# ------------------------------------------------------------ once crashed
# A certificate filed under a second, unknown algorithm made pki-store
# free the first one's DER twice.
pki -q cert add x.test -a ec
pki-select --create -o x.test 2>>"$err" | pki-keygen 2>>"$err" | pki-csr 2>>"$err" |
	pki-localca 2>>"$err" > "$T/x"
store "$(jq -c '.cert.dsa = .cert.ec' "$T/x")" "$(rec r.test)"
is "$rc" 1 "cert.dsa = cert.ec: exit 1, no crash"
like "$(why x.test)" "cert: dsa: not an algorithm (rsa, ec)*" "the record says why"
is "$(wc -l < "$T/out")" 2 "and every record comes out"

# ------------------------------------------------------------ hostile input
for n in n1 n2 n3 n4; do pki -q cert add "$n.test" -a ec; done
pki-select --create -o n1.test -o n2.test -o n3.test -o n4.test 2>>"$err" |
	pki-keygen 2>>"$err" | pki-csr 2>>"$err" | pki-localca 2>>"$err" > "$T/n"
nrec() { jq -c --arg n "$1" 'select(.name == $n)' "$T/n"; }
store "$(nrec n1.test | jq -c '.remarks = "a\u0000b"')" "$(nrec n2.test)"
is "$rc" 0 "a string holding \\u0000: the record is read, not dropped"
like "$(why n1.test)" "remarks: holds a NUL character (*u0000)" "with an error naming the field"
is "$(jq -r 'select(.name == "n2.test") | .instance.state' "$T/out")" issued \
	"the next record is stored"
is "$(inst "$(nrec n1.test | jq -r .instance.id)")" "" "n1.test's claim is released"

python3 -c 'import json, sys
r = json.loads(sys.argv[1])
r["altnames"] = ["n%d.n3.test" % i for i in range(60000)]
print(json.dumps(r))' "$(nrec n3.test)" > "$T/big"
run pki-store < "$T/big"
like "$(jq -r '.errors[-1].message' "$T/out")" \
	"the record is * bytes, more than the 1048576 a record may have: only its name and claim are kept" \
	"a record over the line limit comes out as an error on that record"
is "$(jq -r '[.name, .instance] | join(" ")' "$T/out")" "n3.test " \
	"named, its claim given back"
is "$(inst "$(nrec n3.test | jq -r .instance.id)")" "" "whose claim is released"
is "$(q "SELECT count(*) FROM events WHERE name = 'n3.test' AND message LIKE '%more than the 1048576%'")" 1 \
	"and the event log says why"

k=$(nrec n4.test | jq -r .key.ec | sed -n 2p)
store "$(nrec n4.test | jq -c --arg m "could not parse: $k" '.errors = [{"stage": "pki-test", "message": $m}]')"
is "$(q "SELECT message FROM events WHERE name = 'n4.test'")" \
	"(a message that held key material, withheld)" "an error carrying a key never reaches the event log"
is "$(q "SELECT count(*) FROM events WHERE message LIKE '%$k%'")" 0 "nor anywhere in it"

pki -q cert add enc.test -a ec
pki-select --create -o enc.test 2>>"$err" | pki-keygen 2>>"$err" | pki-csr 2>>"$err" |
	pki-localca 2>>"$err" > "$T/enc"
echo "pass phrase" > "$T/p"
jq -r .key.ec "$T/enc" | openssl pkcs8 -topk8 -v2 aes-256-cbc -passout "file:$T/p" > "$T/enc.key"
store "$(jq -c '.key.ec = $k' --rawfile k "$T/enc.key" "$T/enc")" "$(rec r.test)"
is "$rc" 1 "a key that came encrypted, no passphrase: exit 1, not 2"
like "$(why enc.test)" "key.ec: the key is encrypted: give --passphrase-file*" "the record says why"

# ------------------------------------------------------------ no keys out
pki -q cert add out.test -a ec
pki-select --create -o out.test 2>>"$err" | pki-keygen 2>>"$err" | pki-csr 2>>"$err" |
	pki-localca 2>>"$err" > "$T/out.in"
run pki-store < "$T/out.in"
is "$(jq -c '[.instance.state, has("key")]' "$T/out")" '["issued",false]' \
	"pki-store writes a stored record without its key"
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$T/acct.key" 2>/dev/null
jq -n -c --rawfile k "$T/acct.key" '{action: "rollover", account: {directory:
	"https://127.0.0.1:1/dir", url: "https://127.0.0.1:1/acct/1", key: $k,
	key_type: "ec", status: "valid", contact: []}}' > "$T/acct.in"
run pki-store < "$T/acct.in"
is "$rc" 0 "an account record (pki-acme rollover | pki-store) is stored"
is "$(jq -c '.account | [.url, has("key")]' "$T/out")" '["https://127.0.0.1:1/acct/1",false]' \
	"and written without the account key"
run pki-store --with-keys < "$T/acct.in"
is "$(jq -r .account.key "$T/out")" "$(cat "$T/acct.key")" "unless --with-keys"
: > "$T/out"

! grep -q "$SECRET_PATTERN" "$T/stderr.all" "$err"
ok "no key in any message" [ $? -eq 0 ]
done_testing
