#!/bin/sh
# schedule-run.t - pki schedule, pki renew and pki -r as runs: backoff
# of a certificate that keeps failing while the others go on, the
# reminder of a local certificate the run cannot sign, renewal keeping
# the key, kill -9 mid-run then a run at once, two runs at once.  The
# due times themselves are tests/schedule.t's.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

# shellcheck source=tests/lib/schedule.sh
. "$(dirname "$0")/lib/schedule.sh"

pki -q ca init

# ------------------------------------------------------------ backoff
# fail.test (ACME, its CA a port where nothing listens) fails every time
# it is tried; ok.test, new, is issued once.  Hourly over a day: fail.test is
# tried at 0, 1, 3, 7 and 15 h (1 h, 2 h, 4 h, 8 h between tries).
pki -q cert add fail.test -c acme
pki -q cert add ok.test -a ec
PKI_ACME_DIRECTORY=https://127.0.0.1:9/dir PKI_ACME_CHALLENGE=http-01
export PKI_ACME_DIRECTORY PKI_ACME_CHALLENGE
t0=$(date -u +%s)
fails() {
	q "SELECT failures FROM schedule s JOIN subjects n ON
		n.certificate = s.certificate WHERE n.name = 'fail.test'"
}
# Each hour pki-select --schedule says whether fail.test is due; a
# whole run is made when it is, and at 2 h, when it is not.
tries='' due=''
for h in $(seq 0 23); do
	now=$(date -u -d "@$((t0 + h * 3600 + 60))" +%Y-%m-%dT%H:%M:%SZ)
	if pki-select --schedule --now "$now" -o fail.test | grep -q fail.test; then
		due="$due $h"
	elif [ "$h" -ne 2 ]; then
		continue
	fi
	before=$(fails)
	run pki schedule -q --now "$now" -o fail.test -o ok.test
	[ "$(fails)" != "$before" ] && tries="$tries $h"
	[ "$h" -eq 0 ] && { r0=$rc; o0=$(cat "$T/out" "$T/err"); }
done
# (2, not 1: pki-acme order finds no account for that CA, a setup error)
is "$r0" 2 "a run in which a certificate failed says so in its exit status"
like "$o0" "fail.test: FAILED: pki-acme: *" "-q still says the failure"
case $o0 in
*ok.test*) fail "and nothing of ok.test, which went well" ;;
*) pass "and nothing of ok.test, which went well" ;;
esac
is "$due" " 0 1 3 7 15" "fail.test is due at 0, 1, 3, 7, 15 h (1 h, 2 h, 4 h, 8 h apart)"
is "$tries" " 0 1 3 7 15" "fail.test tried at 0, 1, 3, 7, 15 h"
is "$(q "SELECT failures || ' ' || (last_error LIKE 'pki-%') FROM schedule s
	JOIN subjects n ON n.certificate = s.certificate WHERE n.name = 'fail.test'")" \
	"5 true" "its failures and the last error are kept"
is "$(valid ok.test)" 1 "ok.test was issued once, not held back"
run pki status fail.test
like "$(cat "$T/out")" "*Schedule*fail.test*|*5 |*pki-acme: *" \
	"pki status shows the failures, the next attempt and the last error"
q "UPDATE certificates SET type = 'local' WHERE id = (SELECT certificate
	FROM subjects WHERE name = 'fail.test')"
pki schedule -q -o fail.test --now "$(date -u -d "@$((t0 + 31 * 3600 + 60))" +%Y-%m-%dT%H:%M:%SZ)"
is "$(q "SELECT failures || ' ' || coalesce(next_attempt::text, 'none')
	FROM schedule s JOIN subjects n ON n.certificate = s.certificate
	WHERE n.name = 'fail.test'")" "0 none" "a success resets the backoff"
run pki schedule -o fail.test --dry-run
is "$(cat "$T/out")" "" "and it is not due any more"

# ------------------------------------------------------------ remind
pki -q cert add m.test -a ec
pki -q issue -o m.test
mv "$PKI_HOME/ca.pass" "$T/ca.pass"
age 300
run pki schedule -o m.test
like "$(cat "$T/err")" "*m.test: local certificate due:*passphrase is not available*" \
	"no CA passphrase: a local certificate due is reminded of"
