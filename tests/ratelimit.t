#!/bin/sh
# ratelimit.t - a CA that limits new orders (429 or 503 with Retry-After,
# a rateLimited problem): pki-acme order sends one refused newOrder per
# batch, not one per record and retry, fails the others at once saying
# until when, and orders again once that time has passed.  The CA is a
# real Pebble behind tests/lib/acme-proxy.py, which answers newOrder as
# $T/proxy/limit says (Pebble has no rate limits of its own).
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v pebble >/dev/null 2>&1 || skip_all "no pebble"
command -v python3 >/dev/null 2>&1 || skip_all "no python3"
# shellcheck source=tests/lib/pebble.sh
. "$(dirname "$0")/lib/pebble.sh"

err=$T/stderr.all
# (no nonce rejected at random: each newOrder POST is counted)
pebble_start PEBBLE_AUTHZREUSE=100 PEBBLE_WFE_NONCEREJECT=0
CA=$PEBBLE_CA_BUNDLE
state=$T/proxy
mkdir -p "$state"
port=''
free_port port
python3 "$PKI_TOP/tests/lib/acme-proxy.py" "$port" "${PEBBLE_DIRECTORY%/dir}" \
	"$T/pebble-tls/cert.pem" "$T/pebble-tls/key.pem" "$CA" "$state" \
	2>"$T/proxy.log" &
at_exit "kill $!"
i=0
while [ ! -e "$state/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
DIR=https://127.0.0.1:$port/dir
is "$(curl -sf --cacert "$CA" "$DIR" | jq -r .newOrder)" "https://127.0.0.1:$port/order-plz" \
	"the proxy serves Pebble's directory as its own"

pki-acme register --directory "$DIR" --email admin@example.test --agree-tos \
	--ca-bundle "$CA" > "$T/acct.json" 2>>"$err"
chmod 600 "$T/acct.json"
for n in 1 2 3 4 5 6; do
	jq -cn --arg n "r$n.test" '{name: $n, ca: "acme", algos: ["ec"]}'
done | pki-keygen 2>>"$err" | pki-csr > "$T/csr" 2>>"$err"
head -3 "$T/csr" > "$T/three"
# order FILE: pki-acme order of the records in FILE through the proxy,
# into $T/out; status in $rc, newOrder POSTs the proxy saw in $posts.
order() {
	: > "$state/neworders"
	rc=0
	pki-acme order --directory "$DIR" --account "$T/acct.json" \
		--ca-bundle "$CA" --challenge http-01 --timeout 60 < "$1" \
		> "$T/out" 2>>"$err" || rc=$?
	posts=$(wc -l < "$state/neworders")
}
msg() { jq -r --arg n "$1" 'select(.name == $n) | .errors[]? | .message' "$T/out"; }
until_of() { jq -r --arg n "$1" 'select(.name == $n) | .errors[]? | .until // empty' "$T/out"; }

# ------------------------------------------------------------ 429, Retry-After
echo "429 30 rateLimited" > "$state/limit"
order "$T/three"
is "$rc:$posts" "1:1" "429 rateLimited with Retry-After 30 on 3 records: exit 1, one newOrder POST in all"
like "$(msg r1.test)" "new order: the CA limits new orders (urn:ietf:params:acme:error:rateLimited: too many new orders (acme-proxy) (HTTP 429)): none until 20*Z" \
	"... the first record says why and until when"
like "$(msg r2.test)" "new order: not sent: the CA limits new orders (*rateLimited*): none until 20*Z" \
	"... the others fail at once, not sent"
is "$(jq -r '.errors[0].until' "$T/out" | sort -u | wc -l)" 1 "... all three with the same \"until\""
u=$(until_of r3.test)
left=$(($(date -u -d "$u" +%s) - $(date -u +%s)))
ok "... which is the Retry-After from now ($left s)" test "$left" -ge 25 -a "$left" -le 30
is "$(jq -s '[.[] | select(.acme.orders.ec)] | length' "$T/out")" 0 "... and no order in any record"
cp "$T/out" "$T/limited"

# ------------------------------------------------------------ 503 without Retry-After
echo "503 0 serverInternal" > "$state/limit"
order "$T/three"
is "$rc:$posts" "1:1" "503 without Retry-After: one POST, the batch paused"
like "$(msg r3.test)" "*none until the next run" "... for the rest of the run"
is "$(until_of r3.test)" "" "... with no \"until\""

# ------------------------------------------------------------ the pause ends
echo "429 2 rateLimited" > "$state/limit"
{ head -1 "$T/csr"; } > "$T/one"
order "$T/one"
is "$rc:$posts" "1:1" "Retry-After 2: refused"
rm "$state/limit"
sleep 2
order "$T/three"
is "$rc:$posts" "0:3" "a run after the time named orders every record again"
is "$(jq -s '[.[] | select(.acme.orders.ec.url)] | length' "$T/out")" 3 "... and gets an order for each"

# ------------------------------------------------------------ other answers as before
echo "400 0 malformed" > "$state/limit"
order "$T/three"
is "$rc:$posts" "1:3" "an order refused for another cause (400 malformed) pauses nothing: each record tries"

# ------------------------------------------------------------ the schedule
# pki-store makes a certificate that failed for the CA's limit wait until
# the time the CA named, when that is later than the backoff's, but at
# most a week: the refused records as pki schedule's renewals, with the
# CA's "until" 2 days away, a year away (a time that lies), none, and
# one that is no time.
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup
for n in 1 2 3 4; do pki -q cert add "r$n.test" -c acme; done
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
at() { date -u -d "$now $1" +%Y-%m-%dT%H:%M:%SZ; }
jq -c --arg d2 "$(at '+2 days')" --arg y "$(at '+1 year')" '
	. + {action: "renew"} | .errors[-1].until = ({"r1.test": $d2,
	"r2.test": $y, "r3.test": null}[.name])' "$T/limited" > "$T/renew"
{
	cat "$T/renew"
	jq -c 'select(.name == "r1.test") | .name = "r4.test" |
		.errors[-1].until = "soon"' "$T/renew"
} > "$T/renew2"
rc=0
pki-store --now "$now" < "$T/renew2" > "$T/stored" 2>>"$err" || rc=$?
is "$(wc -l < "$T/stored")" 4 "pki-store: every record goes on (exit $rc)"
next() {
	psql -X -At -c "SELECT to_char(next_attempt, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
		FROM pki.schedule s JOIN pki.subjects n ON n.certificate = s.certificate
		WHERE n.name = '$1'"
}
is "$(next r1.test)" "$(at '+2 days')" "the CA's time 2 days away: the next attempt then, not in the backoff's hour"
is "$(next r2.test)" "$(at '+7 days')" "a year away: a week at most"
is "$(next r3.test)" "$(at '+1 hour')" "no time named: the backoff's hour"
is "$(next r4.test)" "$(at '+1 hour')" "a time that is no time: the backoff's hour"

nok "no private key in anything printed" grep -q "PRIVATE KEY" "$err"
done_testing
