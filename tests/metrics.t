#!/bin/sh
# metrics.t - pki metrics and pki schedule's PKI_METRICS_FILE, read by a
# real prometheus-node-exporter's textfile collector and scraped with
# curl: every metric of every certificate (one deployed, one that is
# not, one failing, one whose name holds a quote, a backslash and a
# newline) and of the runs, with the database's values; no textfile
# error; a file rewritten while it is scraped is never read half; a
# file that cannot be written is a one-line error.  Local CA only.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/node-exporter.sh
. "$(dirname "$0")/lib/node-exporter.sh"
mkdir "$T/tf"
node_exporter_start "$T/tf"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

# shellcheck source=tests/lib/lookout.sh
. "$(dirname "$0")/lib/lookout.sh"
lookout_certs odd.test
pki -q cert add off.test -a ec
q "UPDATE certificates SET disabled = true WHERE id = (SELECT certificate
	FROM subjects WHERE name = 'off.test')"

# ------------------------------------------------------------ pki schedule
PKI_METRICS_FILE=$T/tf/pki.prom
export PKI_METRICS_FILE
# (the database gives whole seconds, rounded: a time may be t1 + 1)
t0=$(date +%s)
run pki -q schedule
t1=$(date +%s)
is "$rc" 2 "pki schedule, fail.test has no ACME account: exit 2"
ok "pki schedule wrote \$PKI_METRICS_FILE" test -s "$PKI_METRICS_FILE"
is "$(stat -c %a "$PKI_METRICS_FILE")" 644 "mode 0644"
is "$(find "$T/tf" -name '.*' | wc -l)" 0 "no temporary file left"

# cid NAME: the id of certificate NAME
cid() { q "SELECT certificate FROM subjects WHERE name = '$1' AND NOT isaltname"; }
odd=$(cid odd.test)
# A name no check lets in (a database edited by hand): a quote, a
# backslash and a newline.
q "SET session_replication_role = replica;
   UPDATE subjects SET name = E'odd\"\\\\\n.test' WHERE name = 'odd.test'"
run pki metrics "$PKI_METRICS_FILE"
is "$rc:$(cat "$T/out" "$T/err")" "0:" "pki metrics FILE: exit 0, says nothing"

node_exporter_scrape > "$T/scrape"
is "$(grep '^node_textfile_scrape_error ' "$T/scrape")" "node_textfile_scrape_error 0" \
	"node_exporter read the file without an error"
ok "node_exporter saw it" grep -q "^node_textfile_mtime_seconds{file=\"$T/tf/pki.prom\"}" "$T/scrape"
if ! grep -q '^node_textfile_scrape_error 0' "$T/scrape"; then
	diag "$(cat "$T/node-exporter.log")"
fi

# v METRIC LABELS: the value node_exporter serves, as an integer
v() { grep -F "$1{$2} " "$T/scrape" | awk '{ printf "%.0f\n", $NF; exit }'; }
# epoch SQL: a time of the database as unix seconds
epoch() { q "SELECT floor(extract(epoch FROM ($1)))::int8"; }

# What node_exporter must serve of the certificates, from the database
# (the times, the label escaped as the exposition format wants it) and
# from what this test did (which are deployed where).
q "WITH c AS (SELECT s.certificate AS id, '{name=\"' || replace(replace(
	replace(s.name::text, '\\', '\\\\'), '\"', '\\\"'), E'\n', '\\n') || '\"}'
	AS l FROM subjects s JOIN certificates c ON c.id = s.certificate
	WHERE NOT s.isaltname AND s.type = 'server' AND NOT c.disabled),
cur AS (SELECT DISTINCT ON (i.certificate) i.* FROM certinstances i
	WHERE i.state IN ('issued', 'prepublished', 'deployed')
	ORDER BY i.certificate, i.not_after DESC, i.id DESC),
v AS (SELECT c.l, m, t FROM c LEFT JOIN cur ON cur.certificate = c.id
	JOIN schedule sc ON sc.certificate = c.id,
	LATERAL (VALUES ('x509_cert_not_before', cur.not_before),
	('x509_cert_not_after', cur.not_after),
	('certmanager_certificate_expiration_timestamp_seconds', cur.not_after),
	('certmanager_certificate_renewal_timestamp_seconds', cur.renew_at),
	('pki_certificate_due_timestamp_seconds', CASE WHEN isfinite(sc.due_at)
		THEN sc.due_at END),
	('pki_certificate_last_attempt_timestamp_seconds', sc.last_attempt)) x(m, t))
SELECT m || l || ' ' || floor(extract(epoch FROM t))::int8 FROM v
 WHERE t IS NOT NULL
UNION ALL SELECT 'pki_certificate_consecutive_failures' || l || ' ' || failures
  FROM c JOIN schedule ON certificate = c.id
UNION ALL SELECT 'pki_certificate_targets' || l || ' ' || (SELECT count(*)
	FROM targets WHERE certificate = c.id) FROM c" > "$T/want"
