# cert.sh - pki cert add|remove|list, pki status, pki export
# (pki ca is in ca.sh, pki ca crl in revoke.sh).
#
# Configuration goes through serverPKI's SQL functions.  Every value
# reaches psql as a variable (-v name=value) and the SQL quotes it
# (:'name'): nothing typed on the command line is spliced into SQL.
# shellcheck disable=SC2016 # jq programs are single-quoted on purpose
# shellcheck disable=SC2154 # _rest, _json, _expiring ... are set by pki_long_options (schedule.sh)

# pki_sql [psql args]: run SQL from stdin; a failure prints the server's
# message (without psql's decoration) and returns 1.
pki_sql() {
	pki_run_dir
	if pki_psql "$@" 2>"$PKI_RUN_DIR/sql.err"; then
		return 0
	fi
	# (A value the server quotes may hold an escape sequence: no
	# control character reaches the terminal.)
	sed -n -e 's/^psql:[^:]*:[0-9]*: //' -e 's/^ERROR:  /pki: /p' \
		-e 's/^FATAL:  /pki: /p' -e 's/^psql: error: /pki: /p' \
		"$PKI_RUN_DIR/sql.err" |
		LC_ALL=C tr '\001-\011\013-\037\177' '???????????????????????????????' >&2
	return 1
}

pki_cert() {
	_sub=${1:-}
	[ $# -gt 0 ] && shift
	case $_sub in
	add) pki_cert_add "$@" ;;
	remove) pki_cert_remove "$@" ;;
	list) pki_cert_list "$@" ;;
	set) pki_cert_set "$@" ;;
	*) pki_die 2 "usage: pki cert add|remove|list|set ..." ;;
	esac
}

_cert_add_usage="usage: pki cert add NAME [-t server|client] [-c local|acme] [-a rsa|ec|rsa_plus_ec] [-m] [-C dns-01|http-01|dns-persist-01] [-P PROFILE] [-A ALTNAME]... [-S SERVICE:PORT]... [--csr FILE] [--acme-server URL]"

# pki cert add NAME [options]: a new certificate (add_cert, add_altname,
# add_service in one transaction).
pki_cert_add() {
	[ $# -ge 1 ] || pki_die 2 "$_cert_add_usage"
	_name=$1
	shift
	_type=server _ca=local _algo='' _staple=false
	_vars='' _sql='' _n=0 _alts='[]'
	pki_csr_option "$_cert_add_usage" "$@"
	eval "set -- $_rest"
	OPTIND=1
	while getopts 't:c:a:mC:P:A:S:' _o; do
		case $_o in
		t) _type=$OPTARG ;;
		c) _ca=$OPTARG ;;
		a) _algo=$OPTARG ;;
		m) _staple=true ;;
		C)
			case $OPTARG in
			dns-01 | http-01 | dns-persist-01) ;;
			*) pki_die 2 "-C $OPTARG: use dns-01, http-01 or dns-persist-01" ;;
			esac
			_vars="$_vars -v challenge=$(pki_quote "$OPTARG")"
			_sql="${_sql}UPDATE certificates SET acme_challenge = :'challenge'
	WHERE id = (SELECT certificate FROM subjects
		WHERE name = :'name' AND NOT isaltname);
"
			;;
		P)
			_vars="$_vars -v profile=$(pki_quote "$OPTARG")"
			_sql="${_sql}UPDATE certificates SET acme_profile = :'profile'
	WHERE id = (SELECT certificate FROM subjects
		WHERE name = :'name' AND NOT isaltname);
"
			;;
		A)
			_n=$((_n + 1))
			_alts=$(printf '%s' "$_alts" | "$JQ" -c --arg a "$OPTARG" '. + [$a]')
			_vars="$_vars -v alt$_n=$(pki_quote "$OPTARG")"
			_sql="${_sql}SELECT add_altname(:'name', :'alt$_n');
