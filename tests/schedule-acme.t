#!/bin/sh
# schedule-acme.t - pki schedule with an ACME CA that speaks ARI (Pebble
# 2.10, 6-day certificates from its default profile): the first run
# issues, the next asks the CA for the renewal window (pki-acme ari)
# and stores it, the window wins over the lifetime rule; a window moved
# into the past by the CA is acted on in the next run, and the renewal
# order names the certificate it replaces.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v pebble >/dev/null 2>&1 || skip_all "no pebble"
# shellcheck source=tests/lib/pebble.sh
. "$(dirname "$0")/lib/pebble.sh"
pebble_new_available ||
	skip_all "no Pebble 2.10 in $PEBBLE_NEW (make deps fetches it)"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

utc() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ; }

pebble_start VERSION=2.10 VALIDITY=518400 PEBBLE_WFE_NONCEREJECT=0
PKI_ACME_DIRECTORY=$PEBBLE_DIRECTORY
PKI_ACME_CA_BUNDLE=$PEBBLE_CA_BUNDLE
PKI_ACME_EMAIL=admin@example.test
PKI_ACME_HTTP_LISTEN=127.0.0.1:$PEBBLE_HTTP_PORT
PKI_ACME_TIMEOUT=60
export PKI_ACME_DIRECTORY PKI_ACME_CA_BUNDLE PKI_ACME_EMAIL \
	PKI_ACME_HTTP_LISTEN PKI_ACME_TIMEOUT
pki -q register --agree-tos
pki -q cert add six.test -c acme -a ec -C http-01

run pki schedule -q
is "$rc:$(cat "$T/out" "$T/err")" "0:" "pki schedule -q issues the new certificate, silently"
inst=$(q "SELECT max(i.id) FROM certinstances i JOIN subjects s
	ON s.certificate = i.certificate WHERE s.name = 'six.test'")
is "$(q "SELECT round(extract(epoch FROM not_after - not_before) / 86400)
	FROM certinstances WHERE id = $inst")" 6 "a 6-day certificate (Pebble's profile)"
run pki schedule --dry-run
is "$(cat "$T/out")" "six.test: ari instance $inst (due $(q "SELECT to_char(not_before,
	'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM certinstances WHERE id = $inst"))" \
	"its renewal window is to be asked for at once"

run pki schedule
is "$rc" 0 "the next run asks the CA"
is "$(q "SELECT status FROM ari WHERE certinstance = $inst")" ok \
	"and stores the window (pki.ari)"
is "$(q "SELECT i.renew_at = a.renew_at AT TIME ZONE 'UTC'
	AND a.renew_at BETWEEN a.window_start AND a.window_end
	FROM certinstances i JOIN ari a ON a.certinstance = i.id WHERE i.id = $inst")" t \
	"the time chosen in it is the instance's renewal time"
is "$(q "SELECT ari_check = next_check AT TIME ZONE 'UTC' FROM certinstances i
	JOIN ari a ON a.certinstance = i.id WHERE i.id = $inst")" t \
	"asked again when the CA said"
run pki schedule --dry-run
is "$(cat "$T/out")" "" "then nothing is due"

# The CA moves the window into the past (as when revoking).
jq -r ".cert.ec.pem" <<EOF > "$T/six.pem"
$(pki-select --serial "$inst")
EOF
ok "the window is set through Pebble's management interface" \
	quiet pebble_set_ari "$T/six.pem" "$(utc -7200)" "$(utc -3600)"
q "UPDATE ari SET next_check = now() - interval '1 second' WHERE certinstance = $inst"
run pki schedule
is "$rc" 0 "a run asks again"
run pki schedule --dry-run
like "$(cat "$T/out")" "six.test: renew*" "the window passed: renew, long before the lifetime rule"
n=$(grep -c 'POST /order-plz' "$PEBBLE_LOG")
run pki schedule
is "$rc" 0 "the run renews"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s
	ON s.certificate = i.certificate WHERE s.name = 'six.test'
	AND i.state = 'issued' AND i.not_after > now() AT TIME ZONE 'UTC'")" 2 \
	"a second valid instance"
is "$(grep -c 'POST /order-plz' "$PEBBLE_LOG")" "$((n + 1))" "with one order"
is "$(grep -c 'ARI: order .* is a replacement of' "$PEBBLE_LOG")" 1 \
	"that named the certificate it replaces (Pebble took it as a replacement)"
run pki schedule --dry-run
like "$(cat "$T/out")" "six.test: ari*" "the new instance's window is asked for next"

nok "no key in any output" grep -q "$SECRET_PATTERN" "$T/stderr.all"
done_testing
