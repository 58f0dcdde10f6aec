#!/bin/sh
# dane.t - DANE in the workflows, against a real PostgreSQL, a BIND
# primary and secondary and local targets: the TLSA records of each
# instance stored when it is issued (and equal to the openssl CLI's, for
# every usage, selector and matching type), published by pki distribute
# only once the instance is deployed, a renewal that keeps its key
# changing no DNS, -N, pki tlsa consolidate putting back what was changed
# by hand, pki tlsa remove, a wrong TSIG key and a zone not found logged
# without blocking the others, and a DANE-verifying openssl s_client.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/dane.sh
. "$(dirname "$0")/lib/dane.sh"
dane_setup

# ------------------------------------------------------------ configuration
q "INSERT INTO places (name, cert_file_type, cert_path) VALUES ('bad', 'separate', '/dev/null/{}')"
pki -q cert add a.example.test -a ec -S https:443
pki -q cert add mail.example.test -a ec -A smtp.example.test -S smtp:25 -S imap:143 \
	-S submission:587 -S caldav:8443 -S https:443
pki -q cert add b.example.test -a ec -S https:443
pki -q cert add c.nozone.test -a ec -S https:443
for t in a.example.test:srv mail.example.test:srv b.example.test:bad c.nozone.test:srv; do
	q "SELECT add_target('${t%:*}', 'localhost', NULL, '${t#*:}')" >/dev/null
done

# ------------------------------------------------------------ (a) stored
capture pki issue
is "$rc" 0 "pki issue"
a1=$(newest a.example.test)
is "$(q "SELECT string_agg(owner || ' ' || ttl || ' ' || usage || selector || mtype || ' ' || service,
	',' ORDER BY owner) FROM tlsa_records r JOIN inst i ON i.id = r.certinstance
	WHERE i.name = 'mail.example.test'")" \
	"_143._tcp.mail.example.test. 3600 311 imap,_143._tcp.smtp.example.test. 3600 311 imap,_25._tcp.mail.example.test. 3600 311 smtp,_25._tcp.smtp.example.test. 3600 311 smtp,_443._tcp.mail.example.test. 3600 311 https,_443._tcp.smtp.example.test. 3600 311 https,_587._tcp.mail.example.test. 3600 311 submission,_587._tcp.smtp.example.test. 3600 311 submission,_8443._tcp.mail.example.test. 3600 311 caldav,_8443._tcp.smtp.example.test. 3600 311 caldav" \
	"pki issue stores the TLSA records of serverPKI's sample services, with their owners, per name"
pki-select --serial "$a1" > "$T/a1.json" 2>>"$all"
jq -r '.cert.ec.pem' "$T/a1.json" > "$T/a1.pem"
is "$(q "SELECT data FROM tlsa_records WHERE certinstance = $a1")" "$(spki311 "$T/a1.pem")" \
	"the record stored is the openssl CLI's 3 1 1 of the certificate"
capture pki status a.example.test
like "$out" "*TLSA*_443._tcp.a.example.test.*$a1*issued*3 1 1 $(spki311 "$T/a1.pem")*" \
	"pki status lists the TLSA records of each instance"
is "$(pki-select --tlsa changed 2>>"$all")" "" \
	"issued, not deployed: no RRset is wanted, none is to publish"

# ------------------------------------------------------------ (b) distribute
A=_443._tcp.a.example.test.
is "$(both "$A")" " | " "before distribute no server has a TLSA RRset for a.example.test"
capture pki distribute
is "$rc" 1 "pki distribute: exit 1 (b.example.test's place, c.nozone.test's zone)"
is "$(state a.example.test):$(state mail.example.test)" "deployed:deployed" "deployed"
a311=$(spki311 "$T/a1.pem")
is "$(both "$A")" "3 1 1 $a311 | 3 1 1 $a311" \
	"first certificate: its RRset on the primary and the secondary after the deployment"
is "$(rrset "$NAMED2_PORT" _25._tcp.smtp.example.test.)" "$(wanted _25._tcp.smtp.example.test.)" \
	"every owner of every name and service is published"
