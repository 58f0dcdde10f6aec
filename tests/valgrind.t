#!/bin/sh
# valgrind.t - every program under valgrind on a small batch: no memory
# error, no definite or indirect leak.  (Not under the ASan build, whose
# programs cannot run under valgrind; that build checks the same itself.)
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
[ -n "${PKI_ASAN:-}" ] && skip_all "the ASan build checks memory itself"
command -v valgrind >/dev/null || skip_all "no valgrind"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"

vg() {	# vg NAME PROGRAM ARGS...: PROGRAM under valgrind, stdin to stdout
	_n=$1
	shift
	valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --log-file="$T/vg.$_n" "$@"
}
clean() {	# clean NAME: valgrind found nothing in run NAME
	if [ -s "$T/vg.$1" ]; then
		diag "$(cat "$T/vg.$1")"
		return 1
	fi
}

pg_setup
psql -X -q -c "UPDATE pki.localca_settings SET ca_algo = 'ec'"
pki -q ca init >/dev/null
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
pki -q cert add v1.test -a ec -A www.v1.test -S https:443
pki -q cert add v2.test -a rsa -m
pki -q cert add v3.test -a rsa_plus_ec

vg select pki-select --create > "$T/1"
is "$?" 0 "pki-select --create"
ok "pki-select: valgrind-clean" clean select
{ cat "$T/1"; echo 'not json'; echo '{"name":"bad..test","algos":["ec"]}'; } > "$T/1b"
vg keygen pki-keygen < "$T/1b" > "$T/2"
is "$?" 1 "pki-keygen (with a bad line)"
ok "pki-keygen: valgrind-clean" clean keygen
vg csr pki-csr < "$T/2" > "$T/3"
is "$?" 1 "pki-csr (with a bad name)"
ok "pki-csr: valgrind-clean" clean csr
vg localca pki-localca < "$T/3" > "$T/4"
is "$?" 0 "pki-localca (the errored record passes)"
ok "pki-localca: valgrind-clean" clean localca
vg tlsa pki-tlsa < "$T/4" > "$T/5"
is "$?" 0 "pki-tlsa"
ok "pki-tlsa: valgrind-clean" clean tlsa
vg store pki-store < "$T/5" > "$T/6"
is "$?" 0 "pki-store"
ok "pki-store: valgrind-clean" clean store
is "$(jq -r '.instance.state // "failed"' "$T/6" | sort | tr '\n' ' ')" \
	"failed issued issued issued " "three stored, the bad one logged"
serial=$(jq -r 'select(.name == "v3.test") | .instance.id' "$T/6")
vg serial pki-select --serial "$serial" --with-keys > "$T/7"
is "$?" 0 "pki-select --serial --with-keys"
ok "pki-select --serial: valgrind-clean" clean serial
printf 'x\n' > "$T/p"
chmod 600 "$T/p"
vg init pki-localca --init --algo ec --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/p"
is "$?" 0 "pki-localca --init"
ok "pki-localca --init: valgrind-clean" clean init
done_testing
