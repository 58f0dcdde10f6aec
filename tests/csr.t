#!/bin/sh
# csr.t - pki-keygen | pki-csr run by hand: what the CSRs say (subject,
# subjectAltName, must-staple, digest), client names, the names it refuses,
# keys it cannot use, and records it must leave alone.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

# csr NAME ALGO [FILE]: the CSR of ALGO of the record NAME.
csr() {
	jq -r --arg n "$1" --arg a "$2" 'select(.name == $n) | .csr[$a] // empty' \
		"${3:-$T/out}"
}

# keyof NAME ALGO [FILE]: the key of ALGO of the record NAME.
keyof() {
	jq -r --arg n "$1" --arg a "$2" 'select(.name == $n) | .key[$a] // empty' \
		"${3:-$T/out}"
}

# reqtext NAME ALGO: `openssl req -text` of that CSR.
reqtext() {
	csr "$1" "$2" | openssl req -noout -text 2>&1
}

# san NAME ALGO: the subjectAltName of that CSR, as openssl prints it.
san() {
	reqtext "$1" "$2" | sed -n '/Subject Alternative Name/{n;s/^ *//;p;}'
}

# verified NAME ALGO: the CSR's self-signature is good.
verified() {
	csr "$1" "$2" | openssl req -verify -noout 2>/dev/null
}

# staple NAME ALGO: the CSR asks for the TLS feature status_request,
# OID 1.3.6.1.5.5.7.1.24 (DER 06 08 2b 06 01 05 05 07 01 18).
staple() {
	csr "$1" "$2" | openssl req -outform DER | od -An -v -tx1 | tr -d ' \n' |
		grep -q 06082b06010505070118
}

# same_key NAME ALGO: the CSR's public key is the record's key's.
same_key() {
	[ "$(csr "$1" "$2" | openssl req -noout -pubkey)" = \
		"$(keyof "$1" "$2" | openssl pkey -pubout)" ]
}

# ------------------------------------------------------------ good records
l63=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
long=$l63.long.example.test	# 81 characters, a good host name
jq -c . >"$T/in" <<EOF
{"name":"www.example.test","algos":["rsa","ec"],"ocsp_must_staple":true,
 "altnames":["Mail.example.test","www.example.test","MAIL.example.TEST","*.example.test","WWW.EXAMPLE.TEST"]}
{"name":"plain.example.test","algos":["ec"]}
{"name":"p384.example.test","algos":["ec"],"ec_curve":"P-384","ocsp_must_staple":false}
{"name":"gall_op","subject_type":"client","algos":["ec"]}
{"name":"op@example.test","subject_type":"client","algos":["rsa"]}
{"name":"$long","algos":["ec"]}
EOF
pki-keygen <"$T/in" >"$T/keys" 2>>"$T/stderr.all"
run pki-csr <"$T/keys"
is "$rc" 0 "pki-keygen | pki-csr: exit 0"
is "$(jq -r .name "$T/out" | tr '\n' ' ')" \
	"www.example.test plain.example.test p384.example.test gall_op op@example.test $long " \
	"every record comes out, in order"
is "$(jq -c 'del(.key, .csr)' "$T/out")" "$(jq -c . "$T/in")" \
	"pki-csr adds the CSRs and nothing else"
is "$(jq -c '.key' "$T/out")" "$(jq -c '.key' "$T/keys")" "the keys are untouched"

ok "the RSA CSR's signature verifies" verified www.example.test rsa
ok "the EC CSR's signature verifies" verified www.example.test ec
ok "the RSA CSR is for the record's RSA key" same_key www.example.test rsa
ok "the EC CSR is for the record's EC key" same_key www.example.test ec
is "$(csr www.example.test rsa | head -n 1)" "-----BEGIN CERTIFICATE REQUEST-----" \
	"a CSR is PEM PKCS#10"
is "$(csr www.example.test ec | openssl req -noout -subject)" "subject=CN = www.example.test" \
	"the subject is CN = name"
