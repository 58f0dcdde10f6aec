#!/bin/sh
# install.t - make install: the layout under DESTDIR, and an installed pki
# (PREFIX only) that works from there without the source tree.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

make -s -C "$PKI_TOP" install BUILD="$PKI_BUILD" PREFIX=/usr/local \
	DESTDIR="$T/stage" >"$T/make.out" 2>&1
is "$?" 0 "make install DESTDIR=... succeeds"
for f in bin/pki bin/pki-select bin/pki-keygen bin/pki-csr bin/pki-localca \
	bin/pki-tlsa bin/pki-store; do
	ok "installs $f, executable" test -x "$T/stage/usr/local/$f"
done
ok "installs the SQL" test -f "$T/stage/usr/local/share/pki/sql/001-dd.sql"
ok "installs the workflows" test -f "$T/stage/usr/local/share/pki/sh/issue.sh"
ok "installs pki(1), pki-record(5), pki(7)" test -f "$T/stage/usr/local/share/man/man1/pki.1" \
	-a -f "$T/stage/usr/local/share/man/man5/pki-record.5" \
	-a -f "$T/stage/usr/local/share/man/man7/pki.7"
is "$(sed -n 's/^PKI_DATADIR_DEFAULT=//p' "$T/stage/usr/local/bin/pki")" \
	/usr/local/share/pki "the installed pki knows its data directory"

# Installed for real under a PREFIX, run with nothing of the source tree.
prefix=$T/prefix
make -s -C "$PKI_TOP" install BUILD="$PKI_BUILD" PREFIX="$prefix" >"$T/make.out" 2>&1
is "$?" 0 "make install PREFIX=... succeeds"
PATH=$prefix/bin:/usr/bin:/bin
unset PKI_BUILD
export PATH
is "$(command -v pki)" "$prefix/bin/pki" "the installed pki is the one on PATH"
ok "its man page renders" quiet mandoc -Tascii "$prefix/share/man/man1/pki-store.1"
# shellcheck source=tests/lib/pg.sh
. "$PKI_TOP/tests/lib/pg.sh"
pg_setup
ok "pki ca init" quiet pki -q ca init
ok "pki cert add" pki -q cert add installed.test -a ec
out=$(pki issue 2>&1)
like "$out" "installed.test: issued instance *" "pki issue from the installed copy"
done_testing
