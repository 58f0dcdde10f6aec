# serverpki.sh - the options of serverPKI's operate_serverPKI, short and
# long, with their meaning, mapped onto the pki commands (pki(1),
# "serverPKI options").  Actions combine as operate_serverPKI lets them:
# one alone, or -C with -D, or -K with -T; a modifier that means nothing
# for the actions given is refused, naming both, never ignored.

# pki_serverpki_long ARGS...: ARGS with the long options of
# operate_serverPKI (--only=NAME or --only NAME) written as the short
# ones, quoted for eval, in _sp_args.  A value is never taken for an
# option.
pki_serverpki_long() {
	_sp_args='' _sp_val=''
	for _a in "$@"; do
		if [ -n "$_sp_val" ]; then
			_sp_args="$_sp_args $(pki_quote "$_a")" _sp_val=''
			continue
		fi
		_v='' _o=$_a
		case $_a in
		--*=*) _v=${_a#*=} _a=${_a%%=*} _o=${_o%%=*} ;;
		esac
		case $_a in
		--help) _a=-h ;;
		--create-certs) _a=-C ;;
		--renew-local-certs) _a=-r ;;
		--schedule-actions) _a=-S ;;
		--distribute-certs) _a=-D ;;
		--consolidate-certs) _a=-K ;;
		--consolidate-TLSAs) _a=-T ;;
		--remove-TLSAs) _a=-R ;;
		--export-cert-and-key | --extract-cert-and-key) _a=-E ;;
		--all) _a=-a ;;
		--include) _a=-i ;;
		--exclude) _a=-e ;;
		--only) _a=-o ;;
		--skip-disthost) _a=-s ;;
		--limit-to-disthost) _a=-l ;;
		--no-TLSA-records) _a=-N ;;
		--encrypt-keys) _a=-X ;;
		--decrypt-keys) _a=-Y ;;
		--issue-local-CAcert) _a=-I ;;
		--register) _a=-Z ;;
		--check-only) _a=-n ;;
		--debug) _a=-d ;;
		--quiet) _a=-q ;;
		--verbose) _a=-v ;;
		--config_file | --config-file) _a=-f ;;
		--*) pki_die 2 "unknown option $_a (pki -h lists them)" ;;
		esac
		case $_a in
		-r | -E | -i | -e | -o | -s | -l | -f) [ -n "$_v" ] || _sp_val=1 ;;
		*) [ -z "$_v" ] || pki_die 2 "$_o takes no value" ;;
		esac
		_sp_args="$_sp_args $(pki_quote "$_a")"
		[ -n "$_v" ] && _sp_args="$_sp_args $(pki_quote "$_v")"
	done
	return 0
}

# pki_serverpki_check: the actions in _acts (their letters, in the order
# given, each once) and the modifiers given make sense together; else
# a usage error that names them.
pki_serverpki_check() {
	case $_acts in
	?) ;;
	CD | DC | KT | TK) ;;
	??) pki_die 2 "$(pki_serverpki_acts | sed 's/^ //; s/ / and /'): not done together (operate_serverPKI combines only -C with -D, and -K with -T)" ;;
	'') [ -n "$_days$_check" ] || { pki_usage >&2; exit 2; } ;;
	*) pki_die 2 "too many actions:$(pki_serverpki_acts) (operate_serverPKI combines two at most: -C with -D, -K with -T)" ;;
	esac
	[ -n "$_check" ] && return 0	# -n: nothing is done but the listing
	case $_days:$_acts in
	:* | *: | *:C | *:CD | *:DC | *:D) ;;
	*) pki_die 2 "-r DAYS goes with -C or -D, or alone; $(pki_serverpki_not)" ;;
	esac
	case $_notlsa:$_acts in
	:* | *D*) ;;
	*) pki_die 2 "-N (no TLSA changes) goes with -D; $(pki_serverpki_not)" ;;
	esac
	case ${_hosts:+h}:$_acts in
	:* | *D* | *K*) ;;
	*) pki_die 2 "-s and -l (disthosts) go with -D or -K; $(pki_serverpki_not)" ;;
	esac
}

