#!/bin/sh
# roll-zone.t - more of the DANE roll (roll.t has its phases against
# both servers and a DANE client): in zone-file mode, the include file
# holding exactly the records of each phase and the reload command run
# once per change; DANE-TA (2 1 1) records across a local CA rollover,
# prepublished as a new key's would be, checked by s_client; and a
# second renewal before the first rolled, whose roll leaves its records
# alone.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/dane.sh
. "$(dirname "$0")/lib/dane.sh"
dane_setup

q "INSERT INTO services (name, port, tlsaprefix) VALUES
	('ta', 5443, '_5443._tcp.{}. 3600 IN TLSA 2 1 1')"

# ------------------------------------------------------------ zone-file mode
cat >"$T/reload.sh" <<EOF
#!/bin/sh
echo "\$1" >>"$T/reloads"
exec sh "$T/named/reload.sh" "\$1"
EOF
pki -q cert add z.inc.test -a ec -S https:443
q "SELECT add_target('z.inc.test', 'localhost', NULL, 'srv')" >/dev/null
Z=_443._tcp.z.inc.test.
zf() {	# zf COMMAND...: COMMAND in zone-file mode
	env PKI_DNS_INCLUDE_FILE="$NAMED_INCLUDE_PATTERN" \
		PKI_DNS_RELOAD_CMD="sh $T/reload.sh {}" "$@"
}
# include: the TLSA records of the include file, as rrset prints them.
include() {
	awk '$4 == "TLSA" || $3 == "TLSA" { for (i = 1; i <= NF; i++) if ($i == "TLSA") break;
		d = ""; for (j = i + 4; j <= NF; j++) d = d $j; print $(i+1), $(i+2), $(i+3), toupper(d) }' \
		"$NAMED_INCLUDE_FILE" | sort | tr '\n' ',' | sed 's/,$//'
}
reloads() { wc -l <"$T/reloads" 2>/dev/null | tr -d ' ' || echo 0; }
capture zf pki issue -o z.inc.test
capture zf pki distribute -o z.inc.test
z1=$(newest z.inc.test)
zc=$(data "$z1" "$Z")
is "$rc:$(include):$(both "$Z"):$(reloads)" "0:3 1 1 $zc:3 1 1 $zc | 3 1 1 $zc:1" \
	"zone-file mode, current: the include file holds the record, both servers serve it, one reload"
renew z.inc.test
z2=$(newest z.inc.test)
zn=$(data "$z2" "$Z")
capture zf pki distribute -o z.inc.test
is "$rc:$(istate "$z2"):$(include):$(reloads)" "0:prepublished:$(rrs 3 1 1 "$zc" "$zn"):2" \
	"current + next: exactly both records in the include file, one more reload"
is "$(both "$Z")" "$(rrs 3 1 1 "$zc" "$zn") | $(rrs 3 1 1 "$zc" "$zn")" "... served by both servers"
capture zf pki distribute -o z.inc.test
is "$rc:$(istate "$z2"):$(reloads)" "0:prepublished:2" "a run before the roll is due changes nothing, reloads nothing"
capture zf pki roll -o z.inc.test --now "$(at 121)"
is "$rc:$(istate "$z2"):$(include):$(both "$Z"):$(reloads)" "0:deployed:3 1 1 $zn:3 1 1 $zn | 3 1 1 $zn:3" \
	"next: the include file holds the next record alone, one more reload"

# ------------------------------------------------------------ DANE-TA across a CA rollover
first t.example.test -S https:443 -S ta:5443
TA=_5443._tcp.t.example.test.
TE=_443._tcp.t.example.test.
t1=$(newest t.example.test)
ta1=$(data "$t1" "$TA")
pki-select --serial "$t1" | jq -r '.cert.ec.chain' >"$T/ca1.pem"
is "$(both "$TA")" "2 1 1 $ta1 | 2 1 1 $ta1" "DANE-TA: the CA's 2 1 1 record published"
is "$ta1" "$(spki311 "$T/ca1.pem")" "... the issuing CA's public key, by the openssl CLI"
capture pki ca roll
is "$rc" 0 "pki ca roll: a new local CA"
renew t.example.test --reuse
t2=$(newest t.example.test)
ta2=$(data "$t2" "$TA")
pki-select --serial "$t2" | jq -r '.cert.ec.chain' >"$T/ca2.pem"
is "$(data "$t2" "$TE"):$([ "$ta2" != "$ta1" ] && echo new)" "$(data "$t1" "$TE"):new" \
	"the key kept: the same 3 1 1 record, but a new 2 1 1 one (the new CA)"
capture pki distribute -o t.example.test
is "$rc:$(istate "$t2"):$(both "$TA")" "0:prepublished:$(rrs 2 1 1 "$ta1" "$ta2") | $(rrs 2 1 1 "$ta1" "$ta2")" \
	"the CA change is prepublished as a new key would be"
