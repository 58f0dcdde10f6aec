# issue.sh - running pipelines of pki-* stages, and the issue workflow.
#
# POSIX sh has no pipefail: each stage of a pipeline writes its exit status
# to a file of the run directory, and pki_stages_status reports the stages
# that failed.

# pki_run_dir: a private directory for this run, removed at exit.
pki_run_dir() {
	[ -n "${PKI_RUN_DIR:-}" ] && return 0
	PKI_RUN_DIR=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/pki-run.XXXXXX")
	trap 'rm -rf "$PKI_RUN_DIR"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# pki_run_begin COMMAND: register this run in the database (pki.runs) and
# hold its lock for as long as the run's processes live, so that a run
# that dies, however it dies, leaves claims the next run takes over at
# once.  The lock is held by a psql session that reads its input from a
# FIFO the run keeps open on fd 9: when the last process of the run is
# gone, psql reads EOF and its session ends.  Sets PKI_RUN to the id.
pki_run_begin() {
	[ -n "${PKI_RUN:-}" ] && return 0
	pki_run_dir
	mkfifo -m 0600 "$PKI_RUN_DIR/run.fifo"
	pki_psql -At -v host="$(uname -n)" -v pid="$$" -v command="$1" \
		<"$PKI_RUN_DIR/run.fifo" >"$PKI_RUN_DIR/run.id" \
		2>"$PKI_RUN_DIR/run.err" &
	_holder=$!
	exec 9>"$PKI_RUN_DIR/run.fifo"
	printf '%s\n' "SELECT pki.run_begin(:'host', :'pid', :'command');" >&9
	_n=0
	while [ ! -s "$PKI_RUN_DIR/run.id" ]; do
		if ! kill -0 "$_holder" 2>/dev/null || [ "$_n" -ge 600 ]; then
			sed -n -e 's/^psql: error: /pki: /p' -e 's/^ERROR:  /pki: /p' \
				"$PKI_RUN_DIR/run.err" >&2
			pki_die 2 "cannot register the run in the database"
		fi
		sleep 0.05
		_n=$((_n + 1))
	done
	PKI_RUN=$(cat "$PKI_RUN_DIR/run.id")
	export PKI_RUN
	# How the run ends is counted (lookout.sh), however it ends.
	# shellcheck disable=SC2034 # read by pki_run_end
	PKI_RUN_COMMAND=$1
	trap 'pki_run_end "$?"; rm -rf "$PKI_RUN_DIR"' EXIT
}

# pki_spool_store: store what an earlier run could not (pki-store
# --spool), before anything is claimed: the records kept there hold the
# claims of a run that is gone, which the next pki-select would take
# over.  Sets _spool_rc to its status; returns 2 (the run cannot go on)
# when the database is away.
pki_spool_store() {
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki_stage pki-store-spool pki-store $PKI_FLAGS --spool "$PKI_SPOOL" \
		</dev/null | pki_stage spool-summary pki_summary
	_spool_rc=0
	pki_stages_status pki-store-spool spool-summary || _spool_rc=$?
	[ "$_spool_rc" -lt 2 ]
}

# pki_stage NAME COMMAND...: one stage of a pipeline.
pki_stage() {
	_st_name=$1
	shift
	_st_rc=0
	"$@" || _st_rc=$?
	echo "$_st_rc" > "$PKI_RUN_DIR/$_st_name.rc"
}

# pki_stages_status NAME...: 0 if every stage exited 0; else says which
# did not and returns the worst status (2 beats 1).
pki_stages_status() {
	_worst=0
	for _s in "$@"; do
		_rc=$(cat "$PKI_RUN_DIR/$_s.rc" 2>/dev/null || echo 2)
		[ "$_rc" -eq 0 ] && continue
		if [ "$_rc" -eq 1 ]; then
			pki_say "$_s: some records failed (exit 1)"
		else
			pki_log err "$_s failed (exit $_rc)"
		fi
		[ "$_rc" -gt "$_worst" ] && _worst=$_rc
	done
	[ "$_worst" -gt 2 ] && _worst=2
	return "$_worst"
}

# The human summary of records leaving a workflow: one line each, never
# a key, at its level (alert.sh); with -q only the failures.
pki_summary() {
	# shellcheck disable=SC2016 # jq's program
	pki_jq_report '
	if (.errors // []) | length > 0 then
		"err\t\(.name): FAILED: \(.errors | map(
			(.stage // "?") + ": " +
			(if .field then .field + ": " else "" end) +
			(.message // "")) | join("; "))"
	elif .account then
		"notice\tACME account \(.account.url): registered again with its key (the CA did not know \(.account.replaces // "the account") any more)"
	elif .instance.state == "issued" then
		"info\t\(.name): issued instance \(.instance.id) (\(.cert | keys |
			join("+"))), valid until \([.cert[].not_after] | min)"
	else
		"info\t\(.name): \(.action // "passed") \(.instance.state // "")"
	end'
}

# pki_withdraw_orphans: withdraw the ACME challenge records that runs
# which are gone left in DNS (their orders are stored: pki-select
# --orphans), and have pki-store mark them withdrawn.  Needs
# pki_dns_env; pki issue runs it first, pki schedule can too.
pki_withdraw_orphans() {
	_wdns=$(pki_dnsup_flags)
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki_stage pki-select-orphans pki-select --orphans $PKI_FLAGS |
		eval "pki_stage pki-dnsup-orphans pki-dnsup --remove $PKI_FLAGS $_wdns" |
		pki_stage pki-store-orphans pki-store $PKI_FLAGS |
		pki_stage orphans-summary pki_summary
	pki_stages_status pki-select-orphans pki-dnsup-orphans \
		pki-store-orphans orphans-summary
}

# pki_selection USAGE ARGS...: the selection options of ARGS (-a, -o NAME,
# -i NAME, -e NAME), quoted for eval, into _sel; anything else is a usage
# error that says USAGE.
pki_selection() {
	_usage=$1
	shift
	_sel=
	OPTIND=1
	while getopts 'ao:i:e:' _o; do
		case $_o in
		a) _sel="$_sel -a" ;;
		o | i | e) _sel="$_sel -$_o $(pki_quote "$OPTARG")" ;;
		*) pki_die 2 "$_usage" ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -eq 0 ] || pki_die 2 "$_usage"
}

