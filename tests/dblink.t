#!/bin/sh
# dblink.t - the database link: PostgreSQL over TCP on 127.0.0.1 with TLS
# (sslmode=verify-full) and client-certificate authentication, pki run as
# a role that "pki db grant" gave only the rows it uses.  A real workflow
# (ca init, cert add, issue, status, distribute) goes through that link;
# a wrong CA, a wrong server name, no client certificate, no TLS and DDL
# by that role are refused, clearly, and write nothing.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"

# The cluster of pg_setup (the template's copy, migrated), stopped and
# started again as a server on 127.0.0.1 with TLS.
pg_setup
pki -q db stop
pg=$PKI_HOME/pg
data=$pg/data
pg_ctl=/usr/lib/postgresql/$(cat "$data/PG_VERSION")/bin/pg_ctl
[ -x "$pg_ctl" ] || pg_ctl=pg_ctl	# the cluster's version, else on PATH
as_owner() {	# as_owner CMD...: as the cluster's owner (postgres for root)
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# ------------------------------------------------------------ certificates
tls=$T/tls
mkdir -m 0700 "$tls"
cert() {	# cert NAME CN CA [SAN]: NAME.key and NAME.crt, signed by CA.key
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tls/$1.key" -subj "/CN=$2" -out "$tls/$1.csr" 2>/dev/null &&
	openssl x509 -req -in "$tls/$1.csr" -CA "$tls/$3.crt" \
		-CAkey "$tls/$3.key" -days 2 -out "$tls/$1.crt" \
		${4:+-extfile "$tls/$1.ext"} 2>/dev/null
}
for ca in ca ca2; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tls/$ca.key" -subj "/CN=pki test database CA $ca" \
		-days 2 -out "$tls/$ca.crt" 2>/dev/null
done
printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\n' > "$tls/server.ext"
cert server localhost ca san
cert client pki_run ca
cert other pki_other ca
chmod 0600 "$tls"/*.key
ok "a CA, a server certificate for 127.0.0.1 and localhost, client certificates" \
	test -s "$tls/server.crt" -a -s "$tls/client.crt" -a -s "$tls/other.crt"

cp "$tls/server.crt" "$tls/server.key" "$data/"
cp "$tls/ca.crt" "$data/client-ca.crt"
cat >> "$data/postgresql.conf" <<'EOF'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'client-ca.crt'
ssl_min_protocol_version = 'TLSv1.2'
EOF
# The owner on the Unix socket (mode 0700 directory); over TCP only TLS
# with a client certificate, whose CN is the role.
cat > "$data/pg_hba.conf" <<'EOF'
local	all	all			trust
hostssl	all	all	127.0.0.1/32	cert
EOF
[ "$(id -u)" -ne 0 ] || chown postgres "$data"/server.* "$data"/client-ca.crt \
	"$data"/postgresql.conf "$data"/pg_hba.conf
chmod 0600 "$data/server.key"
port=''
free_port port
if ! as_owner "$pg_ctl" -D "$data" -l "$pg/server.log" -w -t 60 -s \
	-o "-c listen_addresses=127.0.0.1 -k $pg -p $port $PKI_PG_OPTIONS" start; then
	tail -n 5 "$pg/server.log" | sed 's/^/# /'
	echo "Bail out! the TLS cluster did not start"
	exit 1
fi
at_exit "as_owner $pg_ctl -D $data -m immediate -w -s stop"

# The admin: the owner of the schemas, on the Unix socket.
unset PKI_DB
PGPORT=$port
export PGPORT
is "$(q "SELECT current_setting('ssl') || ' ' || current_setting('listen_addresses')")" \
	"on 127.0.0.1" "the cluster listens on 127.0.0.1 only, with TLS"

# ------------------------------------------------------------ pki db grant
q "CREATE ROLE pki_run LOGIN; CREATE ROLE pki_other LOGIN"
capture pki db grant nosuch_role
is "$rc" 1 "pki db grant of a role that does not exist: exit 1"
like "$out" "*no role nosuch_role in the database*" "and says so"
capture pki db grant
is "$rc" 2 "pki db grant without a role: usage, exit 2"
# Killed with -9 while it waits for a lock (another session's grant of
# the last table it grants, not committed): nothing of it is granted.
pg_hold "BEGIN; GRANT SELECT ON public.pki_migrations TO pki_other;"
pki db grant pki_run 8>&- >/dev/null 2>&1 &
gpid=$!
n=0
until [ "$(pg_waiting)" -ge 1 ] || [ "$n" -ge 500 ]; do sleep 0.02; n=$((n + 1)); done
ok "pki db grant waits for the other session's lock" [ "$(pg_waiting)" -ge 1 ]
all=$gpid kids=$gpid
while [ -n "$kids" ]; do
	kids=$(for k in $kids; do pgrep -P "$k" || true; done)
	all="$all $kids"
done
# shellcheck disable=SC2086 # a list of process ids
kill -9 $all
wait "$gpid" 2>/dev/null
pg_release
n=0
until [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pki_migrations%'
	AND pid <> pg_backend_pid()")" -eq 0 ] || [ "$n" -ge 500 ]; do
	sleep 0.02
	n=$((n + 1))
done
is "$(q "SELECT has_schema_privilege('pki_run', 'pki', 'USAGE'),
	has_table_privilege('pki_run', 'pki.certificates', 'SELECT'),
	has_table_privilege('pki_run', 'public.pki_migrations', 'SELECT')" | tr '|' ' ')" \
	"f f f" "pki db grant killed with -9 mid-way: nothing granted"
capture pki db grant pki_run
is "$rc:$out" "0:pki: the role pki_run may read and write pki's rows (no DDL)" \
	"pki db grant pki_run, run again: all granted"
capture pki db grant pki_run
is "$rc" 0 "pki db grant again: idempotent"
is "$(q "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls
	FROM pg_roles WHERE rolname = 'pki_run'")" f "pki_run is no superuser, makes no role or database"
is "$(q "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
	WHERE r.rolname = 'pki_run'")" 0 "and owns nothing"
is "$(q "SELECT has_schema_privilege('pki_run', 'pki', 'CREATE') OR
	has_schema_privilege('pki_run', 'dd', 'CREATE') OR
	has_schema_privilege('pki_run', 'public', 'CREATE')")" f "and may create in no schema"
is "$(q "SELECT count(*) FROM pg_tables WHERE schemaname IN ('pki', 'dd') AND
	NOT has_table_privilege('pki_run', schemaname || '.' || tablename,
		'SELECT, INSERT, UPDATE, DELETE')")" 0 "it may read and write every table of pki and dd"
is "$(q "SELECT count(*) FROM pg_tables WHERE schemaname IN ('pki', 'dd') AND
	has_table_privilege('pki_run', schemaname || '.' || tablename,
		'TRUNCATE, REFERENCES, TRIGGER')")" 0 "but not truncate them or hang triggers on them"
is "$(q "SELECT has_table_privilege('pki_run', 'public.pki_migrations', 'SELECT') AND
	NOT has_table_privilege('pki_run', 'public.pki_migrations', 'INSERT, UPDATE, DELETE')")" t \
	"the migrations it may read, not write"

# ------------------------------------------------------------ the link
# pki as pki_run over TCP, verify-full, with its client certificate.
link() {	# link [VAR=VALUE...] CMD...: CMD over the link, as pki_run
	env PGHOST=127.0.0.1 PGPORT="$port" PGDATABASE=pki PGUSER=pki_run \
		PGSSLMODE=verify-full PGSSLROOTCERT="$tls/ca.crt" \
		PGSSLCERT="$tls/client.crt" PGSSLKEY="$tls/client.key" "$@"
}
lq() {	# lq [VAR=VALUE...] SQL: SQL as pki_run over the link
	_lq_env=
	while [ $# -gt 1 ]; do _lq_env="$_lq_env $1"; shift; done
	# shellcheck disable=SC2086 # VAR=VALUE words
	link $_lq_env psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"
}

is "$(lq "SELECT current_user || ' ' || ssl || ' ' || client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")" \
	"pki_run true /CN=pki_run" "psql as pki_run: over TLS, its certificate's CN"
capture link pki db status
is "$rc" 0 "pki db status over the link"
like "$out" "*private cluster: none*database: reachable (pki as pki_run)*keysEncrypted: *" \
	"reachable as pki_run, migrations and revision readable"
capture link pki db env
is "$out" "export PGHOST='127.0.0.1'
export PGPORT='$port'
export PGDATABASE='pki'
export PGUSER='pki_run'
export PGSSLMODE='verify-full'
export PGSSLROOTCERT='$tls/ca.crt'
export PGSSLCERT='$tls/client.crt'
export PGSSLKEY='$tls/client.key'" "pki db env names the configured database and its TLS link"

# ------------------------------------------------------------ a workflow
q "UPDATE localca_settings SET ca_algo = 'ec'"
capture link pki ca init
is "$rc" 0 "pki ca init as pki_run"
capture link pki cert add a.test -a ec -A www.a.test
is "$rc" 0 "pki cert add as pki_run"
q "INSERT INTO disthosts (fqdn) VALUES ('localhost');
   INSERT INTO places (name, cert_file_type, cert_path) VALUES
	('loc', 'separate', '$T/local/{}')"
q "SELECT add_target('a.test', 'localhost', NULL, 'loc')" >/dev/null
capture link pki issue
is "$rc" 0 "pki issue as pki_run"
is "$(q "SELECT state FROM certinstances WHERE id = (SELECT max(id) FROM inst WHERE name = 'a.test')")" \
	issued "the instance is issued"
capture link pki status a.test
is "$rc" 0 "pki status as pki_run"
like "$out" "*a.test*issued*" "shows the instance"
capture link pki distribute
is "$rc" 0 "pki distribute as pki_run"
like "$(openssl x509 -in "$T/local/a.test/a.test_server_cert.pem" -noout -subject 2>&1)" \
	"*CN*a.test*" "the certificate is deployed on the local target"
is "$(q "SELECT state FROM certinstances WHERE id = (SELECT max(id) FROM inst WHERE name = 'a.test')")" \
	deployed "and recorded as deployed"

# The same link configured in pki.conf (libpq's variables, not exported
# there), or as a conninfo in PKI_DB.
link env > "$T/pki.conf"
grep '^PG' "$T/pki.conf" > "$T/pki.conf.new"
mv "$T/pki.conf.new" "$T/pki.conf"
chmod 0600 "$T/pki.conf"
capture env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE PKI_CONF="$T/pki.conf" pki status a.test
is "$rc" 0 "the link configured in pki.conf: pki status"
like "$out" "*a.test*deployed*" "shows the instance"
capture env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE PKI_DB="host=127.0.0.1 port=$port dbname=pki user=pki_run sslmode=verify-full sslrootcert=$tls/ca.crt sslcert=$tls/client.crt sslkey=$tls/client.key" \
	pki status a.test
is "$rc" 0 "the link as a conninfo in PKI_DB: pki status"
like "$out" "*a.test*deployed*" "shows the instance"

# ------------------------------------------------------------ stopped
# PostgreSQL stopped in the middle of a pki-store over the link: it says
# so and waits for the server (15 s); started again in that time, it
# connects again over TLS with its certificate and stores the rest.
# (Stopped for longer, the records are kept in the spool: recover.t.)
pgstart() {
	as_owner "$pg_ctl" -D "$data" -l "$pg/server.log" -w -t 60 -s \
		-o "-c listen_addresses=127.0.0.1 -k $pg -p $port $PKI_PG_OPTIONS" start
}
for n in 1 2 3 4; do link pki -q cert add "s$n.test" -a ec; done
link pki-select --create -o s1.test -o s2.test -o s3.test -o s4.test 2>>"$T/all" |
	pki-keygen 2>>"$T/all" | pki-csr 2>>"$T/all" |
	link PKI_CA_PASSPHRASE_FILE="$PKI_HOME/ca.pass" pki-localca 2>>"$T/all" > "$T/made"
is "$(wc -l < "$T/made")" 4 "four records made over the link"
{
	head -n 2 "$T/made"
	sleep 1
	as_owner "$pg_ctl" -D "$data" -m fast -w -s stop
	tail -n 2 "$T/made"
} | link pki-store --spool "$PKI_HOME/spool" > "$T/ps.out" 2>"$T/ps.err" &
spid=$!
n=0
until grep -q 'connecting again' "$T/ps.err" || [ "$n" -ge 750 ]; do sleep 0.02; n=$((n + 1)); done
like "$(sed -n '$p' "$T/ps.err")" "pki-store: database: *; connecting again" \
	"PostgreSQL stopped mid-run over TLS: pki-store says it connects again"
like "$(sed -n '$p' "$T/ps.err")" "*administrator command*" \
	"naming the reason the server gave, not a later 'no connection to the server'"
is "$(wc -l < "$T/ps.err")" 2 "in two lines: the statement that failed and that"
ok "PostgreSQL started again" pgstart
wait "$spid"
is "$?" 0 "pki-store connects again over TLS and goes on: exit 0"
is "$(jq -r '.instance.state' "$T/ps.out" | tr '\n' ' ')" "issued issued issued issued " \
	"every record stored, those before the stop and those after"
is "$(find "$PKI_HOME/spool" -type f -exec cat {} + 2>/dev/null | grep -c '^{')" 0 "nothing spooled"
capture link pki -q issue
is "$rc:$out" "0:" "the next pki issue over the link: exit 0, nothing to do"
is "$(q "SELECT count(*) FROM inst WHERE name LIKE 's_.test' AND state = 'issued'")" 4 \
	"the four instances issued, once each"

# ------------------------------------------------------------ refused
subjects() { q "SELECT count(*) FROM subjects"; }
n=$(subjects)
refused() {	# refused WHAT PATTERN VAR=VALUE...: pki cert add fails so
	_what=$1 _pat=$2
	shift 2
	capture link "$@" PGCONNECT_TIMEOUT=5 pki cert add refused.test -a ec
	is "$rc" 1 "$_what: pki cert add fails (exit 1)"
	like "$out" "$_pat" "$_what: the message says why"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "$_what: in one line"
	is "$(subjects)" "$n" "$_what: nothing written"
}
refused "a wrong root CA" "pki: connection to server at \"127.0.0.1\", port $port failed: *certificate verify failed*" \
	PGSSLROOTCERT="$tls/ca2.crt"
refused "another server name" "pki: connection to server at \"127.0.0.1\", port $port failed: *does not match host name \"wrong.test\"*" \
	PGHOST=wrong.test PGHOSTADDR=127.0.0.1
refused "no client certificate" "pki: connection to server at \"127.0.0.1\", port $port failed: *connection requires a valid client certificate*" \
	PGSSLCERT="$T/none.crt" PGSSLKEY="$T/none.key"
refused "no TLS" "pki: connection to server at \"127.0.0.1\", port $port failed: *no pg_hba.conf entry for host \"127.0.0.1\", user \"pki_run\", database \"pki\", no encryption*" \
	PGSSLMODE=disable
refused "another role's certificate" "pki: connection to server at \"127.0.0.1\", port $port failed: *certificate authentication failed for user \"pki_run\"*" \
	PGSSLCERT="$tls/other.crt" PGSSLKEY="$tls/other.key"
chmod 0644 "$tls/client.key"
refused "a client key others can read" "pki: connection to server at \"127.0.0.1\", port $port failed: *private key file*has group or world access*" \
	PGSSLMODE=verify-full
chmod 0600 "$tls/client.key"

# The programs themselves (not only pki's front door) say it in one line.
capture link PGSSLROOTCERT="$tls/ca2.crt" pki-select --distribute
is "$rc" 2 "pki-select with a wrong root CA: exit 2"
like "$out" "pki-select: database: *certificate verify failed*" "pki-select says why"

# ------------------------------------------------------------ no DDL
ncerts=$(q "SELECT count(*) FROM certificates")
for sql in "CREATE TABLE pki.extra (x int)" "CREATE TABLE public.extra (x int)" \
	"DROP TABLE pki.certificates" "ALTER TABLE pki.subjects ADD COLUMN x int" \
	"TRUNCATE pki.subjects" "DROP FUNCTION pki.add_target" \
	"CREATE SCHEMA extra" \
	"CREATE ROLE extra"; do
	capture lq "$sql"
	is "$rc" 1 "pki_run may not: $sql"
	case $out in
	*"permission denied"* | *"must be owner"*)
		pass "  refused: $(printf '%s' "$out" | head -n 1)" ;;
	*) fail "  not refused as expected: $out" ;;
	esac
done
lq "GRANT SELECT ON pki.subjects TO pki_other" >/dev/null 2>&1
is "$(q "SELECT has_table_privilege('pki_other', 'pki.subjects', 'SELECT')")" f \
	"pki_run may not pass its privileges on"
is "$(q "SELECT count(*) FROM pg_tables WHERE tablename = 'extra'") $(q "SELECT count(*) FROM certificates")" \
	"0 $ncerts" "nothing was made, nothing dropped"

# pki db migrate with a migration to apply: refused, nothing applied.
cp -r "$PKI_TOP/sql" "$T/sql"
echo "CREATE TABLE pki.extra (x int);" > "$T/sql/999-extra.sql"
capture link PKI_SQLDIR="$T/sql" pki db migrate
is "$rc" 1 "pki db migrate as pki_run: exit 1"
is "$out" "pki: migration 999-extra.sql not applied: the role pki_run does not own the schema pki (pki db grant gives run-time privileges only): run pki db migrate as $(q "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'pki'")" \
	"says the role may not change the schema, and who may"
is "$(q "SELECT count(*) FROM public.pki_migrations WHERE version = 999")" 0 \
	"nothing recorded"
set -- "$PKI_TOP"/sql/[0-9]*.sql
capture link pki db migrate
is "$rc:$out" "0:pki: the database is up to date ($# migrations)" \
	"an up-to-date database needs no DDL: pki db migrate as pki_run says so"
capture env PKI_SQLDIR="$T/sql" pki -q db migrate
is "$rc" 0 "the owner applies it"
is "$(lq "SELECT count(*) FROM pki.extra")" 0 \
	"and pki_run may use the new table (default privileges of pki db grant)"

! grep -l "$SECRET_PATTERN" "$T/all" >/dev/null 2>&1 || fail "a key in the output"
done_testing
