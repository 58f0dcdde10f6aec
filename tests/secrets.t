#!/bin/sh
# secrets.t - every file that holds a secret is read by one reader with one
# rule: a regular file (no FIFO, device or symbolic link) that neither group
# nor others may read or write, of bounded size.  For each kind - the
# passphrase file, the CA key, the TSIG key, the EAB HMAC key, the ACME
# account key and account file - a FIFO is refused at once (never waited
# on), modes 0644 and 0660 are refused with the chmod to run, a symbolic
# link and an over-long file are refused, each in one line naming the file,
# and a good file of mode 0600 is used.  No server is needed: each program
# reads its secret files before it asks any server or database anything.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

# ------------------------------------------------------------ the files
# bad_files GOOD MAX: beside the good file GOOD, GOOD.fifo (a FIFO),
# GOOD.0644 and GOOD.0660 (GOOD with those modes), GOOD.link (a symbolic
# link to GOOD) and GOOD.long (GOOD and more, over MAX bytes, mode 0600).
bad_files() {
	mkfifo "$1.fifo"
	cp "$1" "$1.0644" && chmod 0644 "$1.0644"
	cp "$1" "$1.0660" && chmod 0660 "$1.0660"
	ln -s "$1" "$1.link"
	{ cat "$1"; head -c "$2" /dev/zero | tr '\0' '#'; } >"$1.long"
	chmod 0600 "$1.long"
}

umask 077
printf 'correct horse\n' >"$T/pass"
run pki-localca --init --algo ec --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass"
[ "$rc" = 0 ] || { echo "Bail out! no CA: $(cat "$T/err")"; exit 1; }
echo '{"name":"www.example.test","algos":["ec"]}' | pki-keygen | pki-csr >"$T/rec"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/acct.key" 2>/dev/null
jq -cn --rawfile k "$T/acct.key" \
	'{account: {directory: "https://127.0.0.1:1/dir", url: "https://127.0.0.1:1/acct/1", key: $k}}' \
	>"$T/acct.json"
printf 'key "update-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
	"$(openssl rand -base64 32)" >"$T/tsig.key"
openssl rand -base64 32 | tr '+/' '-_' | tr -d '=' >"$T/eab"

bad_files "$T/pass" 1025
bad_files "$T/ca.key" 1048576
bad_files "$T/tsig.key" 16384
bad_files "$T/eab" 1024
bad_files "$T/acct.key" 65536
bad_files "$T/acct.json" 262144

# ------------------------------------------------------------ the programs
# Each reads the file "$1"; the CA at 127.0.0.1:1 refuses connections.
dir=https://127.0.0.1:1/dir
export T dir
# shellcheck disable=SC2016 # expanded by sh -c, not here
{
	localca_pass='pki-localca --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" --passphrase-file "$1" <"$T/rec"'
	acme_pass='pki-acme rollover --account "$T/acct.json" --passphrase-file "$1" --timeout 1'
	localca_key='pki-localca --ca-cert "$T/ca.pem" --ca-key "$1" --passphrase-file "$T/pass" <"$T/rec"'
	dnsup_key='pki-dnsup --key-file "$1" </dev/null'
	acme_eab='pki-acme register --directory "$dir" --email admin@example.test --agree-tos --eab-kid kid-1 --eab-hmac-file "$1" --timeout 1'
	acme_key='pki-acme rollover --directory "$dir" --account-key "$1" --account-url https://127.0.0.1:1/acct/1 --timeout 1'
	acme_acct='pki-acme rollover --account "$1" --timeout 1'
	select_pass='PGHOST="$T/nodb" pki-select --serial 1 --with-keys --passphrase-file "$1"'
	store_pass='PGHOST="$T/nodb" pki-store --passphrase-file "$1" </dev/null'
}

# refused PROG WHAT CMD GOOD MAX: CMD refuses each bad file of GOOD, at
# once (within 5 s; timeout stops it at 10 s), exit 2, its first line on
# stderr "PROG: WHAT FILE: why".
refused() {
	_prog=$1 _what=$2 _cmd=$3 _good=$4 _max=$5
	for _case in fifo 0644 0660 link long; do
		_f=$_good.$_case
		case $_case in
		fifo) _why="a FIFO, not a regular file" ;;
		0644 | 0660) _why="group or others may read or write it (mode $_case); chmod 0600 it" ;;
		link) _why="a symbolic link; give the file itself" ;;
		long) _why="larger than $_max bytes" ;;
		esac
		_t0=$(date +%s)
		run timeout 10 sh -c "$_cmd" sh "$_f"
		_t1=$(date +%s)
		is "$rc:$(head -n 1 "$T/err")" "2:$_prog: $_what $_f: $_why" \
			"$_what, $_case: exit 2, one line naming the file and why"
		ok "... at once ($((_t1 - _t0)) s)" test $((_t1 - _t0)) -le 5
	done
}

# ------------------------------------------------------------ passphrase files
refused pki-localca "passphrase file" "$localca_pass" "$T/pass" 1025
run sh -c "$localca_pass" sh "$T/pass"
is "$rc:$(jq -r '.cert.ec.pem | length > 0' "$T/out")" "0:true" \
	"a passphrase file of mode 0600: pki-localca signs"
