# chromium.sh - headless Chromium for a test: a page rendered to a PNG or
# to its DOM, with HOME and the profile under $T, a timeout, and no
# network: in a network namespace of its own with no interface up
# (unshare -n as root, unshare -rn for a user that may), else with every
# name resolving to nothing and a proxy where nothing listens.
#
#   chromium_check                 skips the test when there is none
#   chromium_run ARGS... URL       chromium --headless ARGS URL
#
#   CHROMIUM   the command (chromium)
# shellcheck shell=sh

CHROMIUM=${CHROMIUM:-chromium}

chromium_check() {
	if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
		# In CI (make deps installs it) its absence is a failure.
		[ -n "${CI:-}" ] && { echo "Bail out! no $CHROMIUM"; exit 1; }
		skip_all "no $CHROMIUM (Debian chromium; make deps)"
	fi
	mkdir -p "$T/chromium-home"
	_chromium_ns=
	if unshare -n true 2>/dev/null; then
		_chromium_ns="unshare -n"
	elif unshare -rn true 2>/dev/null; then
		_chromium_ns="unshare -rn"
	fi
}

chromium_run() {
	# shellcheck disable=SC2086 # _chromium_ns is a word list
	HOME=$T/chromium-home timeout 60 $_chromium_ns "$CHROMIUM" --headless \
		--no-sandbox --disable-gpu --user-data-dir="$T/chromium-home/profile" \
		--no-first-run --disable-background-networking --disable-sync \
		--disable-component-update --disable-extensions \
		--host-resolver-rules="MAP * ~NOTFOUND" \
		--proxy-server=127.0.0.1:9 "$@" 2>>"$T/chromium.log"
}
