#!/bin/sh
# targets.t - hook and Redis places (Places.kind), through pki
# distribute with the local CA.  A hook place: its files written on this
# machine (below a path and a place name made to break a shell), then its
# command run with the names and paths in its environment and the record
# without its key on its stdin, its status and stderr stored; a hook that
# fails or hangs (killed) fails its target alone and is run again by the
# next run; pki-deploy killed -9 in the middle of a hook, then a re-run
# that converges.  Redis places against a real redis-server (AUTH, a
# database of its own): peter_sslers's prime_style 1 and 2 layouts, each
# key expiring with the certificate, written again unchanged; a server
# that is away fails its targets alone, with a clear error.  No private
# key in anything pki printed, in the events or in the server's log.
# shellcheck disable=SC2016 # hook commands are single-quoted on purpose
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# shellcheck source=tests/lib/redis.sh
. "$(dirname "$0")/lib/redis.sh"
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	# In CI (make deps installs them) a missing server is a failure.
	[ -z "${CI:-}" ] || { echo "Bail out! no redis-server or redis-cli"; exit 1; }
	skip_all "no redis-server or redis-cli (make deps installs them)"
fi
pg_setup
redis_start

all=$T/all	# everything pki printed, checked for keys at the end
PKI_DEPLOY_TIMEOUT=2	# a hook that hangs is killed after 2 s
export PKI_DEPLOY_TIMEOUT
umask 022
q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init >/dev/null
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE

# target CERT HOST PLACE: a target, every name a psql variable
target() {
	psql -X -q -At -v ON_ERROR_STOP=1 -v c="$1" -v h="$2" -v p="$3" >/dev/null <<'EOF'
SELECT pki.add_target(:'c', :'h', NULL, :'p');
EOF
}
# dstate CERT: "place status" of its targets, sorted, comma-separated
dstate() {
	psql -X -q -At -v c="$1" <<'EOF' | tr '\n' ,
SELECT "Place" || ' ' || "Status" FROM pki.deploy_state WHERE "Cert Name" = :'c' ORDER BY 1;
EOF
}
# col CERT PLACE COLUMN: a column of the deployment of CERT's place
col() {
	psql -X -q -At -v c="$1" -v p="$2" <<EOF
SELECT d.$3 FROM pki.deployments d JOIN pki.targets t ON t.id = d.target
  JOIN pki.places p ON p.id = t.place JOIN pki.subjects s
    ON s.certificate = t.certificate AND NOT s.isaltname
 WHERE s.name = :'c' AND p.name = :'p' ORDER BY d.id DESC LIMIT 1;
EOF
}
r() { $REDIS_CLI "$@" 2>/dev/null; }

# ------------------------------------------------------------ places
out_dir=$T/hook.out
mkdir -p "$out_dir"
hostile='hk $(touch pwned1); `touch pwned2` '"'"'"'
hdir="$T/hook dir/it's \$(touch $T/pwned3) \`x\`"
capture pki place add "$hostile" --kind hook --type certbot --cert-path "$hdir/{}" --dhparam ffdhe2048 \
	--hook "cat > '$out_dir'/\"\$PKI_TARGET\".json; env > '$out_dir'/\"\$PKI_TARGET\".allenv; grep '^PKI_' '$out_dir'/\"\$PKI_TARGET\".allenv | sort > '$out_dir'/\"\$PKI_TARGET\".env"
is "$rc:$out" "0:pki: place $hostile added" "pki place add --kind hook (a name and a path that would break a shell)"
capture pki place add r1 --kind redis --redis-url "redis://127.0.0.1:$REDIS_PORT/3" \
	--redis-prime-style 1 --redis-auth-file "$REDIS_PASS_FILE"