is "$(q "SELECT count(*) FROM tlsa_published WHERE rrset <> '[]'")" 11 \
	"pki-store keeps what every server serves: 11 owners"
is "$(q "SELECT max(id) FILTER (WHERE stage = 'pki-deploy') < min(id) FILTER (WHERE stage = 'pki-dnsup' AND message LIKE 'TLSA $A%')
	FROM events WHERE name = 'a.example.test'")" t \
	"deployed first, published then (the event log's order)"
like "$(q "SELECT message FROM events WHERE name = 'a.example.test' AND stage = 'pki-dnsup'")" \
	"TLSA $A: 3 1 1 $a311, served by every authoritative server" "an event names what was published"
is "$(state b.example.test):$(both _443._tcp.b.example.test.)" "issued: | " \
	"a certificate whose deployment failed: no TLSA record is published for it"
like "$out" "*c.nozone.test: TLSA FAILED: pki-dnsup: tlsa: *zone of _443._tcp.c.nozone.test. not found*" \
	"a zone not found fails that certificate's TLSA ..."
is "$(state c.nozone.test)" deployed "... but not its deployment"
like "$(q "SELECT level || ' ' || stage || ' ' || message FROM events WHERE name = 'c.nozone.test' AND level = 'error'")" \
	"error pki-dnsup tlsa: *not found*" "and is in the event log with its cause"
s0=$(serial)
capture pki distribute -o a.example.test -o mail.example.test
is "$rc:$out:$(serial)" "0::$s0" "a second run changes no DNS"

# ------------------------------------------------------------ a DANE client
free_port TLS_PORT
serve a.example.test "$TLS_PORT"
dane a.example.test "$TLS_PORT" "$(rrset "$NAMED2_PORT" "$A")"
like "$rc:$out" "0:*Verification: OK*" \
	"openssl s_client with the RR that dig returned: the deployed certificate passes DANE"
like "$out" "*DANE TLSA 3 1 1 *matched EE certificate*" "... matched by the 3 1 1 record"
dane a.example.test "$TLS_PORT" "3 1 1 $(printf '%064d' 0)"
like "$rc:$out" "1:*no matching DANE TLSA records*" "a wrong record fails"

# ------------------------------------------------------------ renewals
renew a.example.test --reuse
q "SELECT 1 FROM certinstances WHERE id = $(newest a.example.test) AND state = 'issued'" >/dev/null
s0=$(serial)
capture pki distribute -o a.example.test
is "$rc:$(state a.example.test):$(q "SELECT state FROM certinstances WHERE id = $a1")" "0:deployed:expired" \
	"a renewal that kept its key is deployed, the instance before expires"
is "$(serial):$(both "$A")" "$s0:3 1 1 $a311 | 3 1 1 $a311" \
	"and as its 3 1 1 record is the same, DNS is not changed (the zone's serial stays)"
renew a.example.test
a3=$(newest a.example.test)
a3311=$(q "SELECT data FROM tlsa_records WHERE certinstance = $a3")
capture pki distribute -N -o a.example.test
is "$rc:$(state a.example.test):$(both "$A")" "0:issued:3 1 1 $a311 | 3 1 1 $a311" \
	"a new key, distributed with -N: not deployed, as DNS serves a record of the current key only; DNS left as it was"
like "$out" "*a.example.test: instance $a3 issued, held until its TLSA records are prepublished*" \
	"the summary says why it waits"
is "$(pki-select --tlsa prepublish -o a.example.test | jq -r '.tlsa[] | .data' | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$a311" "$a3311" | sort | tr '\n' ' ')" \
	"... and its prepublish is to do: the current record and the new one"
capture pki -D -o a.example.test
is "$rc:$(state a.example.test):$(both "$A")" \
	"0:prepublished:$(printf '3 1 1 %s\n' "$a311" "$a3311" | sort | tr '\n' ',' | sed 's/,$//') | $(printf '3 1 1 %s\n' "$a311" "$a3311" | sort | tr '\n' ',' | sed 's/,$//')" \
	"the next distribute (serverPKI's -D) prepublishes it: both records on every server"