# pki_serverpki_acts: the actions of _acts as options, " -C -D".
pki_serverpki_acts() {
	printf '%s' "$_acts" | sed 's/./ -&/g'
}

# pki_serverpki_not: "not alone", or "not with" the actions of _acts.
pki_serverpki_not() {
	if [ -z "$_acts" ]; then
		printf 'not alone'
	else
		printf 'not with%s' "$(pki_serverpki_acts)"
	fi
}

# pki_serverpki ARGS...: operate_serverPKI's options (pki(1)).
pki_serverpki() {
	pki_serverpki_long "$@"
	eval "set -- $_sp_args"
	_acts='' _serial='' _args='' _notlsa='' _days='' _check='' _hosts=''
	OPTIND=1
	while getopts 'CSr:DKTRZXYInNE:o:i:e:s:l:adqvhf:' _o; do
		case $_o in
		C | S | D | K | T | R | Z | X | Y | I | E)
			case $_acts in *$_o*) ;; *) _acts=$_acts$_o ;; esac
			[ "$_o" = E ] && _serial=$OPTARG ;;
		r) pki_parse_days "$OPTARG"; _days=$OPTARG ;;
		N) _notlsa=-N ;;
		n) _check=1 ;;
		o | i | e) _args="$_args -$_o $(pki_quote "$OPTARG")" ;;
		s | l) _hosts="$_hosts -$_o $(pki_quote "$OPTARG")" ;;
		a) _args="$_args -a" ;;
		d | v) PKI_VERBOSE=$((PKI_VERBOSE + 1)) ;;
		q) PKI_VERBOSE=0 ;;
		h) pki_usage; return 0 ;;
		f) ;;	# read by pki_load_config
		*) pki_usage >&2; exit 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	pki_serverpki_check
	[ "$_acts" = E ] || [ $# -eq 0 ] ||
		pki_die 2 "unexpected operand \"$1\" (only -E SERIAL takes a directory)"
	pki_flags
	# -N: no TLSA record changes in the whole run (issue's prepublish too).
	[ -n "$_notlsa" ] && PKI_NOTLSA=1 && export PKI_NOTLSA
	# -n checks only: with -S what would be done, else the listing.
	if [ -n "$_check" ]; then
		case $_acts in
		S) eval "pki_schedule $_args --dry-run" ;;
		*) eval "pki_status $_args" ;;
		esac
		return
	fi
	_sp_rc=0
	case $_acts in
	'' | C | CD | DC)
		if [ -n "$_days" ]; then
			eval "pki_renew $_args --within $(pki_quote "$_days")" || _sp_rc=$?
		elif [ -n "$_acts" ]; then
			eval "pki_issue $_args" || _sp_rc=$?
		fi ;;
	esac
	case $_acts in
	D | CD | DC) eval "pki_distribute $_notlsa $_args $_hosts" ||
		_sp_rc=$(pki_worst "$_sp_rc" $?) ;;
	K | KT | TK) eval "pki_consolidate $_args $_hosts" || _sp_rc=$? ;;
	esac
	case $_acts in
	T | KT | TK) eval "pki_tlsa consolidate $_args" ||
		_sp_rc=$(pki_worst "$_sp_rc" $?) ;;
	S) eval "pki_schedule $_args" || _sp_rc=$? ;;
	R) eval "pki_tlsa remove $_args" || _sp_rc=$? ;;
	Z) pki_register || _sp_rc=$? ;;
	X) pki_db encrypt || _sp_rc=$? ;;
	Y) pki_db decrypt || _sp_rc=$? ;;
	I) pki_ca roll || _sp_rc=$? ;;
	E) pki_export -- "$_serial" "${1:-$PKI_HOME/export}" || _sp_rc=$? ;;
	esac
	return "$_sp_rc"
}

# pki_parse_days DAYS: DAYS is a whole number of days (0 to 36500);
# else a usage error.
pki_parse_days() {
	case $1 in
	'' | *[!0-9]*) pki_die 2 "-r $1: not a number of days" ;;
	??????*) pki_die 2 "-r $1: more than 36500 days" ;;
	esac
	[ "$1" -le 36500 ] || pki_die 2 "-r $1: more than 36500 days"
}
