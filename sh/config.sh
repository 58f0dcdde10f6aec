# config.sh - configuration and environment of the pki workflows.
#
# pki.conf is shell: VAR=value lines, read from -f FILE, $PKI_CONF,
# ./pki.conf or /etc/pki/pki.conf (the first that exists).  Variables:
#
#   PKI_HOME                state: private database, CA passphrase (./var)
#   PKI_DB                  libpq conninfo; unset: PG* variables, else the
#                           private cluster under $PKI_HOME/pg (or where
#                           that links to, see db.sh)
#   PGHOST, PGSSLMODE, ...  libpq's variables ($PKI_PG_VARS), exported
#   PKI_CA_PASSPHRASE_FILE  passphrase of the local CA key ($PKI_HOME/ca.pass)
#   PKI_DB_PASSPHRASE_FILE  passphrase of keys at rest (encrypted mode)
#   PKI_SPOOL               records pki-store could not store, stored by
#                           the next run first ($PKI_HOME/spool)
#   PKI_SYSLOG              syslog facility of the programs and the
#                           workflows' lines, e.g. local6 (alert.sh)
#   PKI_ALERT_MAIL, PKI_ALERT_FROM, PKI_ALERT_DAYS, PKI_SENDMAIL
#                           the alert mail (alert.sh)
#   PKI_VERBOSE             0 quiet, 1 normal, 2 verbose
#   PKI_CLEAN_KEEP          pki schedule: archived instances kept (10)
#   PKI_SCHEDULE_STALE      pki schedule: seconds a claim of no run lasts
#   PSQL, JQ, AWK, LOGGER, OPENSSL
#                           the commands used for psql, jq, awk, logger, openssl

# The libpq variables that configure the database (and its TLS link).
PKI_PG_VARS="PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
PGSERVICEFILE PGPASSFILE PGSSLMODE PGSSLROOTCERT PGSSLCERT PGSSLKEY
PGSSLCRL PGSSLCRLDIR PGSSLMINPROTOCOLVERSION"

pki_die() {
	_rc=$1
	shift
	pki_line "$*" >&2
	exit "$_rc"
}

pki_say() {
	[ "${PKI_VERBOSE:-1}" -ge 1 ] || return 0
	pki_line "$*" >&2
}

# pki_line TEXT: "pki: TEXT" in one line, nothing in it for a terminal
# to obey: a value in TEXT (a name, a path) may hold a newline or an
# escape sequence.  A newline or tab is a blank, another control
# character a "?".
pki_line() {
	case $1 in
	*[[:cntrl:]]*)	# (rare: no process for the others)
		printf 'pki: %s\n' "$(printf '%s' "$1" |
			LC_ALL=C tr '\n\t' '  ' |
			LC_ALL=C tr '\001-\037\177' '????????????????????????????????')" ;;
	*)	printf 'pki: %s\n' "$1" ;;
	esac
}

# Quote $1 for eval, every character kept (trailing newlines too: the
# command substitution ends with a character of its own, taken off).
pki_quote() {
	_pq=$(printf '%s.' "$1" | sed "s/'/'\\\\''/g")
	printf "'%s'" "${_pq%.}"
}

