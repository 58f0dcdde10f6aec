#!/bin/sh
# ari.t - ACME Renewal Information (RFC 9773) against real Pebbles on
# loopback: Debian forky's Pebble 2.10 (fetched by make deps,
# tests/lib/get-pebble.sh), whose management interface sets a
# certificate's window, and Debian 12's Pebble 2.4, whose directory has
# no renewalInfo.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v pebble >/dev/null 2>&1 || skip_all "no pebble"
command -v pebble-challtestsrv >/dev/null 2>&1 || skip_all "no pebble-challtestsrv"
# shellcheck source=tests/lib/pebble.sh
. "$(dirname "$0")/lib/pebble.sh"
pebble_new_available ||
	skip_all "no Pebble 2.10 in $PEBBLE_NEW (make deps fetches it)"

err=$T/stderr.all
b64u() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
hex2bin() { perl -e 'print pack("H*", <STDIN>)'; }
# certid PEMFILE: the certID of RFC 9773 4.1 computed with the openssl
# CLI: base64url(AKI keyIdentifier) "." base64url(serial content bytes).
certid() {
	_aki=$(openssl x509 -in "$1" -noout -ext authorityKeyIdentifier |
		sed -n 's/^ *\(keyid:\)\{0,1\}\([0-9A-Fa-f:]\{2,\}\) *$/\2/p' |
		tr -d ':')
	_ser=$(openssl x509 -in "$1" -noout -serial | sed 's/^serial=//')
	[ $((${#_ser} % 2)) = 1 ] && _ser=0$_ser
	case $_ser in [89A-Fa-f]*) _ser=00$_ser ;; esac	# DER: positive
	printf '%s.%s\n' "$(printf '%s' "$_aki" | hex2bin | b64u)" \
		"$(printf '%s' "$_ser" | hex2bin | b64u)"
}
# utc SECONDS: the time SECONDS from now, RFC 3339 UTC.
utc() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ; }

pebble_start VERSION=2.10 VALIDITY=86400 PEBBLE_WFE_NONCEREJECT=0 \
	PEBBLE_AUTHZREUSE=100
CA=$PEBBLE_CA_BUNDLE
LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT
ari_url=$(curl -sf --cacert "$CA" "$PEBBLE_DIRECTORY" | jq -r .renewalInfo)
like "$ari_url" "https://127.0.0.1:*/renewalInfo" \
	"Pebble 2.10's directory has renewalInfo"

# An account and one certificate of Pebble 2.10, by http-01.
pki-acme register --directory "$PEBBLE_DIRECTORY" --email admin@example.test \
	--agree-tos --ca-bundle "$CA" > "$T/acct.json" 2>>"$err"
chmod 600 "$T/acct.json"
issue() {	# issue NAME: a record of NAME with its certificate
	jq -cn --arg n "$1" '{name: $n, ca: "acme", algos: ["ec"]}' |
	pki-keygen 2>>"$err" | pki-csr 2>>"$err" |
	pki-acme order --account "$T/acct.json" --ca-bundle "$CA" \
		--challenge http-01 2>>"$err" |
	pki-acme finish --account "$T/acct.json" --ca-bundle "$CA" \
		--http-listen "$LISTEN" 2>>"$err"
}
issue one.test > "$T/one.json"
jq -r '.cert.ec.pem' "$T/one.json" > "$T/one.pem"
ok "a certificate of Pebble 2.10" openssl x509 -in "$T/one.pem" -noout
id=$(certid "$T/one.pem")
like "$id" "?*.?*" "its certID by the openssl CLI: $id"

# Pebble's own window for it (2/3 of the lifetime, +- 1 day).
curl -sf --cacert "$CA" -D "$T/h" "$ari_url/$id" > "$T/w"
is "$(jq -c '.suggestedWindow | keys' "$T/w")" '["end","start"]' \
	"the renewalInfo of that certID is a window"
like "$(tr -d '\r' < "$T/h" | grep -i '^retry-after:')" "*: 21600" \
	"with Retry-After: 6 h"
s=$(utc 3600) e=$(utc 7200)
ok "the management interface sets a window" quiet pebble_set_ari "$T/one.pem" "$s" "$e"
is "$(curl -sf --cacert "$CA" "$ari_url/$id" | jq -c .suggestedWindow)" \
	"{\"start\":\"$s\",\"end\":\"$e\"}" "and renewalInfo serves it"

nok "no key on stderr" grep -q "$SECRET_PATTERN" "$err"
done_testing
