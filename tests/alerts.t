#!/bin/sh
# alerts.t - telling a person: the alert mail of pki schedule (failures,
# certificates expiring with no renewal, the reminder of local
# certificates the run cannot sign), of pki distribute when it failed,
# none when all is well; the workflows' lines and the programs' at
# serverPKI's syslog levels; pki status --json and --expiring.  Local
# CA certificates only; time moves by moving the instances' dates.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

# shellcheck source=tests/lib/schedule.sh
. "$(dirname "$0")/lib/schedule.sh"

q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init

# The MTA: a sendmail(8) that keeps each message and its arguments.
mkdir "$T/mail"
cat > "$T/sendmail" <<EOF
#!/bin/sh
n=\$(ls "$T/mail" | grep -c '[.]msg\$')
printf '%s\n' "\$*" > "$T/mail/\$n.argv"
cat > "$T/mail/\$n.msg"
EOF
chmod +x "$T/sendmail"
PKI_SENDMAIL=$T/sendmail PKI_ALERT_MAIL=ops@example.test
export PKI_SENDMAIL PKI_ALERT_MAIL
mails() { find "$T/mail" -name '*.msg' | wc -l | tr -d ' '; }
mail() { cat "$T/mail/$1.msg"; }
# move NAME DAYS: NAME's instances DAYS days older
move() {
	q "UPDATE certinstances SET not_before = not_before - $2 * interval '1 day',
		not_after = not_after - $2 * interval '1 day' WHERE certificate =
		(SELECT certificate FROM subjects WHERE name = '$1')"
}
# an ACME certificate whose CA is a port where nothing listens fails
PKI_ACME_DIRECTORY=https://127.0.0.1:9/dir PKI_ACME_CHALLENGE=http-01
export PKI_ACME_DIRECTORY PKI_ACME_CHALLENGE

mkdir -p "$T/loc"
q "INSERT INTO disthosts (fqdn) VALUES ('localhost');
   INSERT INTO places (name, cert_path) VALUES ('loc', '$T/loc/{}'),
	('bad', '/proc/pki-alerts/{}')"
pki -q cert add good.test -a ec -A www.good.test
q "SELECT add_target('good.test', 'localhost', NULL, 'loc')" >/dev/null
pki -q cert add exp.test -a ec

# ------------------------------------------------------------ all well
run pki -q schedule
is "$rc:$(cat "$T/out" "$T/err"):$(mails)" "0::0" \
	"pki -q schedule that went well (two issued, one deployed): no mail, nothing said"
run pki status --expiring 14
is "$rc:$(cat "$T/out")" "0:" "pki status --expiring 14: none, exit 0"

# ------------------------------------------------------------ a failing run
# exp.test: 10 days left, renews only 5 days before expiry: no renewal.
move exp.test 365
pki -q cert set exp.test --renew-before 5
pki -q cert add fail.test -c acme -a ec
run pki -q schedule
r=$rc
is "$(mails)" 1 "a run with a failure and a certificate expiring: one mail"
like "$r" "[12]" "the run's exit status says it failed"
like "$(cat "$T/out")" "fail.test: FAILED: pki-acme: *" "-q still says the failure"
m=$(mail 0)
is "$(cat "$T/mail/0.argv")" "-t -i" "sendmail -t -i: the recipients from the message"
like "$m" "To: ops@example.test
From: pki@*
Subject: pki schedule on *: 2 to look at, 2 expiring within 14 days
Date: ???, ?? ??? 20?? ??:??:?? +0000
Auto-Submitted: auto-generated
*" "an RFC 5322 message: To, From, Subject, Date, Auto-Submitted"
like "$m" "*
  fail.test: FAILED: pki-acme: *" "the failing certificate, its stage and message"
like "$m" "*
Certificates that expire within 14 days with no renewal, or have no valid instance:
  fail.test: no valid instance
  exp.test: expires 20??-??-??T??:??:??Z*" "the certificate expiring with no renewal, and the one with none"
