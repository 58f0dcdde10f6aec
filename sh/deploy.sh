# deploy.sh - pki distribute, pki roll and pki consolidate: certificates
# to their targets (serverPKI's -D and -K, with -s and -l); distribute
# (not with -N) prepublishes the TLSA records of renewals first and then
# publishes the TLSA RRsets that changed (tlsa.sh); roll deploys only the
# prepublished instances whose wait is over (ssl-mgr's roll).
#
#   pki-select --tlsa prepublish | pki-dnsup --tlsa | pki-store
#   pki-select --distribute --with-keys | pki-deploy | pki-store
#   pki-select --tlsa changed | pki-dnsup --tlsa | pki-store
#   pki-select --distribute --roll --with-keys | pki-deploy | pki-store
#   pki-select --consolidate --with-keys | pki-deploy --consolidate | pki-store
#
# Variables of pki.conf:
#
#   PKI_SSH_CONFIG       ssh_config file for the hosts (names, ports, users,
#                        IdentityFile); unset: ~/.ssh/config and
#                        /etc/ssh/ssh_config
#   PKI_SSH_KNOWN_HOSTS  the known_hosts file with every host's key; unset:
#                        ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
#                        A host whose key is not there is refused.
#   PKI_SSH_KEY          private key file to log in with; unset: the SSH
#                        agent, ~/.ssh/id_* and ssh_config's IdentityFile
#   PKI_SSH_USER         user to log in as; unset: ssh_config's, else the
#                        user pki runs as (serverPKI's SSH_CLIENT_USER_NAME)
#   PKI_DEPLOY_JOBS      hosts worked on at the same time (8)
#   PKI_DEPLOY_TIMEOUT   seconds a host may take to answer any one request,
#                        and a reload command to end (30)
#   PKI_DEPLOY_LOCAL     disthosts that are this machine (written without
#                        SSH), besides "localhost"; blank-separated
#   PKI_DEPLOY_STALE     seconds after which a run's claim on a target is
#                        void (3600); choose more than a run takes
#   PKI_MIN_ROLL_MINS    the least minutes between a renewal's TLSA
#                        records served beside the current ones and its
#                        deployment (ssl-mgr's min_roll_mins, 90); the
#                        wait is at least twice the TLSA TTL
# shellcheck disable=SC2016 # jq programs are single-quoted on purpose

# pki_deploy_flags: PKI_DEPLOY_FLAGS, pki-deploy's options from pki.conf,
# quoted for eval.
pki_deploy_flags() {
	PKI_DEPLOY_FLAGS=
	[ -n "${PKI_SSH_CONFIG:-}" ] &&
		PKI_DEPLOY_FLAGS="$PKI_DEPLOY_FLAGS --ssh-config $(pki_quote "$PKI_SSH_CONFIG")"
	[ -n "${PKI_SSH_KNOWN_HOSTS:-}" ] &&
		PKI_DEPLOY_FLAGS="$PKI_DEPLOY_FLAGS --known-hosts $(pki_quote "$PKI_SSH_KNOWN_HOSTS")"
	[ -n "${PKI_SSH_KEY:-}" ] &&
		PKI_DEPLOY_FLAGS="$PKI_DEPLOY_FLAGS --identity $(pki_quote "$PKI_SSH_KEY")"
	[ -n "${PKI_SSH_USER:-}" ] &&
		PKI_DEPLOY_FLAGS="$PKI_DEPLOY_FLAGS --user $(pki_quote "$PKI_SSH_USER")"
	[ -n "${PKI_DEPLOY_JOBS:-}" ] &&
		PKI_DEPLOY_FLAGS="$PKI_DEPLOY_FLAGS --jobs $(pki_quote "$PKI_DEPLOY_JOBS")"
	[ -n "${PKI_DEPLOY_TIMEOUT:-}" ] &&
		PKI_DEPLOY_FLAGS="$PKI_DEPLOY_FLAGS --timeout $(pki_quote "$PKI_DEPLOY_TIMEOUT")"
	for _h in ${PKI_DEPLOY_LOCAL:-}; do
		PKI_DEPLOY_FLAGS="$PKI_DEPLOY_FLAGS --local $(pki_quote "$_h")"
	done
	return 0
}