# pki issue [-a] [-o NAME]... [-i NAME]... [-e NAME]...: issue the selected
# certificates that have no valid instance (serverPKI -C); then the TLSA
# records of those that renew a deployed one are prepublished (tlsa.sh).
pki_issue() {
	pki_selection "usage: pki issue [-a] [-o NAME]... [-i NAME]... [-e NAME]..." "$@"
	pki_issue_run "pki issue" "$_sel"
}

# pki_issue_run COMMAND CLAIM: run COMMAND (registered as the run) through
# the issue pipeline for what pki-select --create CLAIM (its selection
# and how it claims, quoted for eval) claims; the alert mail when it
# failed.  Returns the worst status.
pki_issue_run() {
	pki_run_dir
	pki_alert_config
	pki_run_begin "$1"
	_orc=0
	if pki_spool_store; then
		pki_issue_pipeline "$2" || _orc=$?
		[ "$_spool_rc" -gt "$_orc" ] && _orc=$_spool_rc
	else
		_orc=2
	fi
	pki_alert_mail "$1" "$_orc"
}

# pki_issue_pipeline CLAIM: the issue pipeline (after the run is begun
# and the spool stored) for what pki-select --create CLAIM claims.
pki_issue_pipeline() {
	_claim=$1
	pki_acme_env
	pki_dns_env
	_orc=0
	pki_withdraw_orphans || _orc=$?
	_order=$(pki_acme_order_flags)
	_finish=$(pki_acme_finish_flags)
	_dns=$(pki_dnsup_flags)
	# Before an order is placed, whether its dns-01 challenges can be
	# published (the zone, its primary, the TSIG key).  Not for http-01,
	# nor for dns-persist-01, whose standing record, once there, needs no
	# update: one that cannot be published fails in pki-dnsup, before
	# its challenge is answered.
	_check="pki-dnsup --check $PKI_FLAGS $_dns"
	case ${PKI_ACME_CHALLENGE:-} in
	http-01 | dns-persist-01) _check='cat' ;;
	esac
	# A renewal that keeps the key: pki-select gives the claim the key
	# of the instance it renews, and pki-keygen keeps it.
	_reuse=
	case " $_claim " in *" --reuse "*) _reuse=--reuse ;; esac
	# One pipeline for local and ACME certificates: each stage acts on its
	# records and passes the others through.  An ACME order is resumed
	# when one was stored for the certificate (a run died with it), and
	# is stored (the checkpoint, a record at a time) before anything of
	# it is published, so that a run killed from there on costs the CA
	# no new order.
	# shellcheck disable=SC2086 # PKI_FLAGS and _claim are word lists
	eval "pki_stage pki-select pki-select --create --run $PKI_RUN $PKI_FLAGS $_claim" |
		pki_stage pki-keygen pki-keygen $_reuse $PKI_FLAGS |
		pki_stage pki-csr pki-csr $PKI_FLAGS |
		pki_stage pki-localca pki-localca $PKI_FLAGS |
		eval "pki_stage pki-dnsup-check $_check" |
		eval "pki_stage pki-acme-order pki-acme order --resume $PKI_FLAGS $_order" |
		pki_stage pki-store-checkpoint pki-store --checkpoint --batch 1 $PKI_FLAGS |
		eval "pki_stage pki-dnsup pki-dnsup $PKI_FLAGS $_dns" |
		eval "pki_stage pki-acme-finish pki-acme finish $PKI_FLAGS $_finish" |
		eval "pki_stage pki-dnsup-remove pki-dnsup --remove $PKI_FLAGS $_dns" |
		pki_stage pki-tlsa pki-tlsa $PKI_FLAGS |
		eval "pki_stage pki-store pki-store $PKI_FLAGS --spool \"\$PKI_SPOOL\" ${PKI_STORE_NOW:-}" |
		pki_stage summary pki_summary
	pki_stages_status pki-select pki-keygen pki-csr pki-localca \
		pki-dnsup-check pki-acme-order pki-store-checkpoint pki-dnsup \
		pki-acme-finish pki-dnsup-remove pki-tlsa pki-store summary ||
		_orc=$(pki_worst "$_orc" $?)
	# The renewals stored now whose TLSA records DNS does not serve:
	# prepublished, for the caller's selection (pki_selection's _sel).
	pki_tlsa_prepublish "${_sel:-}" || _orc=$(pki_worst "$_orc" $?)
	return "$_orc"
}

# pki_worst STATUS...: the worst exit status (2 beats 1 beats 0).
pki_worst() {
	_w=0
	for _x in "$@"; do
		[ "$_x" -gt "$_w" ] && _w=$_x
	done
	printf '%s\n' "$_w"
}
