# env.sh - sourced first by every test: TAP, the programs under test on
# PATH, a private temporary directory $T removed at exit, and at_exit.
#
#   . "$(dirname "$0")/lib/env.sh"

PKI_TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/lib/tap.sh
. "$PKI_TOP/tests/lib/tap.sh"

PKI_BUILD=${PKI_BUILD:-$PKI_TOP/build}
PATH=$PKI_BUILD/bin:$PKI_TOP/sh:$PATH
export PKI_BUILD PATH

# Nothing of the caller's configuration leaks into a test.
unset PKI_DB PKI_CONF PKI_HOME PKI_CA_PASSPHRASE_FILE PKI_DB_PASSPHRASE_FILE \
	PGHOST PGPORT PGDATABASE PGUSER PGSERVICE PGPASSWORD
PKI_CONF=/dev/null	# no ./pki.conf, no /etc/pki/pki.conf
export PKI_CONF

T=$(mktemp -d "${TMPDIR:-/tmp}/pki-test.XXXXXX")
chmod 0711 "$T"	# the postgres user must be able to enter it
_pki_at_exit=

# at_exit COMMAND: run COMMAND (a string for eval) when the test ends,
# the last registered first.
at_exit() {
	_pki_at_exit="$1; $_pki_at_exit"
}

_pki_cleanup() {
	_rc=$?
	eval "$_pki_at_exit" >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
	exit $_rc
}
trap _pki_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# run CMD...: CMD with stdin as given; stdout in $T/out, stderr in $T/err
# (and in $T/stderr.all, searched for keys at the end), exit status in $rc.
# Its stdin must not be $T/out, which it truncates first.
# shellcheck disable=SC2034 # rc is for the tests
run() {
	rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	cat "$T/err" >>"$T/stderr.all"
}

# capture CMD...: CMD's stdout and stderr in $out, its exit status in
# $rc; the output kept in $T/all too, which tests search for keys.
# shellcheck disable=SC2034 # out and rc are for the tests
capture() {
	rc=0
	out=$("$@" 2>&1) || rc=$?
	printf '%s\n' "$out" >> "$T/all"
}

# free_port VAR: set VAR to a random TCP and UDP port of 127.0.0.0/8 that
# nothing listens on and this test has not handed out before.
_pki_ports=" "
free_port() {
	while :; do
		_p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000 ))
		case $_pki_ports in *" $_p "*) continue ;; esac
		[ -z "$(ss -Htaun "( sport = :$_p )" 2>/dev/null)" ] || continue
		_pki_ports="$_pki_ports$_p "
		eval "$1=\$_p"
		return 0
	done
}

# The private key markers no stderr or log may ever contain.
# shellcheck disable=SC2034 # used by the tests that source this
SECRET_PATTERN='PRIVATE KEY'