free_port TA_PORT
serve t.example.test "$TA_PORT" "$T/ca1.pem"
dane_dig t.example.test "$TA_PORT" "$TA"
like "$rc:$out" "0:*Verification: OK*DANE TLSA 2 1 1 *matched TA certificate*" \
	"current + next: the live certificate passes DANE-TA"
capture pki roll -o t.example.test --now "$(at 121)"
is "$rc:$(istate "$t2"):$(both "$TA")" "0:deployed:2 1 1 $ta2 | 2 1 1 $ta2" "rolled: the new CA's record alone"
serve t.example.test "$TA_PORT" "$T/ca2.pem"
dane_dig t.example.test "$TA_PORT" "$TA"
like "$rc:$out" "0:*Verification: OK*DANE TLSA 2 1 1 *matched TA certificate*" \
	"next: the live certificate, of the new CA, passes DANE-TA"
dane t.example.test "$TA_PORT" "2 1 1 $ta1"
like "$rc:$out" "1:*no matching DANE TLSA records*" "the old CA's record alone fails"

# ------------------------------------------------------------ two renewals
first d.example.test -S https:443
D=_443._tcp.d.example.test.
d1=$(newest d.example.test)
renew d.example.test
d2=$(newest d.example.test)
capture pki distribute -o d.example.test
renew d.example.test
d3=$(newest d.example.test)
capture pki distribute -o d.example.test
is "$rc:$(istate "$d1"):$(istate "$d2"):$(istate "$d3"):$(both "$D")" \
	"0:deployed:prepublished:prepublished:$(rrs 3 1 1 "$(data "$d1" "$D")" "$(data "$d2" "$D")" "$(data "$d3" "$D")") | $(rrs 3 1 1 "$(data "$d1" "$D")" "$(data "$d2" "$D")" "$(data "$d3" "$D")")" \
	"a second renewal before the first rolled: prepublished beside both"
capture pki roll -o d.example.test --now "$(at 121)"
is "$rc:$(istate "$d1"):$(istate "$d2"):$(istate "$d3"):$(both "$D")" \
	"0:expired:expired:deployed:3 1 1 $(data "$d3" "$D") | 3 1 1 $(data "$d3" "$D")" \
	"the roll deploys the newest; both before it expire, their records withdrawn"

# ------------------------------------------------------------ a service added
first f.example.test -S https:443
F=_443._tcp.f.example.test.
F25=_25._tcp.f.example.test.
f1=$(newest f.example.test)
q "SELECT add_service('f.example.test', 'smtp', 25)" >/dev/null
renew f.example.test
f2=$(newest f.example.test)
capture pki distribute -o f.example.test
is "$rc:$(istate "$f2"):$(both "$F"):$(both "$F25")" \
	"0:prepublished:$(rrs 3 1 1 "$(data "$f1" "$F")" "$(data "$f2" "$F")") | $(rrs 3 1 1 "$(data "$f1" "$F")" "$(data "$f2" "$F")"): | " \
	"a renewal with a service added: prepublished where the current one has records, nothing where it has none"
is "$(q "SELECT \"Wanted\" || ' ' || \"Published\" FROM tlsa_state WHERE \"Owner\" = '$F25' AND \"Serial\" = $f2")" \
	"false false" "pki status: its record at the new owner neither wanted nor published yet"
capture pki roll -o f.example.test --now "$(at 121)"
is "$rc:$(istate "$f2"):$(both "$F"):$(both "$F25")" \
	"0:deployed:3 1 1 $(data "$f2" "$F") | 3 1 1 $(data "$f2" "$F"):3 1 1 $(data "$f2" "$F25") | 3 1 1 $(data "$f2" "$F25")" \
	"rolled: the new owner published after the deployment"
is "$(q "SELECT \"Wanted\" || ' ' || \"Published\" FROM tlsa_state WHERE \"Owner\" = '$F25' AND \"Serial\" = $f2")" \
	"true true" "pki status: now wanted and published"

# ------------------------------------------------------------ the current one expiring
first e.example.test -S https:443
e1=$(newest e.example.test)
renew e.example.test
e2=$(newest e.example.test)
capture pki distribute -N -o e.example.test
is "$rc:$(istate "$e2")" "0:issued" "a renewal that needs prepublish, -N: held back"
q "UPDATE certinstances SET not_after = now() AT TIME ZONE 'UTC' + interval '23 hours' WHERE id = $e1"
capture pki distribute -N -o e.example.test
is "$rc:$(istate "$e2"):$(istate "$e1")" "0:deployed:expired" \
	"but deployed once the current instance expires within a day"

nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$all" "$T/stderr.all"
done_testing
