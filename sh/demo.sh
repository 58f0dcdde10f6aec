#!/bin/sh
# demo.sh - what `make demo` runs: a private database under ./var, the
# local CA, three example certificates issued, exported to ./var/out,
# listed and checked with openssl verify.  Run it again: it issues nothing
# new while the certificates are valid.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
pki=$top/sh/pki
out=${PKI_HOME:-$PWD/var}/out

step() { printf '\n== %s\n' "$*"; }

step "private database (pki db init)"
"$pki" db init

step "local CA (pki ca init)"
"$pki" ca init

step "certificates (pki cert add)"
add() {
	if "$pki" -q cert list "$1" >/dev/null 2>&1; then
		echo "$1: configured already"
	else
		"$pki" cert add "$@"
	fi
}
add rsa.demo.test -a rsa -S https:443
add ec.demo.test -a ec -A www.ec.demo.test
add dual.demo.test -a rsa_plus_ec -m -A www.dual.demo.test \
	-A mail.dual.demo.test -S https:443 -S smtp:25

step "issue (pki issue)"
"$pki" issue

step "export to $out (pki export)"
eval "$("$pki" db env)"
for serial in $(psql -X -At -c "SELECT max(id) FROM pki.inst
		WHERE name LIKE '%.demo.test' AND state = 'issued'
		GROUP BY name ORDER BY name"); do
	"$pki" export "$serial" "$out"
done

step "status (pki status)"
"$pki" status

step "openssl verify"
rc=0
for dir in "$out"/*/*/; do
	dir=${dir%/}
	if openssl verify -x509_strict -purpose sslserver \
		-CAfile "$dir/chain.pem" "$dir/cert.pem"; then
		openssl x509 -in "$dir/cert.pem" -noout -subject -enddate \
			-ext subjectAltName,tlsfeature | sed 's/^/    /'
	else
		rc=1
	fi
done
exit $rc
