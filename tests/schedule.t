#!/bin/sh
# schedule.t - renewal before expiry: the due times stored in SQL
# (sql/015-schedule.sql), pki-select --schedule, pki schedule (serverPKI
# -S): a certificate's life driven with --now, the per-certificate
# override, the jitter, ARI winning, bad input, -q, --dry-run, expiry,
# archiving and clean-up.  Local CA only: the ACME side of ARI is
# tests/ari.t's; backoff, reminders, pki renew, kill -9 and concurrent
# runs are tests/schedule-run.t's.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

# shellcheck source=tests/lib/schedule.sh
. "$(dirname "$0")/lib/schedule.sh"

pki -q ca init
for n in d90 d6 d375; do pki -q cert add "$n.test" -a ec; done

# ------------------------------------------------------------ due times
run pki-select --schedule
is "$rc" 0 "--schedule: exit 0"
is "$(jq -r '"\(.name) \(.action)"' "$T/out" | tr '\n' ' ')" \
	"d375.test issue d6.test issue d90.test issue " \
	"certificates without an instance are to be issued"
leaf 90; pki -q issue -o d90.test
leaf 6; pki -q issue -o d6.test
leaf 375; pki -q issue -o d375.test
run pki-select --schedule
is "$rc:$(cat "$T/out")" "0:" "issued: nothing is due now"

# 90 days: a third left (day 60), at most a tenth of that earlier (day 57)
is "$(acts d90.test 56.9)" "" "90 days: nothing at day 56.9"
is "$(acts d90.test 60.1)" "renew" "90 days: renew at day 60.1"
is "$(acts d90.test 90.1)" "expire issue" "90 days: expire and issue past not_after"
# 6 days: half left (day 3), the jitter at most 0.3 days
is "$(acts d6.test 2.6)" "" "6 days: nothing at day 2.6"
is "$(acts d6.test 3.01)" "renew" "6 days: renew at day 3"
# 375 days: a third (day 250), no earlier than day 237.5
is "$(acts d375.test 237)" "" "375 days: nothing at day 237"
is "$(acts d375.test 250.1)" "renew" "375 days: renew at day 250"
is "$(q "SELECT count(*) FROM certinstances WHERE renew_at IS NULL
	AND state = 'issued'")" 0 "every issued instance has its renewal time"

# ------------------------------------------------------------ override
run pki cert set d375.test --renew-before 200
is "$rc" 0 "pki cert set --renew-before"
is "$(acts d375.test 150)" "" "renew 200 days before: nothing at day 150"
is "$(acts d375.test 176)" "renew" "and renew at day 176 (375 - 200 + 1)"
run pki cert set d375.test --renew-fraction 0.9
is "$(acts d375.test 40)" "renew" "--renew-fraction 0.9: renew at day 40"
run pki cert set d375.test --renew-fraction 1.5
is "$rc" 1 "a fraction of 1.5 is refused"
like "$(cat "$T/err")" "*renew_fraction*" "and says which"
run pki cert set nosuch.test --renew-before 3
is "$rc:$(cat "$T/err")" "1:pki: no certificate nosuch.test" "an unknown name is said"
run pki cert set d375.test --renew-default
is "$(acts d375.test 237)" "" "back to the default rule"

# ------------------------------------------------------------ ARI wins
inst=$(q "SELECT max(i.id) FROM certinstances i JOIN subjects s ON
	s.certificate = i.certificate WHERE s.name = 'd375.test'")
q "INSERT INTO ari (certinstance, status, window_start, window_end, renew_at,
	checked, next_check) VALUES ($inst, 'ok', now() + interval '1 day',
	now() + interval '3 days', now() + interval '2 days', now(),
	now() + interval '6 hours')"
is "$(acts d375.test 1.5)" "" "ARI window: nothing before the time chosen in it"
is "$(acts d375.test 2.5)" "renew" "and renew after it, long before day 250"
q "DELETE FROM ari WHERE certinstance = $inst"
is "$(acts d375.test 2.5)" "" "the window gone, the lifetime rule again"

# ------------------------------------------------------------ jitter
q "SELECT add_cert(('j' || n || '.test')::citext, 'server', 'local', 'ec', false, NULL,
	NULL, NULL, NULL) FROM generate_series(1, 1000) n" >/dev/null
q "INSERT INTO certinstances (certificate, state, cacert, not_before, not_after)
	SELECT s.certificate, 'issued', 1, timestamp '2030-01-01',
	timestamp '2030-04-01' FROM subjects s WHERE s.name LIKE 'j%.test'"
is "$(q "SELECT min(renew_at) >= timestamp '2030-04-01' - interval '33 days'
	AND max(renew_at) <= timestamp '2030-04-01' - interval '30 days'
	FROM certinstances WHERE not_before = '2030-01-01'")" t \
	"1000 certificates issued together renew between 33 and 30 days before expiry"
