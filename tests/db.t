#!/bin/sh
# db.t - pki db: the private cluster (start, stop, status, env) and the
# migrations (init, migrate, idempotent, concurrent), and a configured
# database that cannot be reached.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

PKI_HOME=$T/home
PKI_PG_OPTIONS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
PKI_INITDB_OPTIONS=--no-sync
export PKI_HOME PKI_PG_OPTIONS PKI_INITDB_OPTIONS
at_exit "pki db stop"

nmig=$(find "$PKI_TOP/sql" -name '[0-9][0-9][0-9]-*.sql' | wc -l)
nmig=$((nmig))

role=$(id -un | sed 's/^root$/postgres/')

# qd DB SQL: psql on database DB of the private cluster; q SQL: on pki.
qd() {
	psql -X -q -At -v ON_ERROR_STOP=1 \
		-d "host=$PKI_HOME/pg port=5432 dbname=$1 user=$role" -c "$2"
}
q() {
	qd pki "$1"
}

# ------------------------------------------------------------ start, stop
out=$(pki db status 2>&1)
ok "pki db status before anything exists fails" test $? -ne 0
like "$out" "*private cluster: not created*database: not reachable*not running*" \
	"status says the cluster is not created and not reachable"

ok "pki db start creates and starts the cluster" pki -q db start
ok "the data directory exists" test -f "$PKI_HOME/pg/data/PG_VERSION"
ok "it listens on its socket in PKI_HOME/pg" test -S "$PKI_HOME/pg/.s.PGSQL.5432"
is "$(qd postgres 'show listen_addresses')" "" "no TCP (listen_addresses is empty)"
is "$(qd postgres 'show fsync')" "off" "PKI_PG_OPTIONS reach the server"
is "$(stat -c %a "$PKI_HOME/pg")" "700" "the socket directory is 0700"

out=$(pki db start 2>&1)
ok "a second start succeeds" test $? -eq 0
like "$out" "*already runs*" "a second start says it runs"

# ------------------------------------------------------------ init, migrate
out=$(pki db init 2>&1)
ok "pki db init succeeds" test $? -eq 0
like "$out" "*applied 001-dd.sql*applied 002-pki.sql*applied 003-functions.sql*applied 004-pki.sql*" \
	"init applies the migrations in order"
is "$(q 'select count(*) from public.pki_migrations')" "$nmig" \
	"every migration is recorded"
is "$(q 'select string_agg(version::text, $$,$$ order by version) from public.pki_migrations where version <= 4')" \
	"1,2,3,4" "recorded by number"
is "$(q 'select schemaversion || $$ $$ || keysencrypted from pki.revision')" \
	"6 false" "Revision holds one row: 6, false"

before=$(q 'select version, name, applied from public.pki_migrations order by 1')
out=$(pki db migrate 2>&1)
ok "a second migrate succeeds" test $? -eq 0
like "$out" "*up to date ($nmig migrations)*" "a second migrate applies nothing"
case $out in *applied*) fail "second migrate applied something: $out" ;; *) pass "nothing applied twice" ;; esac
is "$(q 'select version, name, applied from public.pki_migrations order by 1')" \
	"$before" "the recorded migrations are unchanged"
out=$(pki db init 2>&1)
ok "a second init succeeds" test $? -eq 0
like "$out" "*already runs*up to date*" "a second init starts nothing and applies nothing"

# Two migrates at once on a fresh database: each file is applied once.
qd postgres 'create database p2'
migrate_p2() {
	(
		unset PKI_DB
		PGHOST=$PKI_HOME/pg PGDATABASE=p2 PGUSER=$role
		export PGHOST PGDATABASE PGUSER
		pki db migrate >"$T/$1" 2>&1
		echo $? >"$T/$1.rc"
	)
}
migrate_p2 m1 &
migrate_p2 m2 &
wait
is "$(cat "$T/m1.rc") $(cat "$T/m2.rc")" "0 0" "two concurrent migrates both succeed"
is "$(cat "$T/m1" "$T/m2" | grep -c 'applied ')" "$nmig" \
	"between them, each migration is applied once"
is "$(qd p2 'select count(*) from public.pki_migrations')" "$nmig" \
	"the second database records each migration once"

