#!/bin/sh
# serverpki.t - the options of serverPKI's operate_serverPKI (its manual,
# chapter 6.2), short and long, each with its meaning, in one table: the
# ones other files exercise already (-C -n -E in workflow.t, -D -s -K in
# distribute.t, -T -R in dane.t, -r in schedule-run.t, -S -n in
# schedule.t, -Y in store.t, -Z -f in acme.t) are here in their long
# form; the combinations operate_serverPKI allows (-C -D, -K -T) are
# done in its order, the others refused, as is a modifier that means
# nothing for the action given.  Local certificates, deployed to
# disthosts that are this machine (no SSH).
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

cat > "$T/pki.conf" <<EOF
PKI_DEPLOY_LOCAL=here.test
EOF
PKI_CONF=$T/pki.conf
export PKI_CONF
q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init

# Certificates a.test ... (d.test and e.test disabled), each deployed
# to localhost and here.test; n.test has a TLSA service.
q "SELECT add_cert((n || '.test')::citext, 'server', 'local', 'ec', false, NULL,
	NULL, NULL, NULL) FROM unnest('{a,b,c,d,e,f,n,v,w}'::text[]) n;
   UPDATE certificates SET disabled = true WHERE id IN (SELECT certificate
	FROM subjects WHERE name IN ('d.test', 'e.test'));
   INSERT INTO disthosts (fqdn) VALUES ('localhost'), ('here.test');
   INSERT INTO places (name, cert_file_type, cert_path) VALUES
	('p1', 'separate', '$T/localhost/{}'), ('p2', 'separate', '$T/here/{}');
   SELECT add_target(s.name, h::citext, NULL, CASE h WHEN 'localhost'
	THEN 'p1' ELSE 'p2' END::citext) FROM subjects s,
	unnest('{localhost,here.test}'::text[]) h WHERE s.type <> 'CA';
   SELECT add_service('n.test', 'smtp', '25')" >/dev/null ||
	{ echo "Bail out! the certificates and targets"; exit 1; }

# valid NAME: NAME's valid instances; insts NAME: all its instances;
# state NAME: its newest's state; on NAME: the disthosts that hold it,
# sorted.
valid() {
	q "SELECT count(*) FROM inst WHERE name = '$1' AND state IN ('issued',
		'prepublished', 'deployed') AND not_after > now() AT TIME ZONE 'UTC'"
}
insts() { q "SELECT count(*) FROM inst WHERE name = '$1'"; }
state() { q "SELECT state FROM certinstances WHERE id = (SELECT max(id) FROM inst WHERE name = '$1')"; }
on() {
	q "SELECT string_agg(\"Dist Host\", ' ' ORDER BY \"Dist Host\") FROM deploy_state
		WHERE \"Serial\" = (SELECT max(id) FROM inst WHERE name = '$1')
		AND \"Status\" = 'ok'"
}
cas() { q "SELECT count(*) FROM inst WHERE name = 'Local CA'"; }
encrypted() { q "SELECT keysencrypted FROM revision"; }
printf 'secret passphrase\n' > "$T/dbpass"
chmod 0600 "$T/dbpass"
PKI_DB_PASSPHRASE_FILE=$T/dbpass	# for --encrypt-keys, --decrypt-keys
export PKI_DB_PASSPHRASE_FILE
# n.test's TLSA records go to a DNS server where nothing listens: any
# attempt to change them fails at once.
printf 'PKI_DEPLOY_LOCAL=here.test\nPKI_TSIG_KEY_FILE=%s\nPKI_DNS_SERVER=127.0.0.1:9\nPKI_DNS_RESOLVER=127.0.0.1:9\nPKI_DNS_NS=127.0.0.1:9\nPKI_DNS_TIMEOUT=1\n' \
	"$T/tsig.key" > "$T/dns.conf"
tsig-keygen -a hmac-sha256 k > "$T/tsig.key" 2>/dev/null ||
	printf 'key "k" { algorithm hmac-sha256; secret "c2VjcmV0"; };\n' > "$T/tsig.key"
chmod 0600 "$T/tsig.key"