is "$(q "SELECT count(DISTINCT date_trunc('hour', renew_at)) > 60
	AND max(n) < 40 FROM (SELECT renew_at, count(*) OVER (PARTITION BY
	date_trunc('hour', renew_at)) n FROM certinstances
	WHERE not_before = '2030-01-01') x")" t \
	"spread over more than 60 hourly runs, fewer than 40 in any"
run pki-select --schedule --now 2030-03-01T12:00:00Z --limit 5
is "$(wc -l < "$T/out")" 5 "--limit 5: five records"
n=$(pki-select --schedule --now 2030-03-01T12:00:00Z | jq -r 'select(.name | startswith("j")) | .action' | sort | uniq -c | awk '{print $1 $2}')
like "$n" "*renew" "on 2030-03-01 some of them renew ($n)"
q "DELETE FROM certificates WHERE id IN (SELECT certificate FROM subjects
	WHERE name LIKE 'j%.test')"

# ------------------------------------------------------------ bad input
run pki-select --schedule --now yesterday
is "$rc" 2 "--now that is not a time: exit 2"
is "$(cat "$T/err")" "pki-select: --now yesterday: not an RFC 3339 time (like 2026-12-05T04:00:00Z)" \
	"says so in one line"
run pki-select --schedule --create
is "$rc" 2 "--schedule with --create: exit 2"
run pki-select --due
is "$rc:$(cat "$T/err")" "2:pki-select: --due, --force, --within and --reuse need --create" \
	"--due alone: exit 2, says it needs --create"
run pki-select --create --due --force
is "$rc:$(cat "$T/err")" "2:pki-select: --due and --force exclude each other" \
	"--due with --force named"
run pki-select --schedule -o nosuch.test
is "$rc" 1 "--schedule -o of no certificate: exit 1"

# ------------------------------------------------------------ dry run
pg_dump -a -T pki.runs > "$T/dump1" 2>/dev/null
run pki schedule --dry-run --now "$(at d90.test 91)"
is "$rc" 0 "pki schedule --dry-run: exit 0"
like "$(cat "$T/out")" "*d90.test: expire instance *d90.test: issue*" \
	"prints what it would do"
run pki -S -n
is "$rc" 0 "pki -S -n is the dry run"
pg_dump -a -T pki.runs > "$T/dump2" 2>/dev/null
ok "--dry-run changed nothing (pg_dump before and after)" \
	diff -u -I '^.restrict' -I '^.unrestrict' "$T/dump1" "$T/dump2"

# ------------------------------------------------------------ a life
# d90 and d6 through their lives with the clock moved by age: pki
# schedule issues, renews at the real time, expires; never a moment
# without a valid instance.
run pki schedule -q
is "$rc:$(cat "$T/out" "$T/err")" "0:" "-q on a run with nothing due prints nothing"
age 61
is "$(valid d90.test):$(valid d6.test)" "1:0" "day 61: d90 valid, d6 long expired"
run pki schedule -q
is "$rc:$(cat "$T/out" "$T/err")" "0:" "-q on a good run that renews prints nothing"
is "$(valid d90.test)" 2 "d90 renewed before it expired: two valid instances"
is "$(valid d6.test)" 1 "d6 issued again"
is "$(q "SELECT string_agg(state::text, ',' ORDER BY id) FROM certinstances
	WHERE certificate = (SELECT certificate FROM subjects WHERE name = 'd6.test')")" \
	"expired,issued" "the instance past not_after expired"
run pki schedule
is "$rc" 0 "run again"
is "$(valid d90.test):$(valid d6.test)" "2:1" "nothing more is issued"
like "$(cat "$T/err")" "*d6.test: instance * archived*" "the expired one is archived"
age 30
is "$(valid d90.test)" 1 "day 91: the old d90 instance is past not_after, the new one valid"
run pki schedule -q
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 0 \
	"no claim left"

# ------------------------------------------------------------ clean
q "UPDATE localca_settings SET leaf_days = 375"
PKI_CLEAN_KEEP=1 pki schedule -q
age 10
PKI_CLEAN_KEEP=1 pki schedule
q "SELECT state, count(*) FROM certinstances GROUP BY 1" >&2
is "$(q "SELECT max(n) FROM (SELECT count(*) n FROM certinstances WHERE
	state = 'archived' GROUP BY certificate) x")" 1 \
	"PKI_CLEAN_KEEP=1: one archived instance per certificate kept"

# ------------------------------------------------------------ no key leaked
nok "no key in any output" grep -q "$SECRET_PATTERN" "$T/stderr.all"
done_testing