is "$(san www.example.test ec)" \
	"DNS:www.example.test, DNS:Mail.example.test, DNS:*.example.test" \
	"subjectAltName: name and altnames, duplicates (in any case) once"
is "$(san www.example.test rsa)" "$(san www.example.test ec)" \
	"both algorithms ask for the same names"
is "$(san plain.example.test ec)" "DNS:plain.example.test" \
	"without altnames the subjectAltName holds the name"

ok "ocsp_must_staple true: the RSA CSR asks for must-staple" staple www.example.test rsa
ok "ocsp_must_staple true: the EC CSR asks for must-staple" staple www.example.test ec
like "$(reqtext www.example.test ec)" "*TLS Feature:*status_request*" \
	"openssl shows it as TLS Feature status_request"
nok "no ocsp_must_staple: no must-staple" staple plain.example.test ec
nok "ocsp_must_staple false: no must-staple" staple p384.example.test ec

like "$(reqtext www.example.test rsa)" "*Signature Algorithm: sha256WithRSAEncryption*" \
	"RSA CSRs are signed with SHA-256"
like "$(reqtext www.example.test ec)" "*Signature Algorithm: ecdsa-with-SHA256*" \
	"P-256 CSRs are signed with SHA-256"
like "$(reqtext p384.example.test ec)" "*NIST CURVE: P-384*" "a P-384 key"
like "$(reqtext p384.example.test ec)" "*Signature Algorithm: ecdsa-with-SHA384*" \
	"P-384 CSRs are signed with SHA-384"

ok "a client CSR (gall_op) verifies" verified gall_op ec
is "$(csr gall_op ec | openssl req -noout -subject)" "subject=CN = gall_op" \
	"a client's subject is CN = its name"
is "$(san gall_op ec)" "" "a client name that is no host name is not in subjectAltName"
is "$(san op@example.test rsa)" "email:op@example.test" \
	"a client name with @ goes to subjectAltName as an email address"

ok "an ${#long}-character host name: its CSR verifies" verified "$long" ec
is "$(csr "$long" ec | openssl req -noout -subject)" "subject=" \
	"a name longer than the 64 characters of a CN leaves the subject empty"
is "$(san "$long" ec)" "DNS:$long" "... and is in subjectAltName"

# ------------------------------------------------------------ bad names
label64=a$l63
name254=$l63.$l63.$l63.cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
is "${#label64}:${#name254}" "64:254" "the long names are as long as meant"
{
	echo '{"name":"good.example.test","algos":["ec"]}'
	# shellcheck disable=SC2016 # names that must not be expanded
	for n in "a b.test" "a..b.test" "$label64.test" "$name254" '$(reboot)' \
		"'; DROP TABLE certificates; --" "-lead.test" "trail-.test" \
		"a.test." "" "*.*.test" "a*.test" "ü.test"; do
		jq -nc --arg n "$n" '{name: $n, algos: ["ec"]}'
	done
	echo '{"algos":["ec"]}'
	echo '{"name":42,"algos":["ec"]}'
	echo '{"name":"gall op","subject_type":"client","altnames":["gall_op"],"algos":["ec"]}'
	echo '{"name":"alt1.example.test","altnames":["ok.example.test","bad name.test"],"algos":["ec"]}'
	echo '{"name":"alt2.example.test","altnames":"x.example.test","algos":["ec"]}'
	echo '{"name":"alt3.example.test","altnames":[7],"algos":["ec"]}'
	# shellcheck disable=SC2016
	echo '{"name":"alt4.example.test","altnames":["$(reboot).example.test"],"algos":["ec"]}'
	echo '{"name":"good2.example.test","algos":["ec"]}'
} >"$T/in"
pki-keygen <"$T/in" >"$T/keys" 2>>"$T/stderr.all"
is "$(jq 'select(.key.ec)' "$T/keys" | jq -s length)" 22 \
	"pki-keygen does not check names: every record has a key"
