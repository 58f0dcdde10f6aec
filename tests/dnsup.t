#!/bin/sh
# dnsup.t - pki-dnsup against two real BIND servers (a primary and its
# secondary): challenges published by one TSIG-signed UPDATE per zone,
# waited for on both servers, withdrawn exactly; CNAME delegation; the
# zone-file mode with rndc; a lagging secondary; wrong keys, unknown
# zones, dead servers, bad names and bad key files.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
[ "$(id -u)" = 0 ] || skip_all "named runs as root here"
command -v named >/dev/null 2>&1 || command -v /usr/sbin/named >/dev/null ||
	skip_all "no BIND 9"
# shellcheck source=tests/lib/named.sh
. "$(dirname "$0")/lib/named.sh"
named_start

P1="127.0.0.1#$NAMED_PORT"
P2="127.0.0.1#$NAMED2_PORT"
free_port DEAD_PORT

# dnsup ARGS...: pki-dnsup with the test's servers, polling fast.
dnsup() {
	pki-dnsup --key-file "$NAMED_TSIG_KEYFILE" --resolver "127.0.0.1:$NAMED_PORT" \
		--server "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED_PORT" \
		--ns "127.0.0.1:$NAMED2_PORT" --interval 0.1 --timeout 5 "$@"
}

# chal NAME VALUE [TYPE]: a challenge of pki-acme order for NAME.
chal() {
	jq -nc --arg n "$1" --arg v "$2" --arg t "${3:-dns-01}" \
		'{identifier: $n, type: $t, owner: ("_acme-challenge." + $n + "."),
		  txt: $v, token: "tok", url: "https://ca/chall", wildcard: false}'
}

# rec NAME CHALLENGE...: a record with those challenges.
rec() {
	_n=$1
	shift
	printf '%s\n' "$@" | jq -sc --arg n "$_n" '{name: $n, algos: ["ec"], challenges: .}'
}

# txt PORT OWNER: the TXT values at OWNER on the server at PORT, sorted,
# on one line.
txt() {
	dig +short +norec -p "$1" @127.0.0.1 TXT "$2" | tr -d '"' | sort | tr '\n' ' ' |
		sed 's/ $//'
}

# serial ZONE: the SOA serial of ZONE on the primary.
serial() {
	dig +short +norec -p "$NAMED_PORT" @127.0.0.1 SOA "$1" | cut -d ' ' -f 3
}

# named NAME FILE: the record of FILE with that name.  Records with DNS
# work to do come out after the others, which pass at once.
named() {
	jq -c --arg n "$1" 'select(.name == $n)' "$2"
}

# v N: a 43-character base64url value, like ACME's.
v() {
	printf '%s' "$1" | sha256sum | cut -c 1-43 | tr 0-9 A-J
}

# ------------------------------------------------------------ usage
run pki-dnsup -h
is "$rc" 0 "-h: exit 0"
like "$(cat "$T/out")" "usage: pki-dnsup *--include-file PATTERN*" "-h prints the usage"
run pki-dnsup --bogus </dev/null
is "$rc" 2 "an unknown option: exit 2"
run pki-dnsup --reload-cmd true </dev/null
is "$rc:$(cat "$T/err")" "2:pki-dnsup: --reload-cmd needs --include-file" \
	"--reload-cmd without --include-file: exit 2, said"
run pki-dnsup --tlsa --remove </dev/null
like "$rc:$(cat "$T/err")" "2:*--tlsa and --remove exclude each other*" "--tlsa with --remove: exit 2"
run pki-dnsup --include-file /tmp/fixed.inc </dev/null
like "$rc:$(cat "$T/err")" "2:*has no {} for the zone*" "--include-file without {}: exit 2"
for bad in "--ttl -1" "--interval 0" "--timeout x" "--server 127.0.0.1:0" "--ns 127.0.0.1:70000" \
	"--resolver ns1.example.test"; do
	# shellcheck disable=SC2086 # the option and its value
	run pki-dnsup $bad </dev/null
	is "$rc" 2 "$bad: exit 2"
done

# ------------------------------------------------------------ input
run dnsup </dev/null
is "$rc:$(wc -c <"$T/out")" "0:0" "empty input: no output, exit 0"
{
	echo 'not json'
	rec o.example.test "$(chal o.example.test "$(v o)")"
} >"$T/in"
run dnsup <"$T/in"
is "$rc:$(jq -r '.dns.published[0].owner' "$T/out")" "1:_acme-challenge.o.example.test." \
	"a line that is not JSON: skipped, exit 1; the record after it is published"

# ------------------------------------------------------------ one name
a=$(v a)
{
	rec a.example.test "$(chal a.example.test "$a")" "$(chal a.example.test http-token http-01)"
	echo '{"name":"local.test","algos":["ec"]}'
} >"$T/in"
run dnsup <"$T/in"
is "$rc" 0 "one challenge: exit 0"
is "$(named a.example.test "$T/out" | jq -c '.dns.published')" \
	"[{\"owner\":\"_acme-challenge.a.example.test.\",\"type\":\"TXT\",\"ttl\":60,\"data\":\"$a\",\"zone\":\"example.test.\",\"server\":\"$P1\"}]" \
	"dns.published: owner, type, TTL 60, data, zone, the primary; the http-01 entry is not published"
