#!/bin/sh
# pipeline.t - the stages chained by hand as DESIGN.md shows them:
# pki-keygen | pki-csr | pki-localca | pki-tlsa on one record, on a mixed
# batch with bad records, on empty input, and into a closed stdout.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

# st NAME CMD...: a stage of a pipe; its exit status goes to $T/rc.NAME.
st() {
	_st=$1
	shift
	"$@"
	echo $? >"$T/rc.$_st"
}

# statuses NAME...: the exit statuses that st saved, on one line.
statuses() {
	for _s; do
		cat "$T/rc.$_s"
	done | tr '\n' ' ' | sed 's/ $//'
}

# verify FILE NAME ALGO: the certificate of ALGO of record NAME in FILE
# verifies against the CA.
verify() {
	jq -r --arg n "$2" --arg a "$3" 'select(.name == $n) | .cert[$a].pem // empty' "$1" \
		>"$T/leaf.pem"
	openssl verify -x509_strict -CAfile "$T/ca.pem" "$T/leaf.pem" >/dev/null 2>&1
}

printf 'secret\n' >"$T/pass"
chmod 0600 "$T/pass"
run pki-localca --init --algo ec --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" --passphrase-file "$T/pass"
is "$rc" 0 "a local CA for the pipelines"
cd "$T" || exit 1

# ------------------------------------------------------------ one record
echo '{"name":"a.test","algos":["ec"]}' | st keygen pki-keygen 2>>stderr.all |
	st csr pki-csr 2>>stderr.all |
	st localca pki-localca --ca-cert ca.pem --ca-key ca.key --passphrase-file pass 2>>stderr.all |
	st tlsa pki-tlsa >out 2>>stderr.all
is "$(statuses keygen csr localca tlsa)" "0 0 0 0" "the DESIGN's hand pipeline: every stage exits 0"
is "$(wc -l <out)" 1 "one record in, one out"
is "$(jq -c '[.name, (.key | keys), (.csr | keys), (.cert | keys), .errors]' out)" \
	'["a.test",["ec"],["ec"],["ec"],null]' "it has a key, a CSR and a certificate, no error"
ok "the certificate verifies against the CA" verify out a.test ec
is "$(jq -r .cert.ec.pem out | openssl x509 -noout -pubkey)" \
	"$(jq -r .key.ec out | openssl pkey -pubout)" "the certificate is for the record's key"
is "$(jq -c 'has("tlsa")' out)" false "without services pki-tlsa adds nothing"

echo '{"name":"a.test","algos":["ec"],"services":[{"name":"https","port":443}]}' |
	st keygen pki-keygen 2>>stderr.all | st csr pki-csr 2>>stderr.all |
	st localca pki-localca --ca-cert ca.pem --ca-key ca.key --passphrase-file pass 2>>stderr.all |
	st tlsa pki-tlsa >out 2>>stderr.all
is "$(statuses keygen csr localca tlsa)" "0 0 0 0" "with a service: every stage exits 0"
is "$(jq -r '.tlsa[] | "\(.owner) \(.ttl) \(.usage) \(.selector) \(.mtype)"' out)" \
	"_443._tcp.a.test. 3600 3 1 1" "... and the record gets its TLSA record"
is "$(jq -r '.tlsa[0].data' out)" \
	"$(jq -r .key.ec out | openssl pkey -pubout -outform DER | sha256sum | cut -d ' ' -f 1 | tr a-f A-F)" \
	"... whose data is the SHA-256 of the record's public key"

# ------------------------------------------------------------ a mixed batch
cat >in <<'EOF'
{"name":"one.example.test","algos":["ec"],"services":[{"port":443}]}
{"name":"bad name.example.test","algos":["ec"],"services":[{"port":443}]}
{"name":"dsa.example.test","algos":["dsa"],"services":[{"port":443}]}
{"name":"gall_op","subject_type":"client","algos":["ec"]}
{"name":"three.example.test","ca":"local","algos":["rsa","ec"],"altnames":["www.three.example.test"],"services":[{"name":"smtp","tlsa_prefix":"_25._tcp.{}. 300 IN TLSA 3 1 1"}]}
EOF
{
	st keygen pki-keygen <in >k
	st csr pki-csr <k >c
	st localca pki-localca --ca-cert ca.pem --ca-key ca.key --passphrase-file pass <c >l
	st tlsa pki-tlsa <l >out
} 2>>stderr.all
is "$(statuses keygen csr localca tlsa)" "1 1 0 0" \
	"stage by stage: keygen and csr add an error (exit 1), localca and tlsa pass them on (exit 0)"
is "$(jq -r .name out | tr '\n' '|')" \
	"one.example.test|bad name.example.test|dsa.example.test|gall_op|three.example.test|" \
	"every record is in the output, in input order"
is "$(jq -c 'select(.cert) | .name' out | tr '\n' ' ')" \
	'"one.example.test" "gall_op" "three.example.test" ' "three records have certificates"
is "$(jq -c 'select(.errors) | [.name, (.errors | map(.stage, .field))[]]' out | tr '\n' ' ')" \
	'["bad name.example.test","pki-csr","name"] ["dsa.example.test","pki-keygen","algos"] ' \
	"two records carry one error each, from the stage that found it"
