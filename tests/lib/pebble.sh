# pebble.sh - a private Pebble (the RFC 8555 test CA, Debian's pebble
# package) on loopback for a test, stopped when the test ends.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/pebble.sh"
#   pebble_start [EAB=1] [VALIDITY=SECONDS] [VERSION=2.10] [PEBBLE_VAR=VALUE]...
#
# pebble_start makes the TLS CA and the listener certificate with openssl
# (the package ships none), writes the configuration on free ports and
# starts pebble with PEBBLE_VA_NOSLEEP=1 and the PEBBLE_* variables given
# (PEBBLE_WFE_NONCEREJECT, PEBBLE_ALTERNATE_ROOTS, PEBBLE_CHAIN_LENGTH,
# ...; Pebble's own default nonce rejection is 5 %).  It waits until the
# directory answers and exports:
#
#   PEBBLE_DIRECTORY   the directory URL, https://127.0.0.1:PORT/dir
#   PEBBLE_CA_BUNDLE   the CA of the listener certificate (--ca-bundle)
#   PEBBLE_MGMT        the management URL (/roots/N, /intermediates/N,
#                      /cert-status-by-serial/HEX)
#   PEBBLE_ROOT        a file with the issuing root, /roots/0
#   PEBBLE_HTTP_PORT   where Pebble validates http-01 (its httpPort)
#   PEBBLE_PID         the process (pebble_stop stops it; pebble_restart
#                      starts it again after a kill)
#   PEBBLE_LOG         its log
#
# EAB=1 requires External Account Binding with the key id
# $PEBBLE_EAB_KID, whose HMAC key (base64url) is in $PEBBLE_EAB_HMAC_FILE.
# VALIDITY sets certificateValidityPeriod (seconds).
#
# VERSION=2.10 starts Debian forky's Pebble 2.10 ($PEBBLE_NEW, unpacked
# under var/ by `make deps`, tests/lib/get-pebble.sh) instead of Debian
# 12's 2.4: it serves ACME Renewal Information (RFC 9773; the directory's
# renewalInfo), accepts "replaces" in new orders, and its management
# interface (on loopback, $PEBBLE_MGMT) sets an ARI window:
# pebble_set_ari CERT_PEM_FILE START END.  A test checks first with
# pebble_new_available and skips when it is not there.  VALIDITY is its
# default profile's validityPeriod.
#
# Pebble always gets -dnsserver, so that it asks nothing off this machine:
# the resolver of tests/lib/named.sh when $NAMED_RESOLVER_PORT is set
# (named_resolver_start), its primary when $NAMED_PORT is set, else a
# pebble-challtestsrv (DNS only) started here on first use, which answers
# A 127.0.0.1 for every name; $PEBBLE_CTS_MGMT is its management URL
# (/add-a, /set-txt, ...).  Several Pebbles may run in one test; the
# variables name the last one started.

PEBBLE=${PEBBLE:-pebble}
PEBBLE_NEW=${PEBBLE_NEW:-$PKI_TOP/var/pebble-2.10/usr/bin/pebble}
PEBBLE_CTS=${PEBBLE_CTS:-pebble-challtestsrv}