is "$(named a.example.test "$T/out" | jq -c '.dns.seen | map_values(keys)')" \
	"{\"_acme-challenge.a.example.test.\":$(jq -nc --arg a "$P1" --arg b "$P2" '[$a, $b] | sort')}" \
	"dns.seen: the owner on both authoritative servers"
like "$(named a.example.test "$T/out" | jq -r '.dns.seen[][]' | head -1)" "20[0-9][0-9]-[01][0-9]-[0-3][0-9]T??:??:??Z" \
	"... with RFC 3339 times"
is "$(txt "$NAMED_PORT" _acme-challenge.a.example.test):$(txt "$NAMED2_PORT" _acme-challenge.a.example.test)" \
	"$a:$a" "the primary and the secondary serve it"
is "$(jq -c 'del(.dns)' "$T/out" | sort)" "$(sort "$T/in")" "nothing else of the records changed"
is "$(sed -n 1p "$T/out")" '{"name":"local.test","algos":["ec"]}' \
	"a record without challenges passes untouched, at once: before the one gathered"
cp "$T/out" "$T/a.published"

# ------------------------------------------------------------ one update per zone
s1=$(serial example.test)
s2=$(serial delegate.test)
{
	rec b.example.test "$(chal b.example.test "$(v b)")"
	rec c.example.test "$(chal c.example.test "$(v c)")" "$(chal '*.c.example.test' "$(v c2)")"
	rec d.delegate.test "$(chal d.delegate.test "$(v d)")"
	rec e.example.test "$(chal e.example.test "$(v e)")"
} | sed 's/_acme-challenge\.\*\./_acme-challenge./' >"$T/in"
run dnsup <"$T/in"
is "$rc" 0 "four records, two zones: exit 0"
is "$(serial example.test):$(serial delegate.test)" "$((s1 + 1)):$((s2 + 1))" \
	"one UPDATE per zone: each serial grew by one"
is "$(jq -r '[.dns.published[] | .zone] | unique | join(",")' "$T/out" | tr '\n' ' ')" \
	"example.test. example.test. delegate.test. example.test. " "each record in its zone"
is "$(txt "$NAMED2_PORT" _acme-challenge.c.example.test)" "$(printf '%s\n' "$(v c)" "$(v c2)" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"a name and its wildcard: two values at one owner, on the secondary too"
is "$(jq -c '.dns.published | length' "$T/out" | tr '\n' ' ')" "1 2 1 1 " \
	"the record with two values lists both"
is "$(jq -c '[.dns.seen[] | length]' "$T/out" | tr '\n' ' ')" "[2] [2] [2] [2] " \
	"every owner seen on both servers"
ok "the secondary serves the other zone too" \
	test "$(txt "$NAMED2_PORT" _acme-challenge.d.delegate.test)" = "$(v d)"

# ------------------------------------------------------------ --remove
# Another run's value at a's owner must survive a's withdrawal.
other=$(v other)
rec a.example.test "$(chal a.example.test "$other")" | dnsup >/dev/null 2>>"$T/stderr.all"
is "$(txt "$NAMED_PORT" _acme-challenge.a.example.test)" "$(printf '%s\n' "$a" "$other" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"adding a value keeps the other value at the owner"
run pki-dnsup --remove --key-file "$NAMED_TSIG_KEYFILE" <"$T/a.published"
is "$rc" 0 "--remove: exit 0"
is "$(txt "$NAMED_PORT" _acme-challenge.a.example.test)" "$other" \
	"--remove withdrew exactly the value published; the other stays"
is "$(named a.example.test "$T/out" | jq -c '[.dns.published, .dns.removed]')" \
	"[[],$(named a.example.test "$T/a.published" | jq -c '.dns.published')]" \
	"dns.published is emptied, dns.removed lists what went"
cp "$T/out" "$T/a.removed"
run pki-dnsup --remove --key-file "$NAMED_TSIG_KEYFILE" <"$T/a.removed"
is "$rc:$(md5sum <"$T/out")" "0:$(md5sum <"$T/a.removed")" "--remove again: nothing to do, records unchanged"

# A record that failed later is still undone; publishing passes it by.
jq -c '.errors = [{"stage": "pki-acme", "message": "order failed"}]' "$T/in" >"$T/failed.in"
run dnsup <"$T/failed.in"
is "$rc:$(md5sum <"$T/out")" "0:$(md5sum <"$T/failed.in")" \
	"records with errors pass through publishing byte-identical"
run dnsup <"$T/in"
jq -c '.errors = [{"stage": "pki-acme", "message": "finish failed"}]' "$T/out" >"$T/failed.pub"
run pki-dnsup --remove --key-file "$NAMED_TSIG_KEYFILE" <"$T/failed.pub"
is "$rc" 0 "--remove of records with errors: exit 0"
is "$(txt "$NAMED_PORT" _acme-challenge.c.example.test):$(txt "$NAMED_PORT" _acme-challenge.d.delegate.test)" ":" \
	"--remove withdrew for records with errors too"
