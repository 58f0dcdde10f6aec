#!/bin/sh
# deploy.t - pki-deploy against real OpenSSH servers, one per loopback
# address (web1.test = 127.0.0.2, ...): every file type with its files,
# contents, owners and modes; jails; pgLink; reload commands once per host
# and jail; a host that is down; a changed or unknown host key; a key or
# chain that does not match; SIGKILL in the middle of a batch; a reload
# that restarts openssl s_server; hostile names and paths; --consolidate;
# the local target with certbot's live/NAME layout; shell quoting; records
# not its own, or refused, passing at once while the batch is gathered.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/sshd.sh
. "$(dirname "$0")/lib/sshd.sh"
sshd_setup 4

# ------------------------------------------------------------ helpers
printf 'ca-pass\n' > "$T/pass"
chmod 600 "$T/pass"
pki-localca --init --algo ec --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" \
	--passphrase-file "$T/pass" >/dev/null 2>&1 || { echo "Bail out! no CA"; exit 1; }

# certs FILE ALGOS NAME...: records with certificate and key, one per NAME.
certs() {
	_f=$1 _a=$2
	shift 2
	for _n in "$@"; do
		printf '{"id":1,"name":"%s","algos":%s}\n' "$_n" "$_a"
	done | pki-keygen | pki-csr | pki-localca --ca-cert "$T/ca.pem" \
		--ca-key "$T/ca.key" --passphrase-file "$T/pass" > "$_f"
}
# place TYPE CERT_PATH [JSON]: a place, with the members of JSON.
place() {
	jq -nc --arg type "$1" --arg path "$2" --argjson more "${3:-null}" \
		'{name: ("p-" + $type), cert_file_type: $type, cert_path: $path,
		  key_path: null, uid: null, gid: null, mode: null,
		  chown_both: false, pg_link: false, reload_command: null}
		 + ($more // {})'
}
# target ID HOST PLACE [JAILROOT JAIL]
target() {
	jq -nc --argjson id "$1" --arg host "$2" --argjson place "$3" \
		--arg jr "${4:-}" --arg jail "${5:-}" \
		'{id: $id, disthost: $host, place: $place,
		  jailroot: (if $jr == "" then null else $jr end),
		  jail: (if $jail == "" then null else $jail end)}'
}
# with TARGET...: the records on stdin, each with these targets.
with() {
	_t=$(printf '%s\n' "$@" | jq -sc .)
	jq -c --argjson t "$_t" '.targets = $t'
}
# deploy [OPTIONS]: pki-deploy with the test's ssh_config, $T/in to $T/out.
deploy() {
	run pki-deploy --ssh-config "$SSH_CONFIG" "$@" < "$T/in"
}
# tree DIR: its files and links with mode and owner, sorted.
tree() {
	find "$1" -mindepth 1 \( -type f -printf '%P %m %U:%G\n' \) -o \
		\( -type l -printf '%P -> %l\n' \) | sort
}
# parts FILE: the PEM parts of the first record of FILE into FILE.cert,
# .key and .chain.
parts() {
	jq -j 'select(.name) | .cert.ec.pem' "$1" | head -c 100000 > "$1.cert"
	jq -j '.key.ec' "$1" > "$1.key"
	jq -j '.cert.ec.chain' "$1" > "$1.chain"
}
status() {	# status ID: the status of target ID in $T/out (one record)
	jq -r --arg id "$1" '.deployed[$id].status' "$T/out"
}
errmsg() {	# errmsg ID: the error of target ID in $T/out
	jq -r --arg id "$1" '.deployed[$id].error' "$T/out"
}

certs "$T/a.json" '["ec"]' a.test
parts "$T/a.json"
A=$T/a.json

# ------------------------------------------------------------ usage
run pki-deploy -h
is "$rc" 0 "-h: exit 0"
like "$(cat "$T/out")" "usage: pki-deploy *" "-h writes the usage"
run pki-deploy --jobs 0
is "$rc" 2 "--jobs 0: exit 2"
run pki-deploy --ssh-config "$T/nosuch"
is "$rc:$(cat "$T/err")" "2:pki-deploy: --ssh-config $T/nosuch: cannot be read" \
	"a missing ssh_config: exit 2, and says so"
run pki-deploy stray
is "$rc" 2 "an argument: exit 2"

# ------------------------------------------------------------ pass through
{
	jq -c 'del(.targets)' "$A"
	jq -c '.targets = [] | .errors = [{"stage":"x","message":"y"}]' "$A"
	echo '{"name":"plain.test"}'
} > "$T/in"
deploy
is "$rc" 0 "records without targets: exit 0"
is "$(jq -cS . "$T/out")" "$(jq -cS . "$T/in")" "they pass unchanged"

# ------------------------------------------------------------ at once
# pki-deploy holds only the records it deploys: any other comes out the
# moment it is read, before the input ends, and so does one it refuses;
# a record held does not hold back those after it.
rm -f "$T/fi" "$T/fo"
mkfifo "$T/fi" "$T/fo"
pki-deploy --ssh-config "$SSH_CONFIG" < "$T/fi" > "$T/fo" 2> "$T/err" &
pid=$!
exec 3> "$T/fi" 4< "$T/fo"
line() {	# line: the next line pki-deploy writes, if it does within 5 s
	# shellcheck disable=SC2016 # $l is the inner shell's
	timeout 5 sh -c 'IFS= read -r l && printf "%s\n" "$l"' <&4
}
fp=$(place separate "$T/web1/fifo/{}")
echo '{"name":"plain.test"}' >&3
is "$(line)" '{"name":"plain.test"}' "a record without targets comes out before the input ends"
with "$(target 5 web1.test "$fp")" < "$A" >&3
with "$(target 6 web1.test "$fp")" < "$A" | jq -c '.errors = [{"stage":"x","message":"y"}]' > "$T/failed"
cat "$T/failed" >&3
is "$(line)" "$(cat "$T/failed")" "... a record with errors too, after one held for the batch"
with "$(target 7 web1.test "$fp")" < "$A" | jq -c 'del(.key)' >&3
like "$(line | jq -r '.errors[0].message')" "missing (a target needs the key*" \
	"... and a record refused, with its error"
nok "... nothing deployed yet" test -e "$T/web1/fifo"
exec 3>&-
cat <&4 > "$T/out"
exec 4<&-
rc=0
wait "$pid" || rc=$?
cat "$T/err" >> "$T/stderr.all"
is "$rc:$(wc -l < "$T/out"):$(jq -r '.deployed["5"].status' "$T/out")" "1:1:ok" \
	"the input closed, the record held is deployed and written: exit 1 (one refused)"
ok "... its files are there" test -s "$T/web1/fifo/a.test/a.test_server_key.pem"

# ------------------------------------------------------------ file types
# One place per type, owner 1234:2345 and mode 440 for the key files.
owner='{"uid": 1234, "gid": 2345, "mode": 440}'
cat > "$T/expect" <<'EOF'
cert only|a.test/a.test_server_cert.pem 644 0:0
separate|a.test/a.test_server_cert.pem 644 0:0 a.test/a.test_server_key.pem 440 1234:2345
combine key|a.test/a.test_server_key_cert.pem 440 1234:2345
combine cacert|a.test/a.test_server_cert_cacert.pem 644 0:0 a.test/a.test_server_key.pem 440 1234:2345
combine both|a.test/a.test_server_key_cert_cacert.pem 440 1234:2345
certbot|a.test/bundle.pem 440 1234:2345 a.test/cert.pem 644 0:0 a.test/chain.pem 644 0:0 a.test/fullchain.pem 644 0:0 a.test/privkey.pem 440 1234:2345
EOF
while IFS='|' read -r type want; do
	dir=$T/web1/types/$(echo "$type" | tr ' ' _)
	with "$(target 11 web1.test "$(place "$type" "$dir/{}" "$owner")")" < "$A" > "$T/in"
	deploy
	is "$rc:$(status 11)" "0:ok" "$type: deployed"
	is "$(tree "$dir" | tr '\n' ' ')" "$want " "$type: exactly the expected files, owners and modes"