"
			;;
		S)
			case $OPTARG in
			*:*) ;;
			*) pki_die 2 "-S $OPTARG: use SERVICE:PORT, e.g. https:443" ;;
			esac
			case ${OPTARG##*:} in
			'' | *[!0-9]* | ??????*)
				pki_die 2 "-S $OPTARG: the port is not a number" ;;
			esac
			_n=$((_n + 1))
			_vars="$_vars -v svc$_n=$(pki_quote "${OPTARG%:*}")"
			_vars="$_vars -v port$_n=$(pki_quote "${OPTARG##*:}")"
			_sql="${_sql}SELECT add_service(:'name', :'svc$_n', :'port$_n');
"
			;;
		*) pki_die 2 "$_cert_add_usage" ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -eq 0 ] || pki_die 2 "$_cert_add_usage"
	case $_ca in
	local) ;;
	acme | LE) _ca=LE ;;
	*) pki_die 2 "-c $_ca: use local or acme" ;;
	esac
	if [ -n "$_acmeserver" ]; then
		[ "$_ca" = LE ] ||
			pki_die 2 "--acme-server: certificate $_name is not one of the ACME CA (-c acme)"
		pki_acme_server_check "$_name" "$_acmeserver"
		_vars="$_vars -v acmeserver=\"\$_acmeserver\""
		_sql="${_sql}UPDATE certificates SET acme_directory = :'acmeserver'
	WHERE id = (SELECT certificate FROM subjects
		WHERE name = :'name' AND NOT isaltname);
"
	fi
	if [ -n "$_csrfile" ]; then
		[ "$_algo" != rsa_plus_ec ] ||
			pki_die 2 "--csr and -a rsa_plus_ec: a CSR has one key"
		pki_csr_given "$_csrfile" "$_name" "$_type" "$_alts" "$_algo" ||
			return 1
		_algo=$_csralgo
		_vars="$_vars -v csr=\"\$_csr\""
		_sql="${_sql}UPDATE certificates SET csr = :'csr'
	WHERE id = (SELECT certificate FROM subjects
		WHERE name = :'name' AND NOT isaltname);
"
	fi
	_algo=${_algo:-rsa}
	eval "pki_sql -v name=\"\$_name\" -v type=\"\$_type\" -v ca=\"\$_ca\" \
		-v algo=\"\$_algo\" -v staple=\"\$_staple\" $_vars" <<EOF || return 1
SET search_path TO pki, dd, public;
\\o /dev/null
BEGIN;
SELECT add_cert(:'name', :'type', :'ca', :'algo', :'staple', NULL, NULL,
	NULL, NULL, NULL, NULL);
$_sql
COMMIT;
EOF
	pki_say "certificate $_name added"
	[ -z "$_acmeserver" ] || pki_acme_server_account "$_name" "$_acmeserver"
}

# pki_acme_server_check NAME URL: URL can be the ACME directory of
# certificate NAME (an https URL, one word), else a usage error.
pki_acme_server_check() {
	case $2 in
	https://?*) ;;
	*) pki_die 2 "certificate $1: --acme-server $2: not an https:// URL of an ACME directory" ;;
	esac
	case $2 in
	*[[:space:][:cntrl:]]*) pki_die 2 "certificate $1: --acme-server: a URL has no spaces or control characters" ;;
	esac
	return 0
}

# pki_acme_server_account NAME URL: warn when the database has no valid
# ACME account of URL, with which certificate NAME would be ordered.
pki_acme_server_account() {
	_have=$(pki_sql -At -v dir="$2" <<'EOF'
SET search_path TO pki, dd, public;
SELECT count(*) FROM acme_accounts WHERE directory = :'dir' AND status = 'valid';
EOF
) || return 0
	[ "$_have" != 0 ] ||
		pki_log notice "certificate $1: no ACME account of $2 yet: pki register --acme-server $2 makes one"
	return 0
}

# pki_csr_option USAGE ARGS...: the long options of ARGS: --csr FILE
# into _csrfile and --acme-server URL into _acmeserver (empty: none), the
# other arguments, quoted for eval, into _rest.
pki_csr_option() {
	_co_usage=$1
	shift
	_csrfile='' _acmeserver='' _rest=''
	while [ $# -gt 0 ]; do
		case $1 in
		--csr | --acme-server)
			[ $# -ge 2 ] || pki_die 2 "$_co_usage"
			if [ "$1" = --csr ]; then _csrfile=$2; else _acmeserver=$2; fi
			shift 2
			continue ;;
		--csr=*) _csrfile=${1#*=} ;;
		--acme-server=*) _acmeserver=${1#*=} ;;
		*) _rest="$_rest $(pki_quote "$1")" ;;
		esac
		shift
	done
	return 0
}