# A failing migration leaves nothing behind.
mkdir "$T/sql"
cp "$PKI_TOP"/sql/*.sql "$T/sql/"
printf 'CREATE TABLE pki.half_done (x int);\nSELECT 1/0;\n' >"$T/sql/999-broken.sql"
out=$(PKI_SQLDIR=$T/sql pki db migrate 2>&1)
ok "a broken migration fails" test $? -ne 0
like "$out" "*division by zero*999-broken.sql failed*" "it says which and why"
is "$(q "select to_regclass('pki.half_done') is null")" "t" "nothing of it was applied"
is "$(q 'select count(*) from public.pki_migrations')" "$nmig" "and it is not recorded"

# A database that lacks only the newest migration gets that one alone
# (pki db migrate asks once what is applied).
rm "$T/sql/999-broken.sql"
printf 'CREATE TABLE pki.pending_one (x int);\n' >"$T/sql/998-pending.sql"
out=$(PKI_SQLDIR=$T/sql pki db migrate 2>&1)
is "$(printf '%s\n' "$out" | grep -c '^pki: applied ')" 1 \
	"a new migration on an up-to-date database: one applied, no other again"
like "$out" "*applied 998-pending.sql*" "... the new one"
is "$(q "select to_regclass('pki.pending_one') is not null")" t "... which took effect"
q "drop table pki.pending_one; delete from public.pki_migrations where version = 998"

# ------------------------------------------------------------ status, env
out=$(pki db status 2>&1)
ok "pki db status succeeds" test $? -eq 0
like "$out" "*private cluster: running*" "status: the cluster runs"
like "$out" "*database: reachable (pki as *)*" "status: the database is reachable"
like "$out" "*migrations: $nmig*001-dd.sql*002-pki.sql*003-functions.sql*004-pki.sql*" \
	"status: the applied migrations"
like "$out" "*keysEncrypted: false*" "status: keysEncrypted"

env=$(pki db env)
like "$env" "export PGHOST='$PKI_HOME/pg' PGPORT=5432 PGDATABASE=pki PGUSER=*" \
	"env prints the PG* variables"
like "$env" "*export PKI_DB='host=$PKI_HOME/pg port=5432 dbname=pki user=*'" \
	"env prints PKI_DB"
is "$(eval "$env"; psql -X -At -c 'select current_database()')" "pki" \
	"psql reaches the database with that environment"
out=$(eval "$env"; pki db status 2>&1)
like "$out" "*private cluster: running*" "with that environment, pki still knows the private cluster"

# ------------------------------------------------------------ stop, restart
q "insert into pki.disthosts (fqdn) values ('keep.example')"
ok "pki db stop stops the cluster" pki -q db stop
nok "the socket is gone" test -S "$PKI_HOME/pg/.s.PGSQL.5432"
out=$(pki db stop 2>&1)
ok "a second stop succeeds" test $? -eq 0
like "$out" "*not running*" "a second stop says it does not run"
out=$(pki db status 2>&1)
ok "status fails while the cluster is stopped" test $? -ne 0
like "$out" "*private cluster: stopped*database: not reachable*" "status says stopped"
out=$(pki db migrate 2>&1)
ok "migrate fails while the cluster is stopped" test $? -ne 0
like "$out" "*cannot reach the database*not running (pki db start)*" "and says to start it"

ok "pki db start again" pki -q db start
is "$(q 'select fqdn from pki.disthosts')" "keep.example" "the data survived the restart"
out=$(pki db migrate 2>&1)
like "$out" "*up to date*" "nothing to migrate after the restart"

# ------------------------------------------------------------ configured DB
out=$(PKI_DB='host=127.0.0.1 port=1 dbname=pki connect_timeout=5' pki db migrate 2>&1)
rc=$?
ok "migrate on an unreachable PKI_DB fails" test "$rc" -ne 0
like "$out" "pki: cannot reach the database: *127.0.0.1*port 1*" \
	"and says the database cannot be reached, and where"
is "$(printf '%s\n' "$out" | wc -l)" "1" "in one line"
out=$(PKI_DB='host=127.0.0.1 port=1 dbname=pki' pki db status 2>&1)
ok "status on an unreachable PKI_DB fails" test $? -ne 0
like "$out" "*private cluster: none*database: not reachable*" "status says so"
out=$(PKI_DB='host=127.0.0.1 port=1' pki db start 2>&1)
ok "start with a configured database succeeds" test $? -eq 0
like "$out" "*no private cluster*" "and says there is no private cluster"
out=$(PKI_DB='host=127.0.0.1 port=1' pki db stop 2>&1)
like "$out" "*no private cluster*" "stop says so too"
is "$(PKI_DB='host=127.0.0.1 port=1' pki db env)" "export PKI_DB='host=127.0.0.1 port=1'" \
	"env prints the configured PKI_DB"
ok "the private cluster still runs" test -S "$PKI_HOME/pg/.s.PGSQL.5432"

out=$(pki db frobnicate 2>&1)
is "$?" "2" "pki db with an unknown subcommand is a usage error"
like "$out" "usage: pki db *" "and shows the usage"

# ------------------------------------------------------------ awkward homes
if [ "$(id -u)" -eq 0 ]; then
	# A checkout in root's home (mode 0700): the postgres user cannot
	# enter it, so the cluster lives in /var/lib/pki, linked from there.
	mkdir -m 0700 "$T/locked"
	lh=$T/locked/home
	lpg=/var/lib/pki/pg-$(printf '%s' "$lh" | sha256sum | cut -c 1-12)
	# shellcheck disable=SC2016 # expanded at exit
	at_exit 'PKI_HOME=$lh pki db stop; rm -rf "$lpg"; rmdir /var/lib/pki'
	ok "a PKI_HOME in a directory the postgres user cannot enter: pki db init" \
		env PKI_HOME="$lh" pki -q db init
	is "$(readlink "$lh/pg")" "$lpg" "... the cluster is in /var/lib/pki, linked from PKI_HOME/pg"
	is "$(stat -c '%a %U' "$lpg")" "700 postgres" "... its directory 0700, the postgres user's"
	out=$(PKI_HOME=$lh pki db status 2>&1)
	like "$out" "*private cluster: running ($lpg/data, socket in $lpg)*database: reachable*migrations: $nmig*" \
		"... pki db status finds it"
	is "$(eval "$(PKI_HOME=$lh pki db env)"; psql -X -At -c 'select count(*) from pki.services')" \
		"5" "... and pki db env"
	ok "... pki db stop, start" sh -c "PKI_HOME='$lh' pki -q db stop && PKI_HOME='$lh' pki -q db start"
	out=$(PKI_HOME=$lh PKI_PG_DIR=$T/locked/pg pki db start 2>&1)
	ok "PKI_PG_DIR where the postgres user cannot enter: start fails" test $? -ne 0
	like "$out" "pki: the postgres user cannot enter $T/locked, so it cannot run the private cluster in $T/locked/pg: run chmod o+x '$T/locked', or set PKI_PG_DIR or PKI_HOME *" \
		"and says which directory and how to fix it"
	is "$(printf '%s\n' "$out" | wc -l)" "1" "in one line"
else
	for _ in 1 2 3 4 5 6 7 8; do
		skip "not root: the postgres user's access is not tested"
	done
fi

spaced="$T/a b/home"
# shellcheck disable=SC2016 # expanded at exit
at_exit 'PKI_HOME=$spaced pki db stop'
ok "a PKI_HOME with a space: start" env PKI_HOME="$spaced" pki -q db init
out=$(PKI_HOME=$spaced pki db status 2>&1)
like "$out" "*private cluster: running*database: reachable*migrations: $nmig*" \
	"a PKI_HOME with a space: status"
is "$(eval "$(PKI_HOME=$spaced pki db env)"; psql -X -At -c 'select count(*) from pki.services')" \
	"5" "a PKI_HOME with a space: env"
ok "a PKI_HOME with a space: stop" env PKI_HOME="$spaced" pki -q db stop
out=$(PKI_HOME="$T/it's" pki db start 2>&1)
like "$out" "*directory ($T/it's/pg) must not contain*" "a PKI_HOME with a quote is refused"

done_testing