is "$(jq -c '[(.dns.published | length), (.dns.removed | length), (.errors | length)]' "$T/out" | tr '\n' ' ')" \
	"[0,1,1] [0,2,1] [0,1,1] [0,1,1] " "... their published moved to removed, their errors kept"

# ------------------------------------------------------------ CNAME
run dnsup <<EOF
$(rec alias.example.test "$(chal alias.example.test "$(v alias)")")
EOF
is "$rc" 0 "a CNAME at _acme-challenge: exit 0"
is "$(jq -c '.dns.published[0] | [.owner, .zone, .for]' "$T/out")" \
	'["alias.acme.delegate.test.","delegate.test.","_acme-challenge.alias.example.test."]' \
	"published at the CNAME's target, in its zone; for: the owner asked for"
is "$(txt "$NAMED2_PORT" alias.acme.delegate.test)" "$(v alias)" "the secondary serves it at the target"
is "$(jq -r '.dns.seen | keys[]' "$T/out")" "alias.acme.delegate.test." "seen at the target"
cp "$T/out" "$T/alias.published"
run pki-dnsup --remove --key-file "$NAMED_TSIG_KEYFILE" <"$T/alias.published"
is "$rc:$(txt "$NAMED_PORT" alias.acme.delegate.test)" "0:" "--remove withdraws it at the target"

# ------------------------------------------------------------ --ttl, --tlsa
run dnsup --ttl 120 <<EOF
$(rec ttl.example.test "$(chal ttl.example.test "$(v ttl)")")
EOF
is "$rc:$(jq -r '.dns.published[0].ttl' "$T/out"):$(dig +noall +answer +norec -p "$NAMED2_PORT" @127.0.0.1 TXT _acme-challenge.ttl.example.test | awk '{ print $2 }')" \
	"0:120:120" "--ttl 120: the TTL published and served"

# tlsa OWNER DATA...: a tlsa array of 3 1 1 records at OWNER.
tlsa() {
	_o=$1
	shift
	printf '%s\n' "$@" | jq -Rsc --arg o "$_o" 'split("\n") | map(select(. != "") |
		{owner: $o, ttl: 3600, usage: 3, selector: 1, mtype: 1, data: ., algo: "ec", service: "https"})'
}
h1=$(printf 1 | sha256sum | cut -c 1-64 | tr a-f A-F)
h2=$(printf 2 | sha256sum | cut -c 1-64 | tr a-f A-F)
h3=$(printf 3 | sha256sum | cut -c 1-64 | tr a-f A-F)
jq -nc --argjson t "$(tlsa _443._tcp.t.example.test. "$h1")" '{name: "t.example.test", tlsa: $t}' |
	dnsup --tlsa >/dev/null 2>>"$T/stderr.all"
jq -nc --argjson t "$(tlsa _443._tcp.t.example.test. "$h2" "$h3")" '{name: "t.example.test", tlsa: $t}' >"$T/in"
run dnsup --tlsa <"$T/in"
is "$rc" 0 "--tlsa: exit 0"
is "$(dig +short +norec -p "$NAMED2_PORT" @127.0.0.1 TLSA _443._tcp.t.example.test | tr -d ' ' | sort | tr '\n' ' ')" \
	"$(printf '311%s\n' "$h2" "$h3" | sort | tr '\n' ' ')" \
	"--tlsa replaced the owner's TLSA RRset (the old record is gone), on the secondary too"
is "$(jq -c '[.dns.published[] | [.type, .data]]' "$T/out")" "[[\"TLSA\",\"3 1 1 $h2\"],[\"TLSA\",\"3 1 1 $h3\"]]" \
	"dns.published lists the TLSA records"
is "$(jq -c '[.dns.seen[] | length]' "$T/out")" "[2]" "... seen on both servers"
cp "$T/out" "$T/tlsa.published"
run pki-dnsup --remove --key-file "$NAMED_TSIG_KEYFILE" <"$T/tlsa.published"
is "$rc:$(dig +short +norec -p "$NAMED_PORT" @127.0.0.1 TLSA _443._tcp.t.example.test)" "0:" \
	"--remove withdraws TLSA records too"
run dnsup <"$T/in"
is "$rc:$(jq -c 'has("dns")' "$T/out")" "0:false" "without --tlsa the tlsa entries are not published"
jq -c '.tlsa[0].usage = 7' "$T/in" >"$T/bad.in"
run dnsup --tlsa <"$T/bad.in"
is "$rc:$(jq -r '.errors[0] | [.field, .message] | join(": ")' "$T/out")" \
	"1:tlsa: tlsa[0]: ttl, usage, selector or mtype missing or out of range" "a bad tlsa entry is refused"

