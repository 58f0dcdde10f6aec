#!/bin/sh
# distribute.t - pki distribute and pki consolidate (serverPKI -D, -K,
# with -s and -l) against a real PostgreSQL and real OpenSSH servers:
# per-target state in the database, an instance deployed only when every
# target has it, a host that is down and retried, a renewal that expires
# the instance before, claims, drift fixed by consolidate, a bad place.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# shellcheck source=tests/lib/sshd.sh
. "$(dirname "$0")/lib/sshd.sh"
sshd_setup 3
pg_setup

all=$T/all	# everything pki printed, checked for keys at the end
state() {	# state NAME: the state of NAME's newest instance
	q "SELECT state FROM certinstances WHERE id = (SELECT max(id) FROM inst WHERE name = '$1')"
}
targets() {	# targets NAME: "host status attempts" of its newest instance
	q "SELECT \"Dist Host\" || coalesce('/' || \"Jail\", '') || ' ' || \"Status\" || ' ' || \"Attempts\"
		FROM deploy_state WHERE \"Serial\" = (SELECT max(id) FROM inst WHERE name = '$1')
		ORDER BY 1" | tr '\n' ',' | sed 's/,$//'
}

sshd_pki_conf 20

pg_local_ca

# ------------------------------------------------------------ configuration
mkdir -p "$T/web2/jails/j1" "$T/web2/jails/j2"
q "INSERT INTO disthosts (fqdn) VALUES ('web1.test'), ('web3.test'), ('localhost');
   INSERT INTO disthosts (fqdn, jailroot) VALUES ('web2.test', '$T/web2/jails');
   INSERT INTO jails (name, disthost) SELECT j, id FROM disthosts, (VALUES ('j1'), ('j2')) v(j)
	WHERE fqdn = 'web2.test';
   INSERT INTO places (name, cert_file_type, cert_path, mode, reload_command) VALUES
	('w1', 'separate', '$T/web1/ssl/{}', 440, 'echo web1 >> $T/reload.web1'),
	('w2', 'combine both', '/etc/ssl/{}', NULL, 'echo {} >> $T/reload.web2'),
	('w3', 'certbot', '$T/web3/le/{}', NULL, 'echo web3 >> $T/reload.web3'),
	('loc', 'certbot live', '$T/local', NULL, NULL)"
is "$(q "SELECT count(*) FROM places WHERE cert_file_type IN ('certbot', 'certbot live')")" 2 \
	"places may ask for certbot's file set and live/ layout"
ok "Places.mode is refused when it gives others the key" \
	sh -c "! psql -X -q -c \"UPDATE pki.places SET mode = 644 WHERE name = 'w1'\" 2>/dev/null"

pki -q cert add a.test -a ec
pki -q cert add b.test -a rsa_plus_ec
for t in "a.test web1.test NULL w1" "a.test web2.test j1 w2" "a.test web2.test j2 w2" \
	"a.test web3.test NULL w3" "a.test localhost NULL loc" "b.test web1.test NULL w1" \
	"b.test web2.test j1 w2"; do
	# shellcheck disable=SC2086 # four words
	set -- $t
	jail=$3
	[ "$jail" = NULL ] || jail="'$jail'"
	q "SELECT add_target('$1', '$2', $jail, '$4')" >/dev/null
done
pki -q issue >/dev/null
a1=$(q "SELECT max(id) FROM inst WHERE name = 'a.test'")

# ------------------------------------------------------------ select
pki-select --distribute -o a.test > "$T/sel" 2>>"$all"
is "$(jq -r '[.action, .instance.id, .instance.state, (.targets | length), has("key")] | join(" ")' "$T/sel")" \
	"distribute $a1 issued 5 false" \
	"pki-select --distribute: the issued instance, five targets, no key without --with-keys"
is "$(jq -r '.targets[0].deployment | [.status, .attempts] | join(" ")' "$T/sel")" "pending 0" \
	"each target with its state"
