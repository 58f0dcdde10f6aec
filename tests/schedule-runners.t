#!/bin/sh
# schedule-runners.t - several pki schedule at once share the work
# through the database: three runs on 600 due certificates act on each
# exactly once and each takes a share (pki-select --create claims in
# chunks, locking FOR UPDATE SKIP LOCKED); a run killed with -9 leaves
# claims that two runs at once take over, each claim once; the database
# refuses a second claim of a certificate (sql/023-claims.sql).
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v setsid >/dev/null 2>&1 || skip_all "no setsid"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup
# shellcheck source=tests/lib/schedule.sh
. "$(dirname "$0")/lib/schedule.sh"

q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init

# add_certs PREFIX N: N local EC certificates PREFIX1.test ..., in one
# statement.
add_certs() {
	q "SELECT add_cert(('$1' || n || '.test')::citext, 'server', 'local',
		'ec', false, NULL, NULL, NULL, NULL) FROM generate_series(1, $2) n" \
		>/dev/null
}
# per_cert PREFIX: "instances claims" over the certificates PREFIX*:
# how many have other than exactly one issued instance, how many claims
# are left.
per_cert() {
	q "SELECT (SELECT count(*) FROM subjects s WHERE s.name LIKE '$1%'
		AND NOT s.isaltname AND (SELECT count(*) FROM certinstances i
		WHERE i.certificate = s.certificate AND i.state = 'issued') <> 1)
		|| ' ' || (SELECT count(*) FROM certinstances WHERE state = 'reserved')"
}
# by_run PREFIX: the issued instances of PREFIX* per run, "run:count"
# sorted by run, of the runs named pki schedule.
by_run() {
	q "SELECT string_agg(run || ':' || n, ' ' ORDER BY run) FROM (SELECT
		i.run, count(*) AS n FROM certinstances i JOIN subjects s
		ON s.certificate = i.certificate AND NOT s.isaltname
		JOIN runs r ON r.id = i.run AND r.command = 'pki schedule'
		WHERE s.name LIKE '$1%' AND i.state = 'issued' GROUP BY i.run) x"
}

# The start line: a session holds pki.schedule locked against the row
# locks of the claims until every run waits for it, so that the runs
# claim at the same moment whatever the load of the machine.
barrier_hold() { pg_hold "BEGIN; LOCK TABLE pki.schedule IN EXCLUSIVE MODE;"; }
barrier_release() {	# barrier_release N: once N runs wait, let them go
	_n=0
	until [ "$(pg_waiting)" -ge "$1" ] || [ $_n -ge 600 ]; do
		sleep 0.05
		_n=$((_n + 1))
	done
	is "$(pg_waiting)" "$1" "$1 runs wait at the start line"
	pg_release
}
pid1='' rc1='' rc2='' rc3=''
# start K: pki schedule in a session of its own, its pid in $pidK,
# its output in $T/runK.
start() {
	setsid pki schedule > "$T/run$1" 2>&1 8>&- &
	eval "pid$1=\$!"
	at_exit "kill -9 -\$pid$1"
}
finish() {	# finish K: wait for run K; its exit status in $rcK
	_rc=0
	eval "wait \"\$pid$1\"" 2>/dev/null || _rc=$?
	eval "rc$1=\$_rc"
	cat "$T/run$1" >> "$T/stderr.all"
}

# ------------------------------------------------------------ 600 at once
add_certs c 600
is "$(pki-select --schedule | jq -r .action | sort | uniq -c | tr -s ' ')" \
	" 600 issue" "600 certificates due"
t0=$(date +%s)
barrier_hold
start 1; start 2; start 3
barrier_release 3
finish 1; finish 2; finish 3
diag "three runs of 600 certificates: $(($(date +%s) - t0)) s"
is "$rc1:$rc2:$rc3" "0:0:0" "three pki schedule at once: each exits 0"
is "$(per_cert c)" "0 0" "each certificate has exactly one issued instance, no claim is left"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate =
	i.certificate WHERE s.name LIKE 'c%'")" 600 "600 instances in all: none made twice"