is "$rc:$out" "0:pki: place r1 added" "pki place add --kind redis, prime_style 1 (no cert path)"
psql -X -q -v ON_ERROR_STOP=1 -v t="$T" -v port="$REDIS_PORT" -v pass="$REDIS_PASS_FILE" <<'EOF'
INSERT INTO pki.places (name, kind, cert_path, hook_command) VALUES
	('hfail', 'hook', :'t' || '/hfail/{}',
	 'echo "boom: $PKI_CERT_NAME" >&2; echo second line >&2; exit 1'),
	('hhang', 'hook', :'t' || '/hhang/{}',
	 'echo $$ > ''' || :'t' || '/hang.pid''; exec sleep 60'),
	('slow', 'hook', :'t' || '/slow/{}',	-- for kill -9
	 'if [ -e ''' || :'t' || '/go'' ]; then echo ok > ''' || :'t' ||
	 '/slow.done''; else echo $$ $PPID > ''' || :'t' ||
	 '/started''; exec sleep 60; fi');
INSERT INTO pki.places (name, kind, redis_url, redis_prime_style,
	redis_auth_file) VALUES ('r2', 'redis', '127.0.0.1:' || :'port' || '/4', 2, :'pass');
INSERT INTO pki.places (name, cert_path) VALUES ('plain', :'t' || '/plain/{}');
EOF

capture pki place add bad --kind redis --redis-url "redis://u:secret@127.0.0.1/1" --redis-prime-style 1
is "$rc" 1 "a password in the Redis URL: refused"
like "$out" "*places_redis_url*" "by the check of Places"
capture pki place set r1 --redis-prime-style 3
is "$rc:$out" '1:pki: place r1: --redis-prime-style "3": not 1 or 2' "prime_style 3: one line naming place and option"
capture pki place add nohook --kind hook --cert-path "$T/x"
is "$rc" 1 "a hook place without its command: refused"
like "$out" "*places_kind_fields*" "by the check of Places"
is "$(q "SELECT string_agg(name || '=' || kind, ' ' ORDER BY name) FROM places")" \
	"hfail=hook hhang=hook $hostile=hook plain=files r1=redis r2=redis slow=hook" "the kinds are stored"

# ------------------------------------------------------------ distribute
q "INSERT INTO disthosts (fqdn) VALUES ('localhost'), ('appliance.test')" >/dev/null
pki -q cert add a.test -a ec -A www.a.test
pki -q cert add b.test -a rsa
pki -q cert add c.test -a ec
for p in "$hostile" r1 r2; do target a.test appliance.test "$p"; done
target a.test localhost plain
for p in hfail hhang plain; do target b.test localhost "$p"; done
target c.test localhost r1
pki -q cert add d.test -a ec		# for Redis away
target d.test localhost r1
target d.test localhost plain
pki -q cert add e.test -a ec		# for kill -9
target e.test localhost r2
pki -q issue >/dev/null
capture pki distribute -o a.test -o b.test -o c.test
is "$rc" 1 "pki distribute: exit 1 (two targets failed)"
is "$(dstate a.test)" "$hostile ok,plain ok,r1 ok,r2 ok," "a.test: the hook, both Redis places and the files"
is "$(dstate b.test)" "hfail failed,hhang failed,plain ok," "b.test: its files go on beside the hooks that failed"

# The hook that failed: recorded like a reload.
is "$(col b.test hfail last_error)" "hook: exit 1: boom: b.test" "a hook's exit 1: the error with its stderr's first line"
is "$(col b.test hfail hook_status)|$(col b.test hfail hook_stderr)" "1|boom: b.test
second line" "its status and whole stderr stored"
like "$(col b.test hfail hook_command)" 'echo "boom: $PKI_CERT_NAME"*' "and its command"
ok "its files are there all the same" [ -f "$T/hfail/b.test/b.test_server_cert.pem" ]
is "$(col b.test hhang last_error)" "hook: timed out after 2 s: killed" "a hook that hangs: killed after the timeout"
gone() { ! kill -0 "$1" 2>/dev/null; }
ok "and it is gone" gone "$(cat "$T/hang.pid")"
is "$(col b.test hhang hook_status)" "" "no status of its own"
like "$(q "SELECT string_agg(message, '|') FROM events WHERE name = 'a.test' AND stage = 'pki-deploy'")" \
	"*hook exit 0*" "the event of the hook's target"
