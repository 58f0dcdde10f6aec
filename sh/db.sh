# db.sh - the database of the pki workflows: the private PostgreSQL
# cluster in $PKI_PG_DIR ($PKI_HOME/pg) and the numbered migrations in
# $PKI_SQLDIR.
# Sourced by pki after config.sh.  See pki(1), "pki db".
#
# The private cluster is used when no database is configured (no PKI_DB,
# no PGHOST/PGDATABASE/PGSERVICE).  It listens only on its Unix socket in
# $PKI_PG_DIR (listen_addresses is empty), with trust authentication on
# that socket; the directory is 0700, so only its owner (and root) get in.
# As root, the cluster runs as $PKI_PG_USER, which must be able to enter
# the directory: when it cannot enter PKI_HOME (a checkout in /root, mode
# 0700), the cluster lives in /var/lib/pki/pg-HASH and $PKI_HOME/pg is a
# link to it (pki_db_dir).
#
#   PKI_PGBIN           directory of initdb and pg_ctl (found if unset)
#   PKI_PG_OPTIONS      extra server options ("-c fsync=off ...")
#   PKI_INITDB_OPTIONS  extra initdb options ("--no-sync")
#   PKI_PG_USER         who runs the cluster when pki runs as root (postgres)
#   PKI_PG_DIR          the cluster's directory ($PKI_HOME/pg, see above)
#   RUNUSER             the command that runs a command as that user

PKI_PG_PORT=5432

# pki_db_reaches DIR: true if the cluster's owner can enter DIR, or the
# directory nearest above it that exists.
pki_db_reaches() {
	_r=$1
	while [ ! -e "$_r" ] && [ "$_r" != / ]; do
		_r=$(dirname "$_r")
	done
	pki_db_as_owner test -x "$_r" 2>/dev/null
}

# pki_db_dir [private]: sets PKI_PG_DIR, the private cluster's directory
# (unless set): $PKI_HOME/pg, or where that link points; with "private"
# (the cluster is to be used), as root, for a cluster not made yet whose
# owner cannot enter PKI_HOME, /var/lib/pki/pg-HASH (HASH: of PKI_HOME,
# so that each checkout has its own).
pki_db_dir() {
	if [ -z "${PKI_PG_DIR:-}" ]; then
		PKI_PG_DIR=$PKI_HOME/pg
		if [ -L "$PKI_PG_DIR" ]; then
			PKI_PG_DIR=$(readlink "$PKI_PG_DIR")
		elif [ "${1:-}" = private ] && [ ! -e "$PKI_PG_DIR" ] &&
			pki_db_root &&
			! pki_db_reaches "$PKI_HOME"; then
			PKI_PG_DIR=/var/lib/pki/pg-$(printf '%s' "$PKI_HOME" |
				sha256sum | cut -c 1-12)
		fi
	fi
	export PKI_PG_DIR
}

# The database role of the private cluster: postgres for root, else the
# user's own name.
pki_db_role() {
	if [ "$(id -u)" -eq 0 ]; then
		echo postgres
	else
		id -un
	fi
}