done < "$T/expect"
d=$T/web1/types
ok "cert only: the certificate" cmp "$d/cert_only/a.test/a.test_server_cert.pem" "$A.cert"
ok "separate: the key" cmp "$d/separate/a.test/a.test_server_key.pem" "$A.key"
cat "$A.key" "$A.cert" > "$T/kc"
ok "combine key: key and certificate" cmp "$d/combine_key/a.test/a.test_server_key_cert.pem" "$T/kc"
cat "$A.cert" "$A.chain" > "$T/cc"
ok "combine cacert: certificate and CA" cmp "$d/combine_cacert/a.test/a.test_server_cert_cacert.pem" "$T/cc"
cat "$A.key" "$A.cert" "$A.chain" > "$T/kcc"
ok "combine both: key, certificate and CA" \
	cmp "$d/combine_both/a.test/a.test_server_key_cert_cacert.pem" "$T/kcc"
ok "certbot: fullchain.pem is cert + chain" cmp "$d/certbot/a.test/fullchain.pem" "$T/cc"
ok "certbot: bundle.pem is key + fullchain (ssl-mgr)" cmp "$d/certbot/a.test/bundle.pem" "$T/kcc"
ok "certbot: chain.pem is the CA" cmp "$d/certbot/a.test/chain.pem" "$A.chain"
is "$(openssl pkey -in "$d/certbot/a.test/privkey.pem" -pubout)" \
	"$(openssl x509 -in "$d/certbot/a.test/cert.pem" -noout -pubkey)" \
	"certbot: privkey.pem is the certificate's key"
is "$(jq -r '.deployed["11"].files | map(.path | sub(".*/"; "")) | join(" ")' "$T/out")" \
	"cert.pem chain.pem fullchain.pem privkey.pem bundle.pem" "\"deployed\" lists the files"
is "$(jq -r '.deployed["11"].files[3] | [.mode, .sha256] | join(" ")' "$T/out")" \
	"0440 $(openssl dgst -sha256 -r "$d/certbot/a.test/privkey.pem" | cut -d' ' -f1 | tr a-f A-F)" \
	"with mode and SHA-256"

# serverPKI's extra chain file for an ACME certificate
with "$(target 12 web1.test "$(place separate "$T/web1/acme")")" < "$A" |
	jq -c '.ca = "acme"' > "$T/in"
deploy
is "$(tree "$T/web1/acme" | tr '\n' ' ')" \
	"a.test_server_cert.pem 644 0:0 a.test_server_cert_cacert_chain.pem 644 0:0 a.test_server_key.pem 400 0:0 " \
	"separate, ACME: the chained file too; the key 0400 by default"

# two algorithms, key_path of its own
certs "$T/dual.json" '["rsa","ec"]' dual.test
with "$(target 13 web1.test "$(place separate "$T/web1/dual/certs" \
	"{\"key_path\": \"$T/web1/dual/keys\"}")")" < "$T/dual.json" > "$T/in"
deploy
is "$(tree "$T/web1/dual" | tr '\n' ' ')" \
	"certs/dual.test_server_ec_cert.pem 644 0:0 certs/dual.test_server_rsa_cert.pem 644 0:0 keys/dual.test_server_ec_key.pem 400 0:0 keys/dual.test_server_rsa_key.pem 400 0:0 " \
	"rsa and ec: one set each, the keys in key_path"

# modes that give the key away are refused
for m in 644 416 288 4000; do
	with "$(target 14 web1.test "$(place separate "$T/web1/mode$m" "{\"mode\": $m}")")" \
		< "$A" > "$T/in"
	deploy
	is "$rc:$(status 14)" "1:failed" "mode $m: the target fails"
	nok "mode $m: nothing written" test -e "$T/web1/mode$m"
done
like "$(errmsg 14)" "*mode: not three octal digits*" "and says why"

# ------------------------------------------------------------ pgLink
with "$(target 15 web1.test "$(place separate "$T/web1/pg" '{"pg_link": true}')")" < "$A" > "$T/in"
deploy
is "$(tree "$T/web1/pg" | grep -- '->' | tr '\n' ' ')" \
	"postgresql.crt -> a.test_server_cert.pem postgresql.key -> a.test_server_key.pem " \
	"pgLink: postgresql.crt and postgresql.key link to the files"
ok "postgresql.key is the key" cmp "$T/web1/pg/postgresql.key" "$A.key"
with "$(target 16 web1.test "$(place separate "$T/web1/pg2/c" \
	"{\"pg_link\": true, \"key_path\": \"$T/web1/pg2/k\"}")")" < "$A" > "$T/in"
deploy
is "$(readlink "$T/web1/pg2/c/postgresql.key")" "$T/web1/pg2/k/a.test_server_key.pem" \
	"a key in key_path is linked by its path"

# ------------------------------------------------------------ jails
mkdir -p "$T/web2/jails/j1" "$T/web2/jails/j2"
jp=$(place "combine both" "/usr/local/etc/ssl")
with "$(target 21 web2.test "$jp" "$T/web2/jails" j1)" \
	"$(target 22 web2.test "$jp" "$T/web2/jails" j2)" < "$A" > "$T/in"
deploy
is "$rc:$(status 21):$(status 22)" "0:ok:ok" "two jails on one host"
is "$(tree "$T/web2/jails" | tr '\n' ' ')" \
	"j1/usr/local/etc/ssl/a.test_server_key_cert_cacert.pem 400 0:0 j2/usr/local/etc/ssl/a.test_server_key_cert_cacert.pem 400 0:0 " \
	"the files below <jailroot>/<jail>/"
with "$(target 23 web2.test "$jp" "$T/web2/jails" nojail)" < "$A" > "$T/in"
deploy
like "$rc:$(errmsg 23)" "1:*jails/nojail: the jail's root is missing*" \
	"a jail that does not exist: refused, not made"
nok "nothing made for it" test -e "$T/web2/jails/nojail"
mkdir -p "$T/web2/jails/j3/usr/local" "$T/outside"
ln -s "$T/outside" "$T/web2/jails/j3/usr/local/etc"
with "$(target 24 web2.test "$jp" "$T/web2/jails" j3)" < "$A" > "$T/in"
deploy
like "$(errmsg 24)" "*j3/usr/local/etc: a symbolic link inside the jail*" \
	"a link inside a jail: refused"
is "$(find "$T/outside" -type f | wc -l)" 0 "nothing written where the link points"

