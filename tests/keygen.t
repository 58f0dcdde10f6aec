#!/bin/sh
# keygen.t - pki-keygen run by hand: the keys it makes (algorithms, RSA
# sizes, EC curves, PKCS#8 in clear), --reuse, records it must leave alone,
# bad records, bad lines, bad flags, and no key ever on stderr.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

# key ALGO [FILE]: the PEM key of ALGO in the first record of FILE.
key() {
	jq -r --arg a "$1" '.key[$a] // empty' "${2:-$T/out}"
}

# keytext ALGO [FILE]: `openssl pkey -text` of that key.
keytext() {
	key "$@" | openssl pkey -noout -text 2>&1
}

# ------------------------------------------------------------ defaults
echo '{"name":"a.test"}' >"$T/in"
run pki-keygen <"$T/in"
is "$rc" 0 "a record without algos: exit 0"
is "$(jq -c '.key | keys' "$T/out")" '["rsa"]' "algos defaults to [\"rsa\"]"
like "$(keytext rsa)" "Private-Key: (2048 bit*" "RSA keys have 2048 bits by default"
is "$(key rsa | head -n 1)" "-----BEGIN PRIVATE KEY-----" \
	"the key is unencrypted PKCS#8"
is "$(jq -c 'del(.key)' "$T/out")" '{"name":"a.test"}' \
	"nothing but the key is added"
is "$(wc -l <"$T/out")" 1 "one record in, one line out"

echo '{"name":"a.test","algos":["ec"]}' >"$T/in"
run pki-keygen <"$T/in"
is "$rc" 0 "algos [\"ec\"]: exit 0"
is "$(jq -c '.key | keys' "$T/out")" '["ec"]' "only an EC key"
like "$(keytext ec)" "*ASN1 OID: prime256v1*" "EC keys are on P-256 by default"
like "$(keytext ec)" "Private-Key: (256 bit)*" "a 256-bit EC key"
is "$(key ec | head -n 1)" "-----BEGIN PRIVATE KEY-----" \
	"the EC key is unencrypted PKCS#8"

echo '{"name":"a.test","algos":["rsa","ec"]}' >"$T/in"
run pki-keygen <"$T/in"
is "$(jq -c '.key | keys' "$T/out")" '["ec","rsa"]' \
	"algos [\"rsa\",\"ec\"] gives two keys"
like "$(keytext rsa)" "*modulus:*" "key.rsa is an RSA key"
like "$(keytext ec)" "*NIST CURVE: P-256*" "key.ec is an EC key"
nok "the two keys differ" test "$(key rsa)" = "$(key ec)"

# ------------------------------------------------------------ sizes, curves
echo '{"name":"a.test","algos":["rsa"]}' >"$T/in"
run pki-keygen --rsa-bits 3072 <"$T/in"
is "$rc" 0 "--rsa-bits 3072: exit 0"
like "$(keytext rsa)" "Private-Key: (3072 bit*" "--rsa-bits 3072 gives 3072 bits"

echo '{"name":"a.test","algos":["rsa"],"rsa_bits":4096}' >"$T/in"
run pki-keygen <"$T/in"
like "$(keytext rsa)" "Private-Key: (4096 bit*" "record field rsa_bits 4096"
is "$(jq .rsa_bits "$T/out")" 4096 "rsa_bits stays in the record"

echo '{"name":"a.test","algos":["rsa"],"rsa_bits":2048}' >"$T/in"
run pki-keygen --rsa-bits 3072 <"$T/in"
like "$(keytext rsa)" "Private-Key: (2048 bit*" \
	"the record's rsa_bits wins over --rsa-bits"

echo '{"name":"a.test","algos":["ec"]}' >"$T/in"
run pki-keygen --ec-curve P-384 <"$T/in"
is "$rc" 0 "--ec-curve P-384: exit 0"
like "$(keytext ec)" "*ASN1 OID: secp384r1*" "--ec-curve P-384 gives a P-384 key"

