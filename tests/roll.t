#!/bin/sh
# roll.t - the DANE roll, against a real PostgreSQL, a BIND primary and
# secondary, local targets and openssl s_server / s_client: a renewal
# with a new key is prepublished (dig on both servers: current + next),
# held back by pki distribute and pki roll until prepublished + max(2 ×
# TTL, the minimum roll time), then deployed and the old record withdrawn
# (next only), a DANE-verifying client passing at every phase and a stale
# RRset failing; a renewal that keeps its key neither waits nor changes
# DNS; a server that does not answer in time, and a run killed with
# kill -9 during the wait, leave the renewal issued and the next run
# finishes it.  roll-zone.t: zone-file mode, DANE-TA, two renewals.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v setsid >/dev/null 2>&1 || skip_all "no setsid"
# shellcheck source=tests/lib/dane.sh
. "$(dirname "$0")/lib/dane.sh"
dane_setup

q "INSERT INTO services (name, port, tlsaprefix) VALUES
	('fast', 4443, '_4443._tcp.{}. 2 IN TLSA 3 1 1')"
pki -q cert add r.example.test -a ec -S https:443 -S smtp:25
q "SELECT add_target('r.example.test', 'localhost', NULL, 'srv')" >/dev/null
R=_443._tcp.r.example.test.
R25=_25._tcp.r.example.test.

# ------------------------------------------------------------ current
capture pki issue -o r.example.test
capture pki distribute -o r.example.test
r1=$(newest r.example.test)
c=$(data "$r1" "$R")
is "$rc:$(istate "$r1"):$(both "$R")" "0:deployed:3 1 1 $c | 3 1 1 $c" \
	"a first certificate: deployed at once, then its record published on both servers"
free_port TLS_PORT
serve r.example.test "$TLS_PORT"
dane_dig r.example.test "$TLS_PORT" "$R"
like "$rc:$out" "0:*Verification: OK*DANE TLSA 3 1 1 *matched EE certificate*" \
	"phase current: the live certificate passes DANE with the RRs dig returned"

# ------------------------------------------------------------ current + next
renew r.example.test
r2=$(newest r.example.test)
n=$(data "$r2" "$R")
is "$(pki-select --tlsa prepublish -o r.example.test | jq -c '[.action, .instance.id, .instance.state, ([.tlsa[] | .owner] | unique)]')" \
	"[\"prepublish\",$r2,\"issued\",[\"$R25\",\"$R\"]]" \
	"a renewal with a new key needs prepublish: one record naming it and both owners"
capture pki issue -o r.example.test
is "$rc:$(istate "$r2"):$(istate "$r1")" "0:prepublished:deployed" \
	"pki issue prepublishes it after what it issued"
like "$out" "*r.example.test: instance $r2 prepublished: $R25 2 record(s), $R 2 record(s)*" \
	"... and says so"
is "$(both "$R")" "$(rrs 3 1 1 "$c" "$n") | $(rrs 3 1 1 "$c" "$n")" \
	"phase current + next: both records on the primary and the secondary"
is "$(rrset "$NAMED2_PORT" "$R25")" "$(rrs 3 1 1 "$(data "$r1" "$R25")" "$(data "$r2" "$R25")")" \
	"... at every owner"
is "$(q "SELECT prepublish_ttl || ' ' || (prepublished > now() AT TIME ZONE 'UTC' - interval '1 minute')
	FROM certinstances WHERE id = $r2")" "3600 true" "the instance keeps when it was prepublished and the TTL"
like "$(q "SELECT message FROM events WHERE instance = $r2 AND stage = 'pki-store' AND message LIKE '%prepublished%'")" \
	"instance $r2 prepublished: *twice the TTL of 3600 s*" "an event says so"
dane_dig r.example.test "$TLS_PORT" "$R"
like "$rc:$out" "0:*Verification: OK*" "phase current + next: the live (current) certificate passes DANE"

