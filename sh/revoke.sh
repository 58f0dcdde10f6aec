# revoke.sh - pki revoke (an instance of the ACME CA or of the local CA),
# pki ca crl (the local CA's CRL) and pki account list|rollover|deactivate
# (the ACME accounts of the database).  Variables of pki.conf:
#
#   PKI_CA_CRL              the CRL file pki revoke and pki ca crl write
#                           for the local CA ($PKI_HOME/crl.pem)
#   PKI_CA_CRL_DAYS         days until the CRL's nextUpdate (7)
#
# The account key never leaves the pipe and the run directory (mode
# 0700): nothing here prints it, and no command line carries it.
# shellcheck disable=SC2016 # jq programs and SQL are single-quoted on purpose

_revoke_usage="usage: pki revoke SERIAL [--reason REASON]"

# pki revoke SERIAL [--reason REASON]: revoke instance SERIAL (the id of
# pki status): at the ACME CA (pki-acme revoke), or for the local CA in
# the database and its CRL (pki ca crl).  A revoked instance is said so
# and left alone.
pki_revoke() {
	_serial='' _reason=unspecified
	while [ $# -gt 0 ]; do
		case $1 in
		--reason) [ $# -ge 2 ] || pki_die 2 "$_revoke_usage"
			_reason=$2; shift 2 ;;
		--reason=*) _reason=${1#--reason=}; shift ;;
		-*) pki_die 2 "$_revoke_usage" ;;
		*) [ -z "$_serial" ] || pki_die 2 "$_revoke_usage"
			_serial=$1; shift ;;
		esac
	done
	case $_serial in
	'' | *[!0-9]*) pki_die 2 "$_revoke_usage (SERIAL: an instance id of pki status)" ;;
	esac
	pki_flags
	# The reason checked by the stage that knows RFC 5280's names.
	pki-localca -q --revoke --reason "$_reason" </dev/null >/dev/null ||
		exit 2
	_inst=$(pki_sql -At -F "$(printf '\t')" -v serial="$_serial" <<'EOF'
SET search_path TO pki, dd, public;
SELECT i.state, CASE c.type WHEN 'LE' THEN 'acme' ELSE 'local' END,
       s.name, s.type
  FROM certinstances i
  JOIN certificates c ON c.id = i.certificate
  JOIN subjects s ON s.certificate = c.id AND NOT s.isaltname
 WHERE i.id = :'serial'::int4;
EOF
) || exit 2
	[ -n "$_inst" ] ||
		pki_die 1 "revoke: no instance $_serial (pki status lists them)"
	_state=$(printf '%s\n' "$_inst" | cut -f1)
	_ca=$(printf '%s\n' "$_inst" | cut -f2)
	_name=$(printf '%s\n' "$_inst" | cut -f3)
	[ "$(printf '%s\n' "$_inst" | cut -f4)" != CA ] ||
		pki_die 2 "revoke: instance $_serial is the local CA $_name itself (pki ca roll makes a new one)"
	case $_state in
	revoked)
		pki_say "instance $_serial ($_name) is revoked already"
		return 0 ;;
	reserved)
		pki_die 1 "revoke: instance $_serial ($_name) has no certificate yet" ;;
	esac
	pki_run_dir
	if [ "$_ca" = acme ]; then
		pki_acme_env
		# shellcheck disable=SC2086 # PKI_FLAGS is a word list
		pki_stage pki-select pki-select $PKI_FLAGS --serial "$_serial" |
			pki_stage pki-acme pki-acme revoke $PKI_FLAGS \
				--reason "$_reason" |
			pki_stage pki-store pki-store $PKI_FLAGS |
			pki_stage summary pki_revoke_summary
		_rc=0
		pki_stages_status pki-select pki-acme pki-store summary ||
			_rc=$?
		return "$_rc"
	fi
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki_stage pki-select pki-select $PKI_FLAGS --serial "$_serial" |
		pki_stage pki-localca pki-localca $PKI_FLAGS --revoke \
			--reason "$_reason" |
		pki_stage pki-store pki-store $PKI_FLAGS |
		pki_stage summary pki_revoke_summary
	_rc=0
	pki_stages_status pki-select pki-localca pki-store summary || _rc=$?
	# The CRL says what the database says, even after a failure.
	pki_ca_crl "${PKI_CA_CRL:-$PKI_HOME/crl.pem}" || _rc=2
	return "$_rc"
}