# One line per record leaving the pipeline, never a key; with -q
# (PKI_VERBOSE 0) only the lines of records that failed somewhere.
pki_deploy_summary() {
	pki_jq_report '
	(.deployed // {} | to_entries | map(.value)) as $d |
	if .action == "wait" and ((.errors // []) | length == 0) then
		"info\t" + if .roll.due then
			"\(.name): instance \(.instance.id) prepublished at " +
			"\(.roll.prepublished), rolls at \(.roll.due) UTC (twice " +
			"the TTL of \(.roll.ttl) s, at least \(.roll.min_roll_mins) min)"
		else
			"\(.name): instance \(.instance.id) \(.instance.state), held " +
			"until its TLSA records are prepublished beside the " +
			"current ones (pki distribute)"
		end
	elif (.errors // []) | length > 0 then
		"err\t\(.name): FAILED: \(.errors | map(
			(.stage // "?") + ": " +
			(if .field then .field + ": " else "" end) +
			(.message // "")) | join("; "))"
	else
		($d | map(select(.status == "ok"))) as $ok |
		(if $d | any(.status != "ok") then "notice" else "info" end) +
		"\t\(.name): instance \(.instance.id) \(.instance.state // "?"): " +
		"\($ok | length) of \($d | length) target(s) ok" +
		([$d[] | select(.drift) | "\(.host): fixed \(.drift)"] +
		 [$d[] | select(.status != "ok") | "\(.host): " as $h |
		  (.error // "") | if startswith($h) then . else $h + . end] |
		 if length > 0 then "; " + join("; ") else "" end)
	end'
}

# pki_deploy_release FILE: clear the claims of this run that are still
# set (pki-store cleared those of every result it stored; a record that
# did not get there, or a stage that failed, leaves its claims).
pki_deploy_release() {
	_claims=$("$JQ" -s -c '[.[] | select(.instance != null)]' "$1") || return 0
	[ "$_claims" = "[]" ] && return 0
	pki_sql -v claims="$_claims" <<'EOF' || return 0
SET search_path TO pki, dd, public;
\o /dev/null
UPDATE deployments d SET claimed = NULL
  FROM (SELECT (c->>'instance')::int4 AS inst, (t->>'id')::int4 AS target,
	       (t->>'claimed')::timestamp AS claimed
	  FROM json_array_elements(:'claims'::json) c,
	       json_array_elements(c->'targets') t) x
 WHERE d.certinstance = x.inst AND d.target = x.target
   AND date_trunc('second', d.claimed) = x.claimed;
EOF
}

# pki_deploy_run MODE [-aN] [-o NAME]... [-i NAME]... [-e NAME]...
# [-s HOST]... [-l HOST]...: MODE distribute, roll or consolidate (-N:
# distribute only; -s and -l: not roll); roll takes pki-select's
# --min-roll-mins and --now from _roll_flags (quoted for eval).
# Distribute prepublishes the TLSA records of renewals first (tlsa.sh),
# deploys what is not held back, then publishes the TLSA RRsets that
# changed: only once the instances are deployed, so that no client is
# shown a record of a certificate it is not served; -N leaves DNS alone.
# Roll deploys and publishes only.
pki_deploy_run() {
	_mode=$1
	shift
	_n='' _hl='s:l:' _hu=' [-s HOST]... [-l HOST]...'
	[ "$_mode" = distribute ] && _n=N
	[ "$_mode" = roll ] && _hl='' _hu=''
	_usage="usage: pki $_mode [-a${_n}] [-o NAME]... [-i NAME]... [-e NAME]...$_hu"
	[ "$_mode" = roll ] && _usage="usage: pki roll [--min-roll-mins N] [--now TIME] [-a] [-o NAME]... [-i NAME]... [-e NAME]..."
	_sel='' _names='' _notlsa=''
	OPTIND=1
	while getopts "a${_n}o:i:e:$_hl" _o; do
		case $_o in
		a) _sel="$_sel -a" _names="$_names -a" ;;
		N) _notlsa=1 ;;
		o | i | e) _sel="$_sel -$_o $(pki_quote "$OPTARG")"
			_names="$_names -$_o $(pki_quote "$OPTARG")" ;;
		s | l) _sel="$_sel -$_o $(pki_quote "$OPTARG")" ;;
		*) pki_die 2 "$_usage" ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -eq 0 ] || pki_die 2 "$_usage"
	pki_run_dir
	pki_run_begin "pki $_mode"
	pki_spool_store || return 2
	_drc=0
	pki_tlsa_configured && [ -z "$_notlsa" ] || _notlsa=1
	if [ "$_mode" = distribute ] && [ -z "$_notlsa" ]; then
		pki_tlsa_prepublish "$_names" || _drc=$?
	fi
	_trc=0
	pki_deploy_pipeline || _trc=$?
	[ "$_trc" -gt "$_drc" ] && _drc=$_trc
	if [ "$_mode" != consolidate ] && [ -z "$_notlsa" ]; then
		_trc=0
		pki_tlsa_publish changed "$_names" || _trc=$?
		[ "$_trc" -gt "$_drc" ] && _drc=$_trc
	fi
	[ "${_spool_rc:-0}" -gt "$_drc" ] && _drc=$_spool_rc
	return "$_drc"
}

# pki_deploy_pipeline: pki_deploy_run's deployment, of _mode and _sel;
# the worst stage status.
pki_deploy_pipeline() {
	pki_deploy_flags
	_stale="--stale $(pki_quote "${PKI_DEPLOY_STALE:-3600}")"
	_smode=--$_mode _cons=''
	case $_mode in
	consolidate) _cons=--consolidate ;;
	distribute) _smode="--distribute${PKI_MIN_ROLL_MINS:+ --min-roll-mins $(pki_quote "$PKI_MIN_ROLL_MINS")}" ;;
	roll) _smode="--distribute --roll${PKI_MIN_ROLL_MINS:+ --min-roll-mins $(pki_quote "$PKI_MIN_ROLL_MINS")} ${_roll_flags:-}" ;;
	esac
	# What pki-select claimed, for pki_deploy_release: read from a
	# named pipe, so the records (with their keys) never touch a disk.
	rm -f "$PKI_RUN_DIR/tap" "$PKI_RUN_DIR/claims"
	mkfifo "$PKI_RUN_DIR/tap"
	"$JQ" -c '{instance: .instance.id,
		targets: [.targets[]? | {id, claimed: .deployment.claimed}]}' \
		< "$PKI_RUN_DIR/tap" > "$PKI_RUN_DIR/claims" &
	_tap=$!
	# shellcheck disable=SC2086 # PKI_FLAGS and the rest are word lists
	eval "pki_stage pki-select pki-select $_smode --run $PKI_RUN --with-keys $_stale $PKI_FLAGS $_sel" |
		tee "$PKI_RUN_DIR/tap" |
		eval "pki_stage pki-deploy pki-deploy $_cons $PKI_DEPLOY_FLAGS $PKI_FLAGS" |
		pki_stage pki-store pki-store $PKI_FLAGS --spool "$PKI_SPOOL" |
		pki_stage summary pki_deploy_summary
	wait "$_tap" || true
	pki_deploy_release "$PKI_RUN_DIR/claims"
	pki_stages_status pki-select pki-deploy pki-store summary
}

