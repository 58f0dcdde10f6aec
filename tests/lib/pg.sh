# pg.sh - a private PostgreSQL cluster for a test, with the pki schema.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/pg.sh"
#   pg_setup
#
# pg_setup makes PKI_HOME=$T/home, runs "pki db init" (initdb, start, create
# the database, migrate), exports the PG* variables and PKI_DB of that
# database, and stops the cluster when the test ends.  Durability is
# traded for speed: the cluster is thrown away with $T.
#
# initdb and the migrations cost seconds of CPU, every test file again:
# the first test of a version of sql/ makes a template cluster under
# $TMPDIR, and the others start from a copy of it ("pki db init" then
# finds the database there and every migration applied).  A template
# that cannot be made costs nothing but the time: "pki db init" makes
# the cluster as before.

# q SQL: SQL in the test's database, with pki's schemas first; the rows
# unaligned, without headers.
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "SET search_path TO pki, dd" -c "$1"; }

# pg_local_ca: an EC local CA in the database, its passphrase file in
# PKI_CA_PASSPHRASE_FILE (exported).
pg_local_ca() {
	q "UPDATE localca_settings SET ca_algo = 'ec'"
	pki -q ca init >/dev/null
	PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
	export PKI_CA_PASSPHRASE_FILE
}

pg_setup() {
	PKI_HOME=$T/home
	PKI_PG_OPTIONS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	PKI_INITDB_OPTIONS=--no-sync
	export PKI_HOME PKI_PG_OPTIONS PKI_INITDB_OPTIONS
	at_exit "pki db stop"
	[ -n "${PKI_PG_NO_TEMPLATE:-}" ] || pg_from_template || true
	if ! pki -q db init; then
		echo "Bail out! pki db init failed"
		exit 1
	fi
	eval "$(pki db env)"
	export PKI_DB
}

# pg_from_template: $PKI_HOME/pg/data a copy of the template cluster of
# this sql/ (and of this user, whose role owns it), made first if there
# is none.  Several tests at once: one makes it (a lock directory naming
# its pid), the others wait for it; the lock of a maker that died is
# taken away and the template made again.
pg_from_template() {
	_key=$({ cat "$PKI_TOP"/sql/*.sql "$PKI_TOP/sh/db.sh"; id -u; } |
		sha256sum | cut -c 1-16)
	_tpl=${TMPDIR:-/tmp}/pki-pg-template.$_key
	_n=0
	while [ ! -d "$_tpl/data" ] && [ "$_n" -lt 3000 ]; do
		if mkdir "$_tpl.lock" 2>/dev/null; then
			echo $$ > "$_tpl.lock/pid"
			pg_make_template "$_tpl"
			rm -rf "$_tpl.lock"
			break
		fi
		_pid=$(cat "$_tpl.lock/pid" 2>/dev/null) || _pid=
		if [ -n "$_pid" ] && ! kill -0 "$_pid" 2>/dev/null; then
			rm -rf "$_tpl.lock"
		fi
		sleep 0.1
		_n=$((_n + 1))
	done
	[ -d "$_tpl/data" ] || return 1
	mkdir -p "$PKI_HOME/pg" && chmod 0700 "$PKI_HOME/pg" || return 1
	[ "$(id -u)" -ne 0 ] || chown postgres "$PKI_HOME/pg" || return 1
	cp -a "$_tpl/data" "$PKI_HOME/pg/data"
}

# pg_make_template DIR: DIR/data, a stopped cluster with every migration.
pg_make_template() {
	_mk=$1.new.$$
	rm -rf "$_mk"
	mkdir -p "$_mk" && chmod 0711 "$_mk" || return 1
	# (env, not a subshell that sets PKI_HOME: shellcheck would take it
	# for a change lost in every test that sources this file)
	_ok=0
	env PKI_HOME="$_mk/home" PKI_PG_DIR="$_mk/pg" pki -q db init \
		>"$_mk.log" 2>&1 || _ok=1
	env PKI_HOME="$_mk/home" PKI_PG_DIR="$_mk/pg" pki -q db stop \
		>>"$_mk.log" 2>&1 || _ok=1
	if [ "$_ok" -eq 0 ]; then
		mkdir -p "$1" && chmod 0711 "$1" &&
			mv "$_mk/pg/data" "$1/data.$$" &&
			mv -T "$1/data.$$" "$1/data"	# not into another's
	fi
	rm -rf "$_mk" "$_mk.log" "$1/data.$$"
}

# pg_hold SQL: a session that runs SQL (say "BEGIN; LOCK TABLE ...") and
# holds what it took until pg_release; only one at a time.  Start the
# processes that are to wait for it with 8>&- (the session ends when no
# process holds fd 8 open).  pg_waiting: how many sessions wait for a
# lock.  pg_release: the session commits and ends.
pg_hold() {
	mkfifo "$T/pg_hold"
	psql -X -q -At < "$T/pg_hold" > /dev/null &
	_pg_hold_pid=$!
	exec 8> "$T/pg_hold"
	printf '%s\n' "$1" >&8
	at_exit "kill $_pg_hold_pid"
}
pg_waiting() {
	psql -X -q -At -c "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted"
}
pg_release() {
	echo "COMMIT;" >&8
	exec 8>&-
	wait "$_pg_hold_pid"
	rm -f "$T/pg_hold"
}