echo '{"name":"a.test","algos":["ec"],"ec_curve":"P-384"}' >"$T/in"
run pki-keygen <"$T/in"
like "$(keytext ec)" "*ASN1 OID: secp384r1*" "record field ec_curve P-384"
like "$(keytext ec)" "Private-Key: (384 bit)*" "a 384-bit EC key"

echo '{"name":"a.test","algos":["ec"],"ec_curve":"P-256"}' >"$T/in"
run pki-keygen --ec-curve P-384 <"$T/in"
like "$(keytext ec)" "*ASN1 OID: prime256v1*" \
	"the record's ec_curve wins over --ec-curve"

# ------------------------------------------------------------ -v
echo '{"name":"v.test","algos":["ec"]}' >"$T/in"
run pki-keygen -v <"$T/in"
like "$(cat "$T/err")" "*v.test: new ec key*" "-v says which key was made"

# ------------------------------------------------------------ --reuse
echo '{"name":"r.test","algos":["ec","rsa"]}' | pki-keygen 2>>"$T/stderr.all" |
	pki-csr >"$T/withcsr" 2>>"$T/stderr.all"
is "$(jq -c '[(.key|keys), (.csr|keys)]' "$T/withcsr")" '[["ec","rsa"],["ec","rsa"]]' \
	"a record with two keys and two CSRs"

run pki-keygen --reuse <"$T/withcsr"
is "$rc" 0 "--reuse: exit 0"
is "$(key ec)" "$(key ec "$T/withcsr")" "--reuse keeps the record's EC key"
is "$(key rsa)" "$(key rsa "$T/withcsr")" "--reuse keeps the record's RSA key"
is "$(jq -c .csr "$T/out")" "$(jq -c .csr "$T/withcsr")" \
	"--reuse keeps the CSRs of kept keys"

run pki-keygen <"$T/withcsr"
is "$rc" 0 "without --reuse: exit 0"
nok "without --reuse a new EC key replaces the old one" \
	test "$(key ec)" = "$(key ec "$T/withcsr")"
nok "without --reuse a new RSA key replaces the old one" \
	test "$(key rsa)" = "$(key rsa "$T/withcsr")"
is "$(jq -c '[.csr.ec, .csr.rsa]' "$T/out")" '[null,null]' \
	"the CSRs of the old keys are removed"

# Only the algorithm that gets a new key loses its CSR.
jq -c '.cert = {"rsa": {"pem": "issued"}}' "$T/withcsr" >"$T/in"
run pki-keygen <"$T/in"
is "$rc" 0 "a record with an RSA certificate: exit 0"
is "$(key rsa)" "$(key rsa "$T/in")" "the algorithm that has a cert keeps its key"
is "$(jq -r .csr.rsa "$T/out")" "$(jq -r .csr.rsa "$T/in")" \
	"... and its CSR"
nok "the other algorithm gets a new key" test "$(key ec)" = "$(key ec "$T/in")"
is "$(jq -c .csr.ec "$T/out")" null "... and loses its old CSR"

echo '{"name":"c.test","algos":["rsa","ec"],"cert":{"rsa":{"pem":"issued"}}}' >"$T/in"
run pki-keygen <"$T/in"
is "$(jq -c '.key | keys' "$T/out")" '["ec"]' "an algorithm that has a cert gets no key"
echo '{"name":"c.test","algos":["ec"],"cert":{"ec":{"pem":"issued"}}}' >"$T/in"
run pki-keygen <"$T/in"
is "$rc" 0 "every algorithm has a cert: exit 0"
is "$(cat "$T/out")" "$(cat "$T/in")" "... and the record goes through unchanged (no empty \"key\")"

echo '{"name":"n.test","algos":["ec"]}' >"$T/in"
run pki-keygen --reuse <"$T/in"
like "$(keytext ec)" "*prime256v1*" "--reuse makes a key when the record has none"

