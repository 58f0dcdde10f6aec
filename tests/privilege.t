#!/bin/sh
# privilege.t - pki needs no privileges of its own: every program, made
# setuid root or setgid root and run by nobody, refuses in one line before
# it reads anything (a setuid copy would lend root to whoever runs it),
# while a plain copy runs for nobody as for anyone.  (The http-01
# responder, which pki-acme starts as nobody when it runs as root, is
# tested in acme.t.)
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

[ "$(id -u)" = 0 ] || skip_all "making a program setuid root needs root"
command -v setpriv >/dev/null || skip_all "no setpriv (util-linux)"
# nobody must reach the copies: a directory of its own, open to all.
D=$(mktemp -d /tmp/pki-priv.XXXXXX)
at_exit "rm -rf '$D'"
chmod 0755 "$D"
if findmnt -no OPTIONS -T "$D" | grep -qw nosuid; then
	skip_all "/tmp is mounted nosuid: setuid cannot be tried here"
fi
# as_nobody PROGRAM: PROGRAM run by nobody on an empty input.
as_nobody() {
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$1" \
		</dev/null >"$T/out" 2>"$T/err" || rc=$?
}

for p in "$PKI_BUILD"/bin/pki-*; do
	n=${p##*/}
	cp "$p" "$D/$n"
	chmod 0755 "$D/$n"
	as_nobody "$D/$n"
	plain=$rc:$(grep -c 'refusing to run setuid' "$T/err")
	chmod 4755 "$D/$n"
	as_nobody "$D/$n"
	is "$rc:$(cat "$T/err")" "2:$n: refusing to run setuid, setgid or with file capabilities: pki needs no privileges of its own" \
		"$n setuid root, run by nobody: exit 2, saying why"
	is "$(wc -c <"$T/out")" 0 "... writing nothing"
	chmod 2755 "$D/$n"
	as_nobody "$D/$n"
	is "$rc:$(grep -c 'refusing to run setuid' "$T/err")" 2:1 "... setgid root: refused too"
	ok "... a plain copy is not refused (exit ${plain%%:*})" [ "${plain#*:}" = 0 ]
	rm -f "$D/$n"
done

done_testing
