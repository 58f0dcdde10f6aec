#!/bin/sh
# man.t - the manual pages: every page is clean under mandoc -Tlint, every
# program in cmd/ has a page, and a program's usage (-h) is its page's
# SYNOPSIS, word for word.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

MANDOC=${MANDOC:-mandoc}
if ! command -v "$MANDOC" >/dev/null 2>&1; then
	echo "1..0 # SKIP mandoc is not installed"
	exit 0
fi

man=$PKI_TOP/man
bs=$(printf '\b')

# lint PAGE: mandoc -Tlint -W warning says nothing and exits 0.
lint() {
	_out=$("$MANDOC" -Tlint -W warning "$1" 2>&1)
	_rc=$?
	if [ "$_rc" -eq 0 ] && [ -z "$_out" ]; then
		pass "$(basename "$1"): mandoc -Tlint -W warning is clean"
	else
		fail "$(basename "$1"): mandoc -Tlint -W warning is clean"
		diag "exit $_rc" "$_out"
	fi
}

# One line of words: joined, blanks squeezed, "usage:" dropped.
words() {
	tr '\t\n' '  ' | sed -e 's/usage://g' -e 's/  */ /g' \
		-e 's/^ //' -e 's/ $//'
}

# synopsis PAGE: the SYNOPSIS section as mandoc renders it, in words.
synopsis() {
	"$MANDOC" -Tascii "$1" | sed "s/.$bs//g" |
		awk '/^SYNOPSIS$/ { f = 1; next } /^[^ \t]/ { f = 0 } f' |
		words
}

for dir in "$PKI_TOP"/cmd/*/; do
	prog=$(basename "$dir")
	page=$man/$prog.1
	if [ ! -f "$page" ]; then
		fail "$prog has a manual page man/$prog.1"
		continue
	fi
	pass "$prog has a manual page man/$prog.1"
	lint "$page"
	if "$prog" -h >"$T/usage" 2>"$T/err"; then
		pass "$prog -h exits 0"
	else
		fail "$prog -h exits 0"
	fi
	is "$(cat "$T/err")" "" "$prog -h writes nothing on stderr"
	like "$(cat "$T/usage")" "usage: $prog *" "$prog -h writes its usage on stdout"
	is "$(synopsis "$page")" "$(words <"$T/usage")" \
		"$prog: SYNOPSIS of $prog.1 is the usage, word for word"
done

for page in "$man"/pki-record.5 "$man"/pki.1 "$man"/pki.7; do
	if [ -f "$page" ]; then
		lint "$page"
	else
		fail "$(basename "$page") exists"
	fi
done

# No page is left out of the lint, whatever its name.
for page in "$man"/*.[1-9]; do
	case $(basename "$page") in
	pki-record.5 | pki.1 | pki.7) ;;
	*.1) [ -d "$PKI_TOP/cmd/$(basename "$page" .1)" ] || lint "$page" ;;
	*) lint "$page" ;;
	esac
done

# The check itself tells a difference: a page whose SYNOPSIS lost an
# option does not match.
sed '/^\.Op Fl -syslog Ar FACILITY$/d' "$man/pki-csr.1" >"$T/pki-csr.1"
nok "a SYNOPSIS without --syslog differs from pki-csr's usage" \
	test "$(synopsis "$T/pki-csr.1")" = "$(pki-csr -h | words)"

done_testing