# ------------------------------------------------------------ reloads
# five certificates, each to web1, to two jails on web2 and to this
# machine; every place has a reload command that logs a line.
certs "$T/r.json" '["ec"]' r1.test r2.test r3.test r4.test r5.test
mkdir -p "$T/web2/rj/j1" "$T/web2/rj/j2"
# on web1 the command first checks that all five keys are in place
check=''
for n in 1 2 3 4 5; do check="$check test -s $T/web1/r/r$n.test/r$n.test_server_key.pem &&"; done
p1=$(place separate "$T/web1/r/{}" "$(jq -nc --arg c "$check echo web1 >> $T/reload.web1" '{reload_command: $c}')")
p2=$(place separate "/etc/ssl/{}" "$(jq -nc --arg c "echo {} >> $T/reload.web2" '{reload_command: $c}')")
p3=$(place certbot "$T/local/{}" "$(jq -nc --arg c "echo local >> $T/reload.local" '{reload_command: $c}')")
with "$(target 31 web1.test "$p1")" "$(target 32 web2.test "$p2" "$T/web2/rj" j1)" \
	"$(target 33 web2.test "$p2" "$T/web2/rj" j2)" "$(target 34 localhost "$p3")" \
	< "$T/r.json" > "$T/in"
s1=$(sshd_sessions web1.test)
s2=$(sshd_sessions web2.test)
deploy
is "$rc" 0 "five certificates to four targets each"
is "$(jq -r '.deployed[].status' "$T/out" | sort | uniq -c | tr -s ' ')" " 20 ok" "all twenty ok"
is "$(cat "$T/reload.web1")" "web1" \
	"web1: the reload ran once for five certificates, after all five keys were in place"
is "$(sort "$T/reload.web2" | tr '\n' ' ')" "j1 j2 " "web2: once per jail, {} the jail's name"
is "$(cat "$T/reload.local")" "local" "this machine: once"
is "$(( $(sshd_sessions web1.test) - s1 )):$(( $(sshd_sessions web2.test) - s2 ))" "1:1" \
	"one SSH session per host for the whole batch"
is "$(jq -r '.deployed["32"].reload | [.command, .status] | join(" ")' "$T/out" | head -1)" \
	"echo 'j1' >> $T/reload.web2 0" "\"deployed\" has the command run and its status"

p4=$(place "cert only" "$T/web1/rfail" '{"reload_command": "echo cannot reload >&2; exit 3"}')
with "$(target 35 web1.test "$p4")" < "$A" > "$T/in"
deploy
is "$rc:$(status 35)" "1:failed" "a reload command that fails fails the target"
is "$(jq -r '.deployed["35"].reload | "\(.status) \(.stderr)"' "$T/out")" "3 cannot reload" \
	"its exit status and stderr are recorded"
like "$(errmsg 35)" "reload: exit 3: cannot reload" "and the error says so"
ok "the files are there all the same" test -s "$T/web1/rfail/a.test_server_cert.pem"

# ------------------------------------------------------------ host down
certs "$T/x.json" '["ec"]' x1.test x2.test
with "$(target 41 web1.test "$(place separate "$T/web1/x/{}")")" \
	"$(target 42 web3.test "$(place separate "$T/web3/x/{}")")" < "$T/x.json" > "$T/in"
sshd_stop web3.test
deploy
is "$rc" 1 "one host down: exit 1"
is "$(jq -r '[.deployed["41"].status, .deployed["42"].status] | join(" ")' "$T/out" | sort -u)" \
	"ok failed" "the other host got its files, the one down failed"
is "$(jq -r '.deployed["42"].error' "$T/out" | head -1)" "web3.test: connect: Connection refused" \
	"with its error: the host, and why (nothing listens on its port)"
is "$(jq -r '.errors // [] | length' "$T/out" | sort -u)" 0 "a target's failure is not the record's"
is "$(find "$T/web1/x" -type f | wc -l)" 4 "web1 has both certificates"
sshd_start web3.test
deploy
is "$rc:$(jq -r '.deployed["42"].status' "$T/out" | sort -u)" "0:ok" "the next run, host up, completes it"

# ------------------------------------------------------------ host keys
sshd_rekey web3.test
with "$(target 43 web3.test "$(place separate "$T/web3/rekeyed")")" < "$A" > "$T/in"
deploy
like "$rc:$(errmsg 43)" "1:web3.test: host key CHANGED (now SHA256:*): refused*" \
	"a changed host key: refused"
nok "nothing written to that host" test -e "$T/web3/rekeyed"
grep -v "$(sshd_addr web3.test)" "$SSH_KNOWN_HOSTS" > "$T/kh.partial"
deploy --known-hosts "$T/kh.partial"
like "$(errmsg 43)" "web3.test: host key SHA256:* is not in known_hosts: refused*" \
	"an unknown host key: refused too (no trust on first use)"
nok "nothing written" test -e "$T/web3/rekeyed"
{ cat "$T/kh.partial"; sshd_known web3.test; } > "$SSH_KNOWN_HOSTS"
deploy
is "$(status 43)" ok "with the new key in known_hosts it deploys"

# ------------------------------------------------------------ agent
grep -v -e IdentityFile -e IdentitiesOnly "$SSH_CONFIG" > "$T/ssh_config.agent"
with "$(target 44 web1.test "$(place "cert only" "$T/web1/agent")")" < "$A" > "$T/in"
if eval "$(ssh-agent -s)" >/dev/null; then
	at_exit "kill $SSH_AGENT_PID"
	ssh-add -q "$SSH_KEY" 2>/dev/null
	run pki-deploy --ssh-config "$T/ssh_config.agent" < "$T/in"
	is "$rc:$(status 44)" "0:ok" "public-key authentication by the SSH agent"
	kill "$SSH_AGENT_PID"
	unset SSH_AUTH_SOCK SSH_AGENT_PID
fi
run pki-deploy --ssh-config "$T/ssh_config.agent" < "$T/in"
like "$rc:$(errmsg 44)" "1:web1.test: public-key authentication failed*" "no agent, no key: refused"
run pki-deploy --ssh-config "$T/ssh_config.agent" --identity "$SSH_KEY" < "$T/in"
is "$rc:$(status 44)" "0:ok" "--identity: the key file"
run pki-deploy --ssh-config "$SSH_CONFIG" --user nobody < "$T/in"
like "$(errmsg 44)" "web1.test: public-key authentication failed*" \
	"--user beats the ssh_config (nobody may not log in)"

# ------------------------------------------------------------ checks
certs "$T/b.json" '["ec"]' b.test
with "$(target 51 web1.test "$(place separate "$T/web1/bad")")" < "$T/b.json" |
	jq -c --rawfile k "$A.key" '.key.ec = $k' > "$T/in"
deploy
is "$rc" 1 "a key that does not match its certificate: exit 1"
is "$(jq -c '[.errors[0].field, .errors[0].message, has("deployed")]' "$T/out")" \
	'["key.ec","does not belong to the certificate",false]' "the record is refused"
nok "before anything was written" test -e "$T/web1/bad"
pki-localca --init --algo ec --ca-cert "$T/ca2.pem" --ca-key "$T/ca2.key" \
	--passphrase-file "$T/pass" >/dev/null 2>&1
with "$(target 52 web1.test "$(place separate "$T/web1/bad")")" < "$T/b.json" |
	jq -c --rawfile c "$T/ca2.pem" '.cert.ec.chain = $c' > "$T/in"
deploy
like "$(jq -r '.errors[0] | "\(.field): \(.message)"' "$T/out")" \
	"cert.ec: the chain does not verify the certificate: *" "a chain that does not verify: refused"
with "$(target 53 web1.test "$(place separate "$T/web1/bad")")" < "$T/b.json" |
	jq -c 'del(.key)' > "$T/in"
deploy
like "$(jq -r '.errors[0].message' "$T/out")" "missing (a target needs the key*" \
	"no key for a place that needs one: refused"
