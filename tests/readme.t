#!/bin/sh
# readme.t - the README's pipeline typed by hand works exactly as written.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

# The indented block after "Any stage runs by hand", up to a blank line.
sed -n '/^Any stage runs by hand/,/^$/d; /^    umask 077/,/^$/p' "$PKI_TOP/README" |
	sed 's/^    //' > "$T/readme.sh"
like "$(cat "$T/readme.sh")" "umask 077*pki-localca --init*pki-keygen | pki-csr*" \
	"the README has the pipeline"
(cd "$T" && sh -e ./readme.sh) > "$T/out" 2>"$T/err"
is "$?" 0 "it runs as written"
is "$(jq -c '[.name, (.cert | keys), has("errors")]' "$T/out")" '["a.test",["ec"],false]' \
	"and makes a certificate"
jq -r .cert.ec.pem "$T/out" > "$T/a.pem"
ok "which the CA it made verifies" quiet openssl verify -CAfile "$T/ca.pem" "$T/a.pem"
is "$(cat "$T/err")" "" "without a message"
done_testing