run pki-csr <"$T/keys"
is "$rc" 1 "a batch with bad names: exit 1"
is "$(wc -l <"$T/out")" 22 "every record is written"
is "$(jq -c .name "$T/out" | tr '\n' ' ')" "$(jq -c .name "$T/in" | tr '\n' ' ')" \
	"... in input order"
ok "the good record before the bad ones gets its CSR" verified good.example.test ec
ok "the good record after the bad ones gets its CSR" verified good2.example.test ec
is "$(jq -c 'select(.errors) | .errors | map(.field) | join(" ")' "$T/out" | tr '\n' ' ')" \
	'"name" "name" "name" "name" "name" "name" "name" "name" "name" "name" "name" "name" "name" "name" "name" "altnames[0]" "altnames[1]" "altnames" "altnames[0]" "altnames[0]" ' \
	"each bad name gives one error naming field name or altnames[N]"
is "$(jq -r 'select(.errors) | .errors[].stage' "$T/out" | sort -u)" pki-csr \
	"the errors are pki-csr's"
is "$(jq -c 'select(.errors) | has("csr")' "$T/out" | sort -u)" false \
	"no record with a bad name gets a CSR"
is "$(jq -c 'select(.errors == null) | .name' "$T/out" | tr '\n' ' ')" \
	'"good.example.test" "good2.example.test" ' "only the good records have no error"

# why NAME: the message of the record NAME's first error.
why() {
	jq -r --arg n "$1" 'select(.name == $n) | .errors[0].message' "$T/out"
}
like "$(why "a b.test")" "*character other than letter, digit, hyphen or dot*" \
	"a space: a character that is not allowed"
like "$(why "a..b.test")" "*empty label*" "a..b: an empty label"
like "$(why "$label64.test")" "*label longer than 63*" "a 64-character label"
like "$(why "$name254")" "*longer than 253*" "a 254-character name"
# shellcheck disable=SC2016
like "$(why '$(reboot)')" "*character other than*" "\$(reboot) is refused"
like "$(why "'; DROP TABLE certificates; --")" "*character other than*" \
	"SQL in a name is refused"
like "$(why "-lead.test")" "*hyphen*" "a leading hyphen"
like "$(why "trail-.test")" "*hyphen*" "a trailing hyphen"
like "$(why "a.test.")" "*trailing dot*" "a trailing dot"
like "$(why "")" "*empty name*" "an empty name"
like "$(why "*.*.test")" "*wildcard*" "a wildcard that is not the first label"
like "$(why "gall op")" "*character other than*" \
	"a client's altnames must be host names"
like "$(cat "$T/err")" "*pki-csr: alt1.example.test: altnames\[1\]: *" \
	"stderr names the record and the field"
is "$(jq -c 'select(.name == "alt2.example.test") | del(.errors, .key)' "$T/out")" \
	'{"name":"alt2.example.test","altnames":"x.example.test","algos":["ec"]}' \
	"a bad record is otherwise unchanged"

# ------------------------------------------------------------ bad keys
jq -c 'select(.name == "good.example.test") | del(.csr)' "$T/out" >"$T/good"
rsa=$(echo '{"name":"x.test"}' | pki-keygen 2>>"$T/stderr.all" | jq .key.rsa)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
	openssl pkcs8 -topk8 -passout pass:secret >"$T/enc.pem"
{
	jq -c --argjson k "$rsa" '.name = "wrongalgo.test" | .key.ec = $k' "$T/good"
	jq -c '.name = "garbage.test" | .key.ec = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"' "$T/good"
	jq -c --rawfile k "$T/enc.pem" '.name = "encrypted.test" | .key.ec = $k' "$T/good"
	jq -c '.name = "dsa.test" | .key = {"dsa": "x"}' "$T/good"
	jq -c '.name = "number.test" | .key.ec = 5' "$T/good"
	jq -c '.name = "csrstr.test" | .csr = "x"' "$T/good"
	cat "$T/good"
} >"$T/in"
run pki-csr <"$T/in"
is "$rc" 1 "a batch with bad keys: exit 1"
is "$(jq -c '[.name, (.errors // [] | map(.field))[]]' "$T/out" | tr '\n' ' ')" \
	'["wrongalgo.test","key.ec"] ["garbage.test","key.ec"] ["encrypted.test","key.ec"] ["dsa.test","key"] ["number.test","key"] ["csrstr.test","csr"] ["good.example.test"] ' \
	"each bad key gives an error naming its field; the good record goes on"