ok "one.example.test verifies" verify out one.example.test ec
ok "gall_op verifies" verify out gall_op ec
ok "three.example.test (RSA) verifies" verify out three.example.test rsa
ok "three.example.test (EC) verifies" verify out three.example.test ec
is "$(jq -c '[.name, (.tlsa // [] | map(.owner))]' out | tr '\n' ' ')" \
	'["one.example.test",["_443._tcp.one.example.test."]] ["bad name.example.test",[]] ["dsa.example.test",[]] ["gall_op",[]] ["three.example.test",["_25._tcp.three.example.test.","_25._tcp.www.three.example.test.","_25._tcp.three.example.test.","_25._tcp.www.three.example.test."]] ' \
	"the good records with services get their TLSA records"
is "$(sed -n 2p out)" "$(sed -n 2p c)" \
	"the record pki-csr refused is untouched by pki-localca and pki-tlsa"
is "$(sed -n 3p out)" "$(sed -n 3p k)" \
	"the record pki-keygen refused is untouched by every later stage"
is "$(jq -c 'del(.errors)' k | sed -n 3p)" "$(sed -n 3p in)" \
	"... and pki-keygen added only the error"

# The same batch through one pipe.
st keygen pki-keygen <in 2>>stderr.all | st csr pki-csr 2>>stderr.all |
	st localca pki-localca --ca-cert ca.pem --ca-key ca.key --passphrase-file pass 2>>stderr.all |
	st tlsa pki-tlsa >pipe.out 2>>stderr.all
is "$(statuses keygen csr localca tlsa)" "1 1 0 0" "through one pipe: the same exit statuses"
is "$(jq -c '[.name, (.cert // {} | keys), (.errors // [] | map(.stage)), (.tlsa // [] | length)]' pipe.out)" \
	"$(jq -c '[.name, (.cert // {} | keys), (.errors // [] | map(.stage)), (.tlsa // [] | length)]' out)" \
	"... and the same records"

# ------------------------------------------------------------ empty input
for s in pki-keygen pki-csr pki-tlsa; do
	run "$s" </dev/null
	is "$rc:$(wc -c <out)" "0:0" "$s: empty input, empty output, exit 0"
done
run pki-localca --ca-cert ca.pem --ca-key ca.key --passphrase-file pass </dev/null
is "$rc:$(wc -c <out)" "0:0" "pki-localca: empty input, empty output, exit 0"
run pki-localca </dev/null
is "$rc:$(wc -c <out)" "0:0" "pki-localca without any CA and nothing to sign: exit 0"
printf '\n  \n\t\n' | st keygen pki-keygen 2>>stderr.all | st csr pki-csr 2>>stderr.all |
	st localca pki-localca --ca-cert ca.pem --ca-key ca.key --passphrase-file pass 2>>stderr.all |
	st tlsa pki-tlsa >out 2>>stderr.all
is "$(statuses keygen csr localca tlsa):$(wc -c <out)" "0 0 0 0:0" \
	"blank lines only: empty output, exit 0 everywhere"

# ------------------------------------------------------------ closed stdout
# Each stage gets its input a second after the reader of its stdout has
# gone, so it writes into a pipe nobody reads.
echo '{"name":"a.test","algos":["ec"],"services":[{"port":443}]}' >in.keygen
{
	pki-keygen <in.keygen >in.csr
	pki-csr <in.csr >in.localca
	pki-localca --ca-cert ca.pem --ca-key ca.key --passphrase-file pass <in.localca >in.tlsa
} 2>>stderr.all
(sleep 1; cat in.keygen) | { st keygen pki-keygen 2>epipe.keygen; } | true &
(sleep 1; cat in.csr) | { st csr pki-csr 2>epipe.csr; } | head -c 0 &
(sleep 1; cat in.localca) | {
	st localca pki-localca --ca-cert ca.pem --ca-key ca.key --passphrase-file pass 2>epipe.localca
} | true &
(sleep 1; cat in.tlsa) | { st tlsa pki-tlsa 2>epipe.tlsa; } | true &
wait
is "$(statuses keygen csr localca tlsa)" "2 2 2 2" \
	"a stage writing into a closed pipe (| true, | head -c0) exits 2"
for s in keygen csr localca tlsa; do
	cat "epipe.$s" >>stderr.all
	like "$(cat "epipe.$s")" "pki-$s: cannot write output: Broken pipe*" \
		"pki-$s says it cannot write its output"
done

rc=0
pki-tlsa <in.tlsa >&- 2>err || rc=$?
cat err >>stderr.all
is "$rc" 2 "a stage with stdout closed exits 2"
like "$(cat err)" "pki-tlsa: cannot write output: Bad file descriptor*" "... and says why"
rc=0
pki-keygen <in.keygen >/dev/full 2>err || rc=$?
cat err >>stderr.all
is "$rc" 2 "a stage writing to a full device exits 2"
like "$(cat err)" "pki-keygen: cannot write output: No space left on device*" "... and says why"

# ------------------------------------------------------------ secrets
ok "stderr of the runs above is not empty" test -s stderr.all
nok "no private key ever appeared on stderr" grep -q "$SECRET_PATTERN" stderr.all

done_testing