split=$(by_run c)
diag "issued per run: $split"
is "$(echo "$split" | wc -w)" 3 "the work was split: each of the three runs issued some"
is "$(echo "$split" | tr ' ' '\n' | cut -d: -f2 | paste -sd+ | bc)" 600 \
	"and together all 600"
is "$(q "SELECT count(*) FROM events WHERE message LIKE '%taken over%'")" 0 \
	"no run took over a claim of another: none was gone"
is "$(pki-select --schedule | jq -r .action | sort -u)" "" "nothing is due any more"

# ------------------------------------------------------------ one killed
# A run killed with -9 while it holds claims; then two runs at once:
# they take over what it held (one of them each claim), and each
# certificate is issued once.  (Here they meet at the start line when
# they remove the dead run's claims, not when they claim: which of them
# issues what is not said.)
add_certs k 100
start 1
held() { q "SELECT count(*) FROM certinstances i JOIN runs r ON r.id = i.run
	WHERE r.pid = $pid1 AND i.state = 'reserved'"; }
n=0
until [ "$(held)" -gt 0 ] || [ $n -ge 500 ]; do sleep 0.02; n=$((n + 1)); done
kill -9 "-$pid1"
finish 1
run1=$(q "SELECT id FROM runs WHERE pid = $pid1")
dead=$(held)
ok "run $run1 killed with -9 while it held claims ($dead)" [ "$dead" -gt 0 ]
barrier_hold
start 2; start 3
barrier_release 2
finish 2; finish 3
is "$rc2:$rc3" "0:0" "two runs at once after it: both exit 0"
is "$(per_cert k)" "0 0" "each certificate has exactly one issued instance, no claim is left"
is "$(q "SELECT count(*) FROM certinstances WHERE run = $run1")" 0 \
	"nothing of the dead run is left"
is "$(q "SELECT count(*) FROM events WHERE level IN ('info', 'warning') AND
	(message LIKE 'claim % taken over from run $run1 %' OR
	 message LIKE 'instance % removed (a claim of a run that is gone)')")" "$dead" \
	"each of its claims was taken over once, with an event"
like "$(cat "$T/run2" "$T/run3")" "*removed (a claim of a run that is gone)*" \
	"a live run says so"
diag "issued per run: $(by_run k)"

# ------------------------------------------------------------ one claim each
add_certs d 1
cert=$(q "SELECT certificate FROM subjects WHERE name = 'd1.test'")
claim() { q "INSERT INTO certinstances (id, certificate, state, cacert)
	SELECT n, $cert, 'reserved', n FROM nextval(pg_get_serial_sequence(
	'pki.certinstances', 'id')) n RETURNING id" 2>/dev/null; }
first=$(claim)
nok "the database refuses a second claim of a certificate" claim
# sql/023-claims.sql on a database that has two (the index as it was):
# the first is kept, the other removed with an event.
q "DROP INDEX certinstances_reserved; CREATE INDEX certinstances_reserved
	ON certinstances (certificate) WHERE state = 'reserved'"
second=$(claim)
psql -X -q -v ON_ERROR_STOP=1 -f "$PKI_TOP/sql/023-claims.sql" >/dev/null
is "$?:$(q "SELECT string_agg(id::text, ' ') FROM certinstances
	WHERE certificate = $cert")" "0:$first" "023-claims.sql keeps the first of two claims"
is "$(q "SELECT name || ': ' || message FROM events WHERE stage = 'pki db migrate'")" \
	"d1.test: claim $second removed: a second claim of its certificate" \
	"and says which it removed"
is "$(q "SELECT indexdef LIKE 'CREATE UNIQUE%' FROM pg_indexes
	WHERE indexname = 'certinstances_reserved'")" t "the index is unique again"

nok "no key in any output" grep -q "$SECRET_PATTERN" "$T/stderr.all"
done_testing