like "$(jq -r '.errors[0].message' "$T/out")" "null" "... without an error"

run timeout 10 sh -c "$localca_pass" sh "$T/pass.0644"
is "$(jq -r '.errors[0] | "\(.field): \(.message)"' "$T/out")" \
	"ca: no CA: cannot read the CA passphrase file $T/pass.0644" \
	"... refused, the record still comes out with the error"

refused pki-acme "passphrase file" "$acme_pass" "$T/pass" 1025

# pki-select and pki-store read it before they connect to the database
# (here: none).
refused pki-select "passphrase file" "$select_pass" "$T/pass" 1025
run sh -c "$select_pass" sh "$T/pass"
like "$rc:$(cat "$T/err")" "2:pki-select: database: *" \
	"pki-select: a passphrase file of mode 0600: read, then the database is asked"
refused pki-store "passphrase file" "$store_pass" "$T/pass" 1025
run sh -c "$store_pass" sh "$T/pass"
like "$rc:$(cat "$T/err")" "2:pki-store: database: *" \
	"pki-store: a passphrase file of mode 0600: read, then the database is asked"

# ------------------------------------------------------------ CA keys
refused pki-localca "CA key file" "$localca_key" "$T/ca.key" 1048576
run timeout 10 sh -c "$localca_key" sh "$T/ca.key.0660"
is "$(jq -r '.errors[0] | "\(.field): \(.message)"' "$T/out")" \
	"ca: no CA: CA key file $T/ca.key.0660: group or others may read or write it (mode 0660); chmod 0600 it" \
	"... the record carries the reason"
run sh -c "$localca_key" sh "$T/ca.key"
is "$rc:$(jq -r '.cert.ec.pem | length > 0' "$T/out")" "0:true" \
	"a CA key file of mode 0600: pki-localca signs"
run sh -c "$localca_key" sh "$T/ca.key.0644"
ok "... no word of the key in a message" test -z "$(grep -e 'BEGIN' -e 'PRIVATE' "$T/err")"

# The CA certificate is public: any mode is fine, a symbolic link too,
# but a FIFO is refused at once too.
cp "$T/ca.pem" "$T/ca.pem.0644" && chmod 0644 "$T/ca.pem.0644"
ln -s "$T/ca.pem.0644" "$T/ca.pem.link"
run pki-localca --ca-cert "$T/ca.pem.link" --ca-key "$T/ca.key" --passphrase-file "$T/pass" <"$T/rec"
is "$rc" 0 "a CA certificate of mode 0644, through a symbolic link: used"
mkfifo "$T/ca.pem.fifo"
run timeout 10 pki-localca --ca-cert "$T/ca.pem.fifo" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass" <"$T/rec"
is "$rc:$(head -n 1 "$T/err")" "2:pki-localca: $T/ca.pem.fifo: not a regular file" \
	"a CA certificate that is a FIFO: refused at once, exit 2"

# ------------------------------------------------------------ TSIG keys
refused pki-dnsup "key file" "$dnsup_key" "$T/tsig.key" 16384
run sh -c "$dnsup_key" sh "$T/tsig.key"
is "$rc:$(cat "$T/err")" "0:" "a TSIG key file of mode 0600: used, nothing said"

# ------------------------------------------------------------ EAB HMAC keys
refused pki-acme "EAB HMAC file" "$acme_eab" "$T/eab" 1024
run sh -c "$acme_eab" sh "$T/eab"
like "$rc:$(cat "$T/err")" "2:pki-acme: cannot reach the ACME CA: *127.0.0.1*" \
	"an EAB HMAC file of mode 0600: read, then the CA is asked"
printf 'not*base64\n' >"$T/eab.bad"
run sh -c "$acme_eab" sh "$T/eab.bad"
is "$rc:$(cat "$T/err")" "2:pki-acme: EAB HMAC file $T/eab.bad: not a base64url HMAC key" \
	"an EAB HMAC file that is no key: refused before the CA is asked"

# ------------------------------------------------------------ ACME account keys
refused pki-acme "account key file" "$acme_key" "$T/acct.key" 65536
run sh -c "$acme_key" sh "$T/acct.key"
like "$rc:$(cat "$T/err")" "2:pki-acme: cannot reach the ACME CA: *127.0.0.1*" \
	"an account key file of mode 0600: read, then the CA is asked"
refused pki-acme "account file" "$acme_acct" "$T/acct.json" 262144
run sh -c "$acme_acct" sh "$T/acct.json"
like "$rc:$(cat "$T/err")" "2:pki-acme: cannot reach the ACME CA: *127.0.0.1*" \
	"an account file of mode 0600: read, then the CA is asked"

# A filter: the records still come out, the ACME one with the reason.
jq -c '.ca = "acme"' "$T/rec" >"$T/acme.rec"
run timeout 10 pki-acme order --account "$T/acct.json.fifo" <"$T/acme.rec"
is "$rc:$(jq -r '.errors[0].message' "$T/out")" \
	"2:no ACME account or CA: account file $T/acct.json.fifo: a FIFO, not a regular file" \
	"pki-acme order: an account file that is a FIFO: exit 2, the record says why"

nok "no key in any message" grep -q -e "PRIVATE KEY" -e "correct horse" "$T/stderr.all"
done_testing