# pki_csr_given FILE NAME TYPE ALTNAMES ALGO: the CSR in FILE checked by
# pki-csr for the certificate NAME of subject TYPE with ALTNAMES (a JSON
# array): it parses, its signature verifies, its key is an ALGO key
# (empty: the one it has), it asks for exactly those names.  Sets _csr
# (the PEM) and _csralgo; else says why, naming the field, and returns 1.
pki_csr_given() {
	if [ ! -f "$1" ] || [ ! -r "$1" ]; then
		printf 'pki: certificate %s: --csr %s: cannot read the file\n' "$2" "$1" >&2
		return 1
	fi
	_csralgo=$5
	if [ -z "$_csralgo" ]; then
		case $("$OPENSSL" req -in "$1" -noout -text 2>/dev/null |
			sed -n 's/^ *Public Key Algorithm: *//p') in
		id-ecPublicKey) _csralgo=ec ;;
		*) _csralgo=rsa ;;	# pki-csr says what is wrong with others
		esac
	fi
	_why=$("$JQ" -cn --arg n "$2" --arg t "$3" --argjson a "$4" \
		--arg g "$_csralgo" --rawfile c "$1" \
		'{name: $n, subject_type: $t, altnames: $a, algos: [$g],
		keyless: true, csr: {($g): $c}}' | pki-csr -q 2>/dev/null |
		"$JQ" -r '(.errors // [])[] | "\(.field // "csr"): \(.message)"') ||
		_why="pki-csr failed"
	if [ -n "$_why" ]; then
		printf 'pki: certificate %s: --csr %s: %s\n' "$2" "$1" "$_why" >&2
		return 1
	fi
	_csr=$(cat "$1")
}

_cert_set_usage="usage: pki cert set NAME --renew-before DAYS | --renew-fraction F | --renew-default | --challenge dns-01|http-01|dns-persist-01 | --csr FILE | --acme-server URL | --acme-server-default"

# pki cert set NAME --renew-before DAYS|--renew-fraction F|--renew-default:
# when NAME renews: DAYS before expiry, or with the fraction F of its
# lifetime left, or by the default rule (a third; half under 10 days).
# pki cert set NAME --challenge TYPE: how its names are proven to an ACME
# CA from its next order on.
pki_cert_set() {
	[ $# -ge 2 ] || pki_die 2 "$_cert_set_usage"
	_name=$1 _days='' _frac=''
	case $2 in
	--renew-before) [ $# -eq 3 ] || pki_die 2 "$_cert_set_usage"; _days=$3 ;;
	--renew-fraction) [ $# -eq 3 ] || pki_die 2 "$_cert_set_usage"; _frac=$3 ;;
	--renew-default) [ $# -eq 2 ] || pki_die 2 "$_cert_set_usage" ;;
	--challenge)
		[ $# -eq 3 ] || pki_die 2 "$_cert_set_usage"
		pki_cert_set_challenge "$_name" "$3"
		return
		;;
	--csr)
		[ $# -eq 3 ] || pki_die 2 "$_cert_set_usage"
		pki_cert_set_csr "$_name" "$3"
		return
		;;
	--acme-server)
		[ $# -eq 3 ] || pki_die 2 "$_cert_set_usage"
		pki_cert_set_acme_server "$_name" "$3"
		return
		;;
	--acme-server-default)
		[ $# -eq 2 ] || pki_die 2 "$_cert_set_usage"
		pki_cert_set_acme_server "$_name" ''
		return
		;;
	*) pki_die 2 "$_cert_set_usage" ;;
	esac
	pki_cert_update "$_name" "renew_before_days = nullif(:'days', '')::numeric,
	renew_fraction = nullif(:'frac', '')::numeric" \
		-v days="$_days" -v frac="$_frac" || return 1
	if [ -n "$_days" ]; then
		pki_say "certificate $_name renews $_days days before it expires"
	elif [ -n "$_frac" ]; then
		pki_say "certificate $_name renews with $_frac of its lifetime left"
	else
		pki_say "certificate $_name renews by the default rule"
	fi
}

