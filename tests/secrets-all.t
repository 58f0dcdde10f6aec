#!/bin/sh
# secrets-all.t - the workflows of an admin's day with the local CA (ca
# init, cert add, issue, status, export, distribute, schedule, renew,
# revoke, ca crl, metrics, report, -v -v everywhere, PKI_SYSLOG), while
# the process table is sampled: afterwards no private key that exists -
# the CA's and every certificate's, decrypted - nor the CA passphrase is
# in anything pki printed (stdout and stderr, verbose), in syslog, in the
# events and runs the database keeps, in a command line, or in any file
# of the run that group or others may read.  Each key is looked for as
# its PEM text, its base64 on one line, and the hex of its DER
# (secrets.sh, shared with secrets-net.t, which runs the workflows that
# reach other servers).
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# shellcheck source=tests/lib/syslog.sh
. "$(dirname "$0")/lib/syslog.sh"
# shellcheck source=tests/lib/secrets.sh
. "$(dirname "$0")/lib/secrets.sh"
pg_setup
if syslog_start; then
	syslog=1
	PKI_SYSLOG=local6
	export PKI_SYSLOG
elif [ -n "${CI:-}" ]; then
	echo "Bail out! no unshare -m with an overlay /dev for syslog"
	exit 1
fi

# Everything pki prints goes to $T/all (capture); command lines,
# sampled every 20 ms while the workflows run, to $T/ps; syslog to
# $SYSLOG.
secrets_sample_start
q "UPDATE localca_settings SET ca_algo = 'ec'"
capture ns pki -v -v ca init
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
mkdir -p "$T/loc" "$T/exp"
q "INSERT INTO disthosts (fqdn) VALUES ('localhost');
   INSERT INTO places (name, cert_path, mode) VALUES ('loc', '$T/loc/{}', 600)"
capture ns pki -v -v cert add www.example.test -a rsa_plus_ec -A example.test
capture ns pki -v -v cert add mail.example.test -a ec
capture ns pki -v -v cert add app1 -t client -a rsa
q "SELECT add_target('www.example.test', 'localhost', NULL, 'loc')" >/dev/null
q "SELECT add_target('mail.example.test', 'localhost', NULL, 'loc')" >/dev/null
capture ns pki -v -v issue
is "$rc" 0 "pki issue"
capture ns pki -v -v status
capture ns pki status --json
capture ns pki -v -v distribute
is "$rc" 0 "pki distribute"
www=$(q "SELECT i.id FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'www.example.test' ORDER BY i.id DESC LIMIT 1")
capture ns pki -v -v export "$www" "$T/exp"
is "$rc" 0 "pki export"
capture ns pki -v -v schedule
capture ns pki -v -v renew mail.example.test
serial=$(q "SELECT i.id FROM certinstances i JOIN subjects s ON s.certificate = i.certificate
	WHERE s.name = 'app1' ORDER BY i.id DESC LIMIT 1")
capture ns pki -v -v revoke "$serial"
capture ns pki -v -v ca crl "$T/crl.pem"
capture ns pki metrics "$T/pki.prom"
capture ns pki report --html "$T/report.html"
capture ns pki -v -v distribute
secrets_sample_stop
syslog_sync

# Every private key there is, in clear: the CA's and each instance's;
# and the CA passphrase.
is "$(secrets_db_keys)" "$(q "SELECT count(*) FROM certkeydata WHERE length(key) > 0")" \
	"the keys to look for: every one of the database, the CA's too"
secrets_needle "$(cat "$PKI_CA_PASSPHRASE_FILE")"

if [ -n "${syslog:-}" ]; then
	for p in pki pki-keygen pki-localca pki-deploy pki-store; do
		ok "syslog has lines of $p" grep -E -q "^<1[78][0-9]>.* $p(\[[0-9]+\])?: " "$SYSLOG"
	done
else
	skip "syslog: no mount namespace with an overlay /dev here (unshare -m)"
fi
secrets_check
# The files that hold keys are there, and closed.
is "$(stat -c %a "$T/loc/www.example.test/www.example.test_server_key.pem" 2>/dev/null ||
	find "$T/loc" -name '*key*' -exec stat -c %a {} + | sort -u)" 600 \
	"the deployed keys are mode 600 (the place's)"

done_testing
