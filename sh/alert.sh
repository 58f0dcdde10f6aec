# alert.sh - telling a person: the workflows' lines at serverPKI's
# syslog levels, and one alert mail per run.
#
# Each line a workflow says about what it did goes through pki_report
# with one of serverPKI's levels: info for what was done (an instance
# issued, deployed, expired, archived), notice for what was skipped or
# waits for a person (a target that failed and is tried again, a local
# certificate the run cannot sign), err for a failure, debug for what
# -v adds.  pki_report prints it as the verbosity asks, sends it to
# syslog when PKI_SYSLOG is set (logger -t pki -p FACILITY.LEVEL,
# whatever -q says, as serverPKI does; debug only with -v -v, as the
# programs do), and keeps the run's notice and err lines for the mail.
#
# The alert mail (pki_alert_mail): one per run of pki schedule, and one
# per run of pki issue, renew or distribute that failed, when something
# needs a person: the failures of the run, the local certificates it
# could not sign (serverPKI's reminder mail), and the certificates that
# expire within PKI_ALERT_DAYS days with no renewal (pki.expiring()).
# None when all is well.  Sent as sendmail(8) is by every MTA:
# "$PKI_SENDMAIL" -t -i reads a whole RFC 5322 message on stdin.
#
#   PKI_ALERT_MAIL   the recipients (To:); unset: no mail
#   PKI_ALERT_FROM   the sender (From:); pki@ and the host's name
#   PKI_ALERT_DAYS   days of expiry that are alerted (14)
#   PKI_SENDMAIL     the sendmail command (/usr/sbin/sendmail)
#   LOGGER           the logger(1) command
# shellcheck disable=SC2016 # jq and awk programs are single-quoted on purpose

# pki_report [PREFIX]: the lines "LEVEL<tab>TEXT" on stdin (LEVEL debug,
# info, notice or err; a line without one goes on with the level of the
# line before), each TEXT after PREFIX on stdout when the verbosity asks
# for it (-q: notice and err; -v: debug too), to syslog, and notice and
# err into $PKI_RUN_DIR/alerts.
pki_report() {
	_logger=
	[ -n "${PKI_SYSLOG:-}" ] &&
		_logger="$(pki_quote "${LOGGER:-logger}") -t pki -p $(pki_quote "$PKI_SYSLOG")"
	"${AWK:-awk}" -v prefix="${1:-}" -v verbose="${PKI_VERBOSE:-1}" \
		-v logger="$_logger" -v alerts="${PKI_RUN_DIR:+$PKI_RUN_DIR/alerts}" '
	BEGIN { rank["err"] = 0; rank["notice"] = 1; rank["info"] = 2
		rank["debug"] = 3; level = "info" }
	{
		text = $0
		if ((i = index($0, "\t")) > 0 && (substr($0, 1, i - 1) in rank)) {
			level = substr($0, 1, i - 1)
			text = substr($0, i + 1)
		}
		r = rank[level]
		if (r <= 1 || (r == 2 && verbose >= 1) || verbose >= 2) {
			print prefix text
			fflush()
		}
		if (logger != "" && (r <= 2 || verbose >= 3)) {
			cmd = logger "." level
			print text | cmd
		}
		if (r <= 1 && alerts != "")
			print text >> alerts
	}'
}

# pki_log LEVEL TEXT: TEXT of the workflow at LEVEL (see pki_report), on
# stderr after "pki: ".
pki_log() {
	printf '%s\t%s\n' "$1" "$2" | pki_report 'pki: ' >&2
}

# pki_jq_report JQ-ARGS...: jq -r JQ-ARGS on the records of stdin, its
# "LEVEL<tab>TEXT" lines through pki_report; returns the worse exit
# status of the two (POSIX sh has no pipefail: the statuses go round
# on descriptor 3, the lines on 4).
pki_jq_report() {
	{ _jqr=$( { { "$JQ" -r "$@"; echo "$?" >&3; } |
		{ pki_report >&4; echo "$?" >&3; }; } 3>&1); } 4>&1
	# shellcheck disable=SC2086 # two numbers
	return "$(pki_worst $_jqr)"
}

