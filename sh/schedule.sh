# schedule.sh - pki schedule (what cron runs every hour, serverPKI -S)
# and pki renew (ssl-mgr's renew, serverPKI's -r DAYS).
#
# What is due is decided by pki-select --schedule from the times stored
# and indexed in the database (sql/015-schedule.sql); pki schedule carries
# it out: expiry, archiving and clean-up in SQL, renewal windows asked of
# the ACME CA, issue and renewal in one issue pipeline, then pki
# distribute.  A certificate that fails is backed off by pki-store and
# never holds back the others.
# shellcheck disable=SC2016 # jq programs and SQL are single-quoted on purpose
# shellcheck disable=SC2154 # _sel, _spool_rc are set by issue.sh's functions
# shellcheck disable=SC2034 # PKI_STORE_NOW is read by pki_issue_pipeline

_schedule_usage="usage: pki schedule [-anq] [--dry-run] [--now TIME] [-o NAME]... [-i NAME]... [-e NAME]..."
_renew_usage="usage: pki renew [-a] [--reuse] [--force | --within DAYS] [-o NAME]... [-i NAME]... [-e NAME]..."

# pki_long_options USAGE ARGS...: the long options of pki schedule, pki
# renew and pki status out of ARGS: _dry, _now, _reuse, _how, _json,
# _expiring; the rest, quoted for eval, in _rest.  Each command refuses
# those that are not its own.
pki_long_options() {
	_usage=$1
	shift
	_dry='' _now='' _reuse='' _how='' _json='' _expiring='' _rest=''
	while [ $# -gt 0 ]; do
		case $1 in
		--dry-run) _dry=1 ;;
		--reuse) _reuse=--reuse ;;
		--force) _how=--force ;;
		--json) _json=1 ;;
		--now | --within | --expiring)
			[ $# -ge 2 ] || pki_die 2 "$_usage"
			case $1 in
			--now) _now=$2 ;;
			--within) _how="--within $(pki_quote "$2")" ;;
			*) _expiring=$2
			   [ -n "$2" ] || pki_die 2 "--expiring: \"\" is not a number of days" ;;
			esac
			shift ;;
		-n) _dry=1 ;;
		-q) PKI_VERBOSE=0 ;;
		--) shift; break ;;
		*) _rest="$_rest $(pki_quote "$1")" ;;
		esac
		shift
	done
	for _a in "$@"; do
		_rest="$_rest $(pki_quote "$_a")"
	done
}

# pki renew [-a] [--reuse] [--force | --within DAYS] [selection]: issue a
# new instance of the selected certificates that are due (--force: all
# of them; --within DAYS: those that expire within DAYS days), keeping
# the key with --reuse.
pki_renew() {
	pki_long_options "$_renew_usage" "$@"
	[ -z "$_dry$_now$_json$_expiring" ] || pki_die 2 "$_renew_usage"
	eval "pki_selection \"\$_renew_usage\" $_rest"
	pki_flags
	pki_issue_run "pki renew" "${_how:---due} $_reuse $_sel"
}