# pki_cert_set_challenge NAME TYPE: the ACME challenge of NAME.
pki_cert_set_challenge() {
	case $2 in
	dns-01 | http-01 | dns-persist-01) ;;
	*) pki_die 2 "--challenge $2: use dns-01, http-01 or dns-persist-01" ;;
	esac
	pki_cert_update "$1" "acme_challenge = :'challenge'" \
		-v challenge="$2" || return 1
	pki_say "certificate $1 is validated by $2"
}

# pki_cert_set_acme_server NAME URL: the ACME CA (directory URL) that
# issues and renews NAME from its next order on; '': the one of pki.conf
# (PKI_ACME_DIRECTORY).
pki_cert_set_acme_server() {
	[ -z "$2" ] || pki_acme_server_check "$1" "$2"
	_n=$(pki_sql -At -v name="$1" -v dir="$2" <<'EOF'
SET search_path TO pki, dd, public;
\set QUIET on
UPDATE certificates SET acme_directory = nullif(:'dir', '')
 WHERE id = (SELECT certificate FROM subjects
	      WHERE name = :'name' AND NOT isaltname) AND type = 'LE'
RETURNING id;
EOF
) || return 1
	[ -n "$_n" ] || { pki_say "no certificate $1 of the ACME CA"; return 1; }
	if [ -z "$2" ]; then
		pki_say "certificate $1 is issued by the ACME CA of pki.conf (PKI_ACME_DIRECTORY)"
	else
		pki_say "certificate $1 is issued by the ACME CA $2"
		pki_acme_server_account "$1" "$2"
	fi
}

# pki_cert_set_csr NAME FILE: the CSR of NAME replaced by the one in FILE
# (checked against NAME's names), signed from its next issue on; the
# certificate's algorithm becomes the CSR's key's.
pki_cert_set_csr() {
	_cs=$(pki_sql -At -F ' ' -v name="$1" <<'EOF'
SET search_path TO pki, dd, public;
SELECT s.type, coalesce((SELECT json_agg(a.name ORDER BY a.name)
	FROM subjects a WHERE a.certificate = s.certificate AND a.isaltname),
	'[]') FROM subjects s WHERE s.name = :'name' AND NOT s.isaltname;
EOF
) || return 1
	[ -n "$_cs" ] || { pki_say "no certificate $1"; return 1; }
	pki_csr_given "$2" "$1" "${_cs%% *}" "${_cs#* }" "" || return 1
	pki_cert_update "$1" "csr = :'csr', encryption_algo = :'algo'" \
		-v csr="$_csr" -v algo="$_csralgo" || return 1
	pki_say "certificate $1 is issued for the CSR of $2 ($_csralgo)"
}

# pki_cert_update NAME SET [-v VAR=VALUE]...: UPDATE certificates SET SET
# (columns of this file's, the values psql variables) for the certificate
# NAME; says so and returns 1 when there is none.
pki_cert_update() {
	_cu_name=$1 _cu_set=$2
	shift 2
	_n=$(pki_sql -At -v name="$_cu_name" "$@" <<EOF
SET search_path TO pki, dd, public;
\set QUIET on
UPDATE certificates SET $_cu_set
 WHERE id = (SELECT certificate FROM subjects
	      WHERE name = :'name' AND NOT isaltname)
RETURNING id;
EOF
) || return 1
	[ -n "$_n" ] || { pki_say "no certificate $_cu_name"; return 1; }
}