# ------------------------------------------------------------ one zone refused, another published
{
	rec r.inc.test "$(chal r.inc.test "$(v r)")"
	rec r.example.test "$(chal r.example.test "$(v r2)")"
} >"$T/in"
run dnsup <"$T/in"
is "$rc" 1 "a zone that refuses updates: exit 1"
is "$(jq -r '.errors[0].message' "$T/out" | head -1)" \
	"zone inc.test.: update refused by $P1: REFUSED (the server does not let this key update the zone)" \
	"... said, naming the zone and the server"
is "$(jq -c 'has("dns")' "$T/out" | head -1):$(jq -r '.dns.published[0].zone' "$T/out" | tail -1)" \
	"false:example.test." "the other zone's record is published"

# ------------------------------------------------------------ a lagging secondary
# lag.test gets no NOTIFY: the secondary has a change only when told to
# refresh.  pki-dnsup must keep asking it until then.
lag=$(v lag)
rec l.lag.test "$(chal l.lag.test "$lag")" >"$T/in"
: >"$T/lag.err"
dnsup -vv --timeout 10 <"$T/in" >"$T/out" 2>"$T/lag.err" &
pid=$!
n=0
until grep -q "at $P2: not yet" "$T/lag.err" || [ "$n" -ge 100 ]; do
	sleep 0.05
	n=$((n + 1))
done
# shellcheck disable=SC2086 # a command prefix
$NAMED2_RNDC refresh lag.test >/dev/null
wait "$pid"
is "$?" 0 "a lagging secondary: exit 0 once it has the value"
ok "... it was asked without the value first" grep -q "at $P2: not yet" "$T/lag.err"
ok "... then with it" grep -q "at $P2: served" "$T/lag.err"
is "$(jq -r --arg s "$P2" '.dns.seen[][$s] != null' "$T/out")" true "dns.seen has the secondary"
cat "$T/lag.err" >>"$T/stderr.all"

# A secondary that never gets it: an error within the timeout.
lag2=$(v lag2)
rec m.lag.test "$(chal m.lag.test "$lag2")" >"$T/in"
t0=$(date +%s)
run dnsup --timeout 1 <"$T/in"
t1=$(date +%s)
is "$rc" 1 "a secondary that never gets the value: exit 1"
is "$(jq -r '.errors[0] | [.field, .message] | join(": ")' "$T/out")" \
	"dns: _acme-challenge.m.lag.test.: not served by $P2 within 1 s" \
	"the error names the owner and the server that lacks it"
ok "... within the timeout" test $((t1 - t0)) -le 2
is "$(jq -r '.dns.published | length' "$T/out"):$(jq -c '.dns.seen[] | keys' "$T/out")" "1:[\"$P1\"]" \
	"it stays published (to be withdrawn); seen on the primary only"
cp "$T/out" "$T/lag.published"
run pki-dnsup --remove --key-file "$NAMED_TSIG_KEYFILE" <"$T/lag.published"
is "$rc:$(txt "$NAMED_PORT" _acme-challenge.m.lag.test)" "0:" "... and --remove withdraws it"

# A secondary that is down (stopped): an error within the timeout.
kill -STOP "$NAMED2_PID"
t0=$(date +%s)
run dnsup --timeout 1.5 <<EOF
$(rec f.example.test "$(chal f.example.test "$(v f)")")
EOF
t1=$(date +%s)
kill -CONT "$NAMED2_PID"
like "$rc:$(jq -r '.errors[0].message' "$T/out")" "1:*f.example.test.: not served by $P2 (no answer) within 1.5 s" \
	"a secondary that does not answer: exit 1, named, and that it did not answer"
ok "... within the timeout" test $((t1 - t0)) -le 3

# ------------------------------------------------------------ zone-file mode
zf() {	# zf ARGS...: pki-dnsup in zone-file mode
	pki-dnsup --include-file "$NAMED_INCLUDE_PATTERN" --reload-cmd "$NAMED_RELOAD_CMD" \
		--resolver "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED_PORT" \
		--ns "127.0.0.1:$NAMED2_PORT" --interval 0.1 --timeout 5 "$@"
}
s=$(serial inc.test)
{
	rec x.inc.test "$(chal x.inc.test "$(v x1)")" "$(chal x.inc.test "$(v x2)")"
	rec y.inc.test "$(chal y.inc.test "$(v y)")"
} >"$T/in"
run zf <"$T/in"
is "$rc" 0 "zone-file mode: exit 0"
is "$(grep -c 'IN	TXT' "$NAMED_INCLUDE_FILE")" 3 "the include file holds the three records"
is "$(txt "$NAMED2_PORT" _acme-challenge.x.inc.test)" "$(printf '%s\n' "$(v x1)" "$(v x2)" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"rndc reload: the secondary serves them"
ok "the reload command raised the serial" test "$(serial inc.test)" -gt "$s"
is "$(jq -r '.dns.published[] | [.zone, .file] | join(" ")' "$T/out" | sort -u)" "inc.test. $NAMED_INCLUDE_FILE" \
	"published names the file, not a server"
