# import.sh - pki import pem (a certificate with its key and chain, made
# elsewhere) and pki import certbot (a certbot configuration directory:
# its lineages, every archived version, their keys and the ACME
# accounts).  pki-import reads the files and writes records; the
# certificate is added (pki cert add) with the names and algorithm of
# the certificate itself; pki-store stores the records like any other,
# so importing twice changes nothing.  Keys go by file name to
# pki-import and on the pipe to pki-store, never on a command line.
# shellcheck disable=SC2016 # jq programs and SQL are single-quoted on purpose

_import_pem_usage="usage: pki import pem --cert FILE --key FILE [--chain FILE] [-c local|acme] [NAME]
       pki import certbot [--now TIME] DIR"

pki_import() {
	_sub=${1:-}
	[ $# -gt 0 ] && shift
	case $_sub in
	pem) pki_import_pem "$@" ;;
	certbot) _now=''
		if [ "${1:-}" = --now ]; then
			[ $# -ge 2 ] || pki_die 2 "$_import_pem_usage"
			_now=$2
			shift 2
			"$JQ" -en --arg t "$_now" '$t | fromdateiso8601' \
				>/dev/null 2>&1 ||
				pki_die 2 "--now $_now: not a time as 2026-12-05T12:00:00Z"
		fi
		[ $# -eq 1 ] || pki_die 2 "$_import_pem_usage"
		pki_import_certbot "$1" ;;
	*) pki_die 2 "$_import_pem_usage" ;;
	esac
}

# pki import pem --cert FILE --key FILE [--chain FILE] [-c local|acme]
# [NAME]: the certificate (and the chain after it in FILE, and --chain's)
# as a deployed instance of certificate NAME (by default its CN, or its
# first subjectAltName), made with the certificate's names when missing.
pki_import_pem() {
	_cert='' _key='' _chain='' _ca=acme _name=''
	while [ $# -gt 0 ]; do
		case $1 in
		--cert | --key | --chain | -c)
			[ $# -ge 2 ] || pki_die 2 "$_import_pem_usage"
			case $1 in
			--cert) _cert=$2 ;; --key) _key=$2 ;;
			--chain) _chain=$2 ;; -c) _ca=$2 ;;
			esac
			shift 2 ;;
		-*) pki_die 2 "$_import_pem_usage" ;;
		*) [ -z "$_name" ] || pki_die 2 "$_import_pem_usage"
			_name=$1; shift ;;
		esac
	done
	{ [ -n "$_cert" ] && [ -n "$_key" ]; } || pki_die 2 "$_import_pem_usage"
	case $_ca in
	local | acme) ;;
	*) pki_die 2 "-c $_ca: use local or acme" ;;
	esac
	pki_flags
	pki_run_dir
	set -- --cert "$_cert" --key "$_key" --ca "$_ca"
	[ -z "$_chain" ] || set -- "$@" --chain "$_chain"
	[ -z "$_name" ] || set -- "$@" --name "$_name"
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	# Its errors are in the record, which the summary says.
	pki_stage pki-import pki-import pem $PKI_FLAGS "$@" \
		> "$PKI_RUN_DIR/import" 2> "$PKI_RUN_DIR/pki-import.err"
	[ "$(cat "$PKI_RUN_DIR/pki-import.rc")" -lt 2 ] ||
		cat "$PKI_RUN_DIR/pki-import.err" >&2
	pki_import_add "$PKI_RUN_DIR/import" || true
	pki_import_store "$PKI_RUN_DIR/import" pki-import
}