pki_cert_remove() {
	[ $# -eq 1 ] || pki_die 2 "usage: pki cert remove NAME"
	pki_sql -v name="$1" <<'EOF' || return 1
SET search_path TO pki, dd, public;
\o /dev/null
SELECT remove_cert(:'name');
EOF
	pki_say "certificate $1 removed"
}

# pki cert list [NAME]: the certs view; with NAME, exit 1 if there is no
# such certificate.
pki_cert_list() {
	[ $# -le 1 ] || pki_die 2 "usage: pki cert list [NAME]"
	_found=$(pki_sql -At -v name="${1:-}" <<'EOF'
SET search_path TO pki, dd, public;
SELECT :'name' = '' OR EXISTS (SELECT 1 FROM subjects
	WHERE name = :'name' AND NOT isaltname);
EOF
) || return 2
	[ "$_found" = t ] || { pki_say "no certificate $1"; return 1; }
	pki_sql -v name="${1:-}" <<'EOF'
SET search_path TO pki, dd, public;
SELECT * FROM certs WHERE :'name' = '' OR "Cert Name" = :'name';
EOF
}

_status_usage="usage: pki status [--json] [--expiring DAYS] [--now TIME] [-o NAME]... [NAME]..."

# pki status [--json] [--expiring DAYS] [--now TIME] [-o NAME]...
# [NAME]...: serverPKI's -n -v listing, the certificates, their
# instances, and the instances' deployments; --json a JSON object per
# certificate; --expiring only the certificates that expire within DAYS
# days (or have no valid instance), exit 1 when there are any.
pki_status() {
	_names='[]'
	pki_long_options "$_status_usage" "$@"
	[ -z "$_dry$_reuse$_how" ] || pki_die 2 "$_status_usage"
	case $_expiring in
	*[!0-9]*) pki_die 2 "status --expiring: \"$_expiring\" is not a number of days" ;;
	esac
	eval "set -- $_rest"
	OPTIND=1
	while getopts 'o:aie:' _o; do
		case $_o in
		o) _names=$(printf '%s' "$_names" | "$JQ" -c --arg n "$OPTARG" '. + [$n]') ;;
		a | i | e) ;;	# serverPKI selection flags: everything is listed
		*) pki_die 2 "$_status_usage" ;;
		esac
	done
	shift $((OPTIND - 1))
	for _a in "$@"; do
		_names=$(printf '%s' "$_names" | "$JQ" -c --arg n "$_a" '. + [$n]')
	done
	if [ -n "$_json" ]; then
		pki_status_json
	elif [ -n "$_expiring" ]; then
		pki_status_expiring
	else
		[ -z "$_now" ] || pki_die 2 "status --now: only with --json or --expiring"
		pki_status_listing
	fi
}