# _pebble_wait SECONDS PID CMD...: poll CMD every 50 ms until it succeeds;
# fail when PID died or the time is up.
_pebble_wait() {
	_pw_n=$(($1 * 20))
	_pw_pid=$2
	shift 2
	while [ "$_pw_n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$_pw_pid" 2>/dev/null || return 1
		sleep 0.05
		_pw_n=$((_pw_n - 1))
	done
	return 1
}

# The listener's CA and certificate (SAN localhost, 127.0.0.1, ::1), made
# once per test in $T/pebble-tls.
_pebble_tls() {
	_pt=$T/pebble-tls
	[ -f "$_pt/cert.pem" ] && return 0
	mkdir -p "$_pt"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 30 -subj "/CN=pebble test TLS CA" -keyout "$_pt/ca.key" \
		-out "$_pt/ca.pem" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=localhost -keyout "$_pt/key.pem" -out "$_pt/csr.pem" \
		2>/dev/null &&
	printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' \
		'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
		'extendedKeyUsage=serverAuth' > "$_pt/ext" &&
	openssl x509 -req -in "$_pt/csr.pem" -CA "$_pt/ca.pem" \
		-CAkey "$_pt/ca.key" -CAcreateserial -days 30 \
		-out "$_pt/cert.pem" -extfile "$_pt/ext" 2>/dev/null
}

# A DNS server for Pebble: named's resolver or primary, or a
# pebble-challtestsrv of our own.
_pebble_dns() {
	if [ -n "${NAMED_RESOLVER_PORT:-}" ]; then
		_pebble_dns_port=$NAMED_RESOLVER_PORT
		return 0
	fi
	if [ -n "${NAMED_PORT:-}" ]; then
		_pebble_dns_port=$NAMED_PORT
		return 0
	fi
	[ -n "${_pebble_cts_pid:-}" ] && return 0
	_pebble_dns_port='' _pc_mgmt=''	# set by free_port
	free_port _pebble_dns_port
	free_port _pc_mgmt
	( exec "$PEBBLE_CTS" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
		-dns01 "127.0.0.1:$_pebble_dns_port" -http01 "" -https01 "" \
		-tlsalpn01 "" -management "127.0.0.1:$_pc_mgmt" \
		) >"$T/challtestsrv.log" 2>&1 &
	_pebble_cts_pid=$!
	at_exit "kill $_pebble_cts_pid"
	PEBBLE_CTS_MGMT=http://127.0.0.1:$_pc_mgmt
	export PEBBLE_CTS_MGMT
	_pebble_wait 10 "$_pebble_cts_pid" curl -sf -X POST \
		-d '{"ip":"127.0.0.1"}' "$PEBBLE_CTS_MGMT/set-default-ipv4"
}

# pebble_new_available: Pebble 2.10 is there (make deps fetched it).
pebble_new_available() {
	[ -x "$PEBBLE_NEW" ]
}

# _pebble_config DIR EAB VALIDITY [VERSION]: DIR/pebble.json on free
# ports.
_pebble_config() {
	_pc_acme='' _pc_mgmt='' _pc_tls=''	# set by free_port
	free_port _pc_acme
	free_port _pc_mgmt
	free_port PEBBLE_HTTP_PORT
	free_port _pc_tls
	_pc_eab=false
	_pc_keys=
	if [ "$2" = 1 ]; then
		_pc_eab=true
		PEBBLE_EAB_KID=kid-1
		PEBBLE_EAB_HMAC_FILE=$1/eab.hmac
		# 48 random bytes, base64url as CAs hand them out
		openssl rand -base64 48 | tr '+/' '-_' | tr -d '=\n' \
			> "$PEBBLE_EAB_HMAC_FILE"
		chmod 600 "$PEBBLE_EAB_HMAC_FILE"
		_pc_keys=", \"externalAccountMACKeys\": {\"$PEBBLE_EAB_KID\": \"$(cat "$PEBBLE_EAB_HMAC_FILE")\"}"
		export PEBBLE_EAB_KID PEBBLE_EAB_HMAC_FILE
	fi
	_pc_profiles=
	[ "${4:-}" = 2.10 ] && _pc_profiles=", \"profiles\": {\"default\": {\"description\": \"pki tests\", \"validityPeriod\": $3}${5:+, $5}}"
	cat > "$1/pebble.json" <<EOF
{ "pebble": {
  "listenAddress": "127.0.0.1:$_pc_acme",
  "managementListenAddress": "127.0.0.1:$_pc_mgmt",
  "certificate": "$T/pebble-tls/cert.pem",
  "privateKey": "$T/pebble-tls/key.pem",
  "httpPort": $PEBBLE_HTTP_PORT, "tlsPort": $_pc_tls,
  "ocspResponderURL": "",
  "externalAccountBindingRequired": $_pc_eab$_pc_keys,
  "certificateValidityPeriod": $3$_pc_profiles } }
EOF
	PEBBLE_DIRECTORY=https://127.0.0.1:$_pc_acme/dir
	PEBBLE_MGMT=https://127.0.0.1:$_pc_mgmt
	export PEBBLE_DIRECTORY PEBBLE_MGMT PEBBLE_HTTP_PORT
}

# pebble_start [EAB=1] [VALIDITY=SECONDS] [VERSION=2.10] [PROFILES=JSON]
# [PEBBLE_VAR=VALUE]...  PROFILES (2.10): members of Pebble's "profiles"
# besides "default" (whose validity is VALIDITY), e.g.
# '"shortlived": {"description": "6 days", "validityPeriod": 518400}'.
pebble_start() {
	_ps_eab=0
	_ps_version=
	_ps_bin=$PEBBLE
	_ps_validity=157766400
	_ps_profiles=
	_ps_env="PEBBLE_VA_NOSLEEP=1"
	for _ps_a in "$@"; do
		case $_ps_a in
		EAB=*) _ps_eab=${_ps_a#EAB=} ;;
		VALIDITY=*) _ps_validity=${_ps_a#VALIDITY=} ;;
		VERSION=2.10) _ps_version=2.10 _ps_bin=$PEBBLE_NEW ;;
		PROFILES=*) _ps_profiles=${_ps_a#PROFILES=} ;;
		PEBBLE_*=*) _ps_env="$_ps_env $_ps_a" ;;
		*) echo "Bail out! pebble_start: $_ps_a?"; exit 1 ;;
		esac
	done
	_pebble_n=$((${_pebble_n:-0} + 1))
	_ps_dir=$T/pebble$_pebble_n
	mkdir -p "$_ps_dir"
	if ! _pebble_tls || ! _pebble_dns; then
		echo "Bail out! cannot set up Pebble's TLS or DNS"
		exit 1
	fi
	_pebble_config "$_ps_dir" "$_ps_eab" "$_ps_validity" "$_ps_version" \
		"$_ps_profiles"
	_pebble_env=$_ps_env _pebble_bin=$_ps_bin _pebble_dir=$_ps_dir
	_pebble_run
}