nok "nothing written for any of them" test -e "$T/web1/bad"
with "$(target 54 web1.test "$(place "cert only" "$T/web1/nokey")")" < "$T/b.json" |
	jq -c 'del(.key)' > "$T/in"
deploy
is "$rc:$(status 54)" "0:ok" "'cert only' needs no key"

# ------------------------------------------------------------ hostile values
# shellcheck disable=SC2016 # the $(...) are the hostile values themselves
for jail in '..' 'j1;touch pwned' '$(touch pwned)' 'a b' "j'1" '../j1'; do
	with "$(target 61 web2.test "$jp" "$T/web2/jails" "$jail")" < "$A" > "$T/in"
	deploy
	like "$rc:$(errmsg 61)" "1:jail *" "jail name $(printf '%.16s' "$jail"): rejected"
done
# shellcheck disable=SC2016
for host in 'web1.test;touch pwned' '-oProxyCommand=touch' 'web1.test ' '$(touch pwned)' \
	'../web1'; do
	with "$(target 62 "$host" "$(place separate "$T/web1/h")")" < "$A" > "$T/in"
	deploy
	like "$rc:$(errmsg 62)" "1:disthost *" "host name $(printf '%.16s' "$host"): rejected"
done
for path in "$T/web1/../evil" "relative/{}" "$T/web1/./x" "$T/web1//x" \
	"$(printf '%s/web1/a\nb' "$T")"; do
	with "$(target 63 web1.test "$(place separate "$path")")" < "$A" > "$T/in"
	deploy
	like "$rc:$(errmsg 63)" "1:place p-separate: cert_path *" "cert_path $(printf '%.24s' "$path" | tr '\n' ' '): rejected"
done
with "$(target 64 web2.test "$(place separate "/x")" "$T/web2/../web2/jails" j1)" < "$A" > "$T/in"
deploy
like "$(errmsg 64)" "jailroot *: a \".\" or \"..\" part" "a jailroot with \"..\": rejected"
nok "no hostile command ran" test -e pwned -o -e "$T/pwned" -o -e "$HOME/pwned"
weird="$T/web1/odd \$(touch $T/pwned2); \`id\` 'q'/{}"
with "$(target 65 web1.test "$(place "cert only" "$weird")")" < "$A" > "$T/in"
deploy
is "$rc:$(status 65)" "0:ok" "a path with spaces, \$(), ; and quotes is deployed as is"
ok "to exactly that path" test -s "$T/web1/odd \$(touch $T/pwned2); \`id\` 'q'/a.test/a.test_server_cert.pem"
nok "and nothing in it ran" test -e "$T/pwned2"

# shell quoting of what goes into a reload command: the Makefile builds
# deploy-quote from tests/unit/deploy-quote.c and pki-deploy's quote.c.
quote=$PKI_BUILD/tests/deploy-quote
ok "deploy-quote is built by make" test -x "$quote"
nl='
'
# shellcheck disable=SC2016
for v in '' "'" "a'b" '$(touch pwned)' '`id`' '; rm -rf /' '"x"' "\\" "a${nl}b" '*' "  "; do
	q=$("$quote" "$v")
	back=
	eval "back=$q"
	is "$back" "$v" "sh_quote: $(printf '%s' "$v" | tr '\n' '~') reads back exactly"
done
is "$("$quote" -e 'jexec {} service nginx reload; echo {}' "j'1")" \
	"jexec 'j'\\''1' service nginx reload; echo 'j'\\''1'" "sh_expand: every {} quoted"
# shellcheck disable=SC2016
is "$(sh -c "$("$quote" -e 'printf %s {}' '$(echo bad)')")" '$(echo bad)' \
	"a quoted value is inert in sh"
nok "nothing ran" test -e pwned
run "$quote" a b
is "$rc" 2 "deploy-quote with bad arguments: exit 2"

# ------------------------------------------------------------ consolidate
p5=$(place separate "$T/web1/con/{}" \
	"$(jq -nc --arg c "echo con >> $T/reload.con" '{pg_link: true, reload_command: $c}')")
with "$(target 71 web1.test "$p5")" "$(target 72 web2.test "$(place separate "$T/web2/con/{}")")" \
	< "$A" > "$T/in"
deploy
c=$T/web1/con/a.test
echo tampered > "$c/a.test_server_key.pem"
chmod 600 "$c/a.test_server_cert.pem"
rm "$c/postgresql.crt"
deploy --consolidate
is "$rc:$(status 71):$(status 72)" "0:ok:ok" "--consolidate"
like "$(jq -r '.deployed["71"].drift' "$T/out")" \
	"*a.test_server_cert.pem: other mode*a.test_server_key.pem: other contents*postgresql.crt: missing*" \
	"finds what drifted on a target"
is "$(jq -r '.deployed["71"].written, .deployed["72"].drift, .deployed["72"].written' "$T/out" | tr '\n' ' ')" \
	"true null false " "and rewrites only that target"
ok "the key is back" cmp "$c/a.test_server_key.pem" "$A.key"
is "$(stat -c %a "$c/a.test_server_cert.pem")" 644 "the mode is back"
is "$(readlink "$c/postgresql.crt")" a.test_server_cert.pem "the link is back"
is "$(cat "$T/reload.con")" "con
con" "the reload ran again for the target that was fixed"
deploy --consolidate
is "$(jq -r '[.deployed[].drift, .deployed[].written] | map(tostring) | join(" ")' "$T/out")" \
	"null null false false" "nothing drifted: nothing written"
is "$(wc -l < "$T/reload.con")" 2 "and no reload"

# ------------------------------------------------------------ local, live/
lp=$(place "certbot live" "$T/le")
with "$(target 81 localhost "$lp")" < "$A" | jq -c '.instance = {"id": 7, "state": "issued"}' > "$T/in"
deploy
is "$rc:$(readlink "$T/le/live/a.test")" "0:../archive/a.test/7" \
	"this machine, certbot live: live/NAME links to archive/NAME/INSTANCE"
ok "live/NAME/fullchain.pem is there" cmp "$T/le/live/a.test/fullchain.pem" "$T/cc"
certs "$T/a2.json" '["ec"]' a.test
parts "$T/a2.json"
with "$(target 81 localhost "$lp")" < "$T/a2.json" | jq -c '.instance = {"id": 8, "state": "issued"}' > "$T/in"
deploy
is "$(readlink "$T/le/live/a.test")" "../archive/a.test/8" "the next instance: the link moves at once"
ok "live/NAME/privkey.pem is the new key" cmp "$T/le/live/a.test/privkey.pem" "$T/a2.json.key"
is "$(stat -c %a "$T/le/live/a.test/privkey.pem")" 400 "mode 0400"
ok "the old version stays in archive/ (like certbot)" test -s "$T/le/archive/a.test/7/cert.pem"

# ------------------------------------------------------------ s_server
free_port TLS_PORT
cat > "$T/restart-tls" <<'EOF'
#!/bin/sh
# restart-tls DIR PORT: (re)start openssl s_server on DIR's files.
if [ -f "$1/s_server.pid" ]; then
	kill "$(cat "$1/s_server.pid")" 2>/dev/null
	while kill -0 "$(cat "$1/s_server.pid")" 2>/dev/null; do sleep 0.02; done