# pki distribute [...]: the instances to deploy to the targets that do
# not hold them yet (serverPKI -D); an instance becomes deployed when
# every target holds it.  The alert mail when it failed, unless it is a
# part of pki schedule, which sends its own (PKI_ALERT_HELD).
pki_distribute() {
	if [ -n "${PKI_ALERT_HELD:-}" ]; then
		pki_deploy_run distribute "$@"
		return
	fi
	pki_alert_config
	_dsrc=0
	pki_deploy_run distribute "$@" || _dsrc=$?
	pki_alert_mail "pki distribute" "$_dsrc"
}

# pki roll [--min-roll-mins N] [--now TIME] [-a] [-o NAME]... [-i NAME]...
# [-e NAME]...: deploy every prepublished instance whose wait is over
# (ssl-mgr's roll), then publish the TLSA RRsets that changed (the
# records of the instances before withdrawn); say when each one not due
# will be.  --now TIME: act as at TIME (RFC 3339), for a dry look ahead.
pki_roll() {
	_roll_flags='' _rest=''
	while [ $# -gt 0 ]; do
		case $1 in
		--min-roll-mins | --now)
			[ $# -ge 2 ] || pki_die 2 "$1 needs a value"
			_roll_flags="$_roll_flags $1 $(pki_quote "$2")"
			shift 2 ;;
		--min-roll-mins=* | --now=*)
			_roll_flags="$_roll_flags ${1%%=*} $(pki_quote "${1#*=}")"
			shift ;;
		*) _rest="$_rest $(pki_quote "$1")"; shift ;;
		esac
	done
	eval "pki_deploy_run roll $_rest"
}

# pki consolidate [...]: what each target holds compared with the
# database, drift re-deployed (serverPKI -K).
pki_consolidate() {
	pki_deploy_run consolidate "$@"
}

# pki dhparam [--group GROUP]... [--generate BITS] [--days DAYS] DIR:
# the DH parameter files of pki-dhparam(1) in DIR (ssl-mgr's sslm-dhparm).
pki_dhparam() {
	pki_flags
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki-dhparam $PKI_FLAGS "$@"
}

_place_usage="usage: pki place add|set NAME [--type TYPE] [--cert-path PATH] [--key-path PATH] [--mode MODE] [--reload COMMAND] [--format pem|der|fullchain|bundle|p12] [--p12-passphrase-file FILE] [--dhparam ffdhe2048|ffdhe3072|ffdhe4096|none] [--kind files|hook|redis] [--hook COMMAND] [--redis-url URL] [--redis-prime-style 1|2] [--redis-auth-file FILE]"

# _pl_one_of OPTION VALUE WHAT WORD...: VALUE is one of the WORDs, else
# die naming the place (_pl_name), the option and WHAT it may be.
_pl_one_of() {
	_plo=$1 _plv=$2 _plw=$3
	shift 3
	for _plx; do [ "$_plv" = "$_plx" ] && return 0; done
	pki_die 1 "place $_pl_name: $_plo \"$_plv\": not $_plw"
}