run pki schedule -o m.test
is "$(grep -c 'local certificate due' "$T/err")" 0 "once"
run pki schedule --dry-run -o m.test
like "$(cat "$T/out")" "m.test: remind*" "and stays listed as due"
mv "$T/ca.pass" "$PKI_HOME/ca.pass"

# ------------------------------------------------------------ pki renew
pki -q cert add r.test -a ec
pki -q issue -o r.test
n1=$(q "SELECT count(*) FROM certinstances WHERE state = 'issued'")
run pki renew -o r.test
is "$rc" 0 "pki renew of a certificate not due: exit 0"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'issued'")" "$n1" \
	"nothing renewed"
k1=$(q "SELECT encode(sha256(d.key), 'hex') FROM certkeydata d JOIN certinstances i
	ON i.id = d.certinstance JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'r.test' ORDER BY i.id DESC LIMIT 1")
run pki renew --force --reuse -o r.test
is "$rc" 0 "pki renew --force --reuse"
is "$(valid r.test)" 2 "a new instance"
ok "with the same key" [ "$(q "SELECT encode(sha256(d.key), 'hex') FROM
	certkeydata d JOIN certinstances i ON i.id = d.certinstance JOIN subjects s
	ON s.certificate = i.certificate WHERE s.name = 'r.test'
	ORDER BY i.id DESC LIMIT 1")" = "$k1" ]
run pki renew --force -o r.test
ok "without --reuse a new key" [ "$(q "SELECT encode(sha256(d.key), 'hex')
	FROM certkeydata d JOIN certinstances i ON i.id = d.certinstance JOIN
	subjects s ON s.certificate = i.certificate WHERE s.name = 'r.test'
	ORDER BY i.id DESC LIMIT 1")" != "$k1" ]
run pki -r 400 -o r.test
is "$rc:$(valid r.test)" "0:4" "pki -r 400: renews what expires within 400 days"

# ------------------------------------------------------------ database away
pki -q db stop
run pki schedule -q
is "$rc" 2 "the database away: exit 2"
like "$(cat "$T/err")" "*cannot register the run in the database*" "says so"
pki -q db start
run pki schedule -q
is "$rc" 0 "back: the next run goes on"

# ------------------------------------------------------------ kill -9
q "SELECT add_cert(('k' || n || '.test')::citext, 'server', 'local', 'ec', false, NULL,
	NULL, NULL, NULL) FROM generate_series(1, 20) n" >/dev/null
setsid pki schedule -q > /dev/null 2>&1 &
pid=$!
sleep 1
kill -9 -- "-$pid" 2>/dev/null
wait "$pid" 2>/dev/null
run pki schedule -q
is "$rc" 0 "after kill -9, a run at once: exit 0"
is "$(q "SELECT count(*) FROM (SELECT certificate FROM certinstances
	WHERE state IN ('issued', 'deployed') GROUP BY certificate
	HAVING count(*) <> 1) x JOIN subjects s USING (certificate)
	WHERE s.name LIKE 'k%.test'")" 0 "each of 20 certificates has one instance, no duplicate"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s USING (certificate)
	WHERE s.name LIKE 'k%.test' AND i.state = 'issued'")" 20 "and all 20 are issued"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 0 \
	"no orphan claim"

# ------------------------------------------------------------ two at once
q "SELECT add_cert(('p' || n || '.test')::citext, 'server', 'local', 'ec', false, NULL,
	NULL, NULL, NULL) FROM generate_series(1, 30) n" >/dev/null
pki schedule -q > "$T/p1" 2>&1 &
p1=$!
pki schedule -q > "$T/p2" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
is "$r1:$r2" "0:0" "two pki schedule at once: both exit 0"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s USING (certificate)
	WHERE s.name LIKE 'p%.test' AND i.state = 'issued'")" 30 \
	"each of 30 certificates issued exactly once"

# ------------------------------------------------------------ no key leaked
nok "no key in any output" grep -l "$SECRET_PATTERN" "$T/stderr.all" "$T/p1" "$T/p2"
done_testing