# pki_load_config [-f FILE] [-q] [-v]... ARGS: reads the configuration,
# sets up the environment and leaves the other arguments, quoted for eval,
# in PKI_ARGS.
pki_load_config() {
	_conf=${PKI_CONF:-}
	_verbose=
	while [ $# -gt 0 ]; do
		case $1 in
		-f) [ $# -ge 2 ] || pki_die 2 "-f needs a file"; _conf=$2; shift 2 ;;
		-q) _verbose=0; shift ;;
		-v | -d) _verbose=$((${_verbose:-1} + 1)); shift ;;
		*) break ;;
		esac
	done
	# serverPKI's -f (--config_file) may also come after its action flags.
	_prev=
	for _a in "$@"; do
		case $_prev:$_a in
		-f:* | --config_file:* | --config-file:*) _conf=$_a ;;
		*:--config_file=* | *:--config-file=*) _conf=${_a#*=} ;;
		esac
		_prev=$_a
	done
	if [ -z "$_conf" ]; then
		for _c in ./pki.conf /etc/pki/pki.conf; do
			[ -f "$_c" ] && { _conf=$_c; break; }
		done
	fi
	if [ -n "$_conf" ]; then
		[ -r "$_conf" ] || pki_die 2 "cannot read configuration $_conf"
		case $_conf in /*) ;; *) _conf=$PWD/$_conf ;; esac
		pki_conf_trusted "$_conf"
		# shellcheck disable=SC1090
		. "$_conf"
	fi
	# The command line beats the configuration.
	PKI_VERBOSE=${_verbose:-${PKI_VERBOSE:-1}}
	PKI_ARGS=
	for _a in "$@"; do
		PKI_ARGS="$PKI_ARGS $(pki_quote "$_a")"
	done
	pki_setup_env
}

# pki_conf_trusted FILE: FILE is sourced as shell, so it must belong to
# root or the user pki runs as, and no one else may write it.
pki_conf_trusted() {
	[ "$1" = /dev/null ] && return 0
	# shellcheck disable=SC2012 # ls -ln is the portable way to owner and mode
	_ls=$(ls -lnd "$1") || pki_die 2 "cannot read configuration $1"
	_uid=$(printf '%s\n' "$_ls" | awk '{ print $3 }')
	case $_ls in
	?????w* | ????????w*)
		pki_die 2 "configuration $1: others may write it (chmod go-w it)" ;;
	esac
	[ "$_uid" = 0 ] || [ "$_uid" = "$(id -u)" ] ||
		pki_die 2 "configuration $1: owned by uid $_uid, not by root or $(id -un)"
}

pki_setup_env() {
	PKI_HOME=${PKI_HOME:-$PWD/var}
	case $PKI_HOME in /*) ;; *) PKI_HOME=$PWD/$PKI_HOME ;; esac
	PKI_CA_PASSPHRASE_FILE=${PKI_CA_PASSPHRASE_FILE:-$PKI_HOME/ca.pass}
	PKI_SPOOL=${PKI_SPOOL:-$PKI_HOME/spool}
	PKI_DB=${PKI_DB:-}
	PGTZ=UTC	# every timestamp pki writes or shows is UTC
	export PGTZ
	PSQL=${PSQL:-psql}
	JQ=${JQ:-jq}
	OPENSSL=${OPENSSL:-openssl}
	PATH=$PKI_BINDIR:$PATH
	export PKI_HOME PKI_CA_PASSPHRASE_FILE PKI_SPOOL PSQL JQ OPENSSL PATH PKI_VERBOSE
	[ -n "${PKI_DB_PASSPHRASE_FILE:-}" ] && export PKI_DB_PASSPHRASE_FILE
	# libpq's variables set in pki.conf reach psql and the programs too.
	for _v in $PKI_PG_VARS; do
		eval "_x=\${$_v:-}"
		if [ -n "$_x" ]; then export "${_v?}"; fi
	done
	# Without a configured database, use the private cluster.
	if [ -z "${PKI_DB:-}" ] && [ -z "${PGHOST:-}${PGDATABASE:-}${PGSERVICE:-}" ]; then
		pki_db_dir private
		PKI_PRIVATE_DB=1
		PKI_DB=$(pki_db_private_conninfo)
	else
		pki_db_dir
		PKI_PRIVATE_DB=0
	fi
	export PKI_DB PKI_PRIVATE_DB
	pki_flags
}

# pki_flags: PKI_FLAGS, the programs' common flags, from PKI_VERBOSE and
# PKI_SYSLOG (one of the facilities the programs know, or exit 2).
pki_flags() {
	PKI_FLAGS=
	[ "$PKI_VERBOSE" -eq 0 ] && PKI_FLAGS="-q"
	[ "$PKI_VERBOSE" -ge 2 ] && PKI_FLAGS="-v"
	[ "$PKI_VERBOSE" -ge 3 ] && PKI_FLAGS="-v -v"
	case ${PKI_SYSLOG:-} in
	'' ) ;;
	daemon | user | local[0-7]) PKI_FLAGS="$PKI_FLAGS --syslog $PKI_SYSLOG" ;;
	*) pki_die 2 "PKI_SYSLOG: unknown syslog facility \"$PKI_SYSLOG\" (daemon, user, local0 ... local7)" ;;
	esac
	export PKI_VERBOSE
	return 0
}

# psql on the configured database: quiet, stops at the first error, no
# ~/.psqlrc.  Values go in as psql variables (-v name=value), used in the
# SQL as :'name', never spliced into the text.
pki_psql() {
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$PKI_DB" "$@"
}