# _pebble_run: start $_pebble_bin with $_pebble_env on the configuration
# of $_pebble_dir (its log appended to) and wait until it serves its
# directory.
_pebble_run() {
	# shellcheck disable=SC2086 # _pebble_env is a list of VAR=VALUE words
	( cd "$_pebble_dir" && exec env $_pebble_env "$_pebble_bin" \
		-config "$_pebble_dir/pebble.json" \
		-dnsserver "127.0.0.1:$_pebble_dns_port" ) >>"$_pebble_dir/log" 2>&1 &
	PEBBLE_PID=$!
	at_exit "kill $PEBBLE_PID"
	PEBBLE_CA_BUNDLE=$T/pebble-tls/ca.pem
	PEBBLE_ROOT=$_pebble_dir/root0.pem
	PEBBLE_LOG=$_pebble_dir/log
	export PEBBLE_CA_BUNDLE PEBBLE_ROOT PEBBLE_PID PEBBLE_LOG
	if ! _pebble_wait 20 "$PEBBLE_PID" curl -sf --cacert "$PEBBLE_CA_BUNDLE" \
		"$PEBBLE_DIRECTORY" ||
		! curl -sf --cacert "$PEBBLE_CA_BUNDLE" -o "$PEBBLE_ROOT" \
		"$PEBBLE_MGMT/roots/0"; then
		echo "Bail out! Pebble did not start"
		sed 's/^/# /' "$_pebble_dir/log"
		exit 1
	fi
}

# pebble_restart: start the Pebble started last again, on the same ports
# with the same configuration (after pebble_stop, or a kill -9 of
# $PEBBLE_PID).  Pebble keeps everything in memory: the one that comes
# back knows no account, order or certificate of the one before.
pebble_restart() {
	wait "$PEBBLE_PID" 2>/dev/null
	_pebble_run
}

# pebble_stop: stop the Pebble started last.
pebble_stop() {
	kill "$PEBBLE_PID" 2>/dev/null
	wait "$PEBBLE_PID" 2>/dev/null
	return 0
}

# pebble_get PATH: GET a management URL of the last Pebble.
pebble_get() {
	curl -sf --cacert "$PEBBLE_CA_BUNDLE" "$PEBBLE_MGMT$1"
}

# pebble_set_ari CERT_PEM_FILE START END: Pebble 2.10's management
# interface answers the renewalInfo of the certificate with the window
# START .. END (RFC 3339) from now on.
pebble_set_ari() {
	jq -n --rawfile c "$1" --arg s "$2" --arg e "$3" \
		'{Certificate: $c, ARIResponse: ({suggestedWindow:
		  {start: $s, end: $e}} | tojson)}' |
	curl -sf --cacert "$PEBBLE_CA_BUNDLE" --data-binary @- \
		"$PEBBLE_MGMT/set-renewal-info/"
}