# _pl_absolute OPTION VALUE: VALUE is empty or an absolute path, else die.
_pl_absolute() {
	case $2 in
	/* | '') ;;
	*) pki_die 1 "place $_pl_name: $1 \"$2\": not an absolute path" ;;
	esac
}

# pki place add|set NAME [options]: a new place (add needs --cert-path,
# but for --kind redis), or the given columns of one (set).  Every value
# goes to psql as a variable; the checks of Places refuse what does not
# fit.
pki_place() {
	[ $# -ge 2 ] || pki_die 2 "$_place_usage"
	case $1 in
	add) _pl_sub=add _pl_done=added ;;
	set) _pl_sub=set _pl_done=changed ;;
	*) pki_die 2 "$_place_usage" ;;
	esac
	_pl_name=$2
	shift 2
	_pl_vars='' _pl_set='' _pl_path=''
	while [ $# -gt 0 ]; do
		[ $# -ge 2 ] || pki_die 2 "$_place_usage"
		case $1 in
		--type) _pl_col="cert_file_type = :'type'::dd.place_cert_file_type" _pl_var=type ;;
		--cert-path) _pl_col="cert_path = :'cert_path'" _pl_var=cert_path _pl_path=1 ;;
		--key-path) _pl_col="key_path = nullif(:'key_path', '')" _pl_var=key_path ;;
		--mode) _pl_col="mode = nullif(:'mode', '')::int2" _pl_var=mode ;;
		--reload) _pl_col="reload_command = nullif(:'reload', '')" _pl_var=reload ;;
		--format)
			_pl_one_of "$1" "$2" "pem, der, fullchain, bundle or p12" pem der fullchain bundle p12
			_pl_col="format = :'format'" _pl_var=format ;;
		--p12-passphrase-file)
			_pl_absolute "$1" "$2"
			_pl_col="p12_passphrase_file = nullif(:'pass_file', '')" _pl_var=pass_file ;;
		--kind)
			_pl_one_of "$1" "$2" "files, hook or redis" files hook redis
			[ "$2" = redis ] && _pl_path=1
			_pl_col="kind = :'kind'" _pl_var=kind ;;
		--hook) _pl_col="hook_command = nullif(:'hook', '')" _pl_var=hook ;;
		--redis-url) _pl_col="redis_url = nullif(:'redis_url', '')" _pl_var=redis_url ;;
		--redis-prime-style)
			_pl_one_of "$1" "$2" "1 or 2" 1 2
			_pl_col="redis_prime_style = :'redis_style'::int2" _pl_var=redis_style ;;
		--redis-auth-file)
			_pl_absolute "$1" "$2"
			_pl_col="redis_auth_file = nullif(:'redis_auth', '')" _pl_var=redis_auth ;;
		--dhparam)
			case $2 in
			ffdhe2048 | ffdhe3072 | ffdhe4096 | none) ;;
			*) pki_die 1 "place $_pl_name: --dhparam \"$2\": not ffdhe2048, ffdhe3072, ffdhe4096 or none" ;;
			esac
			_pl_col="dhparam = nullif(:'dhparam', 'none')" _pl_var=dhparam ;;
		*) pki_die 2 "$_place_usage" ;;
		esac
		_pl_vars="$_pl_vars -v $_pl_var=$(pki_quote "$2")"
		_pl_set="$_pl_set, $_pl_col"
		shift 2
	done
	_pl_sql=''
	if [ "$_pl_sub" = add ]; then
		[ -n "$_pl_path" ] || pki_die 2 "place $_pl_name: add needs --cert-path"
		# What the checks of a kind want is there from the INSERT on.
		_pl_vars="-v cert_path= -v kind=files -v hook= -v redis_style= $_pl_vars"
		_pl_sql="INSERT INTO places (name, cert_path, kind, hook_command,
	redis_prime_style) VALUES (:'name', nullif(:'cert_path', ''), :'kind',
	nullif(:'hook', ''), nullif(:'redis_style', '')::int2);"
	fi
	[ -n "$_pl_set" ] || pki_die 2 "$_place_usage"
	_n=$(eval "pki_sql -At -v ON_ERROR_STOP=1 -v name=\"\$_pl_name\" $_pl_vars" <<EOF
SET search_path TO pki, dd, public;
\set QUIET on
BEGIN;
$_pl_sql
UPDATE places SET ${_pl_set#, } WHERE name = :'name' RETURNING id;
COMMIT;
EOF
) || return 1
	[ -n "$_n" ] || { pki_say "no place $_pl_name"; return 1; }
	pki_say "place $_pl_name $_pl_done"
}
