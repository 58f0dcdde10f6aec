#!/bin/sh
# tlsa.t - pki-tlsa run by hand on certificates of a local CA: owners,
# defaults, what the service's TLSA prefix changes, the data checked against
# openssl, records it leaves alone, and bad prefixes.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

# cert ALGO: the certificate PEM of ALGO of the (first) record in $T/certs.
cert() {
	jq -r --arg a "$1" '.cert[$a].pem' "$T/certs" | sed '/^$/d'
}

# hex: stdin in uppercase hex; sha256, sha512: its digest so.
hex() {
	od -An -v -tx1 | tr -d ' \n' | tr a-f A-F
}
sha256() {
	sha256sum | cut -d ' ' -f 1 | tr a-f A-F
}
sha512() {
	sha512sum | cut -d ' ' -f 1 | tr a-f A-F
}

# spki ALGO, der ALGO: the DER public key / certificate of that certificate.
spki() {
	cert "$1" | openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER
}
der() {
	cert "$1" | openssl x509 -outform DER
}

# rrs [JQ-FILTER]: the TLSA records of $T/out, one per line, as
# "owner ttl usage selector mtype algo service", in order.
rrs() {
	jq -r "${1:-.}"' | .tlsa[]? | "\(.owner) \(.ttl) \(.usage) \(.selector) \(.mtype) \(.algo) \(.service)"' \
		"$T/out"
}

# data ALGO [OWNER]: the data of the TLSA records of ALGO (of OWNER), each once.
data() {
	jq -r --arg a "$1" --arg o "${2:-}" \
		'.tlsa[]? | select(.algo == $a and ($o == "" or .owner == $o)) | .data' "$T/out" |
		sort -u
}

printf 'secret\n' >"$T/pass"
chmod 0600 "$T/pass"
pki-localca --init --algo ec --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass" 2>>"$T/stderr.all"
echo '{"name":"www.example.test","algos":["rsa","ec"],"altnames":["alt.example.test","*.example.test","WWW.example.test"]}' |
	pki-keygen 2>>"$T/stderr.all" | pki-csr 2>>"$T/stderr.all" |
	pki-localca --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" --passphrase-file "$T/pass" \
		2>>"$T/stderr.all" | jq -c 'del(.key, .csr)' >"$T/certs"
is "$(jq -c '.cert | keys' "$T/certs")" '["ec","rsa"]' "an RSA and an EC certificate to work on"

# ------------------------------------------------------------ defaults
jq -c '.services = [{"name": "https", "port": 443}]' "$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$rc" 0 "a record with a service: exit 0"
is "$(rrs)" "_443._tcp.www.example.test. 3600 3 1 1 rsa https
_443._tcp.alt.example.test. 3600 3 1 1 rsa https
_443._tcp.www.example.test. 3600 3 1 1 ec https
_443._tcp.alt.example.test. 3600 3 1 1 ec https" \
	"one 3 1 1 record, TTL 3600, per certificate and name; _443._tcp.NAME.; no wildcard; a name once"
is "$(jq -c 'del(.tlsa)' "$T/out")" "$(cat "$T/in")" "pki-tlsa adds tlsa and nothing else"
is "$(data rsa)" "$(spki rsa | sha256)" "3 1 1 RSA data: SHA-256 of the DER public key"
is "$(data ec)" "$(spki ec | sha256)" "3 1 1 EC data: SHA-256 of the DER public key"
is "$(data ec _443._tcp.alt.example.test.)" "$(data ec _443._tcp.www.example.test.)" \
	"every name has the same data"
like "$(data ec)" "????????????????????????????????????????????????????????????????" \
	"64 hex digits"
is "$(jq -c '.tlsa[0] | keys' "$T/out")" '["algo","data","mtype","owner","selector","service","ttl","usage"]' \
	"a TLSA record has owner, ttl, usage, selector, mtype, data, algo, service"

# ------------------------------------------------------------ prefixes
jq -c '.services = [{"name": "smtp", "port": 25, "tlsa_prefix": "_25._tcp.{}. 300 IN TLSA 3 0 1"}]' \
	"$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$rc" 0 "tlsa_prefix 3 0 1: exit 0"
is "$(rrs '.' | sort -u | cut -d ' ' -f 1-5 | sort -u)" "_25._tcp.alt.example.test. 300 3 0 1
_25._tcp.www.example.test. 300 3 0 1" "port, TTL 300 and 3 0 1 come from the prefix"
is "$(data ec)" "$(der ec | sha256)" "3 0 1 data: SHA-256 of the DER certificate"
is "$(data rsa)" "$(jq -r .cert.rsa.sha256 "$T/certs")" "... which is the cert's sha256"