fi
nohup openssl s_server -quiet -www -accept "127.0.0.1:$2" -cert "$1/live/s.test/cert.pem" \
	-cert_chain "$1/live/s.test/chain.pem" -key "$1/live/s.test/privkey.pem" \
	</dev/null >/dev/null 2>&1 &
echo $! > "$1/s_server.pid"
i=0
until ss -Htln "( sport = :$2 )" | grep -q .; do
	i=$((i + 1)); [ "$i" -gt 250 ] && exit 1; sleep 0.02
done
EOF
at_exit "kill \$(cat '$T/web1/tls/s_server.pid') 2>/dev/null"
tp=$(place "certbot live" "$T/web1/tls" \
	"$(jq -nc --arg c "sh $T/restart-tls $T/web1/tls $TLS_PORT" '{reload_command: $c}')")
served() {	# the serial of the certificate s_server presents
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername s.test </dev/null 2>/dev/null |
		openssl x509 -noout -serial | sed 's/serial=//'
}
for v in 1 2; do
	certs "$T/s$v.json" '["ec"]' s.test
	with "$(target 91 web1.test "$tp")" < "$T/s$v.json" > "$T/in"
	deploy
	is "$rc:$(status 91)" "0:ok" "s_server, certificate $v deployed, reload (re)starts it"
	is "$(served)" "$(jq -r .cert.ec.serial "$T/s$v.json")" \
		"s_client sees certificate $v's serial"
done

# ------------------------------------------------------------ SIGKILL
names=$(seq -f 'k%03g.test' 1 150)
# shellcheck disable=SC2086 # the names are words
certs "$T/k1.json" '["ec"]' $names
# shellcheck disable=SC2086
certs "$T/k2.json" '["ec"]' $names
kt() { with "$(target 101 web1.test "$(place separate "$T/web1/kill/{}")")" \
	"$(target 102 web2.test "$(place "combine both" "$T/web2/kill")")"; }
kt < "$T/k1.json" > "$T/in"
deploy
is "$rc" 0 "150 certificates to two hosts"
hashes() { jq -r '.deployed[].files[] | "\(.path) \(.sha256)"' "$T/out" | sort; }
hashes > "$T/sha.old"
kt < "$T/k2.json" > "$T/in"
first=$T/web1/kill/k001.test/k001.test_server_key.pem
cp "$first" "$T/first.old"
pki-deploy --ssh-config "$SSH_CONFIG" --jobs 1 < "$T/in" > /dev/null 2>&1 &
pid=$!
i=0
while cmp -s "$first" "$T/first.old" && [ "$i" -lt 1000 ]; do i=$((i + 1)); sleep 0.005; done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
find "$T/web1/kill" "$T/web2/kill" -type f -name '*.pem' -exec sha256sum {} + |
	awk '{ print $2, toupper($1) }' | sort > "$T/sha.killed"
# (Each is whole if its hash is the old or the new one's: checked below.)
is "$(wc -l < "$T/sha.killed")" 450 "SIGKILL in the middle of a batch: every file there"
deploy --jobs 1
is "$rc" 0 "a re-run"
hashes > "$T/sha.new"
# shellcheck disable=SC2046 # three numbers
set -- $(awk 'FILENAME == ARGV[1] { o[$1] = $2; next }
	FILENAME == ARGV[2] { n[$1] = $2; next }
	{ if ($2 == o[$1]) old++; else if ($2 == n[$1]) new++; else bad++ }
	END { print old + 0, new + 0, bad + 0 }' "$T/sha.old" "$T/sha.new" "$T/sha.killed")
is "$3" 0 "after SIGKILL each file was the old one or the new one, never half"
ok "the kill came in the middle ($1 files old, $2 new)" test "$1" -gt 0 -a "$2" -gt 0
is "$(find "$T/web1/kill" "$T/web2/kill" -type f -name '*.pem' -exec sha256sum {} + |
	awk '{ print $2, toupper($1) }' | sort)" "$(cat "$T/sha.new")" \
	"the re-run converges: every file is the new one"
is "$(find "$T/web1/kill" "$T/web2/kill" -name '*.pki-new' | wc -l)" 0 \
	"and no temporary file is left"

# ------------------------------------------------------------ input errors
# A line that is not JSON in the middle of a batch: skipped, the others
# deployed and written.
certs "$T/m.json" '["ec"]' m1.test m2.test
mp=$(place "cert only" "$T/web1/m/{}")
{
	with "$(target 121 web1.test "$mp")" < "$T/m.json" | head -1
	echo '{"name": broken'
	with "$(target 121 web1.test "$mp")" < "$T/m.json" | tail -1
} > "$T/in"
deploy
is "$rc:$(wc -l < "$T/out")" "1:2" "a malformed line in the middle: exit 1, the two records written"
is "$(jq -r '.deployed["121"].status' "$T/out" | tr '\n' ' ')" "ok ok " "... both deployed"
is "$(find "$T/web1/m" -type f | wc -l)" 2 "... their files are there"
like "$(cat "$T/err")" "*line 2: not JSON*" "... the line said on stderr"

# A read error after some records (stdin a pipe made non-blocking and
# left open: read(2) fails with EAGAIN once the records are read): exit 2,
# and every record read is written: the one without targets at once, those
# held for the batch with an error, nothing deployed.
nonblocking() {	# nonblocking CMD...: CMD reading $T/in so
	perl -MFcntl -e '
		pipe(my $r, my $w) or die "pipe: $!";
		open(my $in, "<", shift @ARGV) or die "input: $!";
		my $data = do { local $/; <$in> };
		fcntl($r, F_SETFL, O_NONBLOCK) or die "fcntl: $!";
		syswrite($w, $data) == length($data) or die "the pipe is too small";
		my $pid = fork // die "fork: $!";
		if ($pid == 0) {
			open(STDIN, "<&", $r) or die "stdin: $!";
			close $w;
			exec @ARGV or die "exec: $!";
		}
		close $r;
		waitpid($pid, 0);
		exit($? >> 8);
	' "$T/in" "$@"
}
{
	echo '{"name":"plain.test"}'
	with "$(target 122 web1.test "$(place "cert only" "$T/web1/ro/{}")")" < "$T/m.json"
} > "$T/in"
rc=0
nonblocking pki-deploy --ssh-config "$SSH_CONFIG" > "$T/out" 2> "$T/err" || rc=$?
cat "$T/err" >> "$T/stderr.all"
is "$rc:$(wc -l < "$T/out")" "2:3" "a read error after three records: exit 2, all three written"
is "$(head -1 "$T/out")" '{"name":"plain.test"}' "... the one without targets unchanged"
is "$(sed 1d "$T/out" | jq -c '[.errors[0].field, .errors[0].message, has("deployed")]' | sort -u)" \
	'["deployed","nothing deployed: the batch could not be gathered",false]' \
	"... the others with an error saying they were not deployed"
is "$(sed 1d "$T/out" | jq -c 'del(.errors)')" "$(sed 1d "$T/in")" "... and otherwise unchanged"
nok "... nothing written" test -e "$T/web1/ro"
like "$(head -1 "$T/err")" "pki-deploy: cannot read input: *" "... the read error said on stderr"