# pki_status_json: pki status --json, a JSON object per certificate (of
# _names, or every one; with _expiring only those expiring, exit 1 when
# there are any), as at _now; made by PostgreSQL (json_build_object),
# each part in one pass over the selected certificates, a cursor at a
# time (FETCH_COUNT), so that memory does not grow with the database.
# The due action is pki-select --schedule's (pki.due_action()), as a run
# here would see it: remind when the CA key's passphrase cannot be read.
pki_status_json() {
	pki_run_dir
	_remind=false
	[ -r "$PKI_CA_PASSPHRASE_FILE" ] || _remind=true
	pki_sql -At -v names="$_names" -v now="$_now" -v days="$_expiring" \
		-v remind="$_remind" > "$PKI_RUN_DIR/status" <<'EOF' || return 2
SET search_path TO pki, dd, public;
\set FETCH_COUNT 1000
WITH t AS (SELECT coalesce(nullif(:'now', '')::timestamptz AT TIME ZONE
	'UTC', now() AT TIME ZONE 'UTC') AS now),
sel AS (SELECT s.certificate AS id, s.name, s.type FROM subjects s
	 WHERE NOT s.isaltname AND s.type NOT IN ('CA', 'reserved')
	   AND s.certificate IN (SELECT certificate FROM subjects
		WHERE :'names' = '[]' UNION ALL SELECT certificate FROM subjects
		WHERE name IN (SELECT json_array_elements_text(:'names')::citext))
	   AND (:'days' = '' OR s.certificate IN (SELECT e.certificate FROM t,
		expiring(t.now, nullif(:'days', '')::numeric) e))),
alt AS (SELECT a.certificate AS id, json_agg(a.name ORDER BY a.name) AS list
	  FROM subjects a JOIN sel ON sel.id = a.certificate
	 WHERE a.isaltname GROUP BY a.certificate),
hash AS (SELECT k.certinstance AS id, json_object_agg(k.encryption_algo,
	k.hash ORDER BY k.encryption_algo) AS hash
	  FROM certkeydata k JOIN certinstances i ON i.id = k.certinstance
	  JOIN sel ON sel.id = i.certificate GROUP BY k.certinstance),
inst AS (SELECT i.certificate AS id, json_agg(json_build_object(
	'id', i.id, 'state', i.state, 'not_before', rfc3339(i.not_before),
	'not_after', rfc3339(i.not_after), 'renew_at', rfc3339(i.renew_at),
	'hash', h.hash) ORDER BY i.id) AS list,
	max(i.not_after) FILTER (WHERE i.not_after > t.now
	  AND i.state IN ('issued', 'prepublished', 'deployed')) AS expires
	  FROM t, certinstances i JOIN sel ON sel.id = i.certificate
	  LEFT JOIN hash h ON h.id = i.id GROUP BY i.certificate),
tgt AS (SELECT tg.certificate AS id, json_agg(json_build_object(
	'host', h.fqdn, 'jail', j.name, 'place', p.name,
	'instance', d.certinstance, 'status', d.status,
	'attempts', d.attempts, 'reload_status', d.reload_status,
	'last_error', d.last_error, 'tried', rfc3339(d.tried),
	'deployed', rfc3339(d.deployed))
	ORDER BY h.fqdn, j.name NULLS FIRST, p.name NULLS FIRST) AS list
	  FROM targets tg JOIN sel ON sel.id = tg.certificate
	  JOIN disthosts h ON h.id = tg.disthost
	  LEFT JOIN jails j ON j.id = tg.jail
	  LEFT JOIN places p ON p.id = tg.place
	  LEFT JOIN LATERAL (SELECT * FROM deployments dp
		WHERE dp.target = tg.id ORDER BY dp.certinstance DESC
		LIMIT 1) d ON true
	 GROUP BY tg.certificate)
SELECT json_build_object(
	'name', sel.name, 'type', sel.type,
	'ca', CASE c.type WHEN 'LE' THEN 'acme' ELSE 'local' END,
	'algo', c.encryption_algo, 'disabled', c.disabled,
	'altnames', coalesce(alt.list, '[]'),
	'instances', coalesce(inst.list, '[]'),
	'expires', rfc3339(inst.expires),
	'due', json_build_object(
		'action', due_action(c.id, t.now, :'remind'::bool),
		'at', rfc3339(sc.due_at)),
	'failures', sc.failures,
	'last_failure', rfc3339(sc.last_failure),
	'last_error', sc.last_error,
	'next_attempt', rfc3339(sc.next_attempt),
	'last_attempt', rfc3339(sc.last_attempt),
	'targets', coalesce(tgt.list, '[]'))
  FROM t, sel JOIN certificates c ON c.id = sel.id
  JOIN schedule sc ON sc.certificate = sel.id
  LEFT JOIN alt ON alt.id = sel.id
  LEFT JOIN inst ON inst.id = sel.id
  LEFT JOIN tgt ON tgt.id = sel.id
 ORDER BY sel.name;
EOF
	cat "$PKI_RUN_DIR/status"
	[ -z "$_expiring" ] || [ ! -s "$PKI_RUN_DIR/status" ]
}

# pki_status_expiring: pki status --expiring, a line per certificate
# (of _names, or every one) that expires within _expiring days of _now,
# or has no valid instance (pki.expiring()); exit 1 when there are any.
pki_status_expiring() {
	_out=$(pki_sql -At -v names="$_names" -v now="$_now" \
		-v days="$_expiring" <<'EOF'
SET search_path TO pki, dd, public;
SELECT name || ': ' || coalesce('expires ' || rfc3339(not_after),
	'no valid instance')
  FROM expiring(coalesce(nullif(:'now', '')::timestamptz AT TIME ZONE
	'UTC', now() AT TIME ZONE 'UTC'), :'days'::numeric)
 WHERE :'names' = '[]' OR name IN
	(SELECT json_array_elements_text(:'names')::citext)
 ORDER BY not_after NULLS FIRST, name;
EOF
) || return 2
	[ -z "$_out" ] && return 0
	printf '%s\n' "$_out"
	return 1
}