case $m in
*good.test*) fail "nothing of good.test, which is well" ;;
*) pass "nothing of good.test, which is well" ;;
esac
nok "no key material in the mail" grep -q -e "$SECRET_PATTERN" -e BEGIN "$T/mail/0.msg"
run pki status --expiring 14
is "$rc:$(cat "$T/out")" "1:fail.test: no valid instance
exp.test: expires $(q "SELECT rfc3339(max(not_after))
	FROM certinstances WHERE certificate = (SELECT certificate FROM subjects
	WHERE name = 'exp.test')")" "pki status --expiring 14: those two, exit 1"
run pki status --expiring 5 exp.test good.test
is "$rc:$(cat "$T/out")" "0:" "--expiring 5 of exp.test and good.test: none"

# ------------------------------------------------------------ sendmail fails
# pki issue of fail.test fails again and its mail cannot be sent: said
# in one line; the run is what it was.
f1=$(q "SELECT failures FROM schedule JOIN subjects USING (certificate) WHERE name = 'fail.test'")
PKI_SENDMAIL=$T/no-sendmail run pki -q issue -o fail.test
is "$rc" "$r" "pki issue that failed, sendmail not there: the exit status is the failure's"
like "$(cat "$T/out")" "fail.test: FAILED: pki-acme: *" "the failure is said"
is "$(grep -c 'alert mail' "$T/err")" 1 "the mail that was not sent: one line"
like "$(grep 'alert mail' "$T/err")" "pki: alert mail to ops@example.test not sent: $T/no-sendmail exited 127*" \
	"naming the recipient and the sendmail"
is "$(q "SELECT failures FROM schedule JOIN subjects USING (certificate)
	WHERE name = 'fail.test'")" "$((f1 + 1))" "and the run did its work"
cat > "$T/sendmail-tempfail" <<'EOF'
#!/bin/sh
cat > /dev/null
echo "sendmail: cannot connect to the relay" >&2
exit 75
EOF
chmod +x "$T/sendmail-tempfail"
PKI_SENDMAIL=$T/sendmail-tempfail run pki -q schedule -o exp.test
is "$rc" 1 "a run that went well but could not mail: exit 1"
is "$(cat "$T/err")" "pki: alert mail to ops@example.test not sent: $T/sendmail-tempfail exited 75: sendmail: cannot connect to the relay" \
	"one line with the sendmail's own word"
is "$(mails)" 1 "no mail went out"

# ------------------------------------------------------------ bad settings
f2=$(q "SELECT failures FROM schedule JOIN subjects USING (certificate) WHERE name = 'fail.test'")
PKI_ALERT_DAYS=soon run pki -q schedule --now "$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)"
is "$rc:$(cat "$T/err")" "2:pki: PKI_ALERT_DAYS: \"soon\" is not a number of days" \
	"PKI_ALERT_DAYS not a number: exit 2, one line"
PKI_ALERT_MAIL="ops@example.test
Bcc: someone@example.test" run pki -q schedule --now "$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)"
is "$rc:$(cat "$T/err")" "2:pki: PKI_ALERT_MAIL: a mail header is one line" \
	"a second header in PKI_ALERT_MAIL: exit 2, one line"
PKI_SYSLOG=local9 run pki -q schedule
is "$rc:$(cat "$T/err")" "2:pki: PKI_SYSLOG: unknown syslog facility \"local9\" (daemon, user, local0 ... local7)" \
	"an unknown PKI_SYSLOG facility: exit 2, one line"
is "$(q "SELECT failures FROM schedule JOIN subjects USING (certificate)
	WHERE name = 'fail.test'"):$(mails)" "$f2:1" "and nothing was done"
run pki status --expiring soon
is "$rc:$(cat "$T/err")" "2:pki: status --expiring: \"soon\" is not a number of days" \
	"pki status --expiring soon: exit 2, one line"
run pki status --expiring
is "$rc" 2 "--expiring without DAYS: exit 2"
run pki status --now 2030-01-01T00:00:00Z
is "$rc" 2 "--now without --json or --expiring: exit 2"

# ------------------------------------------------------------ all well again
pki -q cert remove fail.test
pki -q cert set exp.test --renew-default
run pki -q schedule
is "$rc:$(cat "$T/out" "$T/err")" "0:" "exp.test renewed: pki -q schedule prints nothing"
is "$(mails)" 1 "and sends no mail"
run pki status --expiring 14
is "$rc:$(cat "$T/out")" "0:" "nothing expiring"

# ------------------------------------------------------------ the reminder
# The CA key's passphrase away, good.test is due (300 days of 375 old):
# the reminder, once, in the mail.
mv "$PKI_HOME/ca.pass" "$T/ca.pass"
move good.test 300
run pki -q schedule
is "$rc:$(mails)" "0:2" "a local certificate the run cannot sign: a mail"
like "$(cat "$T/err")" "pki: good.test: local certificate due: the CA key passphrase is not available to this run; run pki renew -o good.test where it is" \
	"the reminder, one line"
like "$(mail 1)" "*
  good.test: local certificate due: the CA key passphrase is not available*" \
	"the reminder in the mail"
case $(mail 1) in
*"expire within"*) fail "and no certificate expiring" ;;
*) pass "and no certificate expiring" ;;
esac
run pki -q schedule
is "$rc:$(mails):$(cat "$T/out" "$T/err")" "0:2:" "once: the next run sends none"