# ------------------------------------------------------------ reload stderr
# A reload command's stderr, kept up to 4096 bytes, is its stderr only,
# however its stdout interleaves with it.
seq -f 'E%08g' 1 200 > "$T/e2000"	# 2000 bytes
seq -f 'E%08g' 1 500 > "$T/e5000"
for n in 2000 5000; do
	rp=$(place "cert only" "$T/web1/se$n" "$(jq -nc --arg c \
		"yes O | head -c 3000; cat $T/e$n >&2; yes o | head -c 70000" '{reload_command: $c}')")
	with "$(target 131 web1.test "$rp")" < "$A" > "$T/in"
	deploy
	jq -j '.deployed["131"].reload.stderr' "$T/out" > "$T/se$n"
	is "$rc:$(wc -c < "$T/se$n")" "0:$(( n < 4096 ? n : 4096 ))" \
		"reload stderr of $n bytes with stdout around it: $(( n < 4096 ? n : 4096 )) bytes kept"
	head -c 4096 "$T/e$n" > "$T/e$n.kept"
	ok "... exactly its stderr, none of its stdout" cmp "$T/se$n" "$T/e$n.kept"
done

# ------------------------------------------------------------ descriptors
# A reload command on this machine runs while the other hosts' SSH
# sessions are open: it inherits none of their sockets (nor any other
# descriptor) -- only stdin, stdout and stderr.
fdp() {	# fdp CMD: a place of its own with reload command CMD
	place "cert only" "$T/fd/$1" "$(jq -nc --arg c "$2" '{reload_command: $c}')"
}
with "$(target 141 web1.test "$(fdp w1 "touch $T/fd.w1; sleep 2")")" \
	"$(target 142 web2.test "$(fdp w2 "touch $T/fd.w2; sleep 2")")" \
	"$(target 143 web3.test "$(fdp w3 "touch $T/fd.w3; sleep 2")")" \
	"$(target 144 localhost "$(fdp l "n=0; until [ -e $T/fd.w1 ] && [ -e $T/fd.w2 ] && [ -e $T/fd.w3 ] || [ \$n -ge 500 ]; do sleep 0.02; n=\$((n + 1)); done; ls /proc/self/fd >&2")")" \
	< "$A" > "$T/in"
deploy
is "$rc:$(jq -r '.deployed[].status' "$T/out" | sort -u)" "0:ok" "a local reload while three SSH sessions are open"
is "$(jq -r '.deployed["144"].reload.stderr' "$T/out" | tr '\n' ' ')" "0 1 2 3  " \
	"... it has only 0, 1 and 2 (and 3, the directory ls reads)"

# ------------------------------------------------------------ server umask
# web4's SFTP server makes files with umask 0277 (even the owner's write
# bit goes): every file gets exactly its place's mode all the same.
sshd_stop web4.test
sed 's/^Subsystem.*/Subsystem sftp internal-sftp -u 0277/' "$SSHD_DIR/web4.test/sshd_config" \
	> "$SSHD_DIR/web4.test/sshd_config.new"
mv "$SSHD_DIR/web4.test/sshd_config.new" "$SSHD_DIR/web4.test/sshd_config"
sshd_start web4.test
with "$(target 151 web4.test "$(place separate "$T/web4/u/600/{}" '{"mode": 600}')")" \
	"$(target 152 web4.test "$(place separate "$T/web4/u/400/{}" '{"mode": 400}')")" \
	"$(target 153 web4.test "$(place "combine both" "$T/web4/u/640/{}" \
		'{"mode": 640, "uid": 1234, "gid": 2345}')")" < "$A" > "$T/in"
deploy
is "$rc:$(jq -r '.deployed[].status' "$T/out" | sort -u)" "0:ok" "a server with umask 0277: deployed"
is "$(tree "$T/web4/u" | tr '\n' ' ')" \
	"400/a.test/a.test_server_cert.pem 644 0:0 400/a.test/a.test_server_key.pem 400 0:0 600/a.test/a.test_server_cert.pem 644 0:0 600/a.test/a.test_server_key.pem 600 0:0 640/a.test/a.test_server_key_cert_cacert.pem 640 1234:2345 " \
	"... every file has exactly its place's mode"
deploy --consolidate
is "$rc:$(jq -r '[.deployed[] | .drift, .written] | map(tostring) | join(" ")' "$T/out")" \
	"0:null false null false null false" "... and --consolidate then finds no drift"

# ------------------------------------------------------------ this machine twice
# Two disthosts that are this machine (localhost and a --local name) with
# the same place: one worker writes both, one after the other, so they do
# not race on the temporary names; the place's command runs once.
lp2=$(place "combine both" "$T/twice/{}" "$(jq -nc --arg c "echo twice >> $T/reload.twice" \
	'{reload_command: $c}')")
with "$(target 161 localhost "$lp2")" "$(target 162 self.test "$lp2")" < "$T/k1.json" > "$T/in"
deploy --local self.test
is "$rc:$(jq -r '.deployed[].status' "$T/out" | sort | uniq -c | tr -s ' ')" "0: 300 ok" \
	"150 certificates to localhost and --local self.test, one place: all ok"
is "$(find "$T/twice" -type f -name '*.pem' | wc -l):$(find "$T/twice" -name '*.pki-new' | wc -l)" "150:0" \
	"... every file there, no temporary file left"
is "$(jq -r '.deployed["161"].files[0] | "\(.path) \(.sha256)"' "$T/out" | while read -r f h; do
	[ "$(sha256sum < "$f" | cut -d' ' -f1 | tr a-f A-F)" = "$h" ] || echo "$f"; done)" "" \
	"... each with the record's contents"
is "$(cat "$T/reload.twice")" twice "... the place's command ran once for this machine"

# ------------------------------------------------------------ unchanged
# A target that holds its files already is recorded, but neither
# rewritten nor reloaded; one whose files differ is both.
certs "$T/u.json" '["ec"]' u1.test u2.test
up=$(place separate "$T/web1/u/{}" "$(jq -nc --arg c "echo u >> $T/reload.u" '{reload_command: $c}')")
ulp=$(place "combine both" "$T/lu/{}" "$(jq -nc --arg c "echo lu >> $T/reload.lu" '{reload_command: $c}')")
with "$(target 171 web1.test "$up")" "$(target 172 localhost "$ulp")" < "$T/u.json" > "$T/in"
deploy
is "$rc:$(wc -l < "$T/reload.u"):$(wc -l < "$T/reload.lu")" "0:1:1" \
	"a first run writes, and reloads once per host"
stamps() { find "$T/web1/u" "$T/lu" -printf '%p %i %T@\n' | sort; }
stamps > "$T/stamps.1"
deploy
is "$rc:$(jq -r '.deployed[] | "\(.status) \(.written)"' "$T/out" | sort -u | tr '\n' ' ')" \
	"0:ok false " "the same again: every target ok, none written"
is "$(stamps)" "$(cat "$T/stamps.1")" "... no file touched (inodes and mtimes as they were)"
is "$(wc -l < "$T/reload.u"):$(wc -l < "$T/reload.lu")" "1:1" "... nothing reloaded"
is "$(jq -r '.deployed["171"].files | length' "$T/out" | sort -u)" 2 "... and the files it holds recorded"
echo tampered > "$T/web1/u/u2.test/u2.test_server_key.pem"
deploy
is "$(jq -r '"\(.name) \(.deployed["171"].written) \(.deployed["172"].written)"' "$T/out" | tr '\n' ' ')" \
	"u1.test false false u2.test true false " "a file that differs: that target is written, no other"
is "$(wc -l < "$T/reload.u"):$(wc -l < "$T/reload.lu")" "2:1" "... and its host reloaded, the other not"
jq -j 'select(.name == "u2.test") | .key.ec' "$T/u.json" > "$T/u2.key"
ok "... the key is right again" cmp "$T/web1/u/u2.test/u2.test_server_key.pem" "$T/u2.key"