is "$(jq -c '[.dns.seen[] | length]' "$T/out" | tr '\n' ' ')" "[2] [2] " "seen on both servers"
cp "$T/out" "$T/zf.published"
run zf <<EOF
$(rec z.inc.test "$(chal z.inc.test "$(v z)")")
EOF
is "$rc:$(grep -c 'IN	TXT' "$NAMED_INCLUDE_FILE")" "0:4" "another run merges its record into the file"
run pki-dnsup --remove --include-file "$NAMED_INCLUDE_PATTERN" --reload-cmd "$NAMED_RELOAD_CMD" \
	<"$T/zf.published"
is "$rc" 0 "zone-file --remove: exit 0"
is "$(grep 'IN	TXT' "$NAMED_INCLUDE_FILE" | cut -f 1)" "_acme-challenge.z.inc.test." \
	"--remove dropped exactly what was published; the other run's stays"
n=0
until [ -z "$(txt "$NAMED_PORT" _acme-challenge.x.inc.test)" ] || [ "$n" -ge 40 ]; do
	sleep 0.05
	n=$((n + 1))
done
is "$(txt "$NAMED_PORT" _acme-challenge.x.inc.test):$(txt "$NAMED_PORT" _acme-challenge.z.inc.test)" ":$(v z)" \
	"... and the server reloaded it"
run pki-dnsup --remove <"$T/zf.published"
like "$rc:$(head -1 "$T/out" | jq -r '.errors[0].message')" "1:dns.published\[0\]: its file is not the one --include-file names*" \
	"--remove touches a file only when --include-file names it"
run zf --reload-cmd false <<EOF
$(rec w.inc.test "$(chal w.inc.test "$(v w)")")
EOF
is "$rc:$(jq -c '[.errors[0].field, .errors[0].message, (.dns.published | length)]' "$T/out")" \
	'1:["dns","zone inc.test.: reload command \"false\" exited 1",1]' \
	"a failing reload command: an error; the record counts as published (it is in the file)"

# Runs at once on one include file: each holds an flock on FILE.lock from
# reading the file until its reload command is done, so that none writes
# over what another merged in.  First a stand-in for another run: it
# holds the lock, reads the file, waits, and writes it back with a record
# of its own; a run started meanwhile must wait and keep that record.
lockf=$NAMED_INCLUDE_FILE.lock
held=$(v held)
cat >"$T/holder" <<EOF
cp "$NAMED_INCLUDE_FILE" "$T/held.inc"
: >"$T/held.started"
sleep 1
printf '_acme-challenge.held.inc.test.\t60\tIN\tTXT\t"%s"\n' "$held" >>"$T/held.inc"
mv "$T/held.inc" "$NAMED_INCLUDE_FILE"
EOF
flock "$lockf" sh "$T/holder" &
hpid=$!
n=0
until [ -e "$T/held.started" ] || [ "$n" -ge 250 ]; do
	sleep 0.02
	n=$((n + 1))
done
run zf <<EOF
$(rec l1.inc.test "$(chal l1.inc.test "$(v l1)")")
EOF
wait "$hpid"
is "$rc" 0 "a run while another changes the include file: exit 0"
ok "... it waited for the other, and kept its record" grep -q "$held" "$NAMED_INCLUDE_FILE"
ok "... and its own is there too" grep -q "$(v l1)" "$NAMED_INCLUDE_FILE"
flock "$lockf" sleep 2.5 &
hpid=$!
n=0
while flock -n "$lockf" true && [ "$n" -lt 250 ]; do
	sleep 0.02
	n=$((n + 1))
done
run zf --timeout 1 <<EOF
$(rec l2.inc.test "$(chal l2.inc.test "$(v l2)")")
EOF
wait "$hpid"
is "$rc:$(jq -r '.errors[0] | "\(.field): \(.message)"' "$T/out"):$(jq -c 'has("dns")' "$T/out")" \
	"1:challenges: zone inc.test.: cannot lock $lockf: another run held it until the timeout:false" \
	"a lock held past --timeout: an error, nothing published"
nok "... and nothing written" grep -q "$(v l2)" "$NAMED_INCLUDE_FILE"
# Then four real runs at once, each with a value of its own.
pids=
for i in 1 2 3 4; do
	rec "c$i.inc.test" "$(chal "c$i.inc.test" "$(v "c$i")")" |
		zf --timeout 20 >"$T/c$i.out" 2>>"$T/stderr.all" &
	pids="$pids $!"
done
st=
for p in $pids; do
	wait "$p" && st="${st}0" || st="$st$?"
done
is "$st" 0000 "four runs at once on one zone file: each exits 0 (each value seen on both servers)"
is "$(for i in 1 2 3 4; do grep -c "$(v "c$i")" "$NAMED_INCLUDE_FILE"; done | tr -d '\n')" 1111 \
	"... and the file keeps all four values"

# ------------------------------------------------------------ wrong keys
printf 'key "update-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
	"$(openssl rand -base64 32)" >"$T/wrong.key"
