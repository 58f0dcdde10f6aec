#!/bin/sh
# workflow.t - the front door `pki` as an admin uses it: db, ca, cert add,
# issue, status, export, serverPKI's options, hostile names, a missing CA
# passphrase that fails cleanly, and no key anywhere it must not be.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

all=$T/all	# everything pki printed, checked for keys at the end

# ------------------------------------------------------------ the CA
q "UPDATE localca_settings SET ca_algo = 'ec'"
capture pki ca init
is "$rc" 0 "pki ca init"
like "$out" "*new CA passphrase in $PKI_HOME/ca.pass*Local CA: issued instance 1 (ec)*" \
	"makes a passphrase file and the CA"
is "$(stat -c %a "$PKI_HOME/ca.pass")" 600 "the passphrase file is 0600"
capture pki ca init
is "$rc:$out" "0:pki: the local CA exists already (pki ca roll makes a new one)" \
	"a second init makes no second CA"

# ------------------------------------------------------------ cert add
capture pki cert add www.example.test -a rsa_plus_ec -m -A example.test -S https:443
is "$rc" 0 "pki cert add with altname, service, must-staple"
capture pki cert add mail.example.test -a ec -S smtp:25 -S submission:587
is "$rc" 0 "pki cert add with two services"
capture pki cert add app1 -t client -a ec
is "$rc" 0 "pki cert add of a client"
capture pki cert add www.example.test -a ec
is "$rc" 1 "the same name twice: exit 1"
like "$out" "*already in use*" "says it is in use"
capture pki cert add x.example.test -S nosuch:1
is "$rc" 1 "an unknown service: exit 1"
is "$(q "SELECT count(*) FROM subjects WHERE name = 'x.example.test'")" 0 \
	"and nothing of it is left"

long63=$(printf 'a%.0s' $(seq 63))
# shellcheck disable=SC2016 # '$(reboot)' is the hostile name itself
for bad in "a b.test" "a..b.test" "${long63}a.test" \
	"$(printf "$long63.%.0s" 1 2 3)${long63}x.test" '$(reboot)' \
	"'; DROP TABLE certificates; --"; do
	capture pki cert add "$bad"
	is "$rc" 1 "a bad name is rejected: $(printf '%.30s' "$bad")"
done
like "$out" "*?Subject name \"'; DROP TABLE certificates; --\": character other than*" \
	"the message says what is wrong with it"
is "$(q "SELECT count(*) FROM certificates")" 4 "the tables are intact, nothing stored"
capture pki -q cert add ok.test -A 'bad altname'
is "$rc" 1 "a bad altname is rejected with its certificate"
is "$(q "SELECT count(*) FROM subjects WHERE name = 'ok.test'")" 0 "all or nothing"

capture pki cert list www.example.test
is "$rc" 0 "pki cert list NAME"
like "$out" "*www.example.test*example.test*https*443*" "shows altname and service"
capture pki cert list nosuch.test
is "$rc" 1 "pki cert list of an unknown name: exit 1"

# ------------------------------------------------------------ issue
capture pki issue
is "$rc" 0 "pki issue"
like "$out" "*app1: issued instance * (ec), valid until 20*" "one line per certificate"
like "$out" "*www.example.test: issued instance * (ec+rsa), valid until 20*" \
	"both algorithms of rsa_plus_ec"
is "$(q "SELECT count(*) FROM certinstances WHERE state = 'issued'")" 4 \
	"three instances and the CA's"
capture pki issue
is "$rc:$out" "0:" "a second pki issue issues nothing"

capture pki status
is "$rc" 0 "pki status"
like "$out" "Certificates*www.example.test*Instances*Serial*www.example.test*issued*" \
	"lists certificates and instances"

# ------------------------------------------------------------ export
serial=$(q "SELECT max(id) FROM inst WHERE name = 'www.example.test'")
capture pki export "$serial" "$T/out dir"
is "$rc" 0 "pki export SERIAL DIR (a DIR with a space)"
for algo in ec rsa; do
	d="$T/out dir/www.example.test/$algo"
	ok "$algo: cert, chain, fullchain, key" test -s "$d/cert.pem" -a -s "$d/chain.pem" \
		-a -s "$d/fullchain.pem" -a -s "$d/key.pem"
	is "$(stat -c %a "$d/key.pem") $(stat -c %a "$d/cert.pem")" "600 644" \
		"$algo: the key is 0600, the certificate 0644"
	ok "$algo: the certificate verifies with its chain" \
		quiet openssl verify -x509_strict -CAfile "$d/chain.pem" "$d/cert.pem"
	is "$(cat "$d/cert.pem" "$d/chain.pem")" "$(cat "$d/fullchain.pem")" \
		"$algo: fullchain is cert + chain"
	is "$(openssl pkey -in "$d/key.pem" -pubout)" \
		"$(openssl x509 -in "$d/cert.pem" -noout -pubkey)" "$algo: the key is the certificate's"
