#!/bin/sh
# persist.t - dns-persist-01 (draft-ietf-acme-dns-persist) against Debian
# forky's Pebble 2.10, which validates it through BIND (named, a primary
# and its secondary, on loopback).  A certificate asks for it in the
# database (pki cert add -C, pki cert set --challenge); its first issue
# publishes the standing record _validation-persist.NAME (the CA's issuer
# domain name and the account), which stays; a renewal sends no DNS
# update at all (the zone's serial stays) and is validated all the same.
# A standing record that lies to the CA (another account) fails its
# certificate alone, saying so; the truth is in DNS: a record that an
# authoritative server lacks is published again, beside a foreign one.
# A record of the pipeline naming another account than its own fails
# before anything is published; zone-file mode, persistUntil, a record
# longer than 255 octets; Debian 12's Pebble 2.4, which does not offer
# the challenge, fails the record that asks for it, and only that one.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
[ -x "$PKI_BUILD/bin/pki-dnsup" ] || skip_all "no pki-dnsup"
# shellcheck source=tests/lib/acmedns.sh
. "$(dirname "$0")/lib/acmedns.sh"
pebble_new_available ||
	skip_all "no Pebble 2.10 in $PEBBLE_NEW (make deps fetches it)"
acmedns_setup VERSION=2.10 PEBBLE_AUTHZREUSE=0	# asks the primary

err=$T/stderr.all
CA=$PEBBLE_CA_BUNDLE
ISSUER=pebble.letsencrypt.org	# Pebble's issuer-domain-names
txt() {	# txt OWNER [PORT]: the TXT values a server serves, sorted, one line
	dig +short +norecurse -p "${2:-$NAMED_PORT}" @127.0.0.1 TXT "$1" |
		sort | tr '\n' ' '
}
serial() {	# serial ZONE [PORT]
	dig +short +norecurse -p "${2:-$NAMED_PORT}" @127.0.0.1 SOA "$1" |
		cut -d ' ' -f 3
}
updates() {	# updates: the UPDATE messages the primary has got so far
	rm -f "$T/named/named.stats"
	$NAMED_RNDC stats >/dev/null 2>&1
	awk '/^\+\+ Incoming Requests \+\+/ { s = 1; next } /^\+\+/ { s = 0 }
		s && $2 == "UPDATE" { n = $1 } END { print n + 0 }' "$T/named/named.stats"
}
nsup() {	# nsup PORT COMMAND...: a signed update of the test's own
	{ echo "server 127.0.0.1 $1"; shift; printf '%s\n' "$@" send; } |
		nsupdate -y "hmac-sha256:$NAMED_TSIG_NAME:$NAMED_TSIG_SECRET"
}
instances() {	# instances NAME: how many instances NAME has
	q "SELECT count(*) FROM certinstances i JOIN subjects s
		ON s.certificate = i.certificate AND NOT s.isaltname
		WHERE s.name = '$1' AND i.state = 'issued'"
}

{ acmedns_conf; echo PKI_ACME_TIMEOUT=30; } > "$T/pki.conf"
PKI_CONF=$T/pki.conf
export PKI_CONF
pki -q register --agree-tos > /dev/null 2>>"$err"
ACCT=$(q "SELECT url FROM acme_accounts WHERE status = 'valid'")

# ------------------------------------------------------------ the setting
pki -q cert add one.example.test -c acme -a ec -C dns-persist-01
pki -q cert add wild.example.test -c acme -a ec -A '*.wild.example.test'
pki -q cert add plain.example.test -c acme -a ec
capture pki cert set wild.example.test --challenge dns-persist-01
is "$rc:$out" "0:pki: certificate wild.example.test is validated by dns-persist-01" \
	"pki cert set NAME --challenge dns-persist-01"
capture pki cert set wild.example.test --challenge tls-alpn-01
is "$rc:$out" "2:pki: --challenge tls-alpn-01: use dns-01, http-01 or dns-persist-01" \
	"... a type pki does not answer: refused, saying which it does"
capture pki cert set nosuch.example.test --challenge dns-01
is "$rc:$out" "1:pki: no certificate nosuch.example.test" "... no such certificate: exit 1"
is "$(pki-select -a 2>>"$err" | jq -r '"\(.name) \(.challenge)"' | sort | tr '\n' ' ')" \
	"one.example.test dns-persist-01 plain.example.test dns-01 wild.example.test dns-persist-01 " \
	"pki-select: the challenge in the record; dns-01 stays the default"