capture pki roll -o a.example.test --now "$(date -u -d '+121 min' +%FT%TZ)"
is "$rc:$(state a.example.test):$(both "$A")" "0:deployed:3 1 1 $a3311 | 3 1 1 $a3311" \
	"pki roll after twice the TTL (3600 s): deployed, the RRset the deployed instance's alone"

# ------------------------------------------------------------ (c) consolidate, remove
# by_hand COMMANDS: an update of example.test with nsupdate, as a person
# would make it, waited for on the secondary.
by_hand() {
	printf 'server 127.0.0.1 %s\nzone example.test\n%s\nsend\n' "$NAMED_PORT" "$1" |
		nsupdate -y "hmac-sha256:$NAMED_TSIG_NAME:$NAMED_TSIG_SECRET"
	_n=0
	while [ "$(serial)" != "$(dig +short +norec -p "$NAMED2_PORT" @127.0.0.1 SOA example.test |
		cut -d ' ' -f 3)" ] && [ "$_n" -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
}
bogus="3 1 1 $(printf '%064d' 1)"
by_hand "update delete $A TLSA
update add $A 60 TLSA $bogus
update delete _25._tcp.mail.example.test. TLSA"
is "$(both "$A")" "$bogus | $bogus" "DNS changed by hand"
capture pki distribute
is "$(both "$A")" "$bogus | $bogus" "pki distribute does not look at DNS: it changes only what the database changed"
# mail.example.test's deployed instance as if stored before pki kept
# TLSA records (sql/012): pki tlsa consolidate computes them.
m=$(q "SELECT id FROM certinstances WHERE state = 'deployed' AND certificate = cert_id('mail.example.test')")
recs() {
	q "SELECT string_agg(owner || ' ' || ttl || ' ' || usage || selector || mtype || ' ' || data, ','
		ORDER BY owner) FROM tlsa_records WHERE certinstance = $m"
}
m_recs=$(recs)
q "DELETE FROM tlsa_records WHERE certinstance = $m"
is "$(pki-select --tlsa backfill 2>>"$all" | jq -c '[.name, .action, .instance.id, (.cert | keys)]')" \
	"[\"mail.example.test\",\"tlsa-backfill\",$m,[\"ec\"]]" \
	"pki-select --tlsa backfill: the deployed instance without TLSA records, with its certificate"
capture pki tlsa consolidate -o a.example.test -o mail.example.test
is "$rc" 0 "pki tlsa consolidate"
is "$(recs)" "$m_recs" "it computes and stores the records of a deployed instance that had none first"
like "$out" "*mail.example.test: instance $m: 10 TLSA record(s) computed and stored*" "... and says so"
pki-select --tlsa backfill -o mail.example.test >"$T/backfill" 2>>"$all"
is "$(cat "$T/backfill")" "" "... once"
printf '%s\n' "{\"id\":$(q "SELECT cert_id('a.example.test')"),\"name\":\"a.example.test\",\"action\":\"tlsa-backfill\",\"instance\":{\"id\":$m},\"tlsa\":[]}" \
	'{"name":"other","action":"status"}' >"$T/bad.json"
run pki-store <"$T/bad.json"
is "$rc:$(jq -r '.errors[0].field + ": " + .errors[0].message' "$T/out" | head -1):$(sed -n 2p "$T/out" | jq -r .name)" \
	"1:instance: instance $m is not certificate $(q "SELECT cert_id('a.example.test')")'s:other" \
	"pki-store: a backfill naming another certificate's instance fails alone"
is "$(both "$A"):$(both _25._tcp.mail.example.test.)" \
	"3 1 1 $a3311 | 3 1 1 $a3311:$(wanted _25._tcp.mail.example.test.) | $(wanted _25._tcp.mail.example.test.)" \
	"puts back the wanted RRsets on every server: the hand-made record gone, the deleted one back"