# pki_import_add FILE: add each certificate of FILE's records that the
# database does not have, with the names, algorithm and CA of its
# record; a record whose certificate cannot be added gets the error.
pki_import_add() {
	"$JQ" -c 'select((.errors // []) == [] and .cert != null) |
		[.name, .ca, .algos[0], .altnames]' "$1" | sort -u \
		> "$PKI_RUN_DIR/add"
	# The names the database has, asked once.
	"$JQ" -s -c 'map(.[0])' "$PKI_RUN_DIR/add" > "$PKI_RUN_DIR/names"
	pki_sql -At -v names="$(cat "$PKI_RUN_DIR/names")" \
		> "$PKI_RUN_DIR/have" <<'EOF' || return 2
SET search_path TO pki, dd, public;
SELECT name FROM subjects WHERE NOT isaltname
	AND name IN (SELECT json_array_elements_text(:'names'));
EOF
	"$JQ" -r --rawfile have "$PKI_RUN_DIR/have" '
		select(.[0] | IN($have | split("\n")[]) | not) |
		[.[0], .[1], .[2]] + .[3] | @tsv' "$PKI_RUN_DIR/add" \
		> "$PKI_RUN_DIR/missing"
	_fails=''
	while IFS="$(printf '\t')" read -r _n _c _a _alts; do
		set -- "$_n" -c "$_c" -a "$_a"
		set -f	# a wildcard name is a name, not a pattern
		for _alt in $_alts; do
			set -- "$@" -A "$_alt"
		done
		set +f
		( pki_cert_add "$@" ) || _fails="$_fails $_n"
	done < "$PKI_RUN_DIR/missing"
	[ -n "$_fails" ] || return 0
	# shellcheck disable=SC2086 # a list of names
	"$JQ" -c --args 'if (.name | IN($ARGS.positional[])) and
		(.errors // []) == [] then .errors = [{stage: "pki import",
		field: "name", message: "the certificate cannot be added"}]
		else . end' $_fails < "$1" > "$1.new" && mv "$1.new" "$1"
	return 1
}

