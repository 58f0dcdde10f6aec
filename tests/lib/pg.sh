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

pg_setup() {
	PKI_HOME=$T/home
	PKI_PG_OPTIONS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	PKI_INITDB_OPTIONS=--no-sync
	export PKI_HOME PKI_PG_OPTIONS PKI_INITDB_OPTIONS
	at_exit "pki db stop"
	if ! pki -q db init; then
		echo "Bail out! pki db init failed"
		exit 1
	fi
	eval "$(pki db env)"
	export PKI_DB
}