is "$(pki-select --distribute -o a.test | wc -l)" 0 "claimed: a second run does not get it"
q "UPDATE deployments SET claimed = NULL"
pki-select --distribute --with-keys -o a.test > "$T/sel"
ok "--with-keys: the keys" test "$(jq -r '.key | keys | join(" ")' "$T/sel")" = ec
q "UPDATE deployments SET claimed = NULL"
run pki-select -s web1.test
is "$rc" 2 "-s without --distribute: exit 2"
run pki-select --distribute --consolidate
is "$rc" 2 "--distribute with --consolidate: exit 2"

# ------------------------------------------------------------ distribute
capture pki distribute
is "$rc" 0 "pki distribute"
like "$out" "*a.test: instance $a1 deployed: 5 of 5 target(s) ok*" "a summary line per certificate"
is "$(state a.test):$(state b.test)" "deployed:deployed" "every target has it: deployed"
is "$(targets a.test)" "localhost ok 1,web1.test ok 1,web2.test/j1 ok 1,web2.test/j2 ok 1,web3.test ok 1" \
	"a state per target"
is "$(tree() { find "$1" -type f -printf '%P %m\n' | sort | tr '\n' ' '; }; tree "$T/web1/ssl")" \
	"a.test/a.test_server_cert.pem 644 a.test/a.test_server_key.pem 440 b.test/b.test_server_ec_cert.pem 644 b.test/b.test_server_ec_key.pem 440 b.test/b.test_server_rsa_cert.pem 644 b.test/b.test_server_rsa_key.pem 440 " \
	"web1: the files of both certificates"
ok "web2: in both jails" test -s "$T/web2/jails/j2/etc/ssl/a.test/a.test_server_key_cert_cacert.pem"
ok "web3: certbot's files" test -s "$T/web3/le/a.test/bundle.pem"
is "$(readlink "$T/local/live/a.test")" "../archive/a.test/$a1" "this machine: live/a.test"
is "$(cat "$T/reload.web1"):$(sort "$T/reload.web2" | tr '\n' ' ')" "web1:j1 j2 " \
	"reloads once per host and jail for both certificates"
is "$(q "SELECT files->0->>'sha256' FROM deployments d JOIN targets t ON t.id = d.target
	JOIN disthosts h ON h.id = t.disthost WHERE h.fqdn = 'web1.test' AND d.certinstance = $a1")" \
	"$(openssl dgst -sha256 -r "$T/web1/ssl/a.test/a.test_server_cert.pem" | cut -d' ' -f1 | tr a-f A-F)" \
	"the file hashes are in the database"
is "$(q "SELECT reload_status FROM deployments d JOIN targets t ON t.id = d.target
	JOIN disthosts h ON h.id = t.disthost WHERE h.fqdn = 'web1.test' AND d.certinstance = $a1")" 0 \
	"and the reload's exit status"
is "$(q "SELECT count(*) FROM events WHERE name = 'a.test' AND stage = 'pki-deploy' AND level = 'info'")" 5 \
	"an event per target"
capture pki distribute
is "$rc:$out" "0:" "a second run has nothing to do"
capture pki status a.test
like "$out" "*Deployments*a.test*web2.test*j1*w2*ok*" \
	"pki status lists each target's deployment"

# ------------------------------------------------------------ a host down
pki -q cert add d.test -a ec
q "SELECT add_target('d.test', 'web1.test', NULL, 'w1'), add_target('d.test', 'web3.test', NULL, 'w3')" >/dev/null
pki -q issue -o d.test >/dev/null
sshd_stop web3.test
capture pki distribute
is "$rc" 1 "web3 down: exit 1"
like "$out" "*d.test: instance * issued: 1 of 2 target(s) ok; web3.test: connect: *" \
	"the summary says which target failed and why"
is "$(state d.test)" issued "the instance is not deployed"
is "$(targets d.test)" "web1.test ok 1,web3.test failed 1" "web1 has it, web3 failed"
like "$(q "SELECT \"Last Error\" FROM deploy_state WHERE \"Cert Name\" = 'd.test' AND \"Status\" = 'failed'")" \
	"web3.test: connect: *" "with its last error"