jq -c '.services = [{"tlsa_prefix": "_443._tcp.{}. 3600 IN TLSA 3 1 2"}]' "$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$(rrs | cut -d ' ' -f 3-5 | sort -u)" "3 1 2" "tlsa_prefix 3 1 2"
is "$(data ec)" "$(spki ec | sha512)" "3 1 2 data: SHA-512 of the DER public key"
is "$(data rsa)" "$(spki rsa | sha512)" "... for RSA too"
is "$(jq -c '[.tlsa[] | has("service")] | unique' "$T/out")" '[false]' \
	"a service without a name gives records without one"

jq -c '.services = [{"tlsa_prefix": "_443._tcp.{}. 3600 IN TLSA 3 0 0"}, {"tlsa_prefix": "_443._tcp.{}. 3600 IN TLSA 3 1 0"}]' \
	"$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$(jq -r '.tlsa[] | select(.algo == "ec" and .selector == 0) | .data' "$T/out" | sort -u)" \
	"$(der ec | hex)" \
	"3 0 0 data: the DER certificate in hex"
is "$(jq -r '.tlsa[] | select(.algo == "rsa" and .selector == 1) | .data' "$T/out" | sort -u)" \
	"$(spki rsa | hex)" "3 1 0 data: the DER public key in hex"

jq -c '.services = [{"name": "dot", "tlsa_prefix": "_853._udp.{}. 60 IN TLSA 3 1 1"}, {"name": "https", "port": 443}]' \
	"$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$(rrs | cut -d ' ' -f 1,2,6,7)" "_853._udp.www.example.test. 60 rsa dot
_853._udp.alt.example.test. 60 rsa dot
_853._udp.www.example.test. 60 ec dot
_853._udp.alt.example.test. 60 ec dot
_443._tcp.www.example.test. 3600 rsa https
_443._tcp.alt.example.test. 3600 rsa https
_443._tcp.www.example.test. 3600 ec https
_443._tcp.alt.example.test. 3600 ec https" \
	"two services: one record per certificate x service x name, by service, certificate, name"

jq -c '.services = [{"port": 443}] | .tlsa = [{"owner": "old."}]' "$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$(jq '.tlsa | length' "$T/out"):$(jq -c '[.tlsa[].owner] | index("old.")' "$T/out")" "4:null" \
	"the records replace an old tlsa as a whole"

jq -c '.name = "*.example.test" | .altnames = [] | .services = [{"port": 443}]' "$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$rc:$(jq -c .tlsa "$T/out")" "0:[]" "a wildcard name alone: no TLSA record"

# ------------------------------------------------------------ pass-through
{
	cat "$T/certs"
	jq -c '.services = []' "$T/certs"
	jq -c 'del(.cert) | .services = [{"port": 443}]' "$T/certs"
	jq -c '.cert = {} | .services = [{"port": 443}]' "$T/certs"
	jq -c '.services = [{"tlsa_prefix": "garbage"}] | .errors = [{"stage": "pki-acme", "message": "m"}]' "$T/certs"
} >"$T/in"
run pki-tlsa <"$T/in"
is "$rc" 0 "records without services, without certs, with errors: exit 0"
is "$(cat "$T/out")" "$(cat "$T/in")" "... pass through byte-identical, without tlsa"

# ------------------------------------------------------------ bad services
{
	jq -c '.name = "first.example.test" | .altnames = [] | .services = [{"port": 443}]' "$T/certs"
	for p in "_443._tcp.{}. 3600 IN TLSA 3 1" "_443._tcp.{}. 3600 IN TLSA 3 1 1 x" \
		"_443._tcp.{}. 3600 IN TXT 3 1 1" "443._tcp.{}. 3600 IN TLSA 3 1 1" \
		"_443._tcp.example.test. 3600 IN TLSA 3 1 1" "_443._quic.{}. 3600 IN TLSA 3 1 1" \
		"_0._tcp.{}. 3600 IN TLSA 3 1 1" "_65536._tcp.{}. 3600 IN TLSA 3 1 1" \
		"_443._tcp.{}. 3600 IN TLSA 4 1 1" "_443._tcp.{}. 3600 IN TLSA 3 2 1" \
		"_443._tcp.{}. 3600 IN TLSA 3 1 3" "_443._tcp.{}. -1 IN TLSA 3 1 1" ""; do
		jq -c --arg p "$p" '.services = [{"tlsa_prefix": $p}] | .tlsa = "kept"' "$T/certs"
	done
	jq -c '.services = [{"name": "no port"}]' "$T/certs"
	jq -c '.services = [{"port": "443"}]' "$T/certs"
	jq -c '.services = [{"port": 70000}]' "$T/certs"
	jq -c '.services = [{"port": 443}, {"tlsa_prefix": "nonsense"}]' "$T/certs"
	jq -c '.name = "bad name" | .services = [{"port": 443}]' "$T/certs"
	jq -c '.name = "last.example.test" | .altnames = [] | .services = [{"port": 443}]' "$T/certs"
} >"$T/in"
run pki-tlsa <"$T/in"
is "$rc" 1 "a batch with bad services: exit 1"
is "$(wc -l <"$T/out")" 20 "every record is written"
is "$(jq -c '.errors // [] | map(.field)' "$T/out" | tr '\n' ' ')" \
	'[] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[0]"] ["services[1]"] ["name"] [] ' \
	"each bad service gives an error naming services[N]; a bad name gives one naming name"