# pki_status_listing: the tables of pki status for _names.
pki_status_listing() {
	pki_sql -v names="$_names" -v minroll="${PKI_MIN_ROLL_MINS:-90}" <<'EOF'
SET search_path TO pki, dd, public;
\pset footer off
\echo Certificates
SELECT * FROM certs
 WHERE :'names' = '[]' OR "Cert Name" IN
	(SELECT json_array_elements_text(:'names')::citext);
\echo
\echo Instances
SELECT i.id AS "Serial", i.name AS "Cert Name", i.type AS "Type",
       i.state AS "State", i.cacert AS "CA", i.ocsplustaple AS "OCSP m st",
       i.not_before AS "not before", i.not_after AS "not after",
       i.encryption_algo AS "Algo", i.hash AS "Hash", i.updated AS "updated"
  FROM inst i
 WHERE :'names' = '[]' OR i.name IN
	(SELECT json_array_elements_text(:'names')::citext)
 ORDER BY i.name, i.id, i.encryption_algo;
\echo
\echo Deployments
SELECT "Serial", "Cert Name", "Dist Host", "Jail", "Place", "Status",
       "Attempts", "Reload", "Last Error", "Tried", "Deployed"
  FROM deploy_state
 WHERE :'names' = '[]' OR "Cert Name" IN
	(SELECT json_array_elements_text(:'names')::citext)
 ORDER BY "Cert Name", "Serial", "Dist Host", "Jail", "Place";
\echo
\echo Schedule
SELECT n.name AS "Cert Name",
       CASE WHEN s.renew_at = '-infinity' THEN 'now (no instance)'
	    ELSE to_char(s.renew_at, 'YYYY-MM-DD HH24:MI') END AS "Renew at",
       s.failures AS "Failures", s.next_attempt AS "Next attempt",
       s.last_error AS "Last error"
  FROM schedule s JOIN subjects n ON n.certificate = s.certificate
	AND NOT n.isaltname AND n.type <> 'CA'
 WHERE :'names' = '[]' OR n.name IN
	(SELECT json_array_elements_text(:'names')::citext)
 ORDER BY n.name;
\echo
\echo TLSA
SELECT * FROM tlsa_state
 WHERE :'names' = '[]' OR "Cert Name" IN
	(SELECT json_array_elements_text(:'names')::citext)
 ORDER BY "Cert Name", "Owner", "Serial", "TLSA";
\echo
\echo Roll
SELECT i.id AS "Serial", s.name AS "Cert Name",
       i.prepublished AS "Prepublished", i.prepublish_ttl AS "TTL",
       roll_due(i.id, make_interval(mins => :'minroll'::int)) AS "Rolls at"
  FROM certinstances i
  JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
 WHERE i.state = 'prepublished' AND (:'names' = '[]' OR s.name IN
	(SELECT json_array_elements_text(:'names')::citext))
 ORDER BY s.name, i.id;
EOF
}

