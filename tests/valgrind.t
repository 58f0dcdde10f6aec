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
# pki-import: a certificate of the batch from files, and with another's
# key; an account key from a JWK (as certbot's josepy writes it).
( umask 077
jq -r 'select(.name == "v1.test") | .cert.ec.pem' "$T/5" > "$T/imp.crt"
jq -r 'select(.name == "v1.test") | .cert.ec.chain' "$T/5" > "$T/imp.chain"
jq -r 'select(.name == "v1.test") | .key.ec' "$T/4" > "$T/imp.key"
jq -r 'select(.name == "v2.test") | .key.rsa' "$T/4" > "$T/imp2.key" )
vg import pki-import pem --cert "$T/imp.crt" --key "$T/imp.key" \
	--chain "$T/imp.chain" > "$T/imp.rec"
is "$?:$(jq -r .name "$T/imp.rec")" "0:v1.test" "pki-import pem"
ok "pki-import pem: valgrind-clean" clean import
vg importbad pki-import pem --cert "$T/imp.crt" --key "$T/imp2.key" > /dev/null
is "$?" 1 "pki-import pem with another certificate's key"
ok "pki-import pem, refused: valgrind-clean" clean importbad
if /usr/bin/python3 -c 'import josepy' 2>/dev/null; then
	( umask 077; openssl genpkey -algorithm RSA -out "$T/acct.key" 2>/dev/null &&
	/usr/bin/python3 -c 'import sys, josepy
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
print(josepy.JWKRSA(key=k).json_dumps())' "$T/acct.key" > "$T/acct.jwk" )
	vg jwk pki-import account --jwk "$T/acct.jwk" --url https://ca.test/a/1 \
		--directory https://ca.test/dir > "$T/acct.rec"
	is "$?:$(jq -r .account.key_type "$T/acct.rec")" "0:rsa" "pki-import account"
	ok "pki-import account: valgrind-clean" clean jwk
else
	skip "no josepy (certbot's)"; skip "no josepy (certbot's)"
fi
serial=$(jq -r 'select(.name == "v3.test") | .instance.id' "$T/6")
vg serial pki-select --serial "$serial" --with-keys > "$T/7"
is "$?" 0 "pki-select --serial --with-keys"
ok "pki-select --serial: valgrind-clean" clean serial
# The DANE roll: v1.test deployed with an RRset published, a renewal
# with a new key prepublished, held back, and a deployed instance
# without TLSA records backfilled.
v1=$(jq -r 'select(.name == "v1.test") | .instance.id' "$T/6")
psql -X -q -c "UPDATE pki.certinstances SET state = 'deployed' WHERE id = $v1" \
	-c "INSERT INTO pki.tlsa_published (owner, rrset) SELECT owner,
		pki.tlsa_rrset(owner) FROM pki.tlsa_records WHERE certinstance = $v1"
pki-select --serial "$v1" --with-keys | jq -c 'del(.cert, .csr, .instance, .action)' |
	pki-keygen | pki-csr | pki-localca | pki-tlsa | pki-store >/dev/null
vg prepublish pki-select --tlsa prepublish > "$T/8"
is "$?:$(jq -r .action "$T/8")" "0:prepublish" "pki-select --tlsa prepublish"
ok "pki-select --tlsa prepublish: valgrind-clean" clean prepublish
vg storepre pki-store < "$T/8" > "$T/9"
is "$?:$(jq -r .instance.state "$T/9")" "0:prepublished" "pki-store of a prepublish"
ok "pki-store of a prepublish: valgrind-clean" clean storepre
vg waits pki-select --distribute > "$T/10"
is "$?:$(jq -r 'select(.name == "v1.test") | .action' "$T/10")" "0:wait" "pki-select --distribute: a wait"
ok "pki-select --distribute with a wait: valgrind-clean" clean waits
psql -X -q -c "DELETE FROM pki.tlsa_records WHERE certinstance = $v1"
vg backfill pki-select --tlsa backfill > "$T/11"
is "$?:$(jq -r .action "$T/11")" "0:tlsa-backfill" "pki-select --tlsa backfill"
ok "pki-select --tlsa backfill: valgrind-clean" clean backfill
pki-tlsa < "$T/11" > "$T/12"
vg storeback pki-store < "$T/12" > "$T/13"
is "$?:$(psql -X -At -c "SELECT count(*) FROM pki.tlsa_records WHERE certinstance = $v1")" "0:2" \
	"pki-store of a backfill"
ok "pki-store of a backfill: valgrind-clean" clean storeback
# The schedule: what is due, a renewal claimed with its key, a failure
# counted against the backoff and a success that forgets it.
vg schedule pki-select --schedule --now 2099-01-01T00:00:00Z > "$T/14"
is "$?:$(jq -r .action "$T/14" | sort -u | tr '\n' ' ')" "0:expire issue " \
	"pki-select --schedule"
ok "pki-select --schedule: valgrind-clean" clean schedule
vg renew pki-select --create --force --reuse -o v3.test > "$T/15"
is "$?:$(jq -r '[.action, (.key | keys | join("+")), (.renews.instance | type)] |
	join(" ")' "$T/15")" "0:renew ec+rsa number" "pki-select --create --force --reuse"
ok "pki-select --create --reuse: valgrind-clean" clean renew
jq -c '.errors = [{stage: "test", message: "failed"}]' "$T/15" > "$T/16"
vg backoff pki-store --now 2099-01-01T00:00:00Z < "$T/16" > /dev/null
is "$?:$(psql -X -At -c "SELECT failures FROM pki.schedule s JOIN pki.subjects n
	ON n.certificate = s.certificate WHERE n.name = 'v3.test'")" "0:1" \
	"pki-store of a failed renewal: one failure counted"
ok "pki-store of a failed renewal: valgrind-clean" clean backoff
pki-select --create --force --reuse -o v3.test | pki-keygen --reuse | pki-csr |
	pki-localca > "$T/17"
vg reset pki-store < "$T/17" > /dev/null
is "$?:$(psql -X -At -c "SELECT failures FROM pki.schedule s JOIN pki.subjects n
	ON n.certificate = s.certificate WHERE n.name = 'v3.test'")" "0:0" \
	"pki-store of a renewal: failures forgotten"
ok "pki-store of a renewal: valgrind-clean" clean reset
printf 'x\n' > "$T/p"
chmod 600 "$T/p"
vg init pki-localca --init --algo ec --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/p"
is "$?" 0 "pki-localca --init"
ok "pki-localca --init: valgrind-clean" clean init
done_testing