sed 's/update-key/unknown-key/' "$T/wrong.key" >"$T/unknown.key"
chmod 0600 "$T/wrong.key" "$T/unknown.key"
wrong=$(v wrong)
rec k.example.test "$(chal k.example.test "$wrong")" >"$T/in"
run dnsup --key-file "$T/wrong.key" <"$T/in"
is "$rc" 1 "a wrong secret: exit 1"
is "$(jq -r '.errors[0] | [.field, .message] | join(": ")' "$T/out")" \
	"challenges: zone example.test.: update refused by $P1: NOTAUTH, TSIG error BADSIG: the server has another secret for the key (key update-key, hmac-sha256)" \
	"the error names the zone, the server, the rcode and the TSIG error"
is "$(jq -c 'has("dns")' "$T/out"):$(txt "$NAMED_PORT" _acme-challenge.k.example.test)" "false:" \
	"nothing recorded as published, and nothing is"
run dnsup --key-file "$T/unknown.key" <"$T/in"
like "$rc:$(jq -r '.errors[0].message' "$T/out")" "1:*NOTAUTH, TSIG error BADKEY*unknown-key*" \
	"a key the server does not know: BADKEY"
run pki-dnsup --key-file "$T/wrong.key" --remove <"$T/a.published"
like "$rc:$(named a.example.test "$T/out" | jq -r '.errors[0].field')" "1:dns" "--remove with a refused key: an error in dns"

# ------------------------------------------------------------ zones not found, servers down
{
	rec n.nowhere.test "$(chal n.nowhere.test "$(v n)")"
	rec g.example.test "$(chal g.example.test "$(v g)")"
} >"$T/in"
run dnsup <"$T/in"
is "$rc" 1 "a name in no zone the resolver knows: exit 1"
is "$(jq -r '.errors[0].message' "$T/out" | head -1)" \
	"zone of _acme-challenge.n.nowhere.test. not found: REFUSED" "... said"
is "$(jq -r '.dns.published[0].owner' "$T/out" | tail -1):$(txt "$NAMED2_PORT" _acme-challenge.g.example.test)" \
	"_acme-challenge.g.example.test.:$(v g)" "the other record is published all the same"
t0=$(date +%s)
run dnsup --server "127.0.0.1:$DEAD_PORT" --timeout 2 <<EOF
$(rec h.example.test "$(chal h.example.test "$(v h)")")
EOF
t1=$(date +%s)
is "$rc:$(jq -r '.errors[0].message' "$T/out")" \
	"1:zone example.test.: no answer from 127.0.0.1#$DEAD_PORT (connection refused or timed out)" \
	"a primary that is down: the zone's records fail"
ok "... within the timeout" test $((t1 - t0)) -le 3
run pki-dnsup --resolver "127.0.0.1:$DEAD_PORT" --key-file "$NAMED_TSIG_KEYFILE" --timeout 1 <<EOF
$(rec h.example.test "$(chal h.example.test "$(v h)")")
EOF
like "$rc:$(jq -r '.errors[0].message' "$T/out")" "1:zone of _acme-challenge.h.example.test. not found: no answer from 127.0.0.1#$DEAD_PORT within *" \
	"a resolver that is down: the zone is not found, within the timeout"

# Without --server and --ns: the SOA MNAME and the NS records, port 53.
if [ -z "$(ss -Hltnu 'sport = :53' 2>/dev/null)" ]; then
	run pki-dnsup --key-file "$NAMED_TSIG_KEYFILE" --resolver "127.0.0.1:$NAMED_PORT" --timeout 1 <<EOF
$(rec i.example.test "$(chal i.example.test "$(v i)")")
EOF
	is "$(jq -r '.errors[0].message' "$T/out")" \
		"zone example.test.: no answer from 127.0.0.1#53 (connection refused or timed out)" \
		"without --server the update goes to the SOA MNAME's address, port 53"
	run pki-dnsup --key-file "$NAMED_TSIG_KEYFILE" --resolver "127.0.0.1:$NAMED_PORT" \
		--server "127.0.0.1:$NAMED_PORT" --timeout 1 <<EOF
$(rec i.example.test "$(chal i.example.test "$(v i)")")
EOF
	like "$(jq -r '.errors[0].message' "$T/out")" \
		"_acme-challenge.i.example.test.: not served by 127.0.0.1#53 (no answer), 127.0.0.2#53* within 1 s" \
		"without --ns the servers waited for are the NS records' addresses, port 53"
else
	pass "# SKIP something listens on port 53"
	pass "# SKIP something listens on port 53"
fi

# ------------------------------------------------------------ bad names, bad values
{
	rec bad1.example.test "$(chal bad1.example.test "$(v b1)" | jq -c '.owner = "_acme-challenge.$(reboot)."')"
	rec bad2.example.test "$(chal bad2.example.test "$(v b2)" | jq -c '.owner = "_acme-challenge.a..b."')"
	rec bad3.example.test "$(chal bad3.example.test "$(v b3)" | jq -c '.owner = "www.example.test."')"
	rec bad4.example.test "$(chal bad4.example.test 'x" IN A 1.2.3.4')"
	rec bad5.example.test "$(chal bad5.example.test "$(v b5)")" "$(chal bad5b.example.test '')"
	echo '{"name":"bad6.example.test","challenges":"dns-01"}'
} >"$T/in"
t0=$(date +%s)
run pki-dnsup --resolver "127.0.0.1:$DEAD_PORT" --server "127.0.0.1:$DEAD_PORT" \
	--ns "127.0.0.1:$DEAD_PORT" --key-file "$NAMED_TSIG_KEYFILE" --timeout 5 <"$T/in"