done
capture pki export 99999 "$T/none"
is "$rc" 1 "exporting an unknown serial: exit 1"

# ------------------------------------------------------------ serverPKI
capture pki cert add s.example.test -a ec
capture pki -C -o s.example.test
is "$rc" 0 "pki -C -o NAME issues (serverPKI -C)"
like "$out" "s.example.test: issued instance *" "that one"
capture pki -n -o s.example.test
like "$out" "*s.example.test*issued*" "pki -n lists (serverPKI -n -v)"
case $out in *www.example.test*) fail "pki -n -o lists only the certificate named" ;;
*) pass "pki -n -o lists only the certificate named" ;; esac
if command -v bash >/dev/null; then
	# bash keeps OPTIND across functions: the selection must survive it.
	capture bash "$(command -v pki)" -n -o s.example.test
	case $out in *www.example.test*) fail "under bash too" ;;
	*) pass "under bash too" ;; esac
fi
s=$(q "SELECT max(id) FROM inst WHERE name = 's.example.test'")
capture pki -E "$s"
is "$rc" 0 "pki -E SERIAL exports (serverPKI -E)"
ok "into PKI_HOME/export" test -s "$PKI_HOME/export/s.example.test/ec/key.pem"
capture pki -W
is "$rc" 2 "an unknown serverPKI option: exit 2"
capture pki frobnicate
is "$rc" 2 "an unknown command: exit 2"
printf 'PKI_VERBOSE=1\n' > "$T/open.conf"
chmod 0666 "$T/open.conf"
capture env PKI_CONF="$T/open.conf" pki status
is "$rc" 2 "a pki.conf others may write is not sourced: exit 2"
like "$out" "*others may write it*" "and says so"
chown 12345 "$T/open.conf"
chmod 0644 "$T/open.conf"
capture env PKI_CONF="$T/open.conf" pki status
like "$rc:$out" "2:*owned by uid 12345*" "nor one another user owns"

# ------------------------------------------------------------ failures
capture pki cert add late.test -a ec
mv "$PKI_HOME/ca.pass" "$T/ca.pass.away"
capture pki issue
is "$rc" 2 "pki issue without the CA passphrase: exit 2"
like "$out" "*passphrase file $PKI_HOME/ca.pass: No such file or directory*pki-localca failed (exit 2)*" \
	"says what is missing and which stage failed"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'late.test'")" 0 "no instance, no claim left behind"
mv "$T/ca.pass.away" "$PKI_HOME/ca.pass"
capture pki issue
like "$out" "late.test: issued instance *" "with the passphrase back, the next run issues it"

# A stage that dies without passing its records on: the claims stay with
# the run, which is gone once it ends; the next run takes them over.
mkdir "$T/badbin"
for p in "$PKI_BUILD"/bin/pki-*; do ln -s "$p" "$T/badbin/"; done
rm "$T/badbin/pki-tlsa"
printf '#!/bin/sh\necho "pki-tlsa: crashed" >&2\nexit 2\n' > "$T/badbin/pki-tlsa"
chmod +x "$T/badbin/pki-tlsa"
capture pki cert add crash.test -a ec
PKI_BINDIR=$T/badbin capture pki issue
is "$rc" 2 "a stage that dies: exit 2"
like "$out" "*pki-tlsa failed (exit 2)*" "names the stage"
is "$(q "SELECT count(*) FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'crash.test' AND i.state = 'reserved'")" 1 "its claim is left to its run"
capture pki issue
like "$out" "*took over 1 claim (crash.test) from run * which is gone*crash.test: issued instance *" \
	"which is gone: the next run takes it over and issues it"
ok "and the event log says so" [ "$(q "SELECT count(*) FROM events WHERE name = 'crash.test'
	AND level = 'warning' AND message LIKE 'claim % taken over from run %, which is gone'")" -eq 1 ]

capture pki issue -o nosuch.test
is "$rc" 1 "pki issue -o of an unknown name: exit 1"
like "$out" "*-o: no certificate \"nosuch.test\"*pki-select: some records failed*" \
	"names the stage"

capture pki cert remove late.test
is "$rc" 0 "pki cert remove"
is "$(q "SELECT count(*) FROM subjects WHERE name = 'late.test'")" 0 "removes the certificate"
capture pki cert remove late.test
is "$rc" 1 "removing it again: exit 1"

# ------------------------------------------------------------ secrets
nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$all"
is "$(q "SELECT count(*) FROM events WHERE message LIKE '%PRIVATE KEY%'")" 0 \
	"none in the event log"

done_testing