# pki_import_servers FILE: each certificate of FILE's records that names
# an ACME server ("acme_directory": a certbot lineage's) gets it, unless
# it has it already (importing twice changes nothing).
pki_import_servers() {
	_dirs=$("$JQ" -s -c 'map(select((.errors // []) == [] and
		(.acme_directory // "" | startswith("https://"))) |
		[.name, .acme_directory]) | unique' "$1") || return 2
	[ "$_dirs" != '[]' ] || return 0
	pki_sql -v dirs="$_dirs" <<'EOF' || return 2
SET search_path TO pki, dd, public;
\o /dev/null
UPDATE certificates c SET acme_directory = x.dir
  FROM (SELECT e->>0 AS name, e->>1 AS dir
	  FROM json_array_elements(:'dirs') e) x, subjects s
 WHERE s.name = x.name AND NOT s.isaltname AND c.id = s.certificate
   AND c.type = 'LE' AND c.acme_directory IS DISTINCT FROM x.dir;
EOF
}

# pki_import_store FILE STAGE...: the records of FILE through pki-store,
# one line said of each (a failed record's is its one line); the worst
# status of the STAGEs and the store.
pki_import_store() {
	_file=$1
	shift
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki_stage pki-store pki-store $PKI_FLAGS < "$_file" |
		pki_stage summary pki_import_summary
	_worst=0
	for _s in "$@" pki-store summary; do
		_rc=$(cat "$PKI_RUN_DIR/$_s.rc" 2>/dev/null || echo 2)
		[ "$_rc" -eq 2 ] && pki_log err "$_s failed (exit $_rc)"
		[ "$_rc" -gt "$_worst" ] && _worst=$_rc
	done
	return "$_worst"
}

# The summary of imported records: one line each, never a key.
pki_import_summary() {
	pki_jq_report '
	if (.errors // []) | length > 0 then
		"err\t\(.name): import FAILED: \(.errors | map(
			(.stage // "?") + ": " +
			(if .field then .field + ": " else "" end) +
			(.message // "")) | join("; "))"
	elif .account then
		"info\tACME account \(.account.url) of \(.account.directory)"
	else
		"info\t\(.name): instance \(.instance.id) \(.instance.state)" +
		" (\(.import.source))"
	end'
}

# pki_certbot_value FILE KEY: the value of "KEY = VALUE" in a certbot
# renewal file.
pki_certbot_value() {
	sed -n "s/^$2 *= *//p" "$1" | head -n 1
}

# pki import certbot [--now TIME] DIR: every lineage of DIR/renewal/*.conf with every
# version of its archive: the one live/ points to deployed, older ones
# expired (archived when their not_after has passed), newer ones issued;
# and the ACME accounts they use (accounts/HOST/PATH/ID: private_key.json
# and regr.json).  A lineage with a missing or unreadable file, or a key
# that does not belong to its certificate, is named and left out; the
# others are imported.  --now: whether a date has passed is decided as at
# TIME.
pki_import_certbot() {
	_dir=${1%/}
	[ -d "$_dir/renewal" ] ||
		pki_die 2 "import certbot: $_dir has no renewal/ (a certbot configuration directory?)"
	pki_flags
	pki_run_dir
	: > "$PKI_RUN_DIR/import"
	: > "$PKI_RUN_DIR/accounts"
	_bad=0
	for _conf in "$_dir"/renewal/*.conf; do
		[ -f "$_conf" ] || continue
		_l=$(basename "$_conf" .conf)
		if pki_certbot_lineage "$_dir" "$_l" "$_conf" \
			> "$PKI_RUN_DIR/lineage" 2> "$PKI_RUN_DIR/lineage.err"; then
			cat "$PKI_RUN_DIR/lineage" >> "$PKI_RUN_DIR/import"
		else
			_bad=1
			printf 'pki: certbot lineage %s not imported: %s\n' "$_l" \
				"$(pki_import_why "$PKI_RUN_DIR/lineage")" >&2
		fi
	done
	pki_certbot_one_live "$PKI_RUN_DIR/import" || _bad=1
	sort -u "$PKI_RUN_DIR/accounts" | while IFS=' ' read -r _srv _id; do
		pki_certbot_account "$_dir" "$_srv" "$_id"
	done > "$PKI_RUN_DIR/acct" || _bad=1
	cat "$PKI_RUN_DIR/import" >> "$PKI_RUN_DIR/acct"
	mv "$PKI_RUN_DIR/acct" "$PKI_RUN_DIR/import"
	pki_import_add "$PKI_RUN_DIR/import" || _bad=1
	pki_import_servers "$PKI_RUN_DIR/import" || _bad=1
	echo "$_bad" > "$PKI_RUN_DIR/lineages.rc"
	pki_import_store "$PKI_RUN_DIR/import" lineages
}

# pki_certbot_one_live FILE: lineages of one name (certbot's NAME and
# NAME-0001, made by --duplicate or a change of names) are versions of one
# certificate in pki: of their live versions the newest (by not_before)
# is deployed and the others expired, whatever the order of the renewal
# files; said once per name.
pki_certbot_one_live() {
	"$JQ" -s -c '
		(map(select(.import.state == "deployed")) | group_by(.name) |
		 map(select(length > 1)) |
		 map({name: .[0].name, live: (max_by(.cert[].not_before) |
		      .import.source), all: map(.import.source)})) as $dup |
		($dup | map(.live)) as $live |
		(.[] | if .import.state == "deployed" and
			(.name | IN($dup[].name)) and
			(.import.source | IN($live[]) | not)
		then .import.state = "expired" else . end),
		($dup[] | {say: "certbot \(.all | map(split(" ")[1]) |
			join(" and ")) are one certificate, \(.name): the live \(
			.live | split(" ")[1:] | join(" ")) is deployed"})' \
		"$1" > "$1.one" || return 1
	"$JQ" -r 'select(.say) | .say' "$1.one" | while IFS= read -r _l; do
		pki_say "$_l"
	done
	"$JQ" -c 'select(.say | not)' "$1.one" > "$1"
}

# pki_import_why FILE: the errors of FILE's records, on one line.
pki_import_why() {
	"$JQ" -r -s '[.[] | .errors // [] | .[] | (if .field then
		.field + ": " else "" end) + (.message // "")] | join("; ")' "$1"
}

# pki_certbot_lineage DIR NAME CONF: the records of every version of
# lineage NAME on stdout, and its account ("SERVER ID") appended to the
# run's list; 1 if one of them failed (the records say why), or if a
# file is missing (said in a record of its own).
pki_certbot_lineage() {
	# The files where certbot keeps them under DIR (the paths of the
	# renewal file are those of the machine it was made on).
	_arch=$1/archive/$2
	_live=$1/live/$2/cert.pem
	_srv=$(pki_certbot_value "$3" server)
	_acct=$(pki_certbot_value "$3" account)
	_cur=$(readlink "$_live" 2>/dev/null) || _cur=''
	_cur=${_cur##*/cert}
	_cur=${_cur%.pem}
	case $_cur in
	'' | *[!0-9]*)
		pki_import_fail "$2" "$_live: not a link to a version of the archive"
		return 1 ;;
	esac
	if [ ! -f "$_arch/cert$_cur.pem" ]; then
		pki_import_fail "$2" "$_live: its version $_cur is not in the archive"
		return 1
	fi
	[ -n "$_srv" ] && [ -n "$_acct" ] &&
		echo "$_srv $_acct" >> "$PKI_RUN_DIR/accounts"
	for _v in $(pki_certbot_versions "$_arch"); do
		if [ "$_v" -eq "$_cur" ]; then _s=deployed
		elif [ "$_v" -lt "$_cur" ]; then _s=expired
		else _s=issued
		fi
		# shellcheck disable=SC2086 # PKI_FLAGS is a word list
		pki-import pem $PKI_FLAGS --cert "$_arch/cert$_v.pem" \
			--key "$_arch/privkey$_v.pem" \
			--chain "$_arch/chain$_v.pem" --ca acme --state "$_s" \
			--source "certbot $2 version $_v" \
			2>>"$PKI_RUN_DIR/pki-import.err" || true
	done > "$PKI_RUN_DIR/read"
	# The lineage names its errors; an older version whose time has
	# passed is archived.
	# The certificate renews at the lineage's server, with its account.
	"$JQ" -c --arg n "$2" --arg now "$_now" --arg srv "$_srv" '
		if $srv != "" then .acme_directory = $srv else . end |
		if (.errors // []) != [] then
			.name = $n | (.import.source | split(" ") | last) as $v |
			.errors |= map(.message = "version \($v): " + .message)
		elif .import.state == "expired" and
			([.cert[].not_after | fromdateiso8601] | min)
			<= (if $now == "" then now else $now | fromdateiso8601 end)
		then .import.state = "archived"
		else . end' "$PKI_RUN_DIR/read" > "$PKI_RUN_DIR/versions" ||
		return 1
	cat "$PKI_RUN_DIR/versions"
	# A record per version, or pki-import could not write one.
	if [ "$(pki_certbot_versions "$_arch" | wc -l)" -ne \
		"$(wc -l < "$PKI_RUN_DIR/versions")" ]; then
		cat "$PKI_RUN_DIR/pki-import.err" >&2
		pki_import_fail "$2" "pki-import failed"
		return 1
	fi
	"$JQ" -e -s 'all(.[]; (.errors // []) == [])' \
		"$PKI_RUN_DIR/versions" >/dev/null
}

# pki_import_fail NAME MESSAGE: a record of lineage NAME that failed.
pki_import_fail() {
	"$JQ" -nc --arg n "$1" --arg m "$2" '{name: $n, action: "import",
		errors: [{stage: "pki import", field: "cert", message: $m}]}'
}

# pki_certbot_versions ARCHIVE: the numbers N of ARCHIVE/certN.pem, in
# order.
pki_certbot_versions() {
	for _f in "$1"/cert*.pem; do
		_n=${_f##*/cert}
		_n=${_n%.pem}
		case $_n in
		'' | *[!0-9]*) ;;
		*) echo "$_n" ;;
		esac
	done | sort -n
}

# pki_certbot_account DIR SERVER ID: the record of certbot account ID of
# directory SERVER (accounts/HOST[:PORT]/PATH/ID), its URL from regr.json.
pki_certbot_account() {
	# SERVER and ID come from a renewal file and make a path below DIR:
	# an https URL without "." or ".." parts, a plain id (certbot's are
	# 32 hex digits), or nothing of them is read.
	case $3 in
	'' | *[!A-Za-z0-9_-]*)
		pki_line "certbot account $3: not an account id (letters, digits, _ and -)" >&2
		return 1 ;;
	esac
	case $2 in
	https://*) ;;
	*) pki_line "certbot account $3: server $2: not an https URL" >&2
		return 1 ;;
	esac
	case /${2#https://}/ in
	*/../* | */./* | *//* | *[[:cntrl:]]* | *[[:blank:]]*)
		pki_line "certbot account $3: server $2: a \".\", \"..\" or empty part, a blank or a control character" >&2
		return 1 ;;
	esac
	_ad=$1/accounts/${2#https://}/$3
	_url=$("$JQ" -r '.uri // empty' "$_ad/regr.json" 2>/dev/null) || _url=''
	if [ -z "$_url" ]; then
		printf 'pki: certbot account %s: %s/regr.json: no account URL\n' \
			"$3" "$_ad" >&2
		return 1
	fi
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki-import account $PKI_FLAGS --jwk "$_ad/private_key.json" \
		--url "$_url" --directory "$2" 2>>"$PKI_RUN_DIR/pki-import.err"
}
