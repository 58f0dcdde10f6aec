#!/bin/sh
# recover.t - left alone, pki recovers: pki-store never loses a record
# (database down, restarted or stopped mid-stream: every record comes
# out, the ones not stored are kept in the spool and stored by the next
# run), and runs know who is alive (the claims of a run killed with -9
# are taken over at once by the next run; a live run's claims are left
# to it, and said so).
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

err=$T/stderr
ok "pki ca init" quiet pki -q ca init
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
spool=$PKI_HOME/spool

issued() {	# the valid instances of certificates named like $1
	q "SELECT count(*) FROM certinstances i JOIN subjects s
		ON s.certificate = i.certificate AND NOT s.isaltname
		WHERE s.name LIKE '$1' AND i.state = 'issued'"
}
reserved() { q "SELECT count(*) FROM certinstances WHERE state = 'reserved'"; }
spooled() { cat "$spool"/*.jsonl 2>/dev/null | wc -l; }
made() {	# made NAME...: claimed and signed, not stored, into $T/made
	_o=
	for _n in "$@"; do _o="$_o -o $_n"; done
	# shellcheck disable=SC2086 # a word list
	pki-select --create $_o 2>>"$err" | pki-keygen 2>>"$err" |
		pki-csr 2>>"$err" | pki-localca 2>>"$err" > "$T/made"
}
# add_certs PREFIX N: N local EC certificates PREFIX1.test ... PREFIXN.test.
add_certs() {
	_i=0
	while [ $_i -lt "$2" ]; do
		_i=$((_i + 1))
		echo "SELECT pki.add_cert('$1$_i.test', 'server', 'local', 'ec',
			false, NULL, NULL, NULL, NULL);"
	done | q "$(cat)" > /dev/null
}
for n in 1 2 3 4 5 6; do pki -q cert add "s$n.test" -a ec; done

# ------------------------------------------------------------ database down
made s1.test s2.test s3.test s4.test s5.test s6.test
pki db stop >/dev/null 2>&1
run pki-store --spool "$spool" < "$T/made"
is "$rc" 2 "pki-store with the database down: exit 2"
is "$(wc -l < "$T/out")" 6 "every record comes out"
is "$(jq -r '.errors[-1].message' "$T/out" | sed 's/: connection.*;/:;/' | sort -u)" \
	"not stored: database:; kept for the next run" "each with an error saying so"
is "$(jq -c 'select(has("key"))' "$T/out")" "" "and without its key"
is "$(spooled)" 6 "the records are kept in the spool"
is "$(stat -c %a "$spool") $(stat -c %a "$spool"/*.jsonl)" "700 600" \
	"which only its owner may read"
like "$(cat "$T/err")" "*6 records kept in $spool/*.jsonl for the next run*" "and says where"
# A spool file is made under a name a replay passes over and renamed
# once locked, so that no replay takes it empty and removes it.
is "$(find "$spool" -name '.*' -type f | wc -l)" 0 "no file is left under its first name"
pki db start >/dev/null 2>&1
run pki-store --spool "$spool" < /dev/null
is "$rc" 0 "the next run, the database back: exit 0"
is "$(jq -r .instance.state "$T/out" | sort -u)" issued "it stores what was kept"
is "$(issued 's%')" 6 "six instances"
is "$(spooled)" 0 "and empties the spool"
is "$(reserved)" 0 "no claim is left"

# ------------------------------------------------------------ restarted
for n in 1 2 3 4 5 6; do pki -q cert add "r$n.test" -a ec; done
made r1.test r2.test r3.test r4.test r5.test r6.test
{
	head -n 3 "$T/made"
	sleep 1	# pki-store commits the first three when the input pauses
	pki db stop >/dev/null 2>&1
	pki db start >/dev/null 2>&1
	tail -n 3 "$T/made"
} | pki-store --spool "$spool" > "$T/rs.out" 2>"$T/rs.err"
is "$?" 0 "PostgreSQL restarted mid-stream: exit 0"
like "$(cat "$T/rs.err")" "*database: *connecting again*" "pki-store connects again"
is "$(jq -r .instance.state "$T/rs.out" | sort | uniq -c | tr -s ' ')" " 6 issued" \
	"and stores every record"
is "$(issued 'r%')" 6 "once each"

# ------------------------------------------------------------ stopped
for n in 1 2 3 4; do pki -q cert add "p$n.test" -a ec; done
made p1.test p2.test p3.test p4.test
{
	head -n 2 "$T/made"
	sleep 1
	pki db stop >/dev/null 2>&1
	tail -n 2 "$T/made"
} | pki-store --spool "$spool" > "$T/ps.out" 2>"$T/ps.err"
is "$?" 2 "PostgreSQL stopped mid-stream: exit 2"
is "$(jq -r 'if .errors then "kept" else .instance.state end' "$T/ps.out" | tr '\n' ' ')" "issued issued kept kept " \
	"the first two stored, the others come out with an error"
is "$(spooled)" 2 "and are kept"
pki db start >/dev/null 2>&1
pki -q issue > "$T/issue.out" 2>"$T/issue.err"
is "$?" 0 "the next pki issue: exit 0"
is "$(issued 'p%')" 4 "it stores what was kept first"
is "$(spooled)" 0 "and empties the spool"
is "$(cat "$T/issue.out")" "" "pki -q issue prints nothing when all went well"
is "$(reserved)" 0 "no claim is left"

# ------------------------------------------------------------ kill -9
add_certs k 300
setsid pki issue > /dev/null 2>&1 &
pid=$!
n=0
until [ "$(reserved)" -gt 0 ] || [ $n -ge 200 ]; do sleep 0.05; n=$((n + 1)); done
kill -9 "-$pid"
wait "$pid" 2>/dev/null
ok "a pki issue killed with -9 while it had claims" [ "$(reserved)" -gt 0 ]
pki issue > "$T/k.out" 2>"$T/k.err"
is "$?" 0 "an immediate re-run: exit 0"
like "$(cat "$T/k.err")" "*pki-select: took over * claim* from run * (pid $pid on *), which is gone*" \
	"says it took over the dead run's claims"
is "$(issued 'k%')" 300 "every certificate issued"
is "$(q "SELECT count(*) FROM (SELECT s.name FROM certinstances i JOIN subjects s
	ON s.certificate = i.certificate AND NOT s.isaltname WHERE s.name LIKE 'k%'
	AND i.state = 'issued' GROUP BY s.name HAVING count(*) > 1) x")" 0 "exactly once"
is "$(reserved)" 0 "no claim is left"
ok "each take-over is a warning event" [ "$(q "SELECT count(*) FROM events
	WHERE level = 'warning' AND message LIKE 'claim % taken over from run %'")" -gt 0 ]

# ------------------------------------------------------------ restart
# PostgreSQL restarted while pki issue runs: the run may fail, but what
# it could not store is kept, and the next run converges.
add_certs g 300
pki issue > /dev/null 2>"$T/g1.err" &
pid=$!
n=0
until [ "$(reserved)" -gt 0 ] || [ $n -ge 200 ]; do sleep 0.05; n=$((n + 1)); done
pki db stop >/dev/null 2>&1
pki db start >/dev/null 2>&1
wait "$pid"
diag "pki issue with PostgreSQL restarted under it: exit $?"
pki issue > "$T/g2.out" 2>"$T/g2.err"
is "$?" 0 "the next pki issue: exit 0"
pki issue > "$T/g3.out" 2>"$T/g3.err"
is "$(issued 'g%')" 300 "every certificate issued"
is "$(q "SELECT count(*) FROM (SELECT s.name FROM certinstances i JOIN subjects s
	ON s.certificate = i.certificate AND NOT s.isaltname WHERE s.name LIKE 'g%'
	AND i.state = 'issued' GROUP BY s.name HAVING count(*) > 1) x")" 0 "exactly once"
is "$(reserved)" 0 "no claim is left"
is "$(spooled)" 0 "nothing is left in the spool"
is "$(cat "$T/g3.out")" "" "and a third run has nothing to do"

# ------------------------------------------------------------ live run
pki -q cert add live.test -a ec
mkfifo "$T/hold"
psql -X -q -At -d "$PKI_DB" < "$T/hold" > "$T/hold.id" &
holder=$!
exec 8> "$T/hold"
echo "SELECT pki.run_begin('elsewhere', 4242, 'a test');" >&8
n=0
until [ -s "$T/hold.id" ] || [ $n -ge 100 ]; do sleep 0.05; n=$((n + 1)); done
lrun=$(cat "$T/hold.id")
pki-select --create --run "$lrun" -o live.test > /dev/null 2>>"$err"
pki issue > "$T/l.out" 2>"$T/l.err"
is "$?" 0 "a run beside a live one: exit 0"
like "$(cat "$T/l.err")" "*1 certificate (live.test) left to run $lrun (pid 4242 on elsewhere, since *), which is alive*" \
	"it names what it leaves to the live run"
is "$(issued live.test)" 0 "and does not issue it"
exec 8>&-
wait "$holder"
pki issue > "$T/l2.out" 2>"$T/l2.err"
like "$(cat "$T/l2.err")" "*took over 1 claim (live.test) from run $lrun (pid 4242*" \
	"once that run is gone, the next run takes it over"
is "$(issued live.test)" 1 "and issues it"
run pki-select --create --run "$lrun"
is "$rc" 2 "--run of a dead run: exit 2"
like "$(cat "$T/err")" "*--run $lrun: no such run alive*" "says so"

! grep -q "$SECRET_PATTERN" "$T/stderr.all" "$err" "$T"/*.err
ok "no key in any message" [ $? -eq 0 ]
done_testing
