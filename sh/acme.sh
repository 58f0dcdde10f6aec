# acme.sh - pki register (serverPKI's -Z) and what the workflows need to
# run pki-acme.  Variables of pki.conf:
#
#   PKI_ACME_DIRECTORY      the ACME CA's directory URL, e.g.
#                           https://acme-v02.api.letsencrypt.org/directory
#   PKI_ACME_EMAIL          the account's contact e-mail address
#   PKI_ACME_CA_BUNDLE      PEM file of the CAs that sign the ACME server's
#                           TLS certificate, for a private CA (Pebble,
#                           step-ca); unset: the system's trust store
#   PKI_ACME_KEY_TYPE       ec (P-256, the default) or rsa (2048 bits)
#   PKI_ACME_AGREE_TOS      yes: agree to the CA's terms of service
#                           (else pki register --agree-tos)
#   PKI_ACME_EAB_KID        External Account Binding: the key id the CA
#   PKI_ACME_EAB_HMAC_FILE  gave, and a file (mode 0600) with its HMAC key
#   PKI_ACME_CHALLENGE      dns-01, http-01 or dns-persist-01:
#                           overrides every certificate's own challenge
#                           type (pki cert add -C, pki cert set --challenge)
#   PKI_ACME_PERSIST_UNTIL  dns-persist-01: the persistUntil of the
#                           standing records (RFC 3339); unset: none
#   PKI_ACME_PROFILE        the profile new orders ask for
#                           (draft-ietf-acme-profiles; Let's Encrypt:
#                           classic, tlsserver, shortlived) when the
#                           certificate names none (pki cert add -P)
#   PKI_ACME_HTTP_ROOT      http-01: the web server's document root
#   PKI_ACME_HTTP_LISTEN    http-01: ADDR:PORT for pki-acme's own responder
#   PKI_ACME_TIMEOUT        seconds pki-acme waits for the CA (300)
#
# pki-acme reads PKI_ACME_DIRECTORY and PKI_ACME_CA_BUNDLE itself;
# pki_acme_env exports them.  The issue pipeline runs, between pki-localca
# and pki-tlsa:
#
#   pki-acme order $(pki_acme_order_flags) | pki-dnsup ... |
#   pki-acme finish $(pki_acme_finish_flags) | pki-dnsup --remove ...
#
# Both pass the records of the local CA through without a word to the
# ACME CA, and need no account when the batch has no ACME record.

# pki_acme_env: export what pki-acme reads from the environment.
pki_acme_env() {
	if [ -n "${PKI_ACME_DIRECTORY:-}" ]; then
		export PKI_ACME_DIRECTORY
	fi
	if [ -n "${PKI_ACME_CA_BUNDLE:-}" ]; then
		export PKI_ACME_CA_BUNDLE
	fi
	return 0
}

# pki_acme_order_flags: the flags of pki-acme order from pki.conf, quoted
# for eval.
pki_acme_order_flags() {
	_af=
	[ -n "${PKI_ACME_CHALLENGE:-}" ] &&
		_af="$_af --challenge $(pki_quote "$PKI_ACME_CHALLENGE")"
	[ -n "${PKI_ACME_PROFILE:-}" ] &&
		_af="$_af --profile $(pki_quote "$PKI_ACME_PROFILE")"
	[ -n "${PKI_ACME_PERSIST_UNTIL:-}" ] &&
		_af="$_af --persist-until $(pki_quote "$PKI_ACME_PERSIST_UNTIL")"
	[ -n "${PKI_ACME_TIMEOUT:-}" ] &&
		_af="$_af --timeout $(pki_quote "$PKI_ACME_TIMEOUT")"
	printf '%s\n' "$_af"
}

# pki_acme_finish_flags: the flags of pki-acme finish from pki.conf,
# quoted for eval.
pki_acme_finish_flags() {
	_af=
	[ -n "${PKI_ACME_HTTP_ROOT:-}" ] &&
		_af="$_af --http-root $(pki_quote "$PKI_ACME_HTTP_ROOT")"
	[ -n "${PKI_ACME_HTTP_LISTEN:-}" ] &&
		_af="$_af --http-listen $(pki_quote "$PKI_ACME_HTTP_LISTEN")"
	[ -n "${PKI_ACME_TIMEOUT:-}" ] &&
		_af="$_af --timeout $(pki_quote "$PKI_ACME_TIMEOUT")"
	printf '%s\n' "$_af"
}

# pki register [--agree-tos] [--acme-server URL]: a new account at the
# ACME CA of pki.conf, or at URL (the CA of certificates with pki cert
# set --acme-server), stored in the database (serverPKI -Z).
pki_register() {
	_agree=${PKI_ACME_AGREE_TOS:-no}
	_rdir=${PKI_ACME_DIRECTORY:-}
	_rusage="usage: pki register [--agree-tos] [--acme-server URL]"
	while [ $# -gt 0 ]; do
		case $1 in
		--agree-tos) _agree=yes ;;
		--acme-server)
			[ $# -ge 2 ] || pki_die 2 "$_rusage"
			_rdir=$2
			shift ;;
		*) pki_die 2 "$_rusage" ;;
		esac
		shift
	done
	[ -n "$_rdir" ] ||
		pki_die 2 "register: set PKI_ACME_DIRECTORY in pki.conf (or give --acme-server URL)"
	[ -n "${PKI_ACME_EMAIL:-}" ] ||
		pki_die 2 "register: set PKI_ACME_EMAIL in pki.conf"
	_args="--directory $(pki_quote "$_rdir")"
	_args="$_args --email $(pki_quote "$PKI_ACME_EMAIL")"
	[ "$_agree" = yes ] && _args="$_args --agree-tos"
	[ -n "${PKI_ACME_CA_BUNDLE:-}" ] &&
		_args="$_args --ca-bundle $(pki_quote "$PKI_ACME_CA_BUNDLE")"
	[ -n "${PKI_ACME_KEY_TYPE:-}" ] &&
		_args="$_args --key-type $(pki_quote "$PKI_ACME_KEY_TYPE")"
	if [ -n "${PKI_ACME_EAB_KID:-}" ]; then
		_args="$_args --eab-kid $(pki_quote "$PKI_ACME_EAB_KID")"
		_args="$_args --eab-hmac-file $(pki_quote "${PKI_ACME_EAB_HMAC_FILE:-}")"
	fi
	[ -n "${PKI_ACME_TIMEOUT:-}" ] &&
		_args="$_args --timeout $(pki_quote "$PKI_ACME_TIMEOUT")"
	pki_run_dir
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	eval "pki_stage pki-acme pki-acme register $PKI_FLAGS $_args" |
		pki_stage pki-store pki-store $PKI_FLAGS |
		pki_stage summary "$JQ" -r 'if (.errors // []) | length > 0
			then "ACME account: FAILED: " + (.errors | map(.message) |
			join("; "))
			else "registered ACME account " + .account.url + " (" +
			.account.status + ")" end'
	pki_stages_status pki-acme pki-store summary
}
