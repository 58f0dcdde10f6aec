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

# ------------------------------------------------------------ pki-acme ari
secs() { date -u -d "$1" +%s; }
# inside FILE: the record's renew_at lies in its window
inside() {
	_r=$(secs "$(jq -r .ari.renew_at "$1")")
	[ "$_r" -ge "$(secs "$(jq -r .ari.window.start "$1")")" ] &&
	[ "$_r" -le "$(secs "$(jq -r .ari.window.end "$1")")" ]
}
run pki-acme ari --ca-bundle "$CA" < "$T/one.json"
is "$rc" 0 "ari: exit 0"
cp "$T/out" "$T/a1"
is "$(jq -r .ari.status "$T/a1")" ok "the record's directory has renewalInfo"
is "$(jq -r .ari.certs.ec.cert_id "$T/a1")" "$id" \
	"its certID equals the openssl CLI's"
is "$(jq -c .ari.window "$T/a1")" "{\"start\":\"$s\",\"end\":\"$e\"}" \
	"the window injected through the management interface is fetched"
ok "the time chosen lies inside it" inside "$T/a1"
is "$(($(secs "$(jq -r .ari.next_check "$T/a1")") - $(secs "$(jq -r .ari.checked "$T/a1")")))" \
	21600 "asked again when Retry-After says (6 h, inside 1 min .. 1 day)"
is "$(jq -c 'del(.ari)' "$T/a1")" "$(jq -c . "$T/one.json")" \
	"nothing else of the record changes"

run pki-acme ari --ca-bundle "$CA" < "$T/a1"
is "$(jq -r .ari.renew_at "$T/out")" "$(jq -r .ari.renew_at "$T/a1")" \
	"asked again, the same window keeps the time chosen"

s2=$(utc -7200) e2=$(utc -3600)
quiet pebble_set_ari "$T/one.pem" "$s2" "$e2"
run pki-acme ari --ca-bundle "$CA" < "$T/a1"
cp "$T/out" "$T/a2"
is "$(jq -c .ari.window "$T/a2")" "{\"start\":\"$s2\",\"end\":\"$e2\"}" \
	"a window moved earlier (the CA wants it renewed now) is seen next time"
ok "and a new time is chosen inside it" inside "$T/a2"
ok "which is due now" test "$(secs "$(jq -r .ari.renew_at "$T/a2")")" -le "$(date +%s)"

# A certificate Pebble never issued: renewalInfo answers 400.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=stray.test -keyout /dev/null -out "$T/stray.pem" -days 2 2>/dev/null
jq -c --rawfile p "$T/stray.pem" '.cert.ec.pem = $p | del(.ari)' "$T/one.json" > "$T/stray.json"
run pki-acme ari --ca-bundle "$CA" < "$T/stray.json"
is "$rc" 0 "a lookup that fails: exit 0, the record goes on"
is "$(jq -c '[.ari.status, (.ari.error | test("HTTP 4[0-9][0-9]$")), has("errors")]' "$T/out")" \
	'["error",true,false]' "the failure is a fact in ari, not a record error"
is "$(($(secs "$(jq -r .ari.next_check "$T/out")") - $(secs "$(jq -r .ari.checked "$T/out")")))" \
	21600 "asked again 6 h after an error"
jq -c '.ca = "local"' "$T/one.json" > "$T/local.json"
run pki-acme ari --ca-bundle "$CA" < "$T/local.json"
is "$(cat "$T/out")" "$(cat "$T/local.json")" "a record of the local CA passes unchanged"

# ------------------------------------------------------------ replaces
grep -c 'POST /order-plz' "$PEBBLE_LOG" > "$T/n0" || true
renewal() {	# renewal NAME CERTID: a record renewing NAME's certificate
	jq -cn --arg n "$1" --arg id "$2" '{name: $n, ca: "acme",
		algos: ["ec"], renews: {instance: 1, cert_id: {ec: $id}}}' |
	pki-keygen 2>>"$err" | pki-csr 2>>"$err"
}
renewal one.test "$id" > "$T/r0"
pki-acme order --account "$T/acct.json" --ca-bundle "$CA" \
	--challenge http-01 < "$T/r0" > "$T/r1" 2>>"$err"
is "$?" 0 "an order with replaces is accepted"
ok "Pebble took it as a replacement" grep -q 'ARI: order .* is a replacement of' \
	"$PEBBLE_LOG"
is "$(jq -r '.errors // [] | length' "$T/r1")" 0 "no error in the record"
pki-acme finish --account "$T/acct.json" --ca-bundle "$CA" \
	--http-listen "$LISTEN" < "$T/r1" > "$T/r2" 2>>"$err"
is "$?" 0 "and finished: the certificate is replaced"
n1=$(grep -c 'POST /order-plz' "$PEBBLE_LOG")
run pki-acme order --account "$T/acct.json" --ca-bundle "$CA" \
	--challenge http-01 < "$T/r0"
is "$rc" 1 "a second order replacing it: exit 1"
is "$(jq -c '.errors[-1] | [.type, .retry]' "$T/out")" \
	'["urn:ietf:params:acme:error:alreadyReplaced",false]' \
	"409 alreadyReplaced is the record's error, marked not to retry"
is "$(grep -c 'POST /order-plz' "$PEBBLE_LOG")" "$((n1 + 1))" \
	"sent once, not retried"
jq -c '.renews.cert_id.ec = "not a certID"' "$T/r0" > "$T/bad"
run pki-acme order --account "$T/acct.json" --ca-bundle "$CA" < "$T/bad"
is "$(jq -r '.errors[-1].field' "$T/out")" renews "a renews that is no certID: an error"

# ------------------------------------------------------------ Pebble 2.4
pebble_start
run pki-acme ari -v --directory "$PEBBLE_DIRECTORY" --ca-bundle "$CA" < "$T/one.json"
is "$rc" 0 "Pebble 2.4 (no renewalInfo): exit 0"
is "$(jq -c '.ari | [.status, .note]' "$T/out")" \
	'["unsupported","the CA'"'"'s directory has no renewalInfo: renewal follows the certificate'"'"'s lifetime"]' \
	"the record says so"
is "$(jq -c 'del(.ari)' "$T/out")" "$(jq -c . "$T/one.json")" "and nothing else changes"
like "$(cat "$T/err")" "*has no renewalInfo*" "stderr says so too"

nok "no key on stderr" grep -q "$SECRET_PATTERN" "$err"
done_testing