like "$(q "SELECT level || ' ' || message FROM events WHERE name = 'd.test' AND level = 'error'")" \
	"error target $(q "SELECT t_id FROM deploy_state WHERE \"Cert Name\" = 'd.test' AND \"Dist Host\" = 'web3.test'") (web3.test, place w3): web3.test: connect: *" \
	"and an error event"
sshd_start web3.test
lines=$(wc -l < "$T/reload.web1")
capture pki distribute
is "$rc" 0 "the host is back: the next run"
is "$(targets d.test)" "web1.test ok 1,web3.test ok 2" "completes the failed target only"
is "$(wc -l < "$T/reload.web1")" "$lines" "web1, which had it, is left alone"
is "$(state d.test)" deployed "now the instance is deployed"

# ------------------------------------------------------------ renewal
q "UPDATE certinstances SET not_after = now() - interval '1 day' WHERE id = $a1"
pki -q issue -o a.test >/dev/null
a2=$(q "SELECT max(id) FROM inst WHERE name = 'a.test'")
ok "a renewal" test "$a2" -gt "$a1"
capture pki -D -o a.test
is "$rc" 0 "pki -D -o a.test (serverPKI)"
is "$(q "SELECT state FROM certinstances WHERE id = $a2"):$(q "SELECT state FROM certinstances WHERE id = $a1")" \
	"deployed:expired" "the new instance deployed, the one before expired"
is "$(openssl x509 -in "$T/web1/ssl/a.test/a.test_server_cert.pem" -noout -serial | sed 's/serial=//')" \
	"$(q "SELECT convert_from(cert, 'UTF8') FROM certkeydata WHERE certinstance = $a2" |
		openssl x509 -noout -serial | sed 's/serial=//')" "web1 serves the new certificate"
is "$(readlink "$T/local/live/a.test")" "../archive/a.test/$a2" "live/a.test moved to it"
like "$(q "SELECT message FROM events WHERE instance = $a1 ORDER BY id DESC LIMIT 1")" \
	"instance $a1 expired: instance $a2 is deployed" "the event log says so"

# ------------------------------------------------------------ -s and -l
pki -q cert add e.test -a ec
q "SELECT add_target('e.test', 'web1.test', NULL, 'w1'), add_target('e.test', 'web3.test', NULL, 'w3')" >/dev/null
pki -q issue -o e.test >/dev/null
capture pki distribute -l web1.test
is "$rc:$(targets e.test)" "0:web1.test ok 1" "-l web1.test: only web1"
is "$(state e.test)" issued "not deployed yet: web3 lacks it"
capture pki -D -s web1.test
is "$rc:$(targets e.test)" "0:web1.test ok 1,web3.test ok 1" "pki -D -s web1.test: the rest"
is "$(state e.test)" deployed "deployed"

# ------------------------------------------------------------ a target added later
q "SELECT add_target('e.test', 'web2.test', 'j1', 'w2')" >/dev/null
capture pki distribute
is "$rc:$(targets e.test)" "0:web1.test ok 1,web2.test/j1 ok 1,web3.test ok 1" \
	"a target added to a deployed certificate gets the deployed instance"

# ------------------------------------------------------------ claims
pki -q cert add f.test -a ec
q "SELECT add_target('f.test', 'web1.test', NULL, 'w1')" >/dev/null
pki -q issue -o f.test >/dev/null
pki-select --distribute -o f.test >/dev/null	# a run that died holding a claim
capture pki distribute -o f.test
is "$rc:$out:$(state f.test)" "0::issued" "a target claimed by another run is left to it"
q "UPDATE deployments SET claimed = claimed - interval '2 hours' WHERE claimed IS NOT NULL"
capture pki distribute -o f.test
is "$rc:$(state f.test)" "0:deployed" "a claim older than --stale is void"
is "$(q "SELECT count(*) FROM deployments WHERE claimed IS NOT NULL")" 0 "no claim is left behind"

