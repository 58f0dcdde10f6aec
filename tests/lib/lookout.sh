# lookout.sh - the certificates metrics.t and report.t look at, in the
# database of pg_setup (sourced after pg.sh):
#
#   lookout_certs THIRD
#
# a local CA; good.test deployed to a place in $T/loc, nodeploy.test whose
# place cannot be written, THIRD (a third local certificate), and
# fail.test, an ACME certificate whose CA is a port where nothing listens
# (PKI_ACME_DIRECTORY and PKI_ACME_CHALLENGE are exported for it).

lookout_certs() {
	q "UPDATE localca_settings SET ca_algo = 'ec'"
	pki -q ca init
	mkdir -p "$T/loc"
	q "INSERT INTO disthosts (fqdn) VALUES ('localhost');
	   INSERT INTO places (name, cert_path) VALUES ('loc', '$T/loc/{}'),
		('bad', '/proc/pki-lookout/{}')"
	pki -q cert add good.test -a ec
	q "SELECT add_target('good.test', 'localhost', NULL, 'loc')" >/dev/null
	pki -q cert add nodeploy.test -a ec
	q "SELECT add_target('nodeploy.test', 'localhost', NULL, 'bad')" >/dev/null
	pki -q cert add "$1" -a ec
	PKI_ACME_DIRECTORY=https://127.0.0.1:9/dir PKI_ACME_CHALLENGE=http-01
	export PKI_ACME_DIRECTORY PKI_ACME_CHALLENGE
	pki -q cert add fail.test -c acme -a ec
}
