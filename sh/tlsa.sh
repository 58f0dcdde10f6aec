# tlsa.sh - the DANE TLSA RRsets in DNS: a renewal's records prepublished
# beside the current ones before it is deployed (pki issue, pki
# distribute), published by pki distribute once an instance is deployed,
# put back by pki tlsa consolidate (serverPKI's -T), emptied by pki tlsa
# remove (-R).
#
#   pki-select --tlsa changed|all|remove|prepublish | pki-dnsup --tlsa |
#       pki-store
#
# The RRset of each owner (_PORT._PROTO.NAME.) is that of the deployed and
# prepublished instances of its certificate, from the records pki-store
# kept when they were issued.  pki-dnsup waits until every authoritative
# server serves it; pki-store then keeps it as published, and makes an
# instance prepublished.  DNS is set by the variables of dns.sh; without
# PKI_TSIG_KEY_FILE or PKI_DNS_INCLUDE_FILE nothing is published.
# shellcheck disable=SC2016 # jq programs are single-quoted on purpose

# One line per record, never a key; with -q only the failures.
pki_tlsa_summary() {
	pki_jq_report '
	(if .action == "prepublish" then "prepublish of instance " +
		"\(.instance.id)" else "TLSA" end) as $what |
	if (.errors // []) | length > 0 then
		"err\t\(.name): \($what) FAILED: \(.errors | map(
			(.stage // "?") + ": " +
			(if .field then .field + ": " else "" end) +
			(.message // "")) | join("; "))"
	else "info\t" + if .action == "tlsa-backfill" then
		"\(.name): instance \(.instance.id): \((.tlsa // []) | length) " +
		"TLSA record(s) computed and stored"
	elif .action == "prepublish" then
		"\(.name): instance \(.instance.id) \(.instance.state): " +
		([(.tlsa // []) | group_by(.owner)[] |
			"\(.[0].owner) \(length) record(s)"] | join(", "))
	else
		"\(.name): TLSA " + ([(.tlsa // []) | group_by(.owner)[] |
			"\(.[0].owner) \(length) record(s)"] +
			[(.tlsa_empty // [])[] | "\(.) emptied"] | join(", "))
	end end'
}

# pki_tlsa_configured: 0 if DNS is configured for TLSA (a TSIG key or
# include files) and the run may change it (PKI_NOTLSA, set by
# serverPKI's -N, is empty); else the records are stored, not published.
pki_tlsa_configured() {
	[ -z "${PKI_NOTLSA:-}" ] &&
		[ -n "${PKI_TSIG_KEY_FILE:-}${PKI_DNS_INCLUDE_FILE:-}" ]
}

# pki_tlsa_publish MODE [SELECTION]: publish the RRsets pki-select --tlsa
# MODE gives (changed, all, remove or prepublish) for SELECTION (-a -o -i
# -e, and for prepublish --now, quoted for eval).  Needs pki_run_dir;
# returns the worst stage status.
pki_tlsa_publish() {
	pki_dns_env
	_tdns=$(pki_dnsup_flags)
	# shellcheck disable=SC2086 # PKI_FLAGS and the rest are word lists
	eval "pki_stage pki-select-tlsa pki-select --tlsa $1 $PKI_FLAGS ${2:-}" |
		eval "pki_stage pki-dnsup-tlsa pki-dnsup --tlsa $PKI_FLAGS $_tdns" |
		pki_stage pki-store-tlsa pki-store $PKI_FLAGS --spool "$PKI_SPOOL" |
		pki_stage tlsa-summary pki_tlsa_summary
	pki_stages_status pki-select-tlsa pki-dnsup-tlsa pki-store-tlsa \
		tlsa-summary
}

# pki_tlsa_backfill [SELECTION]: the TLSA records of the deployed
# instances that have none (stored before pki kept them) computed by
# pki-tlsa and stored; the worst stage status.
pki_tlsa_backfill() {
	# shellcheck disable=SC2086 # PKI_FLAGS and the rest are word lists
	eval "pki_stage pki-select-backfill pki-select --tlsa backfill $PKI_FLAGS ${1:-}" |
		pki_stage pki-tlsa-backfill pki-tlsa $PKI_FLAGS |
		pki_stage pki-store-backfill pki-store $PKI_FLAGS --spool "$PKI_SPOOL" |
		pki_stage backfill-summary pki_tlsa_summary
	pki_stages_status pki-select-backfill pki-tlsa-backfill \
		pki-store-backfill backfill-summary
}

# pki tlsa consolidate|remove [-a] [-o NAME]... [-i NAME]... [-e NAME]...:
# make DNS match the database (serverPKI -T), the records of deployed
# instances stored before pki kept them computed first; or empty the
# RRsets of the selected certificates and keep them empty until a
# consolidate (-R).
pki_tlsa() {
	_usage="usage: pki tlsa consolidate|remove [-a] [-o NAME]... [-i NAME]... [-e NAME]..."
	case ${1:-} in
	consolidate) _tmode=all ;;
	remove) _tmode=remove ;;
	*) pki_die 2 "$_usage" ;;
	esac
	shift
	_sel=
	pki_selection "$_usage" "$@"
	pki_run_dir
	pki_run_begin "pki tlsa $_tmode"
	pki_spool_store || return 2
	_trc=0
	[ "$_tmode" = all ] && { pki_tlsa_backfill "$_sel" || _trc=$?; }
	pki_tlsa_publish "$_tmode" "$_sel" || _trc=$(pki_worst "$_trc" $?)
	[ "${_spool_rc:-0}" -gt "$_trc" ] && _trc=$_spool_rc
	return "$_trc"
}

# pki_tlsa_prepublish [SELECTION]: the instances that need prepublish
# (renewals whose TLSA records DNS does not serve beside the current
# ones) prepublished, when DNS is configured; the worst stage status.
pki_tlsa_prepublish() {
	pki_tlsa_configured || return 0
	pki_tlsa_publish prepublish "${1:-}"
}