# ------------------------------------------------------------ first issue
u0=$(updates)
capture pki -q issue
is "$rc" 0 "pki issue: dns-persist-01 and dns-01 certificates in one run"
is "$(instances one.example.test):$(instances wild.example.test):$(instances plain.example.test)" \
	"1:1:1" "... each issued"
is "$(txt _validation-persist.one.example.test)" "\"$ISSUER; accounturi=$ACCT\" " \
	"the standing record names the CA's issuer and the account"
is "$(txt _validation-persist.wild.example.test "$NAMED2_PORT")" \
	"\"$ISSUER; accounturi=$ACCT; policy=wildcard\" " \
	"a wildcard's: policy=wildcard, one record for the apex and the wildcard (the secondary serves it)"
is "$(txt _acme-challenge.plain.example.test)" "" \
	"the dns-01 challenge is withdrawn; the standing records stay"
ok "the first issue sent updates" test "$(updates)" -gt "$u0"

# ------------------------------------------------------------ renewal
# A renewal, killed (SIGKILL) in pki-acme finish after its orders were
# stored and its challenges found standing; the next run takes its claims
# over, resumes the orders and issues: no second order, and not one DNS
# update in either run.
mkdir "$T/bin"
ln -s "$PKI_BUILD"/bin/* "$T/bin/"
rm "$T/bin/pki-acme"
cat > "$T/bin/pki-acme" <<EOF
#!/bin/sh
[ "\$1" = finish ] && kill -9 \$\$
exec "$PKI_BUILD/bin/pki-acme" "\$@"
EOF
chmod +x "$T/bin/pki-acme"
orders() { grep -c "Added order" "$PEBBLE_LOG"; }
s1=$(serial example.test)
u1=$(updates)
o1=$(orders)
capture env PKI_BINDIR="$T/bin" pki -q renew --force -o one.example.test -o wild.example.test
is "$rc:$(instances one.example.test):$(instances wild.example.test):$(orders)" \
	"2:1:1:$((o1 + 2))" \
	"a renewal of the dns-persist-01 certificates killed in pki-acme finish: exit 2, their orders placed"
start=$(date +%s)
capture pki -q renew --force -o one.example.test -o wild.example.test
is "$rc" 0 "pki renew --force again"
diag "renewal: $(($(date +%s) - start)) s"
is "$(instances one.example.test):$(instances wild.example.test):$(orders)" "2:2:$((o1 + 2))" \
	"... both renewed, validated by the standing records, the orders resumed (no new one)"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 0 \
	"... no claim left behind"
is "$(serial example.test):$(serial example.test "$NAMED2_PORT")" "$s1:$s1" \
	"... the zone's serial did not change"
is "$(updates)" "$u1" "... the primary got no UPDATE at all (not even --check's probe)"

# ------------------------------------------------------------ filters
rec() {	# rec NAME [JQ]: a dns-persist-01 record of the ACME CA
	jq -cn --arg n "$1" "{name: \$n, ca: \"acme\", algos: [\"ec\"], challenge: \"dns-persist-01\"} | ${2:-.}"
}
# pki-acme with the account of the database (PKI_DB)
order() { pki-acme order --ca-bundle "$CA" "$@"; }
finish() { pki-acme finish --ca-bundle "$CA"; }
dnsup() {
	pki-dnsup --key-file "$NAMED_TSIG_KEYFILE" --resolver "127.0.0.1:$NAMED_PORT" \
		--server "127.0.0.1:$NAMED_PORT" --interval 0.1 --timeout 10 "$@"
}
field() { jq -c --arg n "$1" "select(.name == \$n) | $2" "$T/out"; }
errmsg() { jq -r --arg n "$1" 'select(.name == $n) | .errors[]? | "\(.stage): \(.field): \(.message)"' "$T/out"; }

# A lying standing record: the secondary serves ours (which is all that
# pki-dnsup is told to ask here), the primary, which the CA asks, serves
# another account's (lag.test: its changes reach the secondary only on a
# refresh).
nsup "$NAMED_PORT" "update add _validation-persist.lie.lag.test 60 TXT \"$ISSUER; accounturi=$ACCT\""
$NAMED2_RNDC refresh lag.test >/dev/null 2>&1
n=0
while [ -z "$(txt _validation-persist.lie.lag.test "$NAMED2_PORT")" ] && [ "$n" -lt 100 ]; do
	sleep 0.05; n=$((n + 1))
done
nsup "$NAMED_PORT" "update delete _validation-persist.lie.lag.test TXT" \
	"update add _validation-persist.lie.lag.test 60 TXT \"$ISSUER; accounturi=https://127.0.0.1:1/my-account/other\""
{ rec lie.lag.test; rec good.example.test; } | pki-keygen 2>>"$err" |
	pki-csr 2>>"$err" | order 2>>"$err" > "$T/ordered"
run dnsup --ns "127.0.0.1:$NAMED2_PORT" < "$T/ordered"
is "$rc:$(jq -r '.dns.persist[0].state' "$T/out" | tr '\n' ' ')" "0:standing published " \
	"pki-dnsup: the lying record looks standing where it is asked; the other is published"
finish < "$T/out" > "$T/finished" 2>>"$err"
rc=$?
mv "$T/finished" "$T/out"
is "$rc" 1 "pki-acme finish: exit 1"
like "$(errmsg lie.lag.test)" "pki-acme: acme: lie.lag.test: dns-persist-01 challenge failed: urn:ietf:params:acme:error:unauthorized: *accounturi mismatch*my-account/other*" \
	"... the certificate whose standing record lies to the CA fails, saying so"
is "$(field good.example.test '[(.cert | keys), (.errors // [] | length)]')" '[["ec"],0]' \
	"... and the other certificate goes on"
# The truth is in DNS: every authoritative server asked, the primary
# lacks ours; it is published there again, beside the other account's
# record, which is not pki's to remove.
rec lie.lag.test | pki-keygen 2>>"$err" | pki-csr 2>>"$err" | order 2>>"$err" |
	dnsup --ns "127.0.0.1:$NAMED_PORT" 2>>"$err" | finish > "$T/out" 2>>"$err"
is "$(field lie.lag.test '[.dns.persist[0].state, (.cert | keys), (.errors // [] | length)]')" \
	'["published",["ec"],0]' "asking every server again: published where it lacked, and issued"
is "$(txt _validation-persist.lie.lag.test)" \
	"$(printf '"%s" \n' "$ISSUER; accounturi=$ACCT" \
		"$ISSUER; accounturi=https://127.0.0.1:1/my-account/other" | sort | tr -d '\n')" \
	"... beside the other account's record, left alone"

# A record of the pipeline that names another account than its own (or
# a name not its own): refused before anything is published.
jq -c 'select(.name == "good.example.test") | .errors = null | .cert = null |
	.challenges[0].txt |= sub("accounturi=[^;]*"; "accounturi=https://127.0.0.1:1/my-account/other")' \
	"$T/ordered" > "$T/lying"
jq -c 'select(.name == "good.example.test") | .name = "forged.example.test" | .cert = null' \
	"$T/ordered" >> "$T/lying"
jq -c 'select(.name == "good.example.test") | .name = "fine.example.test" | .altnames = ["good.example.test"] | .cert = null' \
	"$T/ordered" >> "$T/lying"
u2=$(updates)
run dnsup --ns "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED2_PORT" < "$T/lying"
is "$rc" 1 "pki-dnsup: records that lie: exit 1"
is "$(errmsg good.example.test)" "pki-dnsup: challenges: challenges[0]: txt: not the standing record of the record's account (acme.account) and the CA's issuer" \
	"... a value naming another account: refused, naming the field"
is "$(errmsg forged.example.test)" "pki-dnsup: challenges: challenges[0]: owner: not _validation-persist.NAME. for a name of the record" \
	"... an owner for a name the record does not have: refused"
is "$(field fine.example.test '[.dns.persist[0].state, (.errors // [] | length)]')" '["standing",0]' \
	"... the record beside them goes on"
is "$(updates)" "$u2" "... and nothing was sent to the primary"

# A server away (the secondary stopped): a standing record it may lack is
# not taken as standing; it is published (a no-op for the primary) and
# waited for until the timeout, which says which server lacks it.  The
# server is asked once, not once per record (a second each: four records
# would use up the 3 s before the update).  Back, all is standing.
jq -c 'select(.name == "good.example.test") | .errors = null | .cert = null |
	., (range(2; 5) as $i | .name = "good\($i).example.test" |
	.altnames = ["good.example.test"])' "$T/ordered" > "$T/four"
kill -STOP "$NAMED2_PID"
run dnsup --ns "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED2_PORT" --timeout 3 < "$T/four"
kill -CONT "$NAMED2_PID"
like "$rc:$(jq -r '.errors[0].message' "$T/out" | sort | uniq -c | tr -s ' ')" \
	"1: 4 _validation-persist.good.example.test.: not served by 127.0.0.1#$NAMED2_PORT (no answer) within 3 s" \
	"a server away: not standing, published, and its absence said after the timeout"
run dnsup --ns "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED2_PORT" < "$T/four"
is "$rc:$(jq -r '.dns.persist[0].state' "$T/out" | tr '\n' ' ')" \
	"0:standing standing standing standing " "... the server back: standing again"

# ------------------------------------------------------------ zone-file mode
zf() {
	pki-dnsup --resolver "127.0.0.1:$NAMED_PORT" --interval 0.1 --timeout 10 \
		--include-file "$NAMED_INCLUDE_PATTERN" --reload-cmd "$NAMED_RELOAD_CMD" \
		--ns "127.0.0.1:$NAMED_PORT" --ns "127.0.0.1:$NAMED2_PORT"
}
for i in 1 2; do
	rec zf.inc.test | pki-keygen 2>>"$err" | pki-csr 2>>"$err" |
		order --persist-until 2099-01-01T00:00:00Z 2>>"$err" > "$T/ordered"
	[ "$i" = 2 ] && s2=$(serial inc.test) && sum=$(cksum < "$NAMED_INCLUDE_FILE")
	zf < "$T/ordered" 2>>"$err" | finish > "$T/out" 2>>"$err"
	is "$(field zf.inc.test '[.dns.persist[0].state, (.cert | keys), (.errors // [] | length)]')" \
		"[\"$(test "$i" = 1 && echo published || echo standing)\",[\"ec\"],0]" \
		"zone-file mode, run $i: $(test "$i" = 1 && echo "published in the include file" || echo "standing"), and issued"
done
is "$(txt _validation-persist.zf.inc.test "$NAMED2_PORT")" \
	"\"$ISSUER; accounturi=$ACCT; persistUntil=4070908800\" " \
	"--persist-until: the record says persistUntil; the CA validated it"
is "$(serial inc.test):$(cksum < "$NAMED_INCLUDE_FILE")" "$s2:$sum" \
	"... the second run neither wrote the include file nor reloaded the zone"

# ------------------------------------------------------------ longer than 255
long=https://127.0.0.1:1/$(printf '%0300d' 0)
lrec=$(jq -cn --arg a "$long" --arg v "$ISSUER; accounturi=$long" \
	'{name: "long.example.test", ca: "acme", challenge: "dns-persist-01",
	  acme: {account: $a}, challenges: [{type: "dns-persist-01",
	  owner: "_validation-persist.long.example.test.", issuer: "pebble.letsencrypt.org",
	  txt: $v}]}')
printf '%s\n' "$lrec" | dnsup --ns "127.0.0.1:$NAMED_PORT" > "$T/out" 2>>"$err"
printf '%s\n' "$lrec" | dnsup --ns "127.0.0.1:$NAMED_PORT" >> "$T/out" 2>>"$err"
is "$(jq -r '.dns.persist[0].state' "$T/out" | tr '\n' ' ')" "published standing " \
	"a standing record of 330 octets: published (in two strings), then found standing"
is "$(dig +short +norecurse -p "$NAMED_PORT" @127.0.0.1 TXT _validation-persist.long.example.test |
	sed 's/" "//g; s/"//g')" "$ISSUER; accounturi=$long" "... and served whole"

# ------------------------------------------------------------ a CA without it
pebble_start PEBBLE_AUTHZREUSE=0	# Debian 12's Pebble 2.4
(umask 077 && exec pki-acme register --directory "$PEBBLE_DIRECTORY" \
	--email admin@example.test --agree-tos --ca-bundle "$PEBBLE_CA_BUNDLE" \
	> "$T/acct24.json") 2>>"$err"
{ rec old.example.test; rec dns01.example.test '.challenge = "dns-01"'; } |
	pki-keygen 2>>"$err" | pki-csr 2>>"$err" > "$T/csr"
run pki-acme order --account "$T/acct24.json" --ca-bundle "$PEBBLE_CA_BUNDLE" < "$T/csr"
is "$rc" 1 "Pebble 2.4 offers no dns-persist-01: exit 1"
like "$(errmsg old.example.test)" "pki-acme: challenge: old.example.test: the CA offers no dns-persist-01 challenge (it offers *dns-01*)" \
	"... the record asking for it fails, naming the field and what the CA offers"
is "$(field dns01.example.test '[.challenges[0].type, (.errors // [] | length)]')" '["dns-01",0]' \
	"... the other record is ordered"

nok "no private key on stderr or in any output" grep -q "$SECRET_PATTERN" "$err" "$T/all"
done_testing