# $1 as a value in a libpq conninfo string (quoted when it needs to be).
pki_db_conninfo_value() {
	case $1 in
	'' | *[[:space:]\'\\]*)
		printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

# pki_db_private_conninfo [DBNAME]: the libpq conninfo of the private
# cluster's database DBNAME (pki).
pki_db_private_conninfo() {
	printf 'host=%s port=%s dbname=%s user=%s\n' \
		"$(pki_db_conninfo_value "$PKI_PG_DIR")" "$PKI_PG_PORT" \
		"${1:-pki}" "$(pki_db_conninfo_value "$(pki_db_role)")"
}

# True when the database in use is the private cluster: none configured,
# or the one that "pki db env" printed.
pki_db_is_private() {
	[ "${PKI_PRIVATE_DB:-0}" = 1 ] && return 0
	if [ -n "${PKI_DB:-}" ]; then
		[ "$PKI_DB" = "$(pki_db_private_conninfo)" ]
		return
	fi
	[ "${PGHOST:-}" = "$PKI_PG_DIR" ]
}

# Sets PKI_PGBIN to the directory of initdb and pg_ctl: on PATH, else the
# newest /usr/lib/postgresql/VERSION/bin.
pki_db_pgbin() {
	[ -n "${PKI_PGBIN:-}" ] && return 0
	if _b=$(command -v pg_ctl 2>/dev/null) && [ -n "$_b" ]; then
		PKI_PGBIN=$(dirname "$_b")
	else
		_best=0
		for _b in /usr/lib/postgresql/*/bin; do
			[ -x "$_b/pg_ctl" ] || continue
			_v=${_b%/bin}
			_v=${_v##*/}
			_v=${_v%%.*}
			if [ "$_v" -gt "$_best" ]; then
				_best=$_v
				PKI_PGBIN=$_b
			fi
		done
	fi
	if [ -z "${PKI_PGBIN:-}" ] || [ ! -x "$PKI_PGBIN/pg_ctl" ]; then
		pki_die 2 "no PostgreSQL server programs (initdb, pg_ctl) found: install postgresql or set PKI_PGBIN"
	fi
}

pki_db_root() {
	[ "$(id -u)" -eq 0 ]
}

# The runuser command: $RUNUSER, else runuser on PATH or in /usr/sbin
# (a PATH without the sbin directories is common under cron).
pki_db_runuser() {
	if [ -n "${RUNUSER:-}" ]; then
		:
	elif command -v runuser >/dev/null 2>&1; then
		RUNUSER=runuser
	elif [ -x /usr/sbin/runuser ]; then
		RUNUSER=/usr/sbin/runuser
	elif [ -x /sbin/runuser ]; then
		RUNUSER=/sbin/runuser
	else
		pki_die 2 "no runuser command to run the private cluster as ${PKI_PG_USER:-postgres} (util-linux): set RUNUSER"
	fi
}

# Runs a command as the owner of the private cluster, in $PKI_PG_DIR.
pki_db_as_owner() {
	pki_db_root && pki_db_runuser
	(
		cd "$PKI_PG_DIR" 2>/dev/null || cd /
		if pki_db_root; then
			exec "$RUNUSER" -u "${PKI_PG_USER:-postgres}" -- "$@"
		fi
		exec "$@"
	)
}

# True if the private cluster runs.
pki_db_running() {
	[ -f "$PKI_PG_DIR/data/postmaster.pid" ] || return 1
	pki_db_pgbin
	pki_db_as_owner "$PKI_PGBIN/pg_ctl" -D "$PKI_PG_DIR/data" status \
		>/dev/null 2>&1
}

# Makes $PKI_PG_DIR, owned by the cluster's owner, or says in one line
# why the owner cannot use it.
pki_db_prepare_dir() {
	_pg=$PKI_PG_DIR
	case $_pg in
	*[,\'\"\\]*)
		pki_die 2 "the private cluster's directory ($_pg) must not contain , ' \" or \\" ;;
	esac
	_sock=$_pg/.s.PGSQL.$PKI_PG_PORT
	[ "${#_sock}" -le 107 ] ||
		pki_die 2 "the private cluster's directory ($_pg) is too long for its socket path (at most 107 bytes): choose a shorter PKI_HOME"
	mkdir -p "$_pg" || pki_die 2 "cannot create $_pg"
	if [ "$_pg" != "$PKI_HOME/pg" ] && [ ! -e "$PKI_HOME/pg" ]; then
		if ! chmod 0755 "$(dirname "$_pg")" || ! mkdir -p "$PKI_HOME" ||
			! ln -s "$_pg" "$PKI_HOME/pg"; then
			pki_die 2 "cannot link $PKI_HOME/pg to $_pg"
		fi
	fi
	if pki_db_root; then
		id "${PKI_PG_USER:-postgres}" >/dev/null 2>&1 ||
			pki_die 2 "no user ${PKI_PG_USER:-postgres} to run the private cluster as (postgres refuses root): install postgresql or set PKI_PG_USER"
		chown "${PKI_PG_USER:-postgres}" "$_pg" ||
			pki_die 2 "cannot chown $_pg to ${PKI_PG_USER:-postgres}"
	fi
	chmod 0700 "$_pg" || pki_die 2 "cannot chmod $_pg"
	pki_db_root || return 0
	pki_db_as_owner test -x "$_pg" && return 0
	# Name the topmost directory that the owner cannot enter.
	_d=$_pg _bad=$_pg
	while :; do
		pki_db_as_owner test -x "$_d" || _bad=$_d
		[ "$_d" = / ] && break
		_d=$(dirname "$_d")
	done
	pki_die 2 "the ${PKI_PG_USER:-postgres} user cannot enter $_bad, so it cannot run the private cluster in $_pg: run chmod o+x $(pki_quote "$_bad"), or set PKI_PG_DIR or PKI_HOME below a directory it can enter"
}

pki_db_no_private() {
	pki_say "no private cluster: the database is configured (PKI_DB or PG* variables)"
}

# pki db start: creates the private cluster if there is none, and starts it.
pki_db_start() {
	pki_db_is_private || { pki_db_no_private; return 0; }
	pki_db_pgbin
	pki_db_prepare_dir
	_pg=$PKI_PG_DIR
	_data=$_pg/data
	if pki_db_running; then
		pki_say "the private cluster already runs (socket in $_pg)"
		return 0
	fi
	if [ ! -d "$_data" ]; then
		pki_say "creating the private cluster in $_data"
		# shellcheck disable=SC2086 # PKI_INITDB_OPTIONS is a list of words
		if ! pki_db_as_owner "$PKI_PGBIN/initdb" -D "$_data" \
			-U "$(pki_db_role)" --auth-local=trust --auth-host=reject \
			-E UTF8 --locale=C.UTF-8 ${PKI_INITDB_OPTIONS:-} \
			>"$_pg/initdb.log" 2>&1; then
			tail -n 5 "$_pg/initdb.log" >&2
			pki_die 1 "initdb failed (all of it in $_pg/initdb.log)"
		fi
	elif [ ! -f "$_data/PG_VERSION" ]; then
		pki_die 1 "$_data is not a PostgreSQL cluster (an interrupted initdb?): remove it and start again"
	fi
	# pg_ctl runs the server through sh: the directory is quoted for it.
	_opts="-c listen_addresses= -k $(pki_quote "$_pg") -p $PKI_PG_PORT ${PKI_PG_OPTIONS:-}"
	if ! pki_db_as_owner "$PKI_PGBIN/pg_ctl" -D "$_data" \
		-l "$_pg/server.log" -w -t 60 -s -o "$_opts" start; then
		tail -n 5 "$_pg/server.log" >&2
		pki_die 1 "the private cluster did not start (its log: $_pg/server.log)"
	fi
	pki_say "the private cluster runs (socket in $_pg)"
}

# pki db stop: stops the private cluster.
pki_db_stop() {
	pki_db_is_private || { pki_db_no_private; return 0; }
	if ! pki_db_running; then
		pki_say "the private cluster is not running"
		return 0
	fi
	pki_db_as_owner "$PKI_PGBIN/pg_ctl" -D "$PKI_PG_DIR/data" -m fast \
		-w -t 60 -s stop ||
		pki_die 1 "cannot stop the private cluster (its log: $PKI_PG_DIR/server.log)"
	pki_say "the private cluster stopped"
}

# True if the database answers; else false with the reason in _err.
pki_db_reach() {
	_err=
	if _err=$(pki_psql -Atc 'SELECT 1' 2>&1 >/dev/null); then
		return 0
	fi
	_err=$(printf '%s\n' "$_err" | sed -n '1{s/^psql: //;s/^error: //;p;}')
	if pki_db_is_private && ! pki_db_running; then
		_err="the private cluster is not running (pki db start): $_err"
	fi
	return 1
}

pki_db_need() {
	pki_db_reach || pki_die 1 "cannot reach the database: $_err"
}

# pki db status: the private cluster, the database, its migrations and
# whether keys are encrypted.  Status 1 if the database cannot be reached.
pki_db_status() {
	if ! pki_db_is_private; then
		echo "private cluster: none (the database is configured by PKI_DB or PG* variables)"
	elif pki_db_running; then
		echo "private cluster: running ($PKI_PG_DIR/data, socket in $PKI_PG_DIR)"
	elif [ -d "$PKI_PG_DIR/data" ]; then
		echo "private cluster: stopped ($PKI_PG_DIR/data)"
	else
		echo "private cluster: not created ($PKI_PG_DIR/data)"
	fi
	if ! pki_db_reach; then
		echo "database: not reachable: $_err"
		return 1
	fi
	pki_psql -At <<'EOF'
SELECT 'database: reachable (' || current_database() || ' as ' ||
	current_user || ')';
SELECT to_regclass('public.pki_migrations') IS NOT NULL AS has_migrations,
	to_regclass('pki.revision') IS NOT NULL AS has_revision \gset
\if :has_migrations
SELECT 'migrations: ' || count(*) FROM public.pki_migrations;
SELECT format('  %s  %s', name, applied) FROM public.pki_migrations
	ORDER BY version;
\else
\echo 'migrations: none'
\endif
\if :has_revision
SELECT 'schemaVersion: ' || schemaVersion FROM pki.revision
	ORDER BY id DESC LIMIT 1;
SELECT 'keysEncrypted: ' || keysEncrypted FROM pki.revision
	ORDER BY id DESC LIMIT 1;
\else
\echo 'keysEncrypted: unknown (no pki schema yet)'
\endif
EOF
}

# pki db migrate: applies every sql/NNN-*.sql not yet recorded in
# public.pki_migrations, each in one transaction together with its record,
# under an advisory lock, so that concurrent runs apply each file once.
pki_db_migrate() {
	pki_db_need
	[ -d "$PKI_SQLDIR" ] || pki_die 2 "no SQL directory $PKI_SQLDIR"
	# What is applied, asked once: a database that is up to date costs
	# one connection, not one per migration (each pending one is asked
	# again under the lock).
	_done=" $(pki_psql -At -c 'SELECT version FROM public.pki_migrations' \
		2>/dev/null | tr '\n' ' ') " || _done=' '
	_n=0 _applied=0 _prev=
	for _f in "$PKI_SQLDIR"/[0-9][0-9][0-9]-*.sql; do
		[ -f "$_f" ] || continue
		_name=${_f##*/}
		_v=${_name%%-*}
		while [ "${_v#0}" != "$_v" ] && [ -n "${_v#0}" ]; do
			_v=${_v#0}
		done
		[ "$_v" != "$_prev" ] ||
			pki_die 2 "two migrations numbered $_v in $PKI_SQLDIR"
		_prev=$_v
		_n=$((_n + 1))
		case $_done in *" $_v "*) continue ;; esac
		[ -n "${_owner_ok:-}" ] || pki_db_migrate_owner "$_name"
		_owner_ok=1
		_out=$(pki_psql -At -v version="$_v" -v name="$_name" \
			-v file="$_f" <<'EOF'
\o /dev/null
SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('pki db migrate'));
CREATE TABLE IF NOT EXISTS public.pki_migrations (
	version	int		PRIMARY KEY,
	name	text		NOT NULL,
	applied	timestamptz	NOT NULL DEFAULT now()
);
SELECT NOT EXISTS (SELECT 1 FROM public.pki_migrations
	WHERE version = :'version'::int) AS todo \gset
\if :todo
\i :file
INSERT INTO public.pki_migrations (version, name)
	VALUES (:'version'::int, :'name');
\echo pki-migration-applied
\endif
COMMIT;
EOF
		) || pki_die 1 "migration $_name failed: nothing of it was applied"
		case $_out in
		*pki-migration-applied*)
			pki_say "applied $_name"
			_applied=$((_applied + 1)) ;;
		esac
	done
	[ "$_n" -gt 0 ] || pki_die 2 "no migrations (NNN-*.sql) in $PKI_SQLDIR"
	[ "$_applied" -gt 0 ] ||
		pki_say "the database is up to date ($_n migrations)"
	return 0
}

# pki_db_migrate_owner NAME: dies unless the role connected owns the
# schema pki (is, or is a member of, its owner), as a migration needs; a
# role of pki db grant does not.
pki_db_migrate_owner() {
	_own=$(pki_psql -At -c "SELECT current_user || ' ' || nspowner::regrole
		|| ' ' || pg_has_role(nspowner, 'USAGE')
		FROM pg_namespace WHERE nspname = 'pki'") ||
		pki_die 1 "migration $1: cannot look up the owner of the schema pki"
	case $_own in
	'' | *' true') return 0 ;;
	esac
	_who=${_own%% *} _owner=${_own#* }
	pki_die 1 "migration $1 not applied: the role $_who does not own the schema pki (pki db grant gives run-time privileges only): run pki db migrate as ${_owner% *}"
}

# pki db init: the private cluster started (if it is used), the database
# created (in the private cluster), the migrations applied.
pki_db_init() {
	if pki_db_is_private; then
		pki_db_start
		"$PSQL" -X -q -v ON_ERROR_STOP=1 \
			-d "$(pki_db_private_conninfo postgres)" <<'EOF' ||
SET client_min_messages = warning;
SELECT 'CREATE DATABASE pki'
	WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pki') \gexec
EOF
			pki_die 1 "cannot create the database pki in the private cluster"
	fi
	pki_db_migrate
}

# pki db env: the environment for psql and the programs, for
# eval "$(pki db env)".
pki_db_env() {
	if pki_db_is_private; then
		printf 'export PGHOST=%s PGPORT=%s PGDATABASE=%s PGUSER=%s\n' \
			"$(pki_quote "$PKI_PG_DIR")" "$PKI_PG_PORT" pki \
			"$(pki_quote "$(pki_db_role)")"
		printf 'export PKI_DB=%s\n' \
			"$(pki_quote "$(pki_db_private_conninfo)")"
	elif [ -n "${PKI_DB:-}" ]; then
		printf 'export PKI_DB=%s\n' "$(pki_quote "$PKI_DB")"
	else
		for _v in $PKI_PG_VARS; do
			eval "_x=\${$_v:-}"
			[ -n "$_x" ] && printf 'export %s=%s\n' "$_v" "$(pki_quote "$_x")"
		done
		return 0
	fi
}

# pki db grant ROLE: ROLE (which must exist) may do what the programs and
# workflows do at run time, and no more: use the schemas pki and dd, read
# and write the rows of their tables and views, use their sequences, run
# their functions, read public.pki_migrations (pki db status).  No CREATE
# on a schema, no ownership, no DDL: pki db migrate stays the owner's.
# The same for the tables later migrations add (default privileges of the
# role that runs this, which should be the one that migrates).  Run by the
# owner of the schema; idempotent.
pki_db_grant() {
	if [ $# -ne 1 ] || [ -z "$1" ]; then
		pki_die 2 "usage: pki db grant ROLE"
	fi
	pki_db_need
	_has=$(echo "SELECT count(*) FROM pg_roles WHERE rolname = :'role'" |
		pki_psql -At -v role="$1") ||
		pki_die 1 "db grant: cannot look up the role $1"
	[ "$_has" = 1 ] ||
		pki_die 1 "db grant: no role $1 in the database (CREATE ROLE $1 LOGIN first)"
	pki_psql -v role="$1" <<'EOF' ||
SET client_min_messages = warning;
BEGIN;
SELECT format('GRANT CONNECT ON DATABASE %I TO %I',
	current_database(), :'role') \gexec
GRANT USAGE ON SCHEMA pki, dd TO :"role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pki, dd
	TO :"role";
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA pki, dd TO :"role";
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pki, dd TO :"role";
GRANT SELECT ON public.pki_migrations TO :"role";
ALTER DEFAULT PRIVILEGES IN SCHEMA pki, dd
	GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"role";
ALTER DEFAULT PRIVILEGES IN SCHEMA pki, dd
	GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"role";
ALTER DEFAULT PRIVILEGES IN SCHEMA pki, dd
	GRANT EXECUTE ON FUNCTIONS TO :"role";
COMMIT;
EOF
		pki_die 1 "db grant: cannot grant $1 its privileges (run it as the owner of the schemas pki and dd, after pki db init)"
	pki_say "the role $1 may read and write pki's rows (no DDL)"
}

pki_db_usage() {
	echo "usage: pki db init|migrate|start|stop|status|env|encrypt|decrypt|grant ROLE"
}

# pki db SUBCOMMAND
pki_db() {
	# Configured by PG* variables alone, PKI_DB is unset: psql -d '' then
	# takes them.
	PKI_DB=${PKI_DB:-}
	PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
	export PGCONNECT_TIMEOUT
	case ${1:-} in
	start) pki_db_start ;;
	stop) pki_db_stop ;;
	status) pki_db_status ;;
	init) pki_db_init ;;
	migrate) pki_db_migrate ;;
	env) pki_db_env ;;
	encrypt | decrypt) pki_db_rekey "$1" ;;
	grant) shift; pki_db_grant "$@" ;;
	-h | --help | help) pki_db_usage ;;
	*) pki_db_usage >&2; return 2 ;;
	esac
}

# pki db encrypt|decrypt: every key at rest encrypted with, or decrypted
# from, the passphrase of PKI_DB_PASSPHRASE_FILE, and the database switched
# to keep them so (serverPKI's -X and -Y).  All or nothing.
pki_db_rekey() {
	[ -n "${PKI_DB_PASSPHRASE_FILE:-}" ] ||
		pki_die 2 "db $1: set PKI_DB_PASSPHRASE_FILE (the passphrase of keys at rest)"
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki-store $PKI_FLAGS --"$1"-keys
	pki_say "the database keeps keys $( [ "$1" = encrypt ] && echo encrypted || echo in clear)"
}