odd='odd\"\\\n.test'
cat >> "$T/want" <<EOF
certmanager_certificate_ready_status{condition="False",name="good.test"} 0
certmanager_certificate_ready_status{condition="True",name="good.test"} 1
pki_certificate_targets_current{name="good.test"} 1
certmanager_certificate_ready_status{condition="False",name="nodeploy.test"} 1
certmanager_certificate_ready_status{condition="True",name="nodeploy.test"} 0
pki_certificate_targets_current{name="nodeploy.test"} 0
certmanager_certificate_ready_status{condition="False",name="fail.test"} 1
certmanager_certificate_ready_status{condition="True",name="fail.test"} 0
pki_certificate_targets_current{name="fail.test"} 0
certmanager_certificate_ready_status{condition="False",name="$odd"} 0
certmanager_certificate_ready_status{condition="True",name="$odd"} 1
pki_certificate_targets_current{name="$odd"} 0
EOF
grep -E '^(x509_cert|certmanager|pki_cert)' "$T/scrape" |
	awk '{ printf "%s %.0f\n", $1, $2 }' | sort > "$T/got"
sort -o "$T/want" "$T/want"
if diff -u "$T/want" "$T/got" > "$T/diff"; then
	pass "every certificate's series with the database's values ($(wc -l < "$T/got") series)"
else
	fail "every certificate's series with the database's values"
	diag "$(cat "$T/diff")"
fi
is "$(grep -Fc "name=\"$odd\"" "$T/got"):$(grep -c 'name="fail.test"' "$T/got")" "11:7" \
	"the name with a quote, backslash and newline: every series, escaped; fail.test, no instance: no dates"
la=$(epoch "SELECT last_attempt FROM schedule WHERE certificate = $(cid fail.test)")
ok "fail.test: the last attempt was during the run" test "$la" -ge "$t0" -a "$la" -le $((t1 + 1))
is "$(epoch "SELECT due_at - next_attempt FROM schedule WHERE certificate = $(cid fail.test)")" 0 \
	"fail.test: due at its next attempt (the backoff)"
nok "the disabled certificate is not there" grep -q off.test "$T/scrape"

l='command="pki schedule"'
is "$(v pki_runs_total "$l,outcome=\"failure\""):$(v pki_runs_total "$l,outcome=\"success\""):$(
	v pki_runs_total "$l,outcome=\"error\"")" "0:0:1" "pki_runs_total: one pki schedule, an error"
last=$(v pki_run_last_timestamp_seconds "$l")
is "$(v pki_run_last_success_timestamp_seconds "$l")" 0 \
	"pki_run_last_success_timestamp_seconds: 0, none yet"
lastf=$(q "SELECT extract(epoch FROM last)::int8 FROM run_outcomes WHERE command = 'pki schedule'")
ok "pki_run_last_timestamp_seconds: the end of the run" test "$lastf" -ge "$t0" -a "$lastf" -le $((t1 + 1))
is "$last" "$(epoch "SELECT last FROM run_outcomes WHERE command = 'pki schedule'")" \
	"... as node_exporter serves it"
# every pki metric has its HELP and TYPE
missing=
for m in x509_cert_not_before x509_cert_not_after \
	certmanager_certificate_expiration_timestamp_seconds \
	certmanager_certificate_renewal_timestamp_seconds \
	certmanager_certificate_ready_status pki_certificate_due_timestamp_seconds \
	pki_certificate_consecutive_failures pki_certificate_last_attempt_timestamp_seconds \
	pki_certificate_targets pki_certificate_targets_current pki_runs_total \
	pki_run_last_timestamp_seconds pki_run_last_success_timestamp_seconds; do
	if ! grep -q "^# HELP $m " "$T/scrape" || ! grep -q "^# TYPE $m " "$T/scrape"; then
		missing="$missing $m"
	fi
done
is "$missing" "" "every pki metric: HELP and TYPE served"

# ------------------------------------------------------------ a run that goes well
pki -q cert remove fail.test
t0=$(date +%s)
run pki -q schedule -o good.test
t1=$(date +%s)
is "$rc:$(cat "$T/out" "$T/err")" 0: "pki schedule -o good.test, all well"
node_exporter_scrape > "$T/scrape"
l='command="pki schedule"'
is "$(v pki_runs_total "$l,outcome=\"error\""):$(v pki_runs_total "$l,outcome=\"success\"")" \
	"1:1" "pki_runs_total: one error, one success"