# ------------------------------------------------------------ a later error
# A stage after pki-deploy fails the record: what reached the targets is
# stored even so, and logged with the error.
pki -q cert add h.test -a ec
q "SELECT add_target('h.test', 'web1.test', NULL, 'w1')" >/dev/null
pki -q issue -o h.test >/dev/null
pki-select --distribute --with-keys -o h.test 2>>"$all" |
	pki-deploy --ssh-config "$SSH_CONFIG" --known-hosts "$SSH_KNOWN_HOSTS" \
		--identity "$SSH_KEY" --user root 2>>"$all" |
	jq -c '.errors = [{"stage": "pki-later", "message": "failed after deployment"}]' |
	pki-store > "$T/later" 2>>"$all"
is "$?:$(targets h.test):$(state h.test)" "0:web1.test ok 1:deployed" \
	"a record that failed after deployment still has its targets stored"
is "$(q "SELECT count(*) FROM events WHERE name = 'h.test' AND stage = 'pki-later'")" 1 \
	"and its error is in the event log"

# ------------------------------------------------------------ a bad place
pki -q cert add g.test -a ec
ok "the database refuses a place with \"..\" (032)" \
	sh -c "! psql -X -q -c \"INSERT INTO pki.places (name, cert_path) VALUES ('bad', '/a/../b/{}')\" 2>/dev/null"
# One of a database from before 032, which pki-deploy still refuses.
q "ALTER TABLE places DISABLE TRIGGER check_place_paths;
   INSERT INTO places (name, cert_path) VALUES ('bad', '$T/web1/../../etc/{}');
   ALTER TABLE places ENABLE TRIGGER check_place_paths"
q "SELECT add_target('g.test', 'web1.test', NULL, 'bad'), add_target('g.test', 'web3.test', NULL, 'w3')" >/dev/null
pki -q issue -o g.test >/dev/null
capture pki distribute -o g.test
is "$rc:$(targets g.test)" "1:web1.test failed 1,web3.test ok 1" "a place with \"..\": that target fails, the other deploys"
like "$(q "SELECT \"Last Error\" FROM deploy_state WHERE \"Cert Name\" = 'g.test' AND \"Status\" = 'failed'")" \
	"place bad: cert_path *: a \".\" or \"..\" part" "and the database says why"
is "$(state g.test)" issued "the instance is not deployed"

# ------------------------------------------------------------ consolidate
echo tampered > "$T/web1/ssl/a.test/a.test_server_key.pem"
chmod 644 "$T/web3/le/a.test/privkey.pem"
lines=$(wc -l < "$T/reload.web1")
capture pki consolidate -o a.test
is "$rc" 0 "pki consolidate"
like "$out" "*a.test: instance $a2 deployed: 5 of 5 target(s) ok; web1.test: fixed *a.test_server_key.pem: other contents; web3.test: fixed *privkey.pem: other mode*" \
	"finds the drift on two targets"
is "$(openssl pkey -in "$T/web1/ssl/a.test/a.test_server_key.pem" -pubout)" \
	"$(openssl x509 -in "$T/web1/ssl/a.test/a.test_server_cert.pem" -noout -pubkey)" "and fixes it"
is "$(stat -c %a "$T/web3/le/a.test/privkey.pem")" 400 "the mode too"
is "$(( $(wc -l < "$T/reload.web1") - lines ))" 1 "web1 reloads once"
is "$(targets a.test)" "localhost ok 2,web1.test ok 2,web2.test/j1 ok 2,web2.test/j2 ok 2,web3.test ok 2" \
	"every target checked"
capture pki -K -o a.test
like "$rc:$out" "0:a.test: instance $a2 deployed: 5 of 5 target(s) ok" "pki -K: nothing drifted"

# ------------------------------------------------------------ quiet
# pki -q distribute says nothing when every target got its files, and
# only the failures when some did not.
pki -q cert add q.test -a ec
q "SELECT add_target('q.test', 'web1.test', NULL, 'w1'), add_target('q.test', 'web3.test', NULL, 'w3')" >/dev/null
pki -q issue -o q.test >/dev/null
sshd_stop web3.test
capture pki -q distribute -o q.test
like "$rc:$out" "1:*q.test: instance $(q "SELECT max(id) FROM inst WHERE name = 'q.test'") issued: 1 of 2 target(s) ok; web3.test: connect: Connection refused" \
	"pki -q distribute with a host down: the failure, naming the host"