s0=$(serial)
capture pki distribute -o r.example.test
due=$(q "SELECT to_char(roll_due($r2, interval '90 minutes'), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
due_s=$(q "SELECT extract(epoch FROM roll_due($r2, interval '90 minutes'))::bigint")
is "$rc:$(istate "$r2"):$(target_sha r.example.test)" "0:prepublished:$(inst_sha "$r1")" \
	"pki distribute does not deploy it before its wait is over: the target keeps the current certificate"
like "$out" "*r.example.test: instance $r2 prepublished at *, rolls at $due UTC (twice the TTL of 3600 s, at least 90 min)*" \
	"... and says when it will"
is "$(serial)" "$s0" "... and changes no DNS"
capture pki status r.example.test
like "$out" "*Roll*$r2*r.example.test*3600*$(echo "$due" | tr T ' ' | tr -d Z)*" \
	"pki status lists the prepublished instance and when it rolls"
capture pki roll -o r.example.test
is "$rc:$(istate "$r2")" "0:prepublished" "pki roll refuses before the wait is over (exit 0) ..."
like "$out" "*r.example.test: instance $r2 prepublished at *, rolls at $due UTC*" "... and says when it will roll"
capture pki roll -o r.example.test --now "$(date -u -d "@$((due_s - 60))" +%FT%TZ)"
is "$rc:$(istate "$r2")" "0:prepublished" "pki roll --now a minute before it is due: still not"

# ------------------------------------------------------------ next
capture pki roll --now "$(date -u -d "@$((due_s + 60))" +%FT%TZ)" -o r.example.test
is "$rc:$(istate "$r2"):$(istate "$r1")" "0:deployed:expired" \
	"pki roll once it is due: deployed, the one before expired"
is "$(both "$R")" "3 1 1 $n | 3 1 1 $n" "phase next: the old record withdrawn on both servers"
is "$(target_sha r.example.test)" "$(inst_sha "$r2")" "the target holds the next certificate"
like "$(q "SELECT string_agg(stage, ' ' ORDER BY id) FROM events WHERE name = 'r.example.test'
	AND id > (SELECT max(id) FROM events WHERE instance = $r2 AND stage = 'pki-store' AND message LIKE '%prepublished%')")" \
	"*pki-deploy*pki-dnsup*" "deployed first, the old record withdrawn then"
serve r.example.test "$TLS_PORT"
dane_dig r.example.test "$TLS_PORT" "$R"
like "$rc:$out" "0:*Verification: OK*DANE TLSA 3 1 1 *matched EE certificate*" \
	"phase next: the live (next) certificate passes DANE with the RRs dig returned"
dane r.example.test "$TLS_PORT" "3 1 1 $c"
like "$rc:$out" "1:*no matching DANE TLSA records*" "a stale RRset (the current record alone) fails"

# ------------------------------------------------------------ key kept
renew r.example.test --reuse
r3=$(newest r.example.test)
s0=$(serial)
is "$(pki-select --tlsa prepublish -o r.example.test)" "" "a renewal that kept its key needs no prepublish"
capture pki distribute -o r.example.test
is "$rc:$(istate "$r3"):$(q "SELECT prepublished IS NULL FROM certinstances WHERE id = $r3")" "0:deployed:t" \
	"--reuse: deployed at once, without a wait"
is "$(serial):$(both "$R")" "$s0:3 1 1 $n | 3 1 1 $n" "... and DNS is not changed"

# ------------------------------------------------------------ a real wait
# TTL 2 s, no minimum: the roll is due 4 s after the prepublish.
pki -q cert add s.example.test -a ec -S fast:4443
q "SELECT add_target('s.example.test', 'localhost', NULL, 'srv')" >/dev/null
S=_4443._tcp.s.example.test.
echo "PKI_MIN_ROLL_MINS=0" >> "$T/pki.conf"
capture pki issue -o s.example.test
capture pki distribute -o s.example.test
s1=$(newest s.example.test)
renew s.example.test
s2=$(newest s.example.test)
# pki issue prepublishes and deploys nothing: how long a loaded machine
# takes to get to the next command changes nothing below.
capture pki issue -o s.example.test
is "$rc:$(istate "$s2"):$(both "$S")" \
	"0:prepublished:$(rrs 3 1 1 "$(data "$s1" "$S")" "$(data "$s2" "$S")") | $(rrs 3 1 1 "$(data "$s1" "$S")" "$(data "$s2" "$S")")" \
	"TTL 2 s: prepublished"
pre=$(q "SELECT floor(extract(epoch FROM prepublished))::bigint FROM certinstances WHERE id = $s2")
capture pki roll -o s.example.test --now "$(date -u -d "@$pre" +%FT%TZ)"
like "$rc:$(istate "$s2"):$out" "0:prepublished:*rolls at * UTC (twice the TTL of 2 s, at least 0 min)*" \
	"pki roll at the moment it was prepublished: not due"
due=$(q "SELECT ceil(extract(epoch FROM roll_due($s2, interval '0')))::bigint")
is "$(q "SELECT roll_due($s2, interval '0') - prepublished FROM certinstances WHERE id = $s2")" 00:00:04 \
	"due 2 × TTL after"
while [ "$(date +%s)" -le "$due" ]; do sleep 0.2; done
capture pki roll -o s.example.test
is "$rc:$(istate "$s2"):$(both "$S")" "0:deployed:3 1 1 $(data "$s2" "$S") | 3 1 1 $(data "$s2" "$S")" \
	"pki roll once that time passed: deployed, next only"
sed -i 's/^PKI_MIN_ROLL_MINS=.*/PKI_MIN_ROLL_MINS=90/' "$T/pki.conf"

# ------------------------------------------------------------ a server away, kill -9
renew s.example.test
s3=$(newest s.example.test)
cur=$(data "$s2" "$S")
nxt=$(data "$s3" "$S")
kill -STOP "$NAMED2_PID"
sed -i 's/^PKI_DNS_TIMEOUT=.*/PKI_DNS_TIMEOUT=2/' "$T/pki.conf"
capture pki distribute -o s.example.test
is "$rc:$(istate "$s3"):$(istate "$s2")" "1:issued:deployed" \
	"the secondary does not answer: the prepublish fails (exit 1), the renewal stays issued, not deployed"
like "$out" "*s.example.test: prepublish of instance $s3 FAILED: pki-dnsup: *127.0.0.1#$NAMED2_PORT*" \
	"the summary names the server"
like "$(q "SELECT level || ' ' || message FROM events WHERE instance = $s3 ORDER BY id DESC LIMIT 1")" \
	"error dns: $S: not served by 127.0.0.1#$NAMED2_PORT (no answer) within 2 s" "the event log has it, for the instance"
# The run is killed while pki-dnsup waits for the secondary.
setsid pki distribute -o s.example.test >"$T/killed.out" 2>&1 &
_n=0
until [ "$(rrset "$NAMED_PORT" "$S")" = "$(rrs 3 1 1 "$cur" "$nxt")" ] || [ "$_n" -ge 200 ]; do
	sleep 0.05
	_n=$((_n + 1))
done
sleep 0.3
kill -9 -- "-$!" 2>/dev/null
wait "$!" 2>/dev/null
is "$(rrset "$NAMED_PORT" "$S"):$(istate "$s3")" "$(rrs 3 1 1 "$cur" "$nxt"):issued" \
	"kill -9 during the wait: the primary has the records, the renewal is not prepublished"
kill -CONT "$NAMED2_PID"
sed -i 's/^PKI_DNS_TIMEOUT=.*/PKI_DNS_TIMEOUT=15/' "$T/pki.conf"
capture pki distribute -o s.example.test
is "$rc:$(istate "$s3"):$(both "$S")" "0:prepublished:$(rrs 3 1 1 "$cur" "$nxt") | $(rrs 3 1 1 "$cur" "$nxt")" \
	"the next run at once: prepublished, and every server serves both records"
capture pki roll -o s.example.test --now "$(at 91)"
is "$rc:$(istate "$s3"):$(both "$S")" "0:deployed:3 1 1 $nxt | 3 1 1 $nxt" "and rolled"

# ------------------------------------------------------------ bad input
run pki-select --distribute --now yesterday-ish
like "$rc:$(cat "$T/err")" "2:*--now yesterday-ish: not an RFC 3339 time*" "pki-select --now with a bad time: exit 2"
run pki-select --roll
like "$rc:$(cat "$T/err")" "2:*--roll and --min-roll-mins need --distribute*" "--roll without --distribute: exit 2"
run pki-select --distribute --min-roll-mins -1
like "$rc:$(cat "$T/err")" "2:*--min-roll-mins*" "a negative --min-roll-mins: exit 2"
run pki-select --tlsa changed --now "$(at 0)"
like "$rc:$(cat "$T/err")" "2:*--now needs --schedule, --create, --distribute or --tlsa prepublish*" "--now with --tlsa changed: exit 2"
capture pki roll -s localhost
like "$rc:$out" "2:*usage: pki roll ?--min-roll-mins N? ?--now TIME? ?-a?*" "pki roll -s: a usage error"
capture pki roll --now
is "$rc" 2 "pki roll --now without a time: exit 2"
printf '%s\n' "{\"id\":$(q "SELECT cert_id('r.example.test')"),\"name\":\"r.example.test\",\"action\":\"prepublish\",\"tlsa\":[]}" \
	"{\"name\":\"other\",\"action\":\"status\"}" >"$T/bad.json"
run pki-store <"$T/bad.json"
is "$rc:$(jq -r '.errors[0].field + ": " + .errors[0].message' "$T/out" | head -1):$(sed -n 2p "$T/out" | jq -r .name)" \
	"1:instance: a record of pki-select --tlsa prepublish needs its instance's id:other" \
	"pki-store: a prepublish record without its instance fails alone, naming the field"

nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$all" "$T/stderr.all"
done_testing