like "$(q "SELECT string_agg(message, '|') FROM events WHERE name = 'b.test' AND stage = 'pki-deploy'")" \
	"*hook: exit 1: boom: b.test*" "and of the one that failed"

# The hook's environment and stdin.
tid=$(psql -X -At -v p="$hostile" <<'EOF'
SELECT t.id FROM pki.targets t JOIN pki.places p ON p.id = t.place WHERE p.name = :'p';
EOF
)
env=$out_dir/$tid.env
d="$hdir/a.test"
ok "the hook ran, once" [ -f "$env" ] && [ "$(find "$out_dir" -name '*.env' | wc -l)" = 1 ]
for v in "PKI_CERT_NAME=a.test" "PKI_TARGET=$tid" "PKI_TARGET_HOST=appliance.test" \
	"PKI_PLACE=$hostile" "PKI_ALGOS=ec" "PKI_CERT_FILE=$d/cert.pem" "PKI_KEY_FILE=$d/privkey.pem" \
	"PKI_CHAIN_FILE=$d/chain.pem" "PKI_FULLCHAIN_FILE=$d/fullchain.pem" \
	"PKI_BUNDLE_FILE=$d/bundle.pem" "PKI_CERT_FILE_EC=$d/cert.pem" "PKI_KEY_FILE_EC=$d/privkey.pem" \
	"PKI_DHPARAM_FILE=$d/dhparam.pem"; do
	ok "hook environment: ${v%%=*}" grep -qxF -- "$v" "$env"
done
like "$(grep '^PKI_INSTANCE=' "$env")" "PKI_INSTANCE=[0-9]*" "hook environment: PKI_INSTANCE"
nok "none of pki's own PKI_ variables" grep -q '^PKI_HOME=' "$env"
is "$(grep -c '^PGHOST=' "$out_dir/$tid.allenv")" 0 "nor libpq's"
ok "the rest of pki's environment is there (PATH)" grep -q '^PATH=' "$out_dir/$tid.allenv"
like "$(openssl x509 -in "$d/cert.pem" -noout -subject)" "*a.test" \
	"the files are on this machine, where the variables say"
is "$(openssl x509 -in "$d/cert.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" \
	"$(openssl pkey -in "$d/privkey.pem" -pubout -outform DER | sha256sum)" "the key file's key is the certificate's"
json=$out_dir/$tid.json
is "$(wc -l < "$json")" 1 "the hook's stdin: one line"
ok "the record: a.test, its certificate, no key" quiet jq -e \
	'.name == "a.test" and (.cert.ec.pem | startswith("-----BEGIN CERTIFICATE")) and (has("key") | not)' "$json"
nok "no private key on the hook's stdin" grep -q 'PRIVATE KEY' "$json"
ok "nothing of the names and paths ran as a command" [ ! -e pwned1 ] && [ ! -e pwned2 ] && [ ! -e "$T/pwned3" ] &&
	[ -z "$(find "$T" -name 'pwned*')" ]