capture pki tlsa remove -o a.example.test
is "$rc:$(both "$A")" "0: | " "pki tlsa remove empties the RRset on every server"
is "$(both _443._tcp.mail.example.test.)" "$(wanted _443._tcp.mail.example.test.) | $(wanted _443._tcp.mail.example.test.)" \
	"... of the certificates selected only"
is "$(q "SELECT withheld || rrset::text FROM tlsa_published WHERE owner = '$A'")" "true[]" \
	"the owner is withheld"
capture pki distribute
is "$(both "$A")" " | " "pki distribute leaves a withheld owner empty"
capture pki -T -o a.example.test
is "$rc:$(both "$A")" "0:3 1 1 $a3311 | 3 1 1 $a3311" "serverPKI's -T (tlsa consolidate) publishes it again"
capture pki -R -a -o a.example.test
is "$rc:$(both "$A")" "0: | " "serverPKI's -R (tlsa remove)"
capture pki tlsa consolidate -o a.example.test
capture pki tlsa
is "$rc" 2 "pki tlsa without a mode: exit 2"
capture pki consolidate -N
is "$rc" 2 "-N is distribute's: pki consolidate -N is a usage error"
run pki-select --tlsa some
like "$rc:$(cat "$T/err")" "2:*--tlsa: \"some\" is not changed, all, remove, prepublish or backfill*" "pki-select --tlsa with a bad mode: exit 2"
run pki-select --tlsa all --distribute
like "$rc:$(cat "$T/err")" "2:*--tlsa selects certificates by name: no other mode*" "--tlsa with another mode: exit 2"

# ------------------------------------------------------------ (d) a wrong TSIG key
renew a.example.test
a4=$(newest a.example.test)
a4311=$(q "SELECT data FROM tlsa_records WHERE certinstance = $a4")
sed 's/secret "[^"]*"/secret "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="/' "$NAMED_TSIG_KEYFILE" >"$T/wrong.key"
chmod 0600 "$T/wrong.key"
printf 'PKI_TSIG_KEY_FILE=%s\n' "$T/wrong.key" >>"$T/pki.conf"
pki -q cert add n.example.test -a ec -S https:443
q "SELECT add_target('n.example.test', 'localhost', NULL, 'srv')" >/dev/null
pki -q issue -o n.example.test >/dev/null
capture pki distribute -o a.example.test -o n.example.test
is "$rc" 1 "a wrong TSIG key: exit 1"
like "$out" "*a.example.test: prepublish of instance $a4 FAILED: pki-dnsup: tlsa: zone example.test.: update refused by 127.0.0.1#$NAMED_PORT: NOTAUTH, TSIG error BADSIG*" \
	"the summary names the cause"
is "$(q "SELECT state FROM certinstances WHERE id = $a3"):$(state a.example.test)" "deployed:issued" \
	"the renewal stays issued: neither prepublished nor deployed"
is "$(state n.example.test)" deployed "a first certificate in the same run is deployed all the same"
is "$(both "$A")" "3 1 1 $a3311 | 3 1 1 $a3311" "DNS is as it was"
like "$(q "SELECT level || ' ' || stage || ' ' || message FROM events WHERE name = 'a.example.test' ORDER BY id DESC LIMIT 1")" \
	"error pki-dnsup tlsa: zone example.test.: update refused by *BADSIG*" "the event log has the error with its cause"
is "$(q "SELECT instance FROM events WHERE name = 'a.example.test' ORDER BY id DESC LIMIT 1")" "$a4" \
	"... logged for the instance"
nok "no key material in the event log" sh -c "psql -X -At -c 'SELECT message FROM pki.events' | grep -q AAAAAAAAAAAAAAA"
sed -i '$d' "$T/pki.conf"
capture pki distribute -o a.example.test -o n.example.test
is "$rc:$(state a.example.test):$(both "$A" | tr ',' ' ')" \
	"0:prepublished:$(printf '3 1 1 %s\n' "$a3311" "$a4311" | sort | tr '\n' ' ' | sed 's/ $//') | $(printf '3 1 1 %s\n' "$a3311" "$a4311" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the next run with the right key prepublishes it"