# The table, a row a line:  RC | ARGUMENTS | WHAT IT MEANS | CHECK
# pki ARGUMENTS (eval'd) must exit RC and then CHECK (eval'd; may read
# $out, all pki printed) must succeed.  Rows run in order.
cat > "$T/table" <<'EOF'
0 | -h | -h prints the options | like_out "*serverPKI's options*-I (ca roll)*"
0 | --create-certs --distribute-certs --only b.test | --create-certs --distribute-certs: issue, then distribute | [ "$(valid a.test):$(state b.test):$(on b.test)" = "0:deployed:here.test localhost" ]
0 | --create-certs --include e.test --only e.test --only c.test --only d.test --exclude d.test | --include NAME: that one even if disabled; --exclude NAME: not that one | [ "$(valid e.test):$(valid c.test):$(valid d.test):$(valid f.test)" = 1:1:0:0 ]
0 | --distribute-certs --limit-to-disthost localhost -o c.test | --limit-to-disthost HOST: only to HOST | [ "$(on c.test)" = localhost ]
0 | -f "$T/dns.conf" -C -D --no-TLSA-records --quiet -o n.test | --no-TLSA-records: distributed, DNS left alone; --quiet: nothing said when all went well | [ -z "$out" ] && [ "$(state n.test)" = deployed ]
1 | --consolidate-certs --consolidate-TLSAs -o n.test --config_file="$T/dns.conf" | --consolidate-certs --consolidate-TLSAs: the targets checked, then DNS; --config_file=FILE after the action, read: its DNS server fails | like_out "*n.test: instance * deployed: 2 of 2 target(s) ok*n.test: TLSA FAILED: pki-dnsup: *"
0 | --renew-local-certs=400 -C -D -o b.test | --renew-local-certs=DAYS -C -D: renew what expires within DAYS days, then distribute | [ "$(insts b.test):$(state b.test):$(on b.test)" = "2:deployed:here.test localhost" ]
0 | --schedule-actions --check-only -o f.test | --schedule-actions --check-only: what would be done | [ "$out" = "f.test: issue" ]
0 | -S -q -a -e n.test -e v.test -e w.test | -S -q -a, the cron line: every due one, silently; disabled ones too | [ -z "$out" ] && [ "$(state f.test):$(state d.test):$(state e.test):$(on c.test)" = "deployed:deployed:deployed:here.test localhost" ]
0 | -v -C -o v.test | -v: the programs say what they do | like_out "*v.test: claimed as instance*"
0 | --debug --create-certs --only w.test | --debug: the same | like_out "*w.test: claimed as instance*"
0 | --export-cert-and-key="$(q "SELECT max(id) FROM inst WHERE name = 'b.test'")" "$T/export" | --export-cert-and-key=SERIAL [DIR]: the files | [ -s "$T/export/b.test/ec/key.pem" ]
0 | --issue-local-CAcert | --issue-local-CAcert: a new local CA | [ "$(cas)" = 2 ]
0 | --encrypt-keys | --encrypt-keys: every key at rest encrypted | [ "$(encrypted)" = t ]
2 | --register | --register: an ACME account (acme.t makes one; here no CA) | like_out "*register: set PKI_ACME_DIRECTORY*"
2 | -C -S | two actions not done together: refused | like_out "pki: -C and -S: not done together (operate_serverPKI combines only -C with -D, and -K with -T)"
2 | --export-cert-and-key=5 --register | --export-cert-and-key and --register: the same | like_out "pki: -E and -Z: not done together *"
2 | --encrypt-keys --decrypt-keys | --encrypt-keys and --decrypt-keys: the same | like_out "pki: -X and -Y: not done together *"
2 | --issue-local-CAcert --remove-TLSAs --distribute-certs | three actions: refused | like_out "pki: too many actions: -I -R -D *"
2 | --no-TLSA-records --schedule-actions | -N without -D: refused | like_out "pki: -N (no TLSA changes) goes with -D; not with -S"
2 | --skip-disthost=x --create-certs | -s without -D or -K: refused | like_out "pki: -s and -l (disthosts) go with -D or -K; not with -C"
2 | --limit-to-disthost x --consolidate-TLSAs | -l without -D or -K: refused | like_out "pki: -s and -l (disthosts) go with -D or -K; not with -T"
2 | --renew-local-certs 3 --consolidate-certs | -r with -K: refused | like_out "pki: -r DAYS goes with -C or -D, or alone; not with -K"
2 | -r soon | -r with no number: refused | like_out "pki: -r soon: not a number of days"
2 | --create-certs=yes | a value to a flag: refused | like_out "pki: --create-certs takes no value"
2 | --frobnicate | an option operate_serverPKI does not have: refused | like_out "pki: unknown option --frobnicate*"
2 | -C a.test | an operand: refused | like_out "pki: unexpected operand \"a.test\"*"
EOF

# like_out PATTERN: $out matches the glob PATTERN.
# shellcheck disable=SC2254 # PATTERN is a pattern
like_out() { case $out in $1) return 0 ;; esac; return 1; }
while IFS='|' read -r want args what check; do
	want=$(printf '%s' "$want" | tr -d ' ')
	rc=0
	out=$(eval "pki $args" 2>&1) || rc=$?
	printf '%s\n' "$out" >> "$T/all"
	if [ "$rc" = "$want" ] && eval "$check"; then
		pass "pki$args(exit $want):$what"
	else
		fail "pki$args(exit $want):$what"
		diag "exit $rc: $(printf '%s' "$out" | tail -n 5)"
	fi
done < "$T/table"
nok "no key in anything pki printed" grep -q "$SECRET_PATTERN" "$T/all"
done_testing
