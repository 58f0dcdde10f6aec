# tap.sh - Test Anything Protocol for POSIX sh tests, read by prove(1).
#
#   ok "description" command args...     passes when the command succeeds
#   nok "description" command args...    passes when the command fails
#   is "$got" "$want" "description"       string equality (diff shown)
#   like "$got" "glob" "description"      shell pattern match
#   pass / fail "description"
#   skip "reason"                         a test that does not apply here
#   diag "text"                           a comment on stderr
#   quiet command args...                 the command without its stdout
#   done_testing                          the plan; exits 1 if any failed

_tap_n=0
_tap_failed=0

pass() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
}

skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n # skip $1"
}

diag() {
	printf '%s\n' "$@" | sed 's/^/# /' >&2
}

ok() {
	_tap_d=$1
	shift
	if "$@"; then pass "$_tap_d"; else fail "$_tap_d"; diag "command failed: $*"; fi
}

nok() {
	_tap_d=$1
	shift
	if "$@"; then fail "$_tap_d"; diag "command succeeded: $*"; else pass "$_tap_d"; fi
}

is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3"
		diag "got:      '$1'" "expected: '$2'"
	fi
}

like() {
	# shellcheck disable=SC2254
	case $1 in
	$2) pass "$3" ;;
	*) fail "$3"; diag "got:      '$1'" "expected: '$2'" ;;
	esac
}

done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

# quiet COMMAND...: run COMMAND with its stdout thrown away (for ok/nok,
# whose own output must stay on stdout).
quiet() {
	"$@" >/dev/null
}

# skip_all "reason": the whole test does not apply here.
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}