like "$(why wrongalgo.test)" "*not an ec key*" "an RSA key under key.ec: not an ec key"
like "$(why garbage.test)" "*not a PEM private key*" "a broken key: not a PEM private key"
like "$(why encrypted.test)" "*encrypted*no passphrase*" "an encrypted key: said so"
is "$(jq -c 'select(.errors) | .csr | objects | keys' "$T/out" | sort -u)" '' \
	"no record with a bad key gets a CSR"
ok "the good record gets its CSR" verified good.example.test ec

# ------------------------------------------------------------ pass-through
jq -c . >"$T/in" <<'EOF'
{"name":"nokey.example.test","algos":["ec"],"x":{"y":[1,"\u00e9"]},"services":[{"port":443}]}
{"name":"emptykey.example.test","algos":["ec"],"key":{}}
{"name":"failed.example.test","algos":["ec"],"key":{"ec":"not a key"},"errors":[{"stage":"pki-keygen","message":"m"}]}
{"name":"bad name","algos":["ec"]}
EOF
run pki-csr <"$T/in"
is "$rc" 0 "records without keys or with errors: exit 0"
is "$(cat "$T/out")" "$(cat "$T/in")" \
	"records without keys (even with bad names) or with errors pass through byte-identical"

jq -c '.cert = {"ec": {"pem": "issued"}}' "$T/good" >"$T/in"
run pki-csr <"$T/in"
is "$(cat "$T/out")" "$(cat "$T/in")" "an algorithm that has a cert gets no CSR"
pki-csr <"$T/good" >"$T/in" 2>>"$T/stderr.all"
run pki-csr <"$T/in"
is "$(cat "$T/out")" "$(cat "$T/in")" "a CSR already made is kept as it is"

: >"$T/in"
run pki-csr <"$T/in"
is "$rc:$(wc -c <"$T/out")" "0:0" "empty input: empty output, exit 0"

# ------------------------------------------------------------ flags
run pki-csr -h
is "$rc" 0 "-h: exit 0"
like "$(cat "$T/out")" "usage: pki-csr *" "-h prints the usage"
run pki-csr --rsa-bits 2048 </dev/null
is "$rc" 2 "an option it does not have: exit 2"
like "$(cat "$T/err")" "*usage: pki-csr*" "... with the usage"
run pki-csr file.json </dev/null
is "$rc" 2 "an argument: exit 2"

# ------------------------------------------------------------ other keys
# A key that is neither RSA nor EC (Ed25519) under key.ec: an error for
# that record, the batch goes on.
openssl genpkey -algorithm ed25519 -out "$T/ed.pem" 2>/dev/null
jq -cn --rawfile k "$T/ed.pem" '{name: "ed.test", algos: ["ec"], key: {ec: $k}}' >"$T/ed.in"
echo '{"name":"after.test","algos":["ec"]}' | pki-keygen 2>>"$T/stderr.all" >>"$T/ed.in"
run pki-csr <"$T/ed.in"
is "$rc:$(jq -r '.errors[0].field // "-"' "$T/out" | tr '\n' ' ')" "1:key.ec - " \
	"an Ed25519 key: an error for its field, not a crash; the next record goes on"

# ------------------------------------------------------------ secrets
ok "stderr of the runs above is not empty" test -s "$T/stderr.all"
nok "no private key ever appeared on stderr" grep -q "$SECRET_PATTERN" "$T/stderr.all"

done_testing
