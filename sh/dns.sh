# dns.sh - what the workflows need to run pki-dnsup.  Variables of pki.conf:
#
#   PKI_DNS_SERVER          HOST[:PORT] of the primary that takes the
#                           UPDATEs; unset: each zone's SOA MNAME
#   PKI_DNS_RESOLVER        HOST[:PORT] asked for SOA, NS and CNAME records;
#                           unset: the system's resolver
#   PKI_DNS_NS              the authoritative servers to wait for,
#                           HOST[:PORT] separated by blanks; unset: each
#                           zone's NS records
#   PKI_TSIG_KEY_FILE       the TSIG key (BIND's key file, mode 0600)
#   PKI_DNS_TIMEOUT         seconds to wait until every server serves the
#                           records (pki-dnsup's default: 120)
#   PKI_DNS_INCLUDE_FILE    zone-file mode: the include file per zone,
#                           {} the zone, e.g. /etc/bind/{}.acme.inc
#   PKI_DNS_RELOAD_CMD      zone-file mode: reloads a zone, {} the zone,
#                           e.g. rndc reload {}
#
# pki-dnsup reads PKI_DNS_SERVER, PKI_DNS_RESOLVER and PKI_TSIG_KEY_FILE
# itself; pki_dns_env exports them.

# pki_dns_env: export what pki-dnsup reads from the environment.
pki_dns_env() {
	[ -z "${PKI_DNS_SERVER:-}" ] || export PKI_DNS_SERVER
	[ -z "${PKI_DNS_RESOLVER:-}" ] || export PKI_DNS_RESOLVER
	[ -z "${PKI_TSIG_KEY_FILE:-}" ] || export PKI_TSIG_KEY_FILE
}

# pki_dnsup_flags: the flags of pki-dnsup from pki.conf, quoted for eval.
pki_dnsup_flags() {
	_df=
	for _ns in ${PKI_DNS_NS:-}; do
		_df="$_df --ns $(pki_quote "$_ns")"
	done
	[ -n "${PKI_DNS_TIMEOUT:-}" ] &&
		_df="$_df --timeout $(pki_quote "$PKI_DNS_TIMEOUT")"
	[ -n "${PKI_DNS_INCLUDE_FILE:-}" ] &&
		_df="$_df --include-file $(pki_quote "$PKI_DNS_INCLUDE_FILE")"
	[ -n "${PKI_DNS_RELOAD_CMD:-}" ] &&
		_df="$_df --reload-cmd $(pki_quote "$PKI_DNS_RELOAD_CMD")"
	printf '%s\n' "$_df"
}