# pki_schedule_sql ACTION: carry out the expire, archive or clean of the
# records in $PKI_RUN_DIR/due (pki-select --schedule), each instance
# checked again in the statement; an event each.  Prints a line per
# instance.
pki_schedule_sql() {
	_ids=$("$JQ" -c --arg a "$1" -s \
		'[.[] | select(.action == $a) | .instances[]]' "$PKI_RUN_DIR/due")
	[ "$_ids" = '[]' ] && return 0
	pki_sql -At -v action="$1" -v ids="$_ids" -v now="${_now:-}" \
		-v stale="${PKI_SCHEDULE_STALE:-3600}" <<'EOF'
SET search_path TO pki, dd, public;
\set QUIET on
WITH t AS (SELECT coalesce(nullif(:'now', '')::timestamptz AT TIME ZONE
	'UTC', now() AT TIME ZONE 'UTC') AS now),
ids AS (SELECT json_array_elements_text(:'ids')::int4 AS id),
expired AS (UPDATE certinstances i SET state = 'expired' FROM t
	WHERE :'action' = 'expire' AND i.id IN (SELECT id FROM ids)
	  AND i.state IN ('issued', 'prepublished', 'deployed')
	  AND i.not_after <= t.now RETURNING i.id, i.certificate),
archived AS (UPDATE certinstances i SET state = 'archived' FROM t
	WHERE :'action' = 'archive' AND i.id IN (SELECT id FROM ids)
	  AND i.state = 'expired' AND i.not_after <= t.now
	RETURNING i.id, i.certificate),
cleaned AS (DELETE FROM certinstances i USING t
	WHERE :'action' = 'clean' AND i.id IN (SELECT id FROM ids)
	  AND (i.state = 'archived' OR (i.state = 'reserved'
	  AND NOT (i.run IN (SELECT run FROM runs_alive()) OR (i.run IS NULL
	  AND i.created >= t.now - make_interval(secs => :'stale'::int)))))
	RETURNING i.id, i.certificate, i.state),
done AS (SELECT id, certificate, 'expired' AS what FROM expired
	UNION ALL SELECT id, certificate, 'archived' FROM archived
	UNION ALL SELECT id, certificate, CASE state WHEN 'reserved' THEN
	  'removed (a claim of a run that is gone)' ELSE
	  'deleted with its keys (archived, beyond the newest kept)' END
	  FROM cleaned),
named AS (SELECT d.*, s.name FROM done d JOIN subjects s
	ON s.certificate = d.certificate AND NOT s.isaltname),
ev AS (INSERT INTO events (certificate, instance, name, stage, level,
	message) SELECT certificate, CASE WHEN what LIKE 'deleted%' OR
	what LIKE 'removed%' THEN NULL ELSE id END, name, 'pki schedule',
	'info', 'instance ' || id || ' ' || what FROM named)
SELECT name || ': instance ' || id || ' ' || what FROM named ORDER BY name, id;
EOF
}

# pki_schedule_ari: ask the ACME CA for the renewal window of the
# instances whose time to ask has come (action ari), and store it.
pki_schedule_ari() {
	"$JQ" -r 'select(.action == "ari") | .instances[]' "$PKI_RUN_DIR/due" \
		> "$PKI_RUN_DIR/ari"
	[ -s "$PKI_RUN_DIR/ari" ] || return 0
	pki_acme_env
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	while read -r _i; do
		# shellcheck disable=SC2086 # PKI_FLAGS is a word list
		pki-select --serial "$_i" $PKI_FLAGS || true
	done < "$PKI_RUN_DIR/ari" |
		pki_stage pki-acme-ari pki-acme ari $PKI_FLAGS |
		pki_stage pki-store-ari pki-store $PKI_FLAGS |
		pki_stage ari-summary pki_jq_report '
		if (.errors // []) | length > 0 then
			"err\t\(.name): renewal information: FAILED: \(.errors |
				map(.message) | join("; "))"
		else
			"debug\t\(.name): renewal information: \(.ari.status)\(
				if .ari.renew_at then ", renew at " +
				.ari.renew_at else "" end)"
		end'
	pki_stages_status pki-acme-ari pki-store-ari ari-summary
}

# pki_schedule_remind: the local certificates due that this run cannot
# sign, said once per renewal at notice level, so in the alert mail too
# (serverPKI's reminder mail; the time is kept in
# Certificates.authorized_until, as serverPKI does).
pki_schedule_remind() {
	_names=$("$JQ" -c -s '[.[] | select(.action == "remind" and
		(.reminded == null or (.due != null and .reminded < .due)))
		| .name]' "$PKI_RUN_DIR/due")
	[ "$_names" = '[]' ] && return 0
	printf '%s' "$_names" | "$JQ" -r '.[] | "notice\t" + ("\(.): local
		certificate due: the CA key passphrase is not available to this
		run; run pki renew -o \(.) where it is" | gsub("\\s+"; " "))' |
		pki_report 'pki: ' >&2
	pki_sql -v names="$_names" <<'EOF'
SET search_path TO pki, dd, public;
\set QUIET on
\o /dev/null
UPDATE certificates SET authorized_until = now() AT TIME ZONE 'UTC'
 WHERE id IN (SELECT certificate FROM subjects WHERE NOT isaltname
	AND name IN (SELECT json_array_elements_text(:'names')::citext));
EOF
}

# pki_schedule_print: what pki-select --schedule found, a line each.
pki_schedule_print() {
	"$JQ" -r '"\(.name): \(.action)\(if .instances then " instance" +
		(if (.instances | length) > 1 then "s " else " " end) +
		(.instances | map(tostring) | join(", ")) else "" end)\(
		if .due then " (due \(.due))" else "" end)\(
		if .failures then ", \(.failures) failures" else "" end)"' \
		"$PKI_RUN_DIR/due"
}