s=$(q "SELECT floor(extract(epoch FROM last))::int8 FROM run_outcomes
	WHERE command = 'pki schedule' AND outcome = 'success'")
ok "pki_run_last_success_timestamp_seconds: the run that went well" \
	test "$s" -ge "$t0" -a "$s" -le $((t1 + 1))
is "$(v pki_run_last_success_timestamp_seconds "$l")" "$(epoch "SELECT last FROM run_outcomes
	WHERE command = 'pki schedule' AND outcome = 'success'")" "... as node_exporter serves it"
nok "fail.test, removed, is gone" grep -q 'name="fail.test"' "$T/scrape"

# ------------------------------------------------------------ written while scraped
# The file is replaced, never written in place: node_exporter reads the
# old one or the new one, whole, however often it reads.
ino=$(stat -c %i "$PKI_METRICS_FILE")
n=$(grep -Ec '^(x509_cert_|certmanager_|pki_)[a-z0-9_]*{' "$PKI_METRICS_FILE")
( i=0; while [ $i -lt 5 ]; do pki metrics "$PKI_METRICS_FILE" || exit 1
	i=$((i + 1)); done; touch "$T/written" ) &
w=$!
k=0 bad=0
while [ ! -e "$T/written" ] && kill -0 "$w" 2>/dev/null; do
	node_exporter_scrape > "$T/scrape.$k" || bad=$((bad + 1))
	grep -q '^node_textfile_scrape_error 0$' "$T/scrape.$k" || bad=$((bad + 1))
	[ "$(grep -Ec '^(x509_cert_|certmanager_|pki_)[a-z0-9_]*{' "$T/scrape.$k")" -eq "$n" ] || bad=$((bad + 1))
	k=$((k + 1))
done
wait "$w"
is "$?:$bad" "0:0" "$k scrapes while the file was rewritten 5 times: every one whole ($n series)"
ok "each time a new file (renamed over the old one)" test "$(stat -c %i "$PKI_METRICS_FILE")" != "$ino"
is "$(find "$T/tf" -name '.*' | wc -l)" 0 "no temporary file left"

# A writer killed before its rename left its temporary file: removed by
# a later one once it is an hour old; one of a writer at work stays.
touch -d '2 hours ago' "$T/tf/.pki.prom.AbCdEf"
touch "$T/tf/.pki.prom.GhIjKl"
pki metrics "$PKI_METRICS_FILE"
is "$(cd "$T/tf" && echo .pki.prom.*)" ".pki.prom.GhIjKl" \
	"a killed writer's temporary file is removed an hour later"
rm -f "$T/tf/.pki.prom.GhIjKl"

# --now: as at a time when every instance has expired
pki metrics --now 2099-01-01T00:00:00Z "$T/later.prom"
is "$(grep -c '^x509_cert_not_after{' "$T/later.prom"):$(grep -c \
	'^certmanager_certificate_ready_status{name="good.test",condition="False"} 1$' "$T/later.prom")" \
	"0:1" "--now after every expiry: no current instance, good.test not ready"

# Every workflow's runs are counted, whatever command and however it
# ends (the run's EXIT trap), its exit status kept.
run pki -q distribute -o good.test
is "$rc" 0 "pki distribute -o good.test: exit 0"
run pki -q distribute -o nodeploy.test
is "$rc" 1 "pki distribute -o nodeploy.test: exit 1"
pki metrics "$PKI_METRICS_FILE"
is "$(grep '^pki_runs_total{command="pki distribute"' "$PKI_METRICS_FILE")" \
'pki_runs_total{command="pki distribute",outcome="success"} 1
pki_runs_total{command="pki distribute",outcome="failure"} 1
pki_runs_total{command="pki distribute",outcome="error"} 0' "pki_runs_total of pki distribute"
is "$(grep '^pki_run_last_success_timestamp_seconds{command="pki schedule"}' "$PKI_METRICS_FILE" |
	sed 's/.* //')" "$s" "pki_run_last_success_timestamp_seconds of pki schedule: still its run that went well"

# ------------------------------------------------------------ cannot write
cp "$PKI_METRICS_FILE" "$T/before"
for f in "$T/no/such/dir/pki.prom" /proc/pki.prom "$T/tf"; do
	run pki metrics "$f"
	is "$rc:$(wc -l < "$T/err")" "2:1" "pki metrics $f: exit 2, one line"
	like "$(cat "$T/err")" "pki: $f: *" "... naming the file"
done
run pki metrics
is "$rc:$(cat "$T/err")" "2:pki: usage: pki metrics [--now TIME] FILE" "no FILE: the usage"
PKI_METRICS_FILE=/proc/pki.prom run pki -q schedule -o good.test
is "$rc:$(cat "$T/err")" "1:pki: /proc/pki.prom: cannot create a file in /proc" \
	"pki schedule that cannot write PKI_METRICS_FILE: exit 1, one line"
pki db stop
run pki metrics "$PKI_METRICS_FILE"
is "$rc" 2 "the database away: exit 2"
ok "... and the file as it was" cmp -s "$T/before" "$PKI_METRICS_FILE"
node_exporter_scrape > "$T/scrape"
is "$(grep '^node_textfile_scrape_error ' "$T/scrape")" "node_textfile_scrape_error 0" \
	"node_exporter still reads it"

done_testing