# --reuse with a key that is not one of its algorithm, or not a key.
jq -c '.key.ec = .key.rsa' "$T/withcsr" >"$T/in"
run pki-keygen --reuse <"$T/in"
is "$rc" 1 "--reuse with an RSA key under key.ec: exit 1"
is "$(jq -c '.errors | map([.stage, .field])' "$T/out")" '[["pki-keygen","key.ec"]]' \
	"... an error for field key.ec"
like "$(jq -r '.errors[0].message' "$T/out")" "*not an ec key*" "... saying it is not an ec key"

jq -c '.key.ec = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"' \
	"$T/withcsr" >"$T/in"
run pki-keygen --reuse <"$T/in"
is "$rc" 1 "--reuse with a broken key: exit 1"
is "$(jq -r '.errors[0].field' "$T/out")" key.ec "... an error for field key.ec"

# ------------------------------------------------------------ bad records
cat >"$T/in" <<'EOF'
{"name":"first.test","algos":["ec"]}
{"name":"dsa.test","algos":["dsa"]}
{"name":"dup.test","algos":["ec","ec"]}
{"name":"bits.test","algos":["rsa"],"rsa_bits":1024}
{"name":"strbits.test","algos":["rsa"],"rsa_bits":"2048"}
{"name":"curve.test","algos":["ec"],"ec_curve":"P-521"}
{"name":"string.test","algos":"ec"}
{"name":"empty.test","algos":[]}
{"name":"number.test","algos":[1]}
{"name":"keystr.test","algos":["ec"],"key":"not an object"}
{"name":"last.test","algos":["ec"]}
EOF
run pki-keygen <"$T/in"
is "$rc" 1 "a batch with bad records: exit 1"
is "$(jq -r .name "$T/out" | tr '\n' ' ')" \
	"first.test dsa.test dup.test bits.test strbits.test curve.test string.test empty.test number.test keystr.test last.test " \
	"every record is written, in input order"
is "$(jq -r 'select(.errors == null) | "\(.name):\(.key | keys | join(","))"' "$T/out" | tr '\n' ' ')" \
	"first.test:ec last.test:ec " "the good records get their keys"
is "$(jq -c 'select(.errors) | [.name, (.errors | map(.stage, .field))[]]' "$T/out" | tr '\n' ' ')" \
	'["dsa.test","pki-keygen","algos"] ["dup.test","pki-keygen","algos"] ["bits.test","pki-keygen","rsa_bits"] ["strbits.test","pki-keygen","rsa_bits"] ["curve.test","pki-keygen","ec_curve"] ["string.test","pki-keygen","algos"] ["empty.test","pki-keygen","algos"] ["number.test","pki-keygen","algos"] ["keystr.test","pki-keygen","key"] ' \
	"each bad record gets one error naming its field, from pki-keygen"
is "$(jq -c 'select(.errors) | .key' "$T/out" | sort -u | tr '\n' ' ')" '"not an object" null ' \
	"the bad records get no key"
like "$(jq -r 'select(.name == "dsa.test") | .errors[0].message' "$T/out")" \
	'*unknown algorithm*"rsa"*"ec"*' "an unknown algorithm: the message says which are known"
like "$(jq -r 'select(.name == "dup.test") | .errors[0].message' "$T/out")" \
	'*"ec" twice*' "a duplicate algorithm: the message says which"
like "$(jq -r 'select(.name == "bits.test") | .errors[0].message' "$T/out")" \
	'*2048, 3072 or 4096*' "bad rsa_bits: the message says what is allowed"
like "$(jq -r 'select(.name == "curve.test") | .errors[0].message' "$T/out")" \
	'*P-256*P-384*' "bad ec_curve: the message says what is allowed"
like "$(cat "$T/err")" "*pki-keygen: dsa.test: algos: *" \
	"stderr names the stage, the record and the field"
is "$(jq -c 'select(.name == "dsa.test") | del(.errors)' "$T/out")" \
	'{"name":"dsa.test","algos":["dsa"]}' "a bad record is otherwise unchanged"