# pki schedule [-anq] [--dry-run] [--now TIME] [selection]: everything
# that is due, once: store the spool, expire, archive, clean, refresh
# renewal windows, issue and renew, distribute; then the alert mail if
# something needs a person.  Exit 1 if something failed; with -q
# nothing is printed unless something did.
pki_schedule() {
	pki_long_options "$_schedule_usage" "$@"
	[ -z "$_reuse$_how$_json$_expiring" ] || pki_die 2 "$_schedule_usage"
	eval "pki_selection \"\$_schedule_usage\" $_rest"
	pki_flags
	[ -n "$_dry" ] || pki_alert_config
	pki_run_dir
	_nowf=
	[ -n "$_now" ] && _nowf="--now $(pki_quote "$_now")"
	# Local certificates are signed only where the CA key's passphrase is.
	_remind=
	if [ ! -r "$PKI_CA_PASSPHRASE_FILE" ]; then
		_remind=--remind
		PKI_CA_PASSPHRASE_FILE=	# nothing of the CA key is read
	fi
	_keep="--keep $(pki_quote "${PKI_CLEAN_KEEP:-10}")"
	_stale="--stale $(pki_quote "${PKI_SCHEDULE_STALE:-3600}")"
	if [ -n "$_dry" ]; then
		# shellcheck disable=SC2086 # word lists
		eval "pki-select --schedule $PKI_FLAGS $_nowf $_remind $_keep $_stale $_sel" \
			> "$PKI_RUN_DIR/due" || return 2
		pki_schedule_print
		return 0
	fi
	pki_run_begin "pki schedule"
	_sch_status=0
	pki_schedule_run || _sch_status=$?
	_sch_rc=0
	pki_alert_mail "pki schedule" "$_sch_status" "$_now" || _sch_rc=$?
	_sch_status=$_sch_rc
	[ -n "${PKI_METRICS_FILE:-}" ] || return "$_sch_status"
	# The metrics count this run.
	pki_run_end "$_sch_status"
	pki_metrics_write "$PKI_METRICS_FILE" "$_now" ||
		[ "$_sch_status" -ne 0 ] || _sch_status=1
	return "$_sch_status"
}

# pki_schedule_run: the run of pki schedule, its options and selection
# parsed; returns the worst status.
pki_schedule_run() {
	pki_spool_store || return 2
	_sch_worst=$_spool_rc
	_sch_rc=0
	# shellcheck disable=SC2086 # word lists
	eval "pki-select --schedule $PKI_FLAGS $_nowf $_remind $_keep $_stale $_sel" \
		> "$PKI_RUN_DIR/due" || _sch_rc=$?
	if [ "$_sch_rc" -ne 0 ]; then
		pki_log err "pki-select --schedule failed (exit $_sch_rc)"
		return 2
	fi
	[ "${PKI_VERBOSE:-1}" -gt 1 ] && pki_schedule_print >&2
	for _act in expire archive clean; do
		_out=$(pki_schedule_sql "$_act") || { _sch_worst=2; continue; }
		[ -n "$_out" ] && pki_log info "$_out"
	done
	_sch_rc=0
	pki_schedule_ari || _sch_rc=$?
	[ "$_sch_rc" -gt "$_sch_worst" ] && _sch_worst=$_sch_rc
	pki_schedule_remind || _sch_worst=2
	if "$JQ" -e -s 'any(.[]; .action == "issue" or .action == "renew")' \
		"$PKI_RUN_DIR/due" >/dev/null; then
		PKI_STORE_NOW=$_nowf
		_sch_rc=0
		pki_issue_pipeline "--due $_remind $_nowf $_sel" || _sch_rc=$?
		PKI_STORE_NOW=
		[ "$_sch_rc" -gt "$_sch_worst" ] && _sch_worst=$_sch_rc
	fi
	# Whatever happened above, what is issued is deployed; the mail is
	# pki schedule's.
	_sch_rc=0
	PKI_ALERT_HELD=1
	eval "pki_distribute $_sel" || _sch_rc=$?
	PKI_ALERT_HELD=
	[ "$_sch_rc" -gt "$_sch_worst" ] && _sch_worst=$_sch_rc
	return "$_sch_worst"
}
