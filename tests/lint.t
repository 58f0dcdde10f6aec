#!/bin/sh
# lint.t - the shell is POSIX sh and shellcheck-clean; the C is built with
# -Werror by make itself.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v shellcheck >/dev/null || skip_all "no shellcheck"
cd "$PKI_TOP" || exit 1
for f in sh/pki sh/*.sh tests/*.t tests/lib/*.sh bench/*; do
	[ -f "$f" ] || continue
	case $(head -1 "$f") in
	*bash*) continue ;;	# none should be; shellcheck -s sh would lie
	esac
	ok "shellcheck $f" shellcheck -x -s sh "$f"
done
nok "no bash in the workflows" grep -l '^#!.*bash' sh/pki sh/*.sh
# make deps and make demo run before the libraries are there: reading
# the Makefile asks pkg-config nothing (it would complain of each).  (The
# make that demo runs for "all" after deps is not run: under -n it would
# expand the compile lines of whatever is out of date.)
out=$(PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH='' make -n MAKE=: deps demo 2>&1)
case $out in *"was not found"*) said=yes ;; *) said=no ;; esac
is "$said" no "make -n deps demo with no library known to pkg-config: no pkg-config complaint"
done_testing