is "$(rrset "$NAMED2_PORT" _443._tcp.n.example.test.)" "$(wanted _443._tcp.n.example.test.)" \
	"and publishes the first certificate's RRset"
capture pki roll --now "$(date -u -d '+3 hours' +%FT%TZ)" -o a.example.test
is "$rc:$(both "$A")" "0:3 1 1 $a4311 | 3 1 1 $a4311" "and pki roll completes it"

# ------------------------------------------------------------ zone-file mode
pki -q cert add z.inc.test -a ec -S https:443
q "SELECT add_target('z.inc.test', 'localhost', NULL, 'srv')" >/dev/null
pki -q issue -o z.inc.test >/dev/null
Z=_443._tcp.z.inc.test.
capture env PKI_DNS_INCLUDE_FILE="$NAMED_INCLUDE_PATTERN" PKI_DNS_RELOAD_CMD="$NAMED_RELOAD_CMD" \
	pki distribute -o z.inc.test
z311=$(q "SELECT data FROM tlsa_records WHERE certinstance = $(newest z.inc.test)")
is "$rc:$(state z.inc.test):$(both "$Z")" "0:deployed:3 1 1 $z311 | 3 1 1 $z311" \
	"zone-file mode: deployed, then published through the include file, on both servers"
like "$(cat "$NAMED_INCLUDE_FILE")" "*$Z*TLSA*3 1 1 *" "the include file holds the record"
capture env PKI_DNS_INCLUDE_FILE="$NAMED_INCLUDE_PATTERN" PKI_DNS_RELOAD_CMD="$NAMED_RELOAD_CMD" \
	pki tlsa remove -o z.inc.test
is "$rc:$(both "$Z"):$(grep -c TLSA "$NAMED_INCLUDE_FILE")" "0: | :0" "and pki tlsa remove empties it there"

# ------------------------------------------------------------ usage, selector, matching type
i=0
prefixes=
for u in 0 1 2 3; do
	for s in 0 1; do
		for m in 0 1 2; do
			i=$((i + 1))
			prefixes="$prefixes{\"name\":\"s$u$s$m\",\"tlsa_prefix\":\"_$((1000 + i))._tcp.{}. 300 IN TLSA $u $s $m\"},"
		done
	done
done
pki-select --serial "$a4" | jq -c --argjson s "[${prefixes%,}]" '.services = $s' | pki-tlsa >"$T/combos" 2>>"$all"
jq -r '.cert.ec.pem' "$T/combos" >"$T/ee.pem"
# usages 0 and 2: the certificate at the top of the chain
jq -r '.cert.ec.chain' "$T/combos" | awk '/BEGIN/ { b = "" } { b = b $0 "\n" } /END/ { last = b }
	END { printf "%s", last }' >"$T/ta.pem"
is "$(openssl x509 -in "$T/ta.pem" -noout -subject)" "subject=CN = Local CA" "the top of the chain is the local CA"
for u in 0 1 2 3; do
	f=$T/ee.pem
	[ "$u" = 0 ] || [ "$u" = 2 ] && f=$T/ta.pem
	openssl x509 -in "$f" -outform DER >"$T/s0.der"
	openssl x509 -in "$f" -pubkey -noout | openssl pkey -pubin -outform DER >"$T/s1.der"
	for s in 0 1; do
		for m in 0 1 2; do
			case $m in
			0) want=$(od -An -v -tx1 "$T/s$s.der" | tr -d ' \n' | tr a-f A-F) ;;
			1) want=$(openssl dgst -sha256 -r "$T/s$s.der" | cut -d ' ' -f 1 | tr a-f A-F) ;;
			2) want=$(openssl dgst -sha512 -r "$T/s$s.der" | cut -d ' ' -f 1 | tr a-f A-F) ;;
			esac
			got=$(jq -r --arg n "s$u$s$m" '.tlsa[] | select(.service == $n) | .data' "$T/combos")
			is "${got:-none}" "$want" "TLSA $u $s $m: pki-tlsa's data is the openssl CLI's"
		done
	done
done

nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$all" "$T/stderr.all"
done_testing
