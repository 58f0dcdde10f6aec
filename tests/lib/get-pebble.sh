#!/bin/sh
# get-pebble.sh - fetch Debian's newer Pebble (2.10, from the forky
# release) for the tests that need ACME Renewal Information (RFC 9773),
# which Debian 12's Pebble 2.4 lacks.  The package depends on libc6 only.
#
#   sh tests/lib/get-pebble.sh [DIR]
#
# It is fetched with apt-get download through a private sources list
# and package lists under a temporary directory (the system's apt
# configuration is not changed) and unpacked with dpkg-deb -x into DIR
# (default var/pebble-2.10 of the project, git-ignored): the binaries
# are DIR/usr/bin/pebble and DIR/usr/bin/pebble-challtestsrv.  Nothing
# is done when DIR already holds them.  Exit 0 when they are there
# afterwards, 1 when they could not be fetched (the tests that need them
# then skip).
set -eu

APT_GET=${APT_GET:-apt-get}
DPKG_DEB=${DPKG_DEB:-dpkg-deb}
PEBBLE_SUITE=${PEBBLE_SUITE:-forky}
PEBBLE_MIRROR=${PEBBLE_MIRROR:-http://deb.debian.org/debian}

top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$top/var/pebble-2.10}

if [ -x "$dir/usr/bin/pebble" ]; then
	echo "get-pebble: $dir/usr/bin/pebble is there"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/get-pebble.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# apt's download sandbox (user _apt) must be able to write here.
chmod 0755 "$tmp"
mkdir -p "$tmp/lists/partial"
echo "deb $PEBBLE_MIRROR $PEBBLE_SUITE main" > "$tmp/sources.list"

apt_private() {
	"$APT_GET" -q -o Dir::Etc::sourcelist="$tmp/sources.list" \
		-o Dir::Etc::sourceparts=- -o Dir::State::Lists="$tmp/lists" \
		-o APT::Get::List-Cleanup=0 "$@"
}

fail() {
	echo "get-pebble: $1; the tests that need Pebble 2.10 will skip" >&2
	exit 1
}

apt_private update >"$tmp/log" 2>&1 ||
	fail "apt-get update of $PEBBLE_SUITE failed: $(tail -n 1 "$tmp/log")"
(cd "$tmp" && apt_private download pebble) >>"$tmp/log" 2>&1 ||
	fail "apt-get download pebble failed: $(tail -n 1 "$tmp/log")"
set -- "$tmp"/pebble_*.deb
[ -f "$1" ] || fail "no pebble package was downloaded"
mkdir -p "$tmp/x"
"$DPKG_DEB" -x "$1" "$tmp/x" || fail "dpkg-deb -x $1 failed"
[ -x "$tmp/x/usr/bin/pebble" ] || fail "the package holds no usr/bin/pebble"
mkdir -p "$(dirname "$dir")"
rm -rf "$dir.new"
mv "$tmp/x" "$dir.new"
mv "$dir.new" "$dir"
echo "get-pebble: $("$DPKG_DEB" -f "$1" Package Version | tr '\n' ' ')in $dir"