is "$(jq -r 'select(.errors) | .errors[].stage' "$T/out" | sort -u)" pki-tlsa \
	"the errors are pki-tlsa's"
is "$(jq -c '[.name, (.tlsa | length)]' "$T/out" | sed -n '1p;20p' | tr '\n' ' ')" \
	'["first.example.test",2] ["last.example.test",2] ' "the good records around them get their records"
is "$(jq -c 'select(.errors) | .tlsa' "$T/out" | sort -u | tr '\n' ' ')" '"kept" null ' \
	"a record with a bad service keeps its tlsa as it was"
like "$(jq -r '.errors[0].message' "$T/out" | sed -n 2p)" \
	'tlsa_prefix is not like "_443._tcp.{}. 3600 IN TLSA 3 1 1"' "the message shows the form wanted"
like "$(cat "$T/err")" "*pki-tlsa: www.example.test: services\[0\]: *" \
	"stderr names the record and the field"

# Numbers out of range, signs and blanks are refused, not wrapped or skipped.
for p in "_443._tcp.{}. 4294967296 IN TLSA 3 1 1" "_4294967739._tcp.{}. 3600 IN TLSA 3 1 1" \
	"_443._tcp.{}. 3600 IN TLSA 3 1 -4294967295" "_ 443._tcp.{}. 3600 IN TLSA 3 1 1"; do
	jq -c --arg p "$p" '.services = [{"tlsa_prefix": $p}]' "$T/certs" >"$T/in"
	run pki-tlsa <"$T/in"
	ok "tlsa_prefix \"$p\" is refused" \
		test "$rc:$(jq -c '[.errors[0].field, .tlsa]' "$T/out")" = '1:["services[0]",null]'
done

: >"$T/in"
run pki-tlsa <"$T/in"
is "$rc:$(wc -c <"$T/out")" "0:0" "empty input: empty output, exit 0"

# ------------------------------------------------------------ usages 0, 2
# DANE-TA (2) and PKIX-TA (0) name the CA: the top of the chain.
jq -c '.services = [{"tlsa_prefix": "_443._tcp.{}. 3600 IN TLSA 2 0 1"}]' "$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$(data ec _443._tcp.www.example.test.)" "$(openssl x509 -in "$T/ca.pem" -outform DER | sha256)" 	"usage 2: the data is the CA certificate's"
jq -c '.services = [{"tlsa_prefix": "_443._tcp.{}. 3600 IN TLSA 0 1 1"}] | .cert.ec.chain = ""' 	"$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$rc:$(jq -r '.errors[0].field' "$T/out")" "1:cert" "usage 0 without a chain: an error"

# ------------------------------------------------------------ stale and bad
jq -c '.services = [] | .tlsa = [{"owner": "old."}]' "$T/certs" >"$T/in"
run pki-tlsa <"$T/in"
is "$rc:$(jq -c 'has("tlsa")' "$T/out")" "0:false" 	"a certificate without services loses an old tlsa"
for bad in '.services = "https"' '.cert = "x"' '.services = [42]'; do
	jq -c "$bad" "$T/certs" >"$T/in"
	run pki-tlsa <"$T/in"
	is "$rc:$(jq -r '.errors | length' "$T/out")" "1:1" "a bad type ($bad) is an error"
done

# ------------------------------------------------------------ flags
run pki-tlsa -h
is "$rc" 0 "-h: exit 0"
like "$(cat "$T/out")" "usage: pki-tlsa *" "-h prints the usage"
run pki-tlsa --port 443 </dev/null
is "$rc" 2 "an unknown option: exit 2"
run pki-tlsa extra </dev/null
is "$rc" 2 "an argument: exit 2"

nok "no private key ever appeared on stderr" grep -q "$SECRET_PATTERN" "$T/stderr.all"

done_testing