t1=$(date +%s)
is "$rc" 1 "bad owners and values: exit 1"
is "$(jq -r '.errors[0] | [.field, .message] | join(": ")' "$T/out")" \
	'challenges: challenges[0]: owner: character other than letter, digit, hyphen or dot
challenges: challenges[0]: owner: empty label
challenges: challenges[0]: owner: not _acme-challenge.NAME.
challenges: challenges[0]: txt: a character other than printable ASCII without blank, quote or backslash
challenges: challenges[1]: txt: not a string of 1 to 255 characters
challenges: must be an array' "each is refused, naming what is wrong"
ok "... before any packet (no lookup, no update, no wait)" test $((t1 - t0)) -le 1
is "$(jq -c 'has("dns")' "$T/out" | sort -u)" false "nothing of a bad record is published"

# ------------------------------------------------------------ key files
keyfile() {	# keyfile TEXT: a key file of TEXT, mode 0600, in $T/k
	printf '%s\n' "$1" >"$T/k"
	chmod 0600 "$T/k"
}
secret=$(sed -n 's/.*secret "\(.*\)";.*/\1/p' "$NAMED_TSIG_KEYFILE")
for text in "key \"update-key\" { algorithm hmac-sha256; };" \
	"key \"update-key\" { algorithm hmac-sha256; secret \"not*base64\"; };" \
	"key \"update-key\" { algorithm hmac-sha257; secret \"$secret\"; };" \
	"key \"update-key\" { secret \"$secret\" };" \
	"key \"update-key\" { secret \"$secret\"; }; key \"b\" { secret \"$secret\"; };" \
	"key \"bad key\" { secret \"$secret\"; };" \
	"secret \"$secret\";" \
	"key \"update-key\" { secret \"$secret\"; /* unterminated };" ""; do
	keyfile "$text"
	run pki-dnsup --key-file "$T/k" </dev/null
	ok "a malformed key file is refused: exit 2, one line naming the file ($(printf '%.40s' "$text"))" \
		test "$rc:$(wc -l <"$T/err")" = "2:1" -a -z "$(grep -v "key file $T/k" "$T/err")"
done
keyfile "# a comment
key \"update-key\" {	// BIND writes these
	algorithm \"hmac-sha256\";	/* quoted, too */
	secret \"$secret\";
};"
run dnsup --key-file "$T/k" <<EOF
$(rec j.example.test "$(chal j.example.test "$(v j)")")
EOF
is "$rc" 0 "a key file with comments and quotes works"
chmod 0644 "$T/k"
run pki-dnsup --key-file "$T/k" </dev/null
like "$rc:$(cat "$T/err")" "2:*others may read or write it (mode 0644)*" "a key file others may read is refused"
run pki-dnsup --key-file "$T/nonexistent" </dev/null
is "$rc" 2 "a missing key file: exit 2"

# ------------------------------------------------------------ setup errors
# A setup error (a key file or a server that cannot be used) is not bad
# usage: every record is read and written, those with DNS work to do
# with an error saying why it was not done; then exit 2.
{
	echo '{"name":"signed.test","ca":"local","cert":{"ec":{"pem":"PEM"}}}'
	rec s.example.test "$(chal s.example.test "$(v s)")"
	rec s2.example.test "$(chal s2.example.test "$(v s2)" http-01)"
} >"$T/in"
run dnsup --key-file "$T/k" <"$T/in"
is "$rc:$(wc -l <"$T/out")" "2:3" "a key file mode 0644: exit 2, every record written"
is "$(sed -n 1p "$T/out")" "$(sed -n 1p "$T/in")" "... a record without challenges passes unchanged"
is "$(named s.example.test "$T/out" | jq -r '.errors[0] | "\(.field): \(.message)"')" \
	"dns: nothing published: key file $T/k: group or others may read or write it (mode 0644); chmod 0600 it" \
	"... one with a dns-01 challenge gets an error naming the problem"
is "$(named s.example.test "$T/out" | jq -c 'del(.errors)')" "$(sed -n 2p "$T/in")" "... and nothing else"
is "$(sed -n 2p "$T/out")" "$(sed -n 3p "$T/in")" "... one with an http-01 challenge only passes unchanged, at once"
is "$(txt "$NAMED_PORT" _acme-challenge.s.example.test)" "" "... nothing was published"
is "$(grep -c "key file $T/k: group or others may read" "$T/err")" 2 \
	"... said on stderr: the setup error, and the record's"
run dnsup --server nosuch.nowhere.test <"$T/in"
is "$rc:$(wc -l <"$T/out"):$(sed -n 1p "$T/out")" "2:3:$(sed -n 1p "$T/in")" \
	"a --server that does not resolve: exit 2, every record written, the plain one unchanged"