# ------------------------------------------------------------ bad lines
cat >"$T/in" <<'EOF'
{"name":"one.test","algos":["ec"]}
{"name": "two.test", "algos": ["ec"
["three.test"]

{"name":"five.test","algos":["ec"],"name":"again"}
{"name":"six.test","algos":["ec"]}
EOF
run pki-keygen <"$T/in"
is "$rc" 1 "a batch with malformed lines: exit 1"
is "$(jq -r .name "$T/out" | tr '\n' ' ')" "one.test six.test " \
	"the stage goes on with the next lines"
like "$(cat "$T/err")" "*pki-keygen: line 2: not JSON*" "stderr names line 2 (not JSON)"
like "$(cat "$T/err")" "*pki-keygen: line 3: not a JSON object*" \
	"stderr names line 3 (not an object)"
like "$(cat "$T/err")" "*pki-keygen: line 5: not JSON: duplicate object key*" \
	"stderr names line 5 (a key twice); the blank line 4 is counted and ignored"
nok "the message does not quote the bad line" grep -q 'two.test' "$T/err"

# A record longer than 1 MiB goes on as its name with an error, however
# it arrives; a line longer than 16 MiB is skipped.
pad=$(head -c 1500000 /dev/zero | tr '\0' A)
printf '{"name":"big.test","algos":["ec"],"pad":"%s"}\n{"name":"small.test","algos":["ec"]}\n' \
	"$pad" >"$T/big"
unset pad
# shellcheck disable=SC2002 # a pipe, not a file, on purpose
cat "$T/big" | run pki-keygen
is "$rc" 1 "from a pipe: a 1.5 MB record: exit 1"
is "$(cat "$T/err")" "pki-keygen: big.test: the record is 1500043 bytes, more than the 1048576 a record may have: only its name and claim are kept" \
	"said with its name"
is "$(jq -c '[.name, has("pad"), has("key"), (.errors | length)]' "$T/out" | tr '\n' ' ')" \
	'["big.test",false,false,1] ["small.test",false,true,0] ' \
	"it goes on as its name with the error; the next record is keyed"
run pki-keygen <"$T/big"
is "$(jq -r .name "$T/out" | tr '\n' ' ')" "big.test small.test " \
	"from a file: the same"
head -c 17000000 /dev/zero | tr '\0' A > "$T/huge"
printf '\n{"name":"small.test","algos":["ec"]}\n' >> "$T/huge"
run pki-keygen <"$T/huge"
is "$(cat "$T/err")" "pki-keygen: line 1: longer than 16777216 bytes, skipped" \
	"a line over 16 MiB is skipped, said with its number"
is "$(jq -r .name "$T/out")" small.test "and the next record goes on"
# A record whose name and claim alone are too long goes on as what is
# short of them (it once recursed until the stack overflowed).
pad=$(head -c 1500000 /dev/zero | tr '\0' A)
printf '{"name":"%s","id":7,"algos":["ec"]}\n{"name":"small.test","algos":["ec"]}\n' \
	"$pad" >"$T/big"
unset pad
run pki-keygen <"$T/big"
is "$rc" 1 "a 1.5 MB name: exit 1"
is "$(jq -c '[has("name"), .id, (.errors | length > 0)]' "$T/out" | tr '\n' ' ')" \
	'[false,7,true] [true,null,false] ' \
	"it goes on as its id with errors; the next record is keyed"
nok "stderr does not repeat the long name" grep -q "$(head -c 300 /dev/zero | tr '\0' A)" "$T/err"
rm -f "$T/huge" "$T/big"

# ------------------------------------------------------------ pass-through
jq -c . >"$T/in" <<'EOF'
{"name":"failed.test","algos":["dsa"],"x-note":"h\u00e9llo/\"q\"\t","n":[1,2.5,-7,true,null],
 "errors":[{"stage":"pki-select","message":"earlier"}],"key":{"ec":"not a key"}}
EOF
run pki-keygen <"$T/in"
is "$rc" 0 "a record that already carries errors: exit 0"
is "$(cat "$T/out")" "$(cat "$T/in")" "... passes through byte-identical"

# Reals are written back with 17 significant digits: the same number, not
# always the same text.
echo '{"name":"real.test","errors":["x"],"r":[-3e-7,0.1]}' >"$T/in"
run pki-keygen <"$T/in"
is "$(jq -cS . "$T/out")" "$(jq -cS . "$T/in")" "real numbers pass through as the same values"

jq -c . >"$T/in" <<'EOF'
{"name":"u.test","algos":["ec"],"id":42,"action":"issue","x-custom":{"a":[1,{"b":null}],"s":"\u00fc"},
 "services":[{"name":"https","port":443}],"targets":[{"host":"h"}],"disabled":false,"ocsp_must_staple":true}
EOF
run pki-keygen <"$T/in"
is "$rc" 0 "a record with unknown fields: exit 0"
is "$(jq -cS 'del(.key)' "$T/out")" "$(jq -cS . "$T/in")" "unknown fields pass through unchanged"
is "$(jq -r 'keys_unsorted | join(" ")' "$T/out")" \
	"name algos id action x-custom services targets disabled ocsp_must_staple key" \
	"the order of the fields is kept, the key comes last"

: >"$T/in"
run pki-keygen <"$T/in"
is "$rc:$(wc -c <"$T/out")" "0:0" "empty input: empty output, exit 0"

# ------------------------------------------------------------ flags
echo '{"name":"f.test","algos":["rsa"]}' >"$T/in"
run pki-keygen --rsa-bits 1000 <"$T/in"
is "$rc" 2 "--rsa-bits 1000: exit 2"
like "$(cat "$T/err")" "pki-keygen: --rsa-bits: *" "... with a message naming the flag"
is "$(wc -c <"$T/out")" 0 "... and no record is read"

run pki-keygen --rsa-bits 3000 <"$T/in"
is "$rc" 2 "--rsa-bits 3000 (in range, not a size we make): exit 2"
like "$(cat "$T/err")" "*2048, 3072 or 4096*" "... saying which sizes are allowed"

run pki-keygen --rsa-bits 2048x <"$T/in"
is "$rc" 2 "--rsa-bits 2048x: exit 2"

run pki-keygen --ec-curve P-521 <"$T/in"
is "$rc" 2 "--ec-curve P-521: exit 2"
like "$(cat "$T/err")" "pki-keygen: --ec-curve: use P-256 or P-384" "... with a message"

run pki-keygen --no-such-option <"$T/in"
is "$rc" 2 "an unknown option: exit 2"
like "$(cat "$T/err")" "*no-such-option*usage: pki-keygen*" "... names it and prints the usage"

run pki-keygen extra-argument <"$T/in"
is "$rc" 2 "an argument: exit 2"

run pki-keygen --syslog nowhere <"$T/in"
is "$rc" 2 "an unknown syslog facility: exit 2"

run pki-keygen -h </dev/null
is "$rc" 0 "-h: exit 0"
like "$(cat "$T/out")" "usage: pki-keygen *--reuse*--rsa-bits*--ec-curve*" \
	"-h prints the usage on stdout"

# ------------------------------------------------------------ other keys
# A key that is neither RSA nor EC (Ed25519) under key.ec: an error for
# that record, the batch goes on.
openssl genpkey -algorithm ed25519 -out "$T/ed.pem" 2>/dev/null
jq -cn --rawfile k "$T/ed.pem" '{name: "ed.test", algos: ["ec"], key: {ec: $k}}' >"$T/ed.in"
echo '{"name":"after.test","algos":["ec"]}' | pki-keygen 2>>"$T/stderr.all" >>"$T/ed.in"
run pki-keygen --reuse <"$T/ed.in"
is "$rc:$(jq -r '.errors[0].field // "-"' "$T/out" | tr '\n' ' ')" "1:key.ec - " \
	"an Ed25519 key: an error for its field, not a crash; the next record goes on"

# ------------------------------------------------------------ secrets
ok "stderr of the runs above is not empty" test -s "$T/stderr.all"
nok "no private key ever appeared on stderr" grep -q "$SECRET_PATTERN" "$T/stderr.all"

done_testing