# A reload that did not end well (it failed, or the run died before it)
# is run by the next run, although the files are in place by then: a
# marker beside the files says it is due until it succeeds.
rp=$(place "cert only" "$T/web1/rm/{}" \
	"$(jq -nc --arg c "echo try >> $T/reload.rm; test -e $T/rm.ok" '{reload_command: $c}')")
mark=$T/web1/rm/a.test/.a.test_server_cert.pem.pki-reload
with "$(target 173 web1.test "$rp")" < "$A" > "$T/in"
deploy
is "$rc:$(status 173):$(wc -l < "$T/reload.rm")" "1:failed:1" "a reload that fails fails the target"
ok "... its marker is left" test -e "$mark"
touch "$T/rm.ok"
deploy
is "$rc:$(jq -r '.deployed["173"] | "\(.status) \(.written) \(.reload.status)"' "$T/out"):$(wc -l < "$T/reload.rm")" \
	"0:ok false 0:2" "the next run: files in place, not written, but the reload runs"
nok "... and its marker is gone" test -e "$mark"
deploy
is "$rc:$(wc -l < "$T/reload.rm"):$(jq -r '.deployed["173"] | has("reload")' "$T/out")" "0:2:false" \
	"then no more reloads"

# ------------------------------------------------------------ reload timeout
# A reload command that outlives --timeout is killed with all it
# started, on a host over SSH as on this machine; one that ends in time
# is not.
kp() { place "cert only" "$T/rt/$1" "$(jq -nc --arg c "$2" '{reload_command: $c}')"; }
with "$(target 181 web1.test "$(kp w1 "sleep 1007 & sh -c 'sleep 1008'")")" \
	"$(target 182 localhost "$(kp l "sleep 1009")")" \
	"$(target 183 web2.test "$(kp w2 "sleep 0.2; echo done >> $T/rt.done")")" < "$A" > "$T/in"
deploy --timeout 3
is "$rc:$(status 181):$(status 182):$(status 183)" "1:failed:failed:ok" \
	"reloads that outlive --timeout 3 fail, one of 0.2 s does not"
is "$(errmsg 181)" "reload: timed out after 3 s: killed on the host" "... the error says so"
is "$(errmsg 182)" "reload: timed out after 3 s: killed" "... on this machine too"
is "$(pgrep -f 'sleep 100[789]' || true)" "" "... and no process of theirs is left, there or here"
is "$(cat "$T/rt.done")" "done" "the reload that ended in time did its work"

# ------------------------------------------------------------ errors
# A failure names what failed and why: a read-only file system, a host
# that closes the connection.
mkdir -p "$T/ro/d"
if mount --bind -o ro "$T/ro" "$T/ro" 2>/dev/null; then
	at_exit "umount '$T/ro'"
	with "$(target 191 web1.test "$(place "cert only" "$T/ro")")" \
		"$(target 192 web1.test "$(place "cert only" "$T/ro/{}")")" \
		"$(target 193 localhost "$(place "cert only" "$T/ro/d")")" < "$A" > "$T/in"
	deploy
	is "$rc:$(errmsg 191)" "1:create $T/ro/.a.test_server_cert.pem.pki-new: Read-only file system" \
		"a read-only file system over SFTP: the create that failed, and why"
	is "$(errmsg 192)" "mkdir $T/ro/a.test: Read-only file system" \
		"... a directory that cannot be made"
	is "$(errmsg 193)" "create $T/ro/d/.a.test_server_cert.pem.pki-new: Read-only file system" \
		"... and on this machine"
	umount "$T/ro"
	deploy
	is "$rc:$(jq -r '.deployed[].status' "$T/out" | sort -u)" "0:ok" "writable again: deployed"
else
	pass "# SKIP no read-only bind mount here"
fi
# shellcheck disable=SC2016 # $PPID is the remote shell's
with "$(target 194 web2.test "$(place "cert only" "$T/web2/cut" '{"reload_command": "kill -9 $PPID"}')")" \
	< "$A" > "$T/in"
deploy
# shellcheck disable=SC2016 # the command as it ran
is "$(errmsg 194)" 'reload: web2.test: connection lost (running kill -9 $PPID): the host closed it' \
	"a host that closes the connection: the host, and that it closed it"

# ------------------------------------------------------------ frozen host
# web3 stops answering (its sshd and sessions SIGSTOPped) in the middle
# of a batch: its connection is cut within --timeout, its targets fail
# naming it, and the other hosts get everything.
fz() { with "$(target 201 web1.test "$(place separate "$T/fz/w1/{}")")" \
	"$(target 202 web2.test "$(place separate "$T/fz/w2/{}")")" \
	"$(target 203 web3.test "$(place separate "$T/fz/w3/{}")")"; }
fz < "$T/k1.json" > "$T/in"
t0=$(date +%s.%N)
pki-deploy --ssh-config "$SSH_CONFIG" --timeout 2 < "$T/in" > "$T/out" 2> "$T/err" &
pid=$!
( sleep 60; kill -9 "$pid" ) 2>/dev/null &	# if it hangs for good
guard=$!
i=0
until [ -e "$T/fz/w3/k001.test/k001.test_server_key.pem" ] || [ "$i" -gt 2000 ]; do
	i=$((i + 1)); sleep 0.005
done
sshd_freeze web3.test
at_exit "sshd_thaw web3.test"
rc=0
wait "$pid" || rc=$?
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
kill "$guard" 2>/dev/null
cat "$T/err" >> "$T/stderr.all"
diag "a run with a host frozen in its middle, --timeout 2: $secs s"
ok "a host frozen in the middle: the run ends ($secs s, --timeout 2)" \
	awk -v s="$secs" 'BEGIN { exit !(s < 20) }'
is "$rc:$(jq -r '.deployed["201"].status, .deployed["202"].status' "$T/out" | sort | uniq -c | tr -s ' ')" \
	"1: 300 ok" "... exit 1; web1 and web2 got all 150 certificates"
jq -r '.deployed["203"] | select(.status == "failed") | .error' "$T/out" > "$T/fz.failed"
ok "... web3 froze before it had all" test -s "$T/fz.failed"
like "$(head -1 "$T/fz.failed")" "web3.test: no answer within 2 s (*): connection cut" \
	"... its targets fail, their error naming it"
is "$(grep -vc '^web3.test: no answer within 2 s' "$T/fz.failed")" 0 "... every one"
sshd_thaw web3.test
deploy
is "$rc:$(jq -r '.deployed[].status' "$T/out" | sort -u)" "0:ok" "thawed, the next run deploys web3 too"
is "$(jq -r '.deployed["203"] | select(.written) | .host' "$T/out" | wc -l)" "$(wc -l < "$T/fz.failed")" \
	"... writing only what web3 lacked"
is "$(find "$T/fz" -name '*.pki-new' | wc -l)" 0 "... and leaving no temporary file"