like "$(named s.example.test "$T/out" | jq -r '.errors[0] | "\(.field): \(.message)"')" \
	"dns: nothing published: --server: *nosuch.nowhere.test*" "... the challenge's record names --server"
is "$(named s2.example.test "$T/out")" "$(sed -n 3p "$T/in")" "... the http-01 one passes unchanged"
run dnsup --ns nosuch.nowhere.test <"$T/in"
like "$rc:$(named s.example.test "$T/out" | jq -r '.errors[0].message')" "2:nothing published: --ns: *" \
	"an --ns that does not resolve: the same"
jq -nc --argjson t "$(tlsa _443._tcp.t.example.test. "$h1")" '{name: "t.example.test", tlsa: $t}' >"$T/tlsa.in"
run dnsup --tlsa --key-file "$T/k" <"$T/tlsa.in"
is "$rc:$(jq -r '.errors[0].field' "$T/out")" "2:dns" "--tlsa: a record with TLSA entries gets the error too"
run pki-dnsup --remove --key-file "$T/k" <"$T/lag.published"
is "$rc:$(jq -c '[.errors[-1].message, (.dns.published | length), (.dns | has("removed"))]' "$T/out")" \
	"2:[\"nothing withdrawn: key file $T/k: group or others may read or write it (mode 0644); chmod 0600 it\",1,false]" \
	"--remove: a record with published entries keeps them and gets the error"
# Bad usage is not a setup error: nothing is read.
run dnsup --ttl -1 <"$T/in"
is "$rc:$(wc -c <"$T/out")" "2:0" "bad usage (a bad number): exit 2 at once, nothing read or written"
run dnsup --server 'bad host!' <"$T/in"
like "$rc:$(wc -c <"$T/out"):$(cat "$T/err")" "2:0:*--server: *" \
	"a --server that is not HOST[:PORT] with a host name: bad usage, nothing written"

# ------------------------------------------------------------ environment
run env PKI_TSIG_KEY_FILE="$NAMED_TSIG_KEYFILE" PKI_DNS_SERVER="127.0.0.1:$NAMED_PORT" \
	PKI_DNS_RESOLVER="127.0.0.1:$NAMED_PORT" pki-dnsup --ns "127.0.0.1:$NAMED_PORT" --interval 0.1 <<EOF
$(rec env.example.test "$(chal env.example.test "$(v env)")")
EOF
is "$rc:$(jq -r '.dns.published[0].server' "$T/out")" "0:$P1" \
	"PKI_TSIG_KEY_FILE, PKI_DNS_SERVER and PKI_DNS_RESOLVER are the defaults"

# ------------------------------------------------------------ valgrind
if [ -z "${PKI_ASAN:-}" ] && command -v valgrind >/dev/null 2>&1; then
	vg() {	# vg NAME PROGRAM ARGS...: PROGRAM under valgrind
		_n=$1
		shift
		valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect \
			--show-leak-kinds=definite,indirect --log-file="$T/vg.$_n" "$@"
	}
	rec vg.example.test "$(chal vg.example.test "$(v vg)")" "$(chal vg.example.test "$(v vg2)")" \
		>"$T/in"
	rec vg.inc.test "$(chal vg.inc.test "$(v vgi)")" >>"$T/in"
	vg publish pki-dnsup --key-file "$NAMED_TSIG_KEYFILE" --resolver "127.0.0.1:$NAMED_PORT" \
		--server "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED_PORT" \
		--ns "127.0.0.1:$NAMED2_PORT" --interval 0.1 --timeout 10 <"$T/in" >"$T/out" 2>>"$T/stderr.all"
	is "$?:$(cat "$T/vg.publish")" "1:" "publish under valgrind: no error, no leak (inc.test refuses updates: exit 1)"
	vg remove pki-dnsup --remove --key-file "$NAMED_TSIG_KEYFILE" <"$T/out" >"$T/out2" 2>>"$T/stderr.all"
	is "$?:$(cat "$T/vg.remove")" "0:" "--remove under valgrind: no error, no leak"
	vg keyfile pki-dnsup --key-file "$T/wrong.key" --resolver "127.0.0.1:$NAMED_PORT" \
		--server "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED_PORT" <"$T/in" >"$T/out" 2>>"$T/stderr.all"
	is "$?:$(cat "$T/vg.keyfile")" "1:" "a refused update under valgrind: no error, no leak"
else
	pass "# SKIP no valgrind, or the ASan build"
	pass "# SKIP no valgrind, or the ASan build"
	pass "# SKIP no valgrind, or the ASan build"
fi

# ------------------------------------------------------------ secrets
nok "the TSIG secret never appeared on stderr" grep -qF "$secret" "$T/stderr.all"
nok "nor the wrong key's" grep -qF "$(sed -n 's/.*secret "\(.*\)";.*/\1/p' "$T/wrong.key")" "$T/stderr.all"
nok "no private key ever appeared on stderr" grep -q "$SECRET_PATTERN" "$T/stderr.all"

done_testing