# pki export [--format pem|der|fullchain|bundle|p12] [--passphrase-file
# FILE] SERIAL DIR (serverPKI -E): the files of instance SERIAL in
# DIR/NAME/ALGO.  pem: cert.pem, chain.pem, fullchain.pem, key.pem; any
# other format: the files a certbot place of that format gets, written by
# pki-deploy (pki-deploy(1), "Formats"); p12 encrypted with the
# passphrase of FILE, which never is on a command line.
pki_export() {
	_xfmt=pem _xpass=''
	_xusage="usage: pki export [--format pem|der|fullchain|bundle|p12] [--passphrase-file FILE] SERIAL DIR"
	while [ $# -gt 0 ]; do
		case $1 in
		--format | --passphrase-file)
			[ $# -ge 2 ] || pki_die 2 "$1 needs a value"
			[ "$1" = --format ] && _xfmt=$2 || _xpass=$2
			shift 2 ;;
		--format=*) _xfmt=${1#*=}; shift ;;
		--passphrase-file=*) _xpass=${1#*=}; shift ;;
		--) shift; break ;;
		-*) pki_die 2 "$_xusage" ;;
		*) break ;;
		esac
	done
	[ $# -eq 2 ] || pki_die 2 "$_xusage"
	case $_xfmt in
	pem | der | fullchain | bundle | p12) ;;
	*) pki_die 2 "export: --format \"$_xfmt\": not pem, der, fullchain, bundle or p12" ;;
	esac
	if [ "$_xfmt" = p12 ] && [ -z "$_xpass" ]; then
		pki_die 2 "export: --format p12 needs --passphrase-file FILE"
	fi
	if [ -n "$_xpass" ]; then
		[ "$_xfmt" = p12 ] || pki_die 2 "export: --passphrase-file is for --format p12"
		case $_xpass in /*) ;; *) _xpass=$(pwd)/$_xpass ;; esac
	fi
	# The record, keys included, stays in memory: never a file in /tmp.
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	_rec=$(pki-select $PKI_FLAGS --serial "$1" --with-keys) || return $?
	if pki_rec_jq -e '(.errors // []) | length > 0' >/dev/null; then
		pki_die 1 "export $1: $(pki_rec_jq -r '.errors | map(.message) | join("; ")')"
	fi
	_name=$(pki_rec_jq -r '.name | gsub("\\*"; "_")')
	# A DIR such as "-P" is a directory, not an option of cd, mkdir,
	# chmod or cat ("cd -P" went to $HOME).
	case $2 in
	/*) _xdir=$2 ;;
	*) _xdir=./$2 ;;
	esac
	if [ "$_xfmt" != pem ]; then	# pki-deploy wants absolute paths
		mkdir -p "$_xdir" || pki_die 1 "export: cannot create $2"
		_xdir=$(cd "$_xdir" && pwd) || pki_die 1 "export: cannot enter $2"
	fi
	for _algo in $(pki_rec_jq -r '.cert | keys[]'); do
		_d=$_xdir/$_name/$_algo
		mkdir -p "$_d" || pki_die 1 "export: cannot create $_d"
		if [ "$_xfmt" = pem ]; then
			pki_export_pem
		else
			pki_export_format || return $?
		fi
		pki_say "exported $_name ($_algo) to $_d"
	done
}

# pki_export_pem: the PEM files of $_algo of the record $_rec in $_d.
pki_export_pem() {
	pki_rec_jq -r --arg a "$_algo" '.cert[$a].pem' > "$_d/cert.pem"
	pki_rec_jq -r --arg a "$_algo" '.cert[$a].chain' > "$_d/chain.pem"
	cat "$_d/cert.pem" "$_d/chain.pem" > "$_d/fullchain.pem"
	chmod 0644 "$_d/cert.pem" "$_d/chain.pem" "$_d/fullchain.pem"
	if pki_rec_jq -e --arg a "$_algo" '.key[$a]' >/dev/null; then
		(umask 077 && pki_rec_jq -r --arg a "$_algo" '.key[$a]' \
			> "$_d/key.pem.tmp" && mv "$_d/key.pem.tmp" "$_d/key.pem")
	fi
}

# pki_export_format: the files of $_algo in format $_xfmt in $_d, by
# pki-deploy to a certbot place on this machine (key files 0600).
pki_export_format() {
	pki_run_dir
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	_xout=$(pki_rec_jq -c --arg a "$_algo" --arg d "$_d" --arg f "$_xfmt" \
		--arg p "$_xpass" '{name, subject_type, ca, keyless, csr,
		cert: {($a): .cert[$a]},
		key: (if .key[$a] then {($a): .key[$a]} else {} end),
		targets: [{id: 0, disthost: "localhost", place: ({name: "export",
		cert_file_type: "certbot", cert_path: $d, mode: 600, format: $f}
		+ (if $p == "" then {} else {p12_passphrase_file: $p} end))}]}' |
		pki-deploy $PKI_FLAGS 2>"$PKI_RUN_DIR/export.err" | "$JQ" -r '
		. as $r | [(.errors // [])[].message, ((.deployed // {})[] |
		.error // empty)] | join("; ") | if . == "" and
		([$r.deployed[]?.status] != ["ok"]) then "not written" else .
		end') ||
		pki_die 1 "export $_name ($_algo): pki-deploy failed"
	# pki-deploy's messages are the record's errors, said once here;
	# its stderr only when the record has none.
	[ "$_xout" != "not written" ] ||
		_xout=$(head -n 1 "$PKI_RUN_DIR/export.err" | sed 's/^pki-deploy: //')
	[ -z "$_xout" ] || pki_die 1 "export $_name ($_algo): $_xout"
}

# pki_rec_jq JQ-ARGS...: jq on the record in $_rec.
pki_rec_jq() {
	printf '%s\n' "$_rec" | "$JQ" "$@"
}