# pki_alert_config: the alert settings checked, a one-line error and
# exit 2 for a bad one, before the run does anything.
pki_alert_config() {
	case ${PKI_ALERT_DAYS:-14} in
	'' | *[!0-9]*) pki_die 2 "PKI_ALERT_DAYS: \"$PKI_ALERT_DAYS\" is not a number of days" ;;
	esac
	[ -n "${PKI_ALERT_MAIL:-}" ] || return 0
	for _v in PKI_ALERT_MAIL PKI_ALERT_FROM; do
		eval "_x=\${$_v:-}"
		# shellcheck disable=SC2154 # _x is set by eval
		case $_x in
		*"
"* | *"$(printf '\r')"*) pki_die 2 "$_v: a mail header is one line" ;;
		esac
	done
	return 0
}

# pki_alert_mail COMMAND STATUS [NOW]: the alert mail of this run of
# COMMAND that ends with STATUS, as at NOW (--now; unset: the clock).
# Sends it when PKI_ALERT_MAIL is set and something needs a person; for
# a COMMAND other than pki schedule only when STATUS is not 0.  Returns
# STATUS, or 1 when it is 0 and the mail could not be sent (said in one
# line).
pki_alert_mail() {
	[ -n "${PKI_ALERT_MAIL:-}" ] || return "$2"
	[ "$1" = "pki schedule" ] || [ "$2" -ne 0 ] || return 0
	_days=${PKI_ALERT_DAYS:-14}
	_exp=$(pki_sql -At -v at="${3:-}" -v days="$_days" <<'EOF'
SET search_path TO pki, dd, public;
SELECT '  ' || name || ': ' || coalesce('expires ' || rfc3339(not_after),
	'no valid instance')
  FROM expiring(coalesce(nullif(:'at', '')::timestamptz AT TIME ZONE 'UTC',
	now() AT TIME ZONE 'UTC'), :'days'::numeric)
 ORDER BY not_after NULLS FIRST, name;
EOF
) || _exp="  (not known: the database did not answer)"
	_alerts=$PKI_RUN_DIR/alerts
	if [ "$2" -ne 0 ] && [ ! -s "$_alerts" ]; then
		printf '%s exited %s (see its standard error)\n' "$1" "$2" >> "$_alerts"
	fi
	[ -s "$_alerts" ] || [ -n "$_exp" ] || return "$2"
	_host=$(uname -n)
	_n=0
	[ -s "$_alerts" ] && _n=$(wc -l < "$_alerts")
	_e=0
	[ -n "$_exp" ] && _e=$(printf '%s\n' "$_exp" | wc -l)
	{
		printf 'To: %s\n' "$PKI_ALERT_MAIL"
		printf 'From: %s\n' "${PKI_ALERT_FROM:-pki@$_host}"
		printf 'Subject: %s on %s: %s to look at, %s expiring within %s days\n' \
			"$1" "$_host" "$((_n))" "$((_e))" "$_days"
		printf 'Date: %s\n' "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S +0000')"
		printf 'Auto-Submitted: auto-generated\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=UTF-8\n'
		printf 'Content-Transfer-Encoding: 8bit\n\n'
		printf '%s on %s (%s) needs a person.\n' "$1" "$_host" \
			"${PKI_RUN:+run $PKI_RUN, }exit status $2"
		if [ -s "$_alerts" ]; then
			printf '\nWhat failed or waits for a person:\n'
			sed 's/^/  /' "$_alerts"
		fi
		if [ -n "$_exp" ]; then
			printf '\nCertificates that expire within %s days with no renewal, or have no valid instance:\n' "$_days"
			printf '%s\n' "$_exp"
		fi
		printf '\npki status NAME shows a certificate: its instances, failures, next attempt.\n'
	} | fold -b -w 990 > "$PKI_RUN_DIR/mail"
	_sendmail=${PKI_SENDMAIL:-/usr/sbin/sendmail}
	_mrc=0
	"$_sendmail" -t -i < "$PKI_RUN_DIR/mail" > "$PKI_RUN_DIR/sendmail.err" 2>&1 || _mrc=$?
	if [ "$_mrc" -ne 0 ]; then
		pki_log err "alert mail to $PKI_ALERT_MAIL not sent: $_sendmail exited $_mrc$(
			head -n 1 "$PKI_RUN_DIR/sendmail.err" | sed 's/^./: &/')"
		[ "$2" -eq 0 ] && return 1
	fi
	return "$2"
}