# ------------------------------------------------------------ status --json
pki-select --schedule --remind -o good.test > "$T/due"
run pki status --json
is "$rc:$(wc -l < "$T/out")" "0:2" "pki status --json: an object per certificate"
jq -c 'select(.name == "good.test")' "$T/out" > "$T/good"
is "$(jq -r '[.name, .type, .ca, (.altnames | join(",")),
	(.instances | length), .instances[0].state,
	(.instances[0] | has("not_before") and has("not_after") and has("renew_at")),
	(.instances[0].hash.ec | test("^[0-9A-F]{64}$"))] | join(" ")' "$T/good")" \
	"good.test server local www.good.test 1 deployed true true" \
	"its name, type, CA, alternative names, instances with dates and hash"
is "$(jq -r '.due.action' "$T/good")" "$(jq -r .action "$T/due")" \
	"its due action is pki-select --schedule's (remind)"
is "$(jq -r '.due.at' "$T/good")" "$(jq -r .due "$T/due")" "and so is its due time"
is "$(jq -r '.expires' "$T/good")" "$(jq -r '.instances[0].not_after' "$T/good")" \
	"expires: the not_after of its best valid instance"
mv "$T/ca.pass" "$PKI_HOME/ca.pass"
is "$(pki status --json good.test | jq -r .due.action)" renew \
	"with the passphrase here, the action is renew"
is "$(pki status --json --now 2000-01-01T00:00:00Z exp.test | jq -r .due.action)" \
	renew "--now: as at that time"

# A second target that fails: pki distribute fails, mails, and
# pki status --json shows the state per target.
q "SELECT add_target('good.test', 'localhost', NULL, 'bad')" >/dev/null
run pki -q distribute
is "$rc:$(mails)" "1:3" "pki distribute that failed on a target: exit 1, a mail"
like "$(cat "$T/out")" "good.test: instance * deployed: 0 of 1 target(s) ok; localhost: mkdir /proc/pki-alerts: *" \
	"-q says the target that failed"
like "$(mail 2)" "*Subject: pki distribute on *
  good.test: instance * 0 of 1 target(s) ok; *" "the mail says it"
is "$(pki status --json good.test | jq -r '.targets | map([.host, .place,
	.status, (.last_error != null)] | join(" ")) | join(", ")')" \
	"localhost bad failed true, localhost loc ok false" \
	"pki status --json: the deployment state per target"
q "SELECT remove_target('good.test', 'localhost', NULL, 'bad')" >/dev/null
is "$(pki status --json -o nosuch.test)" "" "a name that is no certificate: nothing"
run pki status --json --expiring 14
is "$rc:$(cat "$T/out")" "0:" "--json --expiring 14: none, exit 0"
move exp.test 370
run pki status --json --expiring 14
is "$rc:$(jq -r .name "$T/out")" "1:exp.test" "--json --expiring 14: exp.test, exit 1"

# ------------------------------------------------------------ syslog
# The workflows' logger(1) and the programs' syslog(3) to a /dev/log of
# this test (syslog.sh).  The run fails, with no PKI_ALERT_MAIL.
# shellcheck source=tests/lib/syslog.sh
. "$(dirname "$0")/lib/syslog.sh"
syslog_start && syslog=1
pki -q cert add fail2.test -c acme -a ec
PKI_ALERT_MAIL='' PKI_SYSLOG=local6 run ns pki -q schedule
like "$rc:$(cat "$T/out")" "[12]:fail2.test: FAILED: pki-acme: *" "-q: the failure is printed ..."
is "$(wc -l < "$T/out")" 1 "... and nothing else (exp.test renewed)"
is "$(mails)" 3 "PKI_ALERT_MAIL unset: no mail"
if [ -z "${syslog:-}" ]; then
	skip "syslog: no mount namespace with an overlay /dev here (unshare -m)"
else
	syslog_sync
	log=$(cat "$SYSLOG")
	# local6 is 22: err 22 * 8 + 3, notice + 5, info + 6
	like "$log" "*<179>*pki: fail2.test: FAILED: pki-acme: *" \
		"syslog: the failure at local6.err, whatever -q says"
	like "$log" "*<182>*pki: exp.test: issued instance *" \
		"syslog: the certificate issued at local6.info"
	like "$log" "*<182>*pki: exp.test: instance * expired*" \
		"syslog: an instance expired at local6.info"
	like "$log" "*<179>*pki-acme*: *" "syslog: the programs' own errors too"
	nok "no key in syslog" grep -q "$SECRET_PATTERN" "$SYSLOG"
fi

nok "no key in any output" grep -q "$SECRET_PATTERN" "$T/stderr.all" "$T/mail/"*
done_testing
