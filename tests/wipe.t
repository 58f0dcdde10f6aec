#!/bin/sh
# wipe.t - secrets are wiped after use: each program that reads a secret
# (the CA passphrase and key, a TSIG key, an EAB HMAC key, an ACME
# account key, a record's private key) runs under gdb, which stops it at
# its exit_group - after every free - and dumps its memory with gcore.
# Neither the secret's text nor its bytes may be anywhere in that core.
# (Not under the ASan build: its shadow memory makes cores of terabytes,
# and what is tested is what the normal build leaves in memory.)
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
[ -n "${PKI_ASAN:-}" ] && skip_all "the normal build's memory is what is tested"
[ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0)" = 0 ] ||
	skip_all "gdb may not trace here (kernel.yama.ptrace_scope)"
if ! command -v gdb >/dev/null; then
	[ -n "${CI:-}" ] && { echo "Bail out! no gdb (make deps)"; exit 1; }
	skip_all "no gdb"
fi

# core NAME INPUT PROGRAM ARGS...: PROGRAM run under gdb on INPUT,
# stopped when it exits; its output in $T/out.NAME, its memory in
# $T/core.NAME.
core() {
	_n=$1 _in=$2 _prog=$3 _args=
	shift 3
	for _a; do _args="$_args '$_a'"; done	# no quote in them: paths of $T
	gdb -q -nx -batch -ex 'set confirm off' -ex 'catch syscall exit_group' \
		-ex "run $_args <'$_in' >'$T/out.$_n' 2>'$T/err.$_n'" \
		-ex "gcore $T/core.$_n" -ex kill "$(command -v "$_prog")" \
		>"$T/gdb.$_n" 2>&1
	[ -s "$T/core.$_n" ] || diag "no core of $_n: $(tail -n 3 "$T/gdb.$_n")"
}
# found NAME HEX: how often the bytes HEX are in the core of NAME.
found() {
	perl -0777 -ne 'BEGIN { $n = pack("H*", shift) } $c++ while /\Q$n\E/g;
		END { print $c + 0 }' "$2" "$T/core.$1"
}
# text HEX-less STRING as hex, for found.
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
# scalar FILE [PASSFILE]: the private scalar of the EC key in FILE, hex.
scalar() {
	openssl pkey -in "$1" ${2:+-passin "file:$2"} -noout -text 2>/dev/null |
		awk '/^priv:/ { on = 1; next } /^pub:/ { on = 0 } on' | tr -d ' :\n'
}
# clean NAME WHAT HEX: the core of NAME exists and holds no HEX.
clean() {
	if [ ! -s "$T/core.$1" ]; then
		fail "$1: $2 wiped (no core)"
	else
		is "$(found "$1" "$3")" 0 "$1: $2 wiped"
	fi
}

umask 077
CANARY=wipe-canary-Zq8yX3vP
printf '%s\n' "$CANARY" >"$T/pass"
pki-localca --init --algo ec --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass" >/dev/null 2>&1 ||
	{ echo "Bail out! no CA"; exit 1; }
echo '{"name":"www.example.test","algos":["ec"]}' | pki-keygen >"$T/keyed"
pki-csr <"$T/keyed" >"$T/rec"
jq -r '.key.ec' "$T/keyed" >"$T/rec.key"
ca_scalar=$(scalar "$T/ca.key" "$T/pass")
rec_scalar=$(scalar "$T/rec.key")
ok "the scalars of the CA's and the record's keys are known" \
	[ "${#ca_scalar}" -ge 64 ] && [ "${#rec_scalar}" -ge 64 ]

# The CA signs a record: its passphrase and its key.
core localca "$T/rec" pki-localca --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass"
is "$(jq -r '.cert.ec.pem | length > 0' "$T/out.localca")" true "pki-localca signed under gdb"
clean localca "the CA passphrase" "$(hex "$CANARY")"
clean localca "the CA's private key" "$ca_scalar"
clean localca "the record's private key" "$rec_scalar"
clean localca "the record's key as PEM text" "$(hex "$(sed -n 2p "$T/rec.key")")"

# A record's key through pki-csr (on the pipe, in clear).
core csr "$T/keyed" pki-csr
is "$(jq -r '.csr.ec | length > 0' "$T/out.csr")" true "pki-csr made its request under gdb"
clean csr "the record's private key" "$rec_scalar"
clean csr "the record's key as PEM text" "$(hex "$(sed -n 2p "$T/rec.key")")"

# A TSIG key: read and parsed, then the zone of the name is looked for
# (the resolver at 127.0.0.1:1 refuses).
tsig=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
printf 'key "update-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' "$tsig" >"$T/tsig.key"
jq -nc '{name: "t.example.test", algos: ["ec"], challenges: [{identifier: "t.example.test",
	type: "dns-01", owner: "_acme-challenge.t.example.test.", txt: "v", token: "tok",
	url: "https://ca/chall", wildcard: false}]}' >"$T/chal"
core dnsup "$T/chal" pki-dnsup --key-file "$T/tsig.key" --server 127.0.0.1:1 \
	--resolver 127.0.0.1:1 --timeout 1
clean dnsup "the TSIG secret as text" "$(hex "$tsig")"
clean dnsup "the TSIG secret's bytes" "$(printf '%s' "$tsig" | base64 -d | od -An -tx1 -v | tr -d ' \n')"

# An EAB HMAC key: read and decoded, then the CA (none at 127.0.0.1:1)
# is asked for its directory.
eab=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
printf '%s\n' "$eab" >"$T/eab"
core eab /dev/null pki-acme register --directory https://127.0.0.1:1/dir --email admin@example.test \
	--agree-tos --eab-kid kid-1 --eab-hmac-file "$T/eab" --timeout 1
clean eab "the EAB HMAC key as text" "$(hex "$eab")"

# An ACME account key, clear in the account file.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/acct.key" 2>/dev/null
jq -cn --rawfile k "$T/acct.key" \
	'{account: {directory: "https://127.0.0.1:1/dir", url: "https://127.0.0.1:1/acct/1", key: $k}}' \
	>"$T/acct.json"
core acct "$T/rec" pki-acme order --account "$T/acct.json" --timeout 1
clean acct "the account key" "$(scalar "$T/acct.key")"
clean acct "the account key as PEM text" "$(hex "$(sed -n 2p "$T/acct.key")")"

# The test can fail: a program that keeps its secret is caught.  tr
# holds what it read in its buffer when it exits.
core tr "$T/pass" tr -d x
ok "a program that does not wipe (tr) is caught" [ "$(found tr "$(hex "$CANARY")")" -ge 1 ]

done_testing