# ------------------------------------------------------------ atomic places
# A place with "atomic": the files of a certificate in a new version
# directory, each usual path a link into .pki-NAME/current, which one
# rename swaps: SIGKILL at any moment leaves every certificate with its
# own key.
ap=$(place separate "$T/at/{}" '{"atomic": true, "mode": 440}')
head -40 "$T/k1.json" | with "$(target 211 web1.test "$ap")" > "$T/in.1"
head -40 "$T/k2.json" | with "$(target 211 web1.test "$ap")" > "$T/in.2"
pairs() {	# "NAME sha256(cert) sha256(key)" of each, through the links
	(cd "$T/at" && sha256sum -- */*_cert.pem */*_key.pem) | awk '{ split($2, p, "/")
		if ($2 ~ /_cert.pem$/) c[p[1]] = $1; else k[p[1]] = $1 }
		END { for (n in c) print n, c[n], k[n] }' | sort
}
matched() {	# matched NAME: openssl finds the key of NAME's certificate
	[ "$(openssl x509 -in "$T/at/$1/${1}_server_cert.pem" -noout -pubkey)" = \
	  "$(openssl pkey -in "$T/at/$1/${1}_server_key.pem" -pubout)" ]
}
run pki-deploy --ssh-config "$SSH_CONFIG" < "$T/in.1"
is "$rc" 0 "an atomic place: deployed"
d=$T/at/k001.test
is "$(readlink "$d/k001.test_server_cert.pem") $(readlink "$d/k001.test_server_key.pem") $(readlink "$d/.pki-k001.test/current")" \
	".pki-k001.test/current/k001.test_server_cert.pem .pki-k001.test/current/k001.test_server_key.pem $(jq -r 'select(.name == "k001.test") | .cert.ec.serial' "$T/k1.json")" \
	"... each file a link into the version, through .pki-NAME/current"
is "$(stat -L -c %a "$d/k001.test_server_key.pem")" 440 "... the key with the place's mode"
ok "... openssl: the key is the certificate's" matched k001.test
pairs > "$T/pairs.1"
run pki-deploy --ssh-config "$SSH_CONFIG" < "$T/in.2"
pairs > "$T/pairs.2"
cat "$T/pairs.1" "$T/pairs.2" > "$T/pairs.valid"
ok "... the next instance: every link swapped" matched k040.test
bad=0 mixed=0 n=0
for delay in 0 0.02 0.05 0.1 0.15 0.25; do
	n=$((n + 1))
	in=$T/in.$(((n + 1) % 2 + 1))
	before=$(readlink "$d/.pki-k001.test/current")
	pki-deploy --ssh-config "$SSH_CONFIG" < "$in" > /dev/null 2>&1 &
	pid=$!
	i=0
	while [ "$(readlink "$d/.pki-k001.test/current")" = "$before" ] && [ "$i" -lt 1000 ]; do
		i=$((i + 1)); sleep 0.005
	done
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pairs > "$T/pairs.now"
	bad=$((bad + $(grep -cvxF -f "$T/pairs.valid" "$T/pairs.now")))
	for k in k001.test k020.test k040.test; do matched "$k" || bad=$((bad + 1)); done
	[ "$(grep -cxF -f "$T/pairs.1" "$T/pairs.now")" -gt 0 ] &&
		[ "$(grep -cxF -f "$T/pairs.2" "$T/pairs.now")" -gt 0 ] && mixed=$((mixed + 1))
done
is "$bad" 0 "SIGKILL during 6 atomic renewals of 40 certificates: every certificate always with its own key"
ok "... some kills came in the middle ($mixed of 6 left old and new certificates side by side)" test "$mixed" -gt 0
run pki-deploy --ssh-config "$SSH_CONFIG" --consolidate < "$T/in.2"
is "$rc:$(jq -r '.deployed[] | .status' "$T/out" | sort -u):$(pairs)" "0:ok:$(cat "$T/pairs.2")" \
	"a run after the kills completes them"
run pki-deploy --ssh-config "$SSH_CONFIG" --consolidate < "$T/in.2"
is "$rc:$(jq -r '.deployed[] | "\(.written) \(.drift)"' "$T/out" | sort -u)" "0:false null" \
	"... then --consolidate finds nothing to do"
is "$(find "$T"/at/*/ "$T"/at/*/.pki-*/current/ -maxdepth 1 -name '*.pki-new' | wc -l)" 0 \
	"... and no temporary file is left beside the files in use"
# versions KEYFILE-DIR: the version directories a certificate's store
# holds, sorted, on one line; prev: where "previous" points
versions() { find "$d/.pki-k001.test" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tr '\n' ' '; }
prev() { readlink "$d/.pki-k001.test/previous"; }
v1=$(jq -r 'select(.name == "k001.test") | .cert.ec.serial' "$T/k1.json")
v2=$(jq -r 'select(.name == "k001.test") | .cert.ec.serial' "$T/k2.json")
is "$(versions)" "$(printf '%s\n' "$v1" "$v2" | sort | tr '\n' ' ')" \
	"an atomic place keeps two versions: the one served and the one before"
is "$(prev)" "$v1" "... \"previous\" names the one before"
certs "$T/k3.json" '["ec"]' k001.test
head -1 "$T/k3.json" | with "$(target 211 web1.test "$ap")" > "$T/in.3"
v3=$(jq -r '.cert.ec.serial' "$T/k3.json")
run pki-deploy --ssh-config "$SSH_CONFIG" < "$T/in.3"
is "$rc:$(readlink "$d/.pki-k001.test/current"):$(prev)" "0:$v3:$v2" \
	"a third version: current is it, previous the one it replaced"
is "$(versions)" "$(printf '%s\n' "$v2" "$v3" | sort | tr '\n' ' ')" \
	"... and the oldest version is removed, its key with it"
ok "... the certificate served is still with its own key" matched k001.test
# A jail that plants its own "previous" (a link out of the store) gets
# nothing removed through it.
mkdir -p "$T/victim"
echo keep > "$T/victim/k001.test_server_cert.pem"
ln -sfn "$T/victim" "$d/.pki-k001.test/evil"
ln -sfn evil "$d/.pki-k001.test/previous"
head -1 "$T/k1.json" | with "$(target 211 web1.test "$ap")" > "$T/in.4"
run pki-deploy --ssh-config "$SSH_CONFIG" < "$T/in.4"
is "$rc:$(cat "$T/victim/k001.test_server_cert.pem"):$(prev)" "0:keep:$v3" \
	"a \"previous\" that is a link out of the store removes nothing there"
ln -sfn ../../../victim "$d/.pki-k001.test/previous"
run pki-deploy --ssh-config "$SSH_CONFIG" < "$T/in.3"
is "$rc:$(cat "$T/victim/k001.test_server_cert.pem")" "0:keep" \
	"... nor one that names a path"
with "$(target 212 web1.test "$(place separate "$T/at2/{}" '{"atomic": "yes"}')")" < "$A" > "$T/in"
deploy
is "$rc:$(errmsg 212)" "1:place p-separate: atomic: not true or false" "\"atomic\" is true or false, else refused"
nok "... and nothing written" test -e "$T/at2"

# ------------------------------------------------------------ memory
if [ -z "${PKI_ASAN:-}" ] && command -v valgrind >/dev/null; then
	with "$(target 111 web1.test "$(place certbot "$T/web1/vg/{}" '{"reload_command": "true"}')")" \
		"$(target 112 localhost "$(place "combine both" "$T/vg" '{"pg_link": true}')")" \
		< "$T/r.json" > "$T/in"
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --log-file="$T/vg.log" \
		pki-deploy --ssh-config "$SSH_CONFIG" --consolidate < "$T/in" > "$T/out" 2>/dev/null
	is "$?" 0 "under valgrind: deployed"
	is "$(cat "$T/vg.log")" "" "valgrind: no memory error, no leak"
fi

nok "no private key on stderr" grep -q "$SECRET_PATTERN" "$T/stderr.all"
done_testing
