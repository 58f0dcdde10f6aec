# dane.sh - helpers of the DANE tests (dane.t, roll.t): the database, DNS
# as dig sees it on the primary and the secondary, renewals made by hand,
# and an openssl s_server / s_client pair that checks DANE.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/dane.sh"
#   dane_setup
#
# Sourcing it skips the test unless BIND runs here (as root), and
# sources named.sh and pg.sh.  dane_setup starts BIND and PostgreSQL,
# writes $T/pki.conf ($PKI_CONF) for them, makes a local CA of EC keys,
# and a place "srv" on the disthost "localhost".
# Deployed certificates are read from $T/srv/NAME (a place "srv" with
# cert_path $T/srv/{}, type separate).  Everything pki printed through
# capture is kept in $all, searched for keys at the end.

# shellcheck disable=SC2034 # rc and out are for the tests
[ "$(id -u)" = 0 ] || skip_all "named runs as root here"
command -v named >/dev/null 2>&1 || command -v /usr/sbin/named >/dev/null ||
	skip_all "no BIND 9"
# shellcheck source=tests/lib/named.sh
. "$PKI_TOP/tests/lib/named.sh"
# shellcheck source=tests/lib/pg.sh
. "$PKI_TOP/tests/lib/pg.sh"

all=$T/all
# rrset PORT OWNER: the TLSA RRset at OWNER on the server at PORT, one
# "U S M HEX" per RR, sorted, the hex in upper case, on one line.
rrset() {
	dig +short +norec -p "$1" @127.0.0.1 TLSA "$2" |
		awk '{ d = ""; for (i = 4; i <= NF; i++) d = d $i; print $1, $2, $3, toupper(d) }' |
		sort | tr '\n' ',' | sed 's/,$//'
}
# both OWNER: the RRset on the primary and the secondary, "P | S".
both() {
	echo "$(rrset "$NAMED_PORT" "$1") | $(rrset "$NAMED2_PORT" "$1")"
}
# wanted OWNER: the RRset the database wants at OWNER, as rrset.
wanted() {
	q "SELECT string_agg(concat_ws(' ', r->>'usage', r->>'selector', r->>'mtype', r->>'data'), ','
		ORDER BY r->>'data') FROM jsonb_array_elements(tlsa_rrset('$1')) r"
}
serial() {	# the SOA serial of example.test on the primary
	dig +short +norec -p "$NAMED_PORT" @127.0.0.1 SOA example.test | cut -d ' ' -f 3
}
state() {	# state NAME: the state of NAME's newest instance
	q "SELECT state FROM certinstances WHERE id = (SELECT max(id) FROM inst WHERE name = '$1')"
}
newest() { q "SELECT max(id) FROM inst WHERE name = '$1'"; }
istate() { q "SELECT state FROM certinstances WHERE id = $1"; }
# spki311 FILE: TLSA 3 1 1 data of the certificate in FILE, by openssl.
spki311() {
	openssl x509 -pubkey -noout -in "$1" | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -r | cut -d ' ' -f 1 | tr a-f A-F
}
# renew NAME [--reuse]: a new instance of NAME's deployed one (with its key
# when --reuse), issued by hand as pki issue would.
renew() {
	pki-select --serial "$(q "SELECT id FROM certinstances i WHERE state = 'deployed'
		AND certificate = (SELECT certificate FROM subjects WHERE name = '$1')")" --with-keys |
		jq -c 'del(.cert, .csr, .instance, .action)' | pki-keygen ${2:+"$2"} | pki-csr |
		pki-localca | pki-tlsa | pki-store >/dev/null 2>>"$all"
}
# serve NAME PORT [CHAIN]: openssl s_server on 127.0.0.1:PORT with NAME's
# deployed certificate and key (and the chain file CHAIN), instead of the
# one serve started before.
_srv=
serve() {
	[ -n "$_srv" ] && kill "$_srv" 2>/dev/null && wait "$_srv" 2>/dev/null
	openssl s_server -accept "127.0.0.1:$2" -cert "$T/srv/$1/$1_server_cert.pem" \
		-key "$T/srv/$1/$1_server_key.pem" ${3:+-cert_chain "$3"} -www -quiet \
		>/dev/null 2>&1 </dev/null &
	_srv=$!
	at_exit "kill $_srv"
	_n=0
	until ss -Htln "( sport = :$2 )" | grep -q .; do
		_n=$((_n + 1))
		[ "$_n" -lt 100 ] || break
		sleep 0.05
	done
}
# dane NAME PORT RRDATA...: openssl s_client, DANE-verifying NAME at PORT
# with the records; its output in $out, status in $rc.
dane() {
	_n=$1 _p=$2
	shift 2
	_args=
	for _r in "$@"; do
		_args="$_args -dane_tlsa_rrdata '$_r'"
	done
	rc=0
	out=$(eval "openssl s_client -connect 127.0.0.1:$_p -servername $_n -dane_tlsa_domain $_n $_args -verify_return_error" \
		</dev/null 2>&1) || rc=$?
}
# dane_dig NAME PORT OWNER: dane with the RRs dig returns from the
# secondary at OWNER.
dane_dig() {
	_rrs=$(rrset "$NAMED2_PORT" "$3")
	_old_ifs=$IFS
	IFS=,
	# shellcheck disable=SC2086 # split on the commas of rrset
	set -- "$1" "$2" $_rrs
	IFS=$_old_ifs
	dane "$@"
}

# rrs U S M DATA...: the RRset of these records as rrset prints it.
rrs() {
	_u=$1 _s=$2 _m=$3
	shift 3
	printf "$_u $_s $_m %s\n" "$@" | sort | tr '\n' ',' | sed 's/,$//'
}
data() { q "SELECT data FROM tlsa_records WHERE certinstance = $1 AND owner = '$2'"; }
target_sha() { openssl x509 -in "$T/srv/$1/$1_server_cert.pem" -noout -fingerprint -sha256; }
inst_sha() {
	pki-select --serial "$1" 2>/dev/null | jq -r '.cert.ec.pem' |
		openssl x509 -noout -fingerprint -sha256
}
# at MINUTES: the time MINUTES from now, RFC 3339 UTC.
at() { date -u -d "@$(( $(date +%s) + $1 * 60 ))" +%FT%TZ; }

# first NAME -S SERVICE:PORT...: a certificate NAME (EC) with these
# services and the target "srv", issued and distributed.
first() {
	_fn=$1
	shift
	pki -q cert add "$_fn" -a ec "$@"
	q "SELECT add_target('$_fn', 'localhost', NULL, 'srv')" >/dev/null
	capture pki issue -o "$_fn"
	capture pki distribute -o "$_fn"
}

dane_setup() {
	named_start
	pg_setup
	cat > "$T/pki.conf" <<EOF
PKI_DNS_SERVER=127.0.0.1:$NAMED_PORT
PKI_DNS_RESOLVER=127.0.0.1:$NAMED_PORT
PKI_DNS_NS="127.0.0.1:$NAMED_PORT 127.0.0.1:$NAMED2_PORT"
PKI_TSIG_KEY_FILE=$NAMED_TSIG_KEYFILE
PKI_DNS_TIMEOUT=15
EOF
	PKI_CONF=$T/pki.conf
	export PKI_CONF
	pg_local_ca
	q "INSERT INTO disthosts (fqdn) VALUES ('localhost');
	   INSERT INTO places (name, cert_file_type, cert_path)
		VALUES ('srv', 'separate', '$T/srv/{}')"
}