# The summary of revoked records: one line each.
pki_revoke_summary() {
	pki_jq_report '
	if (.errors // []) | length > 0 then
		"err\t\(.name): revoke FAILED: \(.errors | map(
			(.stage // "?") + ": " +
			(if .field then .field + ": " else "" end) +
			(.message // "")) | join("; "))"
	elif .account then
		"notice\tACME account \(.account.url): registered again with its key (the CA did not know \(.account.replaces // "the account") any more)"
	elif .revoked then
		"info\t\(.name): revoked instance \(.instance.id) (\(.revoked.reason))"
	else
		"err\t\(.name): not revoked (no certificate of its CA)"
	end'
}

# pki ca crl [FILE]: the local CA's CRL, signed by it, listing the
# revoked instances it issued, written atomically to FILE (PKI_CA_CRL).
pki_ca_crl() {
	[ $# -le 1 ] || pki_die 2 "usage: pki ca crl [FILE]"
	_crl=${1:-${PKI_CA_CRL:-$PKI_HOME/crl.pem}}
	pki_flags
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki-localca $PKI_FLAGS --crl "$_crl" --days "${PKI_CA_CRL_DAYS:-7}" ||
		return $?
	pki_say "CRL of the local CA in $_crl"
}

_account_usage="usage: pki account list | rollover [--directory URL] | deactivate [--directory URL] [--yes]"

pki_account() {
	_sub=${1:-}
	[ $# -gt 0 ] && shift
	case $_sub in
	list) [ $# -eq 0 ] || pki_die 2 "$_account_usage"; pki_account_list ;;
	rollover | deactivate) pki_account_change "$_sub" "$@" ;;
	*) pki_die 2 "$_account_usage" ;;
	esac
}

# pki account list: the ACME accounts of the database, never their keys.
pki_account_list() {
	pki_sql <<'EOF'
SET search_path TO pki, dd, public;
SELECT id AS "Id", directory AS "Directory", url AS "Account",
       array_to_string(contact, ' ') AS "Contact", status AS "Status",
       date_trunc('second', created) AS "Created"
  FROM acme_accounts ORDER BY created, id;
EOF
}

# pki account rollover|deactivate [--directory URL] [--yes]: the newest
# valid account of the directory (PKI_ACME_DIRECTORY) gets a new key, or
# is deactivated (after a question, unless --yes).  The record of
# pki-acme, which carries the new key, goes to a file of the run
# directory and from there to pki-store; when the CA's answer to the key
# change is lost and it cannot tell, the record is kept in
# $PKI_HOME/rollover-TIME.json (mode 0600) instead of being thrown away.
pki_account_change() {
	_act=$1
	shift
	_dir=${PKI_ACME_DIRECTORY:-} _yes=''
	while [ $# -gt 0 ]; do
		case $1 in
		--directory) [ $# -ge 2 ] || pki_die 2 "$_account_usage"
			_dir=$2; shift 2 ;;
		--yes | -y) [ "$_act" = deactivate ] ||
				pki_die 2 "$_account_usage"
			_yes=1; shift ;;
		*) pki_die 2 "$_account_usage" ;;
		esac
	done
	_url=$(pki_sql -At -v dir="$_dir" <<'EOF'
SET search_path TO pki, dd, public;
SELECT url FROM acme_accounts WHERE status = 'valid'
   AND (:'dir' = '' OR directory = :'dir')
 ORDER BY created DESC, id DESC LIMIT 1;
EOF
) || exit 2
	[ -n "$_url" ] || pki_die 1 "account $_act: no valid ACME account${_dir:+ of $_dir} in the database (pki account list)"
	if [ "$_act" = deactivate ] && [ -z "$_yes" ]; then
		[ -t 0 ] || pki_die 2 "account deactivate: give --yes to deactivate $_url without a question"
		printf 'Deactivate the ACME account %s? The CA refuses it for good. [y/N] ' "$_url" >&2
		read -r _answer || _answer=
		case $_answer in
		y | Y | yes | YES) ;;
		*) pki_say "account $_url left as it is"; return 1 ;;
		esac
	fi
	pki_flags
	pki_acme_env
	pki_run_dir
	_args=
	[ -n "$_dir" ] && _args="--directory $(pki_quote "$_dir")"
	[ -n "${PKI_ACME_TIMEOUT:-}" ] &&
		_args="$_args --timeout $(pki_quote "$PKI_ACME_TIMEOUT")"
	_rec=$PKI_RUN_DIR/account.json
	_rc=0
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	(umask 077 && eval "pki-acme $_act $PKI_FLAGS $_args" > "$_rec") ||
		_rc=$?
	if [ "$_act" = rollover ] && [ "$_rc" -eq 1 ] &&
		"$JQ" -e '.account.key and ((.errors // []) | length > 0)' \
			"$_rec" >/dev/null 2>&1; then
		_keep=$PKI_HOME/rollover-$(date -u +%Y%m%dT%H%M%SZ).json
		(umask 077 && mkdir -p "$PKI_HOME" && cp "$_rec" "$_keep") ||
			pki_die 2 "account rollover: cannot keep the new key in $_keep"
		pki_log err "account rollover: the CA's answer is unknown; the new key is kept in $_keep (mode 0600): once the CA tells which key is the account's, store that record with pki-store (its errors removed) or delete it"
		return 1
	fi
	[ -s "$_rec" ] || return "$_rc"
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki_stage pki-store pki-store $PKI_FLAGS < "$_rec" |
		pki_stage summary pki_jq_report '
		if (.errors // []) | length > 0 then
			"err\tACME account: \(.action) FAILED: \(.errors |
				map(.message) | join("; "))"
		else
			"info\tACME account \(.account.url): \(if .action ==
				"rollover" then "new key" else .account.status
				end)"
		end'
	pki_stages_status pki-store summary || _rc=$?
	return "$_rc"
}