# ------------------------------------------------------------ Redis
nafter() { date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }
na=$(nafter "$d/cert.pem")
cid=$(openssl x509 -in "$d/cert.pem" -outform DER | sha256sum | cut -c1-16)
pid=$(openssl x509 -in "$d/cert.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-16)
i=$(r -n 3 hget d:a.test i)
is "$(r -n 3 hgetall d:a.test | tr '\n' ' ')" "c $cid p $pid i $i " \
	"style 1: d:a.test holds the ids of certificate, key and chain"
is "$(r -n 3 hgetall d:www.a.test | tr '\n' ' ')" "$(r -n 3 hgetall d:a.test | tr '\n' ' ')" "and so does d:www.a.test (an altname)"
is "$(r -n 3 get "c$cid")" "$(cat "$d/cert.pem")" "c<id>: the certificate in PEM"
is "$(r -n 3 get "i$i")" "$(cat "$d/chain.pem")" "i<id>: the chain in PEM"
is "$(r -n 3 get "p$pid" | openssl pkey -pubout -outform DER | sha256sum)" \
	"$(openssl pkey -in "$d/privkey.pem" -pubout -outform DER | sha256sum)" "p<id>: the certificate's key"
is "$(r -n 3 keys 'i*' | wc -l)" 1 "one chain key for a.test and c.test (shared)"
is "$(r -n 3 keys '*' | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "c$cid" "$(r -n 3 hget d:c.test c | sed 's/^/c/')" d:a.test d:c.test d:www.a.test "i$i" \
	"p$pid" "$(r -n 3 hget d:c.test p | sed 's/^/p/')" | sort | tr '\n' ' ')" "and nothing else in database 3"
for k in d:a.test "c$cid" "p$pid" d:www.a.test; do
	e=$(r -n 3 expiretime "$k")
	ok "$k expires with the certificate ($e, notAfter $na)" test "$e" -ge $((na - 60)) -a "$e" -le $((na + 60))
done
e=$(r -n 3 expiretime "i$i")
ok "the shared chain key expires with the later certificate" test "$e" -ge $((na - 60))
is "$(r -n 4 hkeys a.test | sort | tr '\n' ' ')" "f p " "style 2: a.test, a hash of f and p"
is "$(r -n 4 hget a.test f)" "$(cat "$d/fullchain.pem")" "f: the certificate and its chain"
is "$(r -n 4 hget a.test p | openssl pkey -pubout -outform DER | sha256sum)" \
	"$(openssl pkey -in "$d/privkey.pem" -pubout -outform DER | sha256sum)" "p: its key"
is "$(r -n 4 keys '*' | sort | tr '\n' ' ')" "a.test www.a.test " "one hash per name"
e=$(r -n 4 expiretime www.a.test)
ok "expiring with the certificate ($e)" test "$e" -ge $((na - 60)) -a "$e" -le $((na + 60))
is "$(col a.test r1 files)" "$(printf '%s' '[{"key": "d:a.test"}, {"key": "d:www.a.test"}, ' \
	"{\"key\": \"c$cid\"}, {\"key\": \"p$pid\"}, {\"key\": \"i$i\"}]")" "the keys written are stored"

# Written again: the same keys, values and expiry.
# dump: every key of databases 3 and 4 with its value and expiry, hashed
dump() { for db in 3 4; do r -n "$db" eval "local o = {}
	for _, k in ipairs(redis.call('keys', '*')) do
		local v = redis.call('type', k).ok == 'hash' and
			table.concat(redis.call('hgetall', k), '|') or redis.call('get', k)
		table.insert(o, k .. ' ' .. redis.call('expiretime', k) .. ' ' .. v)
	end
	table.sort(o) return o" 0; done | sha256sum; }
before=$(dump)
ok "(the dump holds something)" test "$before" != "$(printf '' | sha256sum)"
serial=$(q "SELECT max(id) FROM inst WHERE name = 'a.test'")
pki-select --serial "$serial" --with-keys 2>>"$all" | jq -c '.targets |= map(select(.place.kind == "redis"))' > "$T/sel"
run pki-deploy < "$T/sel"
is "$rc:$(jq -r '[.deployed[] | .status] | join(" ")' "$T/out")" "0:ok ok" "pki-deploy again to both Redis places"
is "$(dump)" "$before" "the same keys, values and expiry: idempotent"
jq -c '.targets |= map(select(.place.name == "r1") | .place.kind = "ftp")' "$T/sel" > "$T/bad"
run pki-deploy < "$T/bad"
is "$rc:$(jq -r '.deployed[].error' "$T/out")" "1:place r1: kind: not files, hook or redis" \
	"an unknown kind in a record: the target fails, naming place and field"
jq -c '.targets |= map(select(.place.name == "r2") | .jail = "j1" | .jailroot = "/jails")' "$T/sel" > "$T/bad"
run pki-deploy < "$T/bad"
is "$rc:$(jq -r '.deployed[].error' "$T/out")" "1:place r2: a Redis place takes no jail" \
	"a Redis (or hook) place in a jail: refused"
jq -c '.targets |= map(select(.place.name == "r2") | .place.redis_url = "redis://u:pw@127.0.0.1/4")' "$T/sel" > "$T/bad"
run pki-deploy < "$T/bad"
is "$rc:$(jq -r '.deployed[].error' "$T/out")" "1:place r2: redis_url: a password belongs in redis_auth_file" \
	"a password in a record's URL: refused, not shown"
nok "no key in pki-deploy's stdout but the record's" sh -c "jq -c 'del(.key)' '$T/out' | grep -q 'PRIVATE KEY'"

# ------------------------------------------------------------ again
capture pki place set hfail --hook 'echo fixed > "$PKI_CERT_FILE.fixed"'
capture pki place set hhang --hook 'exit 0'
capture pki distribute -o a.test -o b.test -o c.test
is "$rc" 0 "the hooks fixed: pki distribute again, exit 0"
is "$(dstate b.test)" "hfail ok,hhang ok,plain ok," "every target of b.test ok"
ok "the hook ran again although the files were there (its marker)" [ -f "$T/hfail/b.test/b.test_server_cert.pem.fixed" ]
is "$(find "$T/hfail" "$T/hhang" -name '.*.pki-hook' | wc -l)" 0 "no marker left"
is "$(find "$out_dir" -name '*.env' | wc -l)" 1 "a.test's hook did not run again (nothing changed)"

# ------------------------------------------------------------ Redis away
redis_stop
capture pki distribute -o d.test
is "$rc" 1 "Redis stopped: pki distribute exit 1"
is "$(dstate d.test)" "plain ok,r1 failed," "the files go on"
is "$(col d.test r1 last_error)" "redis 127.0.0.1:$REDIS_PORT: Connection refused" "a clear error for the Redis target"
like "$out" "*d.test: target * (localhost, place r1): redis 127.0.0.1:$REDIS_PORT: Connection refused*" "said by pki-deploy"
redis_start
capture pki distribute -o d.test
is "$rc:$(dstate d.test)" "0:plain ok,r1 ok," "Redis back: the next run primes it"
ok "d:d.test is there" test "$(r -n 3 exists d:d.test)" = 1

# ------------------------------------------------------------ kill -9
target e.test localhost slow
PKI_DEPLOY_TIMEOUT=30 pki distribute -o e.test > "$T/killed.out" 2>&1 &
bg=$!
i=0
while [ ! -s "$T/started" ] && [ "$i" -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
read -r hookpid deploypid < "$T/started"
kill -9 "$deploypid"
wait "$bg" || true
kill -9 -- "-$hookpid" 2>/dev/null || true	# its hook, in a group of its own
cat "$T/killed.out" >> "$all"
ok "pki-deploy killed in the middle of the hook: the files were in" [ -f "$T/slow/e.test/e.test_server_key.pem" ]
ok "with the hook's marker" [ -f "$T/slow/e.test/.e.test_server_cert.pem.pki-hook" ]
isnt_ok() { [ "$(dstate e.test)" != "r2 ok,slow ok," ]; }
ok "and nothing recorded as deployed" isnt_ok
touch "$T/go"
capture pki distribute -o e.test
is "$rc:$(dstate e.test)" "0:r2 ok,slow ok," "an immediate re-run converges"
ok "the hook ran to its end" [ -f "$T/slow.done" ]
is "$(q "SELECT state FROM inst WHERE name = 'e.test' ORDER BY id DESC LIMIT 1")" deployed "the instance is deployed"

# ------------------------------------------------------------ secrets
cat "$T/stderr.all" >> "$all" 2>/dev/null || true
nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$all"
keyline=$(sed -n 2p "$d/privkey.pem")
nok "nor a line of one" grep -qF -- "$keyline" "$all"
nok "none in the events or the deployments" \
	sh -c "pg_dump -X -t pki.events -t pki.deployments 2>/dev/null | grep -q -e 'PRIVATE KEY' -e '$keyline'"
nok "none in redis-server's log" grep -q -e 'PRIVATE KEY' -e "$keyline" "$REDIS_LOG"
ok "(which logged our connections)" grep -q 'Accepted' "$REDIS_LOG"

done_testing