is "$(printf '%s\n' "$out" | grep -vc 'q.test.*web3.test: connect: Connection refused')" 0 \
	"... and nothing but the failure"
sshd_start web3.test
capture pki -q distribute -o q.test
is "$rc:$out:$(state q.test)" "0::deployed" "pki -q distribute that succeeds: not a word"

# ------------------------------------------------------------ outage
# The files reached the targets but pki-store never stored it (the
# database was down): the next run finds them in place, records the
# targets, and neither rewrites nor reloads anything.
pki -q cert add o.test -a ec
q "SELECT add_target('o.test', 'web1.test', NULL, 'w1')" >/dev/null
pki -q issue -o o.test >/dev/null
pki-select --distribute --with-keys -o o.test 2>>"$all" |
	pki-deploy --ssh-config "$SSH_CONFIG" --known-hosts "$SSH_KNOWN_HOSTS" \
		--identity "$SSH_KEY" --user root > /dev/null 2>>"$all"
q "UPDATE deployments SET claimed = NULL, run = NULL"
stamps() { find "$T/web1/ssl/o.test" -printf '%p %i %T@\n' | sort; }
stamps > "$T/o.stamps"
lines=$(wc -l < "$T/reload.web1")
capture pki distribute -o o.test
is "$rc:$(state o.test):$(targets o.test)" "0:deployed:web1.test ok 1" \
	"after a database outage, the next run stores what the target holds"
is "$(stamps)" "$(cat "$T/o.stamps")" "... rewriting nothing (inodes and mtimes as they were)"
is "$(wc -l < "$T/reload.web1")" "$lines" "... and reloading nothing"
like "$(q "SELECT message FROM events WHERE name = 'o.test' AND stage = 'pki-deploy'")" \
	"*holds the instance" "... the event log says the target held it"

# ------------------------------------------------------------ frozen host
# A host that stops answering (its sshd SIGSTOPped) costs a run no more
# than PKI_DEPLOY_TIMEOUT: its targets fail naming it, the others are
# deployed, and once it answers again the next run deploys it.
pki -q cert add z.test -a ec
q "SELECT add_target('z.test', 'web1.test', NULL, 'w1'), add_target('z.test', 'web3.test', NULL, 'w3')" >/dev/null
pki -q issue -o z.test >/dev/null
sed 's/^PKI_DEPLOY_TIMEOUT=.*/PKI_DEPLOY_TIMEOUT=2/' "$T/pki.conf" > "$T/pki2.conf"
sshd_freeze web3.test
at_exit "sshd_thaw web3.test"
t0=$(date +%s.%N)
PKI_CONF=$T/pki2.conf
capture pki distribute -o z.test
PKI_CONF=$T/pki.conf
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
diag "pki distribute with a frozen host, PKI_DEPLOY_TIMEOUT=2: $secs s"
ok "a frozen host: the run ends ($secs s)" awk -v s="$secs" 'BEGIN { exit !(s < 15) }'
is "$rc:$(targets z.test):$(state z.test)" "1:web1.test ok 1,web3.test failed 1:issued" \
	"... web1 deployed, web3 failed, the instance not deployed"
like "$out" "*z.test: *; web3.test: connect: no answer within 2 s*" "... the error naming the host"
sshd_thaw web3.test
capture pki distribute -o z.test
is "$rc:$(targets z.test):$(state z.test)" "0:web1.test ok 1,web3.test ok 2:deployed" \
	"thawed: the next run deploys it"

# ------------------------------------------------------------ secrets
nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$all"
is "$(q "SELECT count(*) FROM events WHERE message LIKE '%PRIVATE KEY%'")" 0 "none in the event log"
is "$(q "SELECT count(*) FROM deployments WHERE reload_stderr LIKE '%PRIVATE KEY%'
	OR files::text LIKE '%PRIVATE KEY%'")" 0 "none in the deployments"
done_testing
