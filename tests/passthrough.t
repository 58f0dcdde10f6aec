#!/bin/sh
# passthrough.t - the stages that gather their batch (pki-dnsup, pki-acme
# finish) hold only the records they act on: every other record comes
# out the moment it is read, before the input ends, and memory does not
# grow with such records; a record with errors passes at once unless it
# needs an undo; an unreadable line is named and skipped; a setup error
# becomes an error of each record held while the others pass unchanged.
# No server is needed: no record here gets as far as the network.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
command -v /usr/bin/time >/dev/null 2>&1 || skip_all "no GNU time"

DEAD=''
free_port DEAD

# stage NAME [ARGS...]: pki-dnsup or pki-acme finish, with a resolver and
# a server that nothing listens on.
stage() {
	_s=$1
	shift
	case $_s in
	dnsup)	pki-dnsup --resolver "127.0.0.1:$DEAD" --server "127.0.0.1:$DEAD" \
			--timeout 2 "$@" ;;
	finish)	pki-acme finish --timeout 2 "$@" ;;
	esac
}

# locals N: N records the local CA signed, each with a certificate and a
# key of some size, none of them the business of either stage.
locals() {
	awk -v n="$1" 'BEGIN {
		k = sprintf("%1700s", ""); gsub(/ /, "A", k)
		c = sprintf("%1200s", ""); gsub(/ /, "B", c)
		for (i = 1; i <= n; i++)
			printf "{\"name\":\"l%d.test\",\"ca\":\"local\",\"algos\":[\"ec\"]," \
			    "\"key\":{\"ec\":\"-----BEGIN PRIVATE KEY-----\\n%s\\n" \
			    "-----END PRIVATE KEY-----\\n\"},\"cert\":{\"ec\":{\"pem\":" \
			    "\"%s\",\"chain\":\"%s\",\"serial\":\"%d\"}}}\n", i, k, c, c, i
	}'
}

# held NAME: a record of stage NAME's business: a dns-01 challenge to
# publish, an order to finish.
held() {
	case $1 in
	dnsup)	jq -cn '{name: "acme.test", ca: "acme", algos: ["ec"],
			challenges: [{type: "dns-01", owner: "_acme-challenge.acme.test.",
			txt: "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"}]}' ;;
	finish)	jq -cn '{name: "acme.test", ca: "acme", algos: ["ec"],
			acme: {account: "https://127.0.0.1/acct/1", orders: {ec: {
			url: "https://127.0.0.1/order/1",
			finalize: "https://127.0.0.1/finalize/1",
			authorizations: ["https://127.0.0.1/authz/1"]}}}}' ;;
	esac
}

# broken NAME: the setup error of stage NAME (a file that is not there),
# as an option and as the start of the error it gives a record held.
broken_opt() {
	case $1 in
	dnsup)	echo --key-file ;;
	finish)	echo --account ;;
	esac
}
broken_msg() {
	case $1 in
	dnsup)	echo "nothing published: key file $T/missing" ;;
	finish)	echo "no ACME account or CA: *$T/missing" ;;
	esac
}

# start NAME [ARGS...]: the stage reading the FIFO $T/i (fd 3 writes it)
# and writing the FIFO $T/o (fd 4 reads it); its pid in $pid.
start() {
	rm -f "$T/i" "$T/o"
	mkfifo "$T/i" "$T/o"
	stage "$@" <"$T/i" >"$T/o" 2>"$T/err" &
	pid=$!
	exec 3>"$T/i" 4<"$T/o"
}
# line: the next line the stage writes, if it does within 5 s.
line() {
	# shellcheck disable=SC2016 # $l is the inner shell's
	timeout 5 sh -c 'IFS= read -r l && printf "%s\n" "$l"' <&4
}
# finish_input: close the stage's input; what else it writes in
# $T/rest, its exit status in $rc.
finish_input() {
	exec 3>&-
	cat <&4 >"$T/rest"
	exec 4<&-
	rc=0
	wait "$pid" || rc=$?
	cat "$T/err" >>"$T/stderr.all"
}

locals 2 >"$T/two"
l1=$(sed -n 1p "$T/two")
l2=$(sed -n 2p "$T/two")

for s in dnsup finish; do
	# ---------------------------------------------------- at once
	start "$s"
	printf '%s\n' "$l1" >&3
	is "$(line)" "$l1" "$s: a record not its business comes out before the input ends"
	printf '%s\n' "$l2" >&3
	is "$(line)" "$l2" "$s: ... and the next one too"
	finish_input
	is "$rc:$(wc -c <"$T/rest")" "0:0" "$s: nothing more, exit 0"

	# A record with an error needs nothing of the stage: at once too.
	failed=$(held "$s" | jq -c '.errors = [{stage: "pki-acme", message: "failed"}]')
	start "$s"
	printf '%s\n' "$failed" >&3
	is "$(line)" "$failed" "$s: a record with errors passes at once, unchanged"
	finish_input
	is "$rc:$(wc -c <"$T/rest")" "0:0" "$s: ... exit 0"

	# ---------------------------------------------------- setup error
	# The record held waits for the batch; the one after it is not held
	# back.  The setup error becomes the held record's error.
	start "$s" "$(broken_opt "$s")" "$T/missing"
	held "$s" >&3
	printf '%s\n' "$l1" >&3
	is "$(line)" "$l1" "$s: the record after a held one comes out before it, at once"
	finish_input
	is "$rc:$(wc -l <"$T/rest")" "2:1" "$s: a setup error: exit 2, the held record written at the end"
	like "$(jq -r '.errors[0].message' "$T/rest")" "$(broken_msg "$s")*" \
		"$s: ... with an error naming the cause"
	is "$(jq -c 'del(.errors)' "$T/rest")" "$(held "$s")" "$s: ... and nothing else changed"
	like "$(cat "$T/err")" "*$T/missing*" "$s: ... said on stderr"

	# ---------------------------------------------------- unreadable line
	printf '%s\nnot json\n%s\n' "$l1" "$l2" >"$T/in"
	run stage "$s" <"$T/in"
	is "$rc" 1 "$s: a line that is not JSON: exit 1"
	like "$(cat "$T/err")" "*line 2: not JSON*" "$s: ... named by its number"
	is "$(cat "$T/out")" "$(printf '%s\n%s' "$l1" "$l2")" "$s: ... the other records all come out, unchanged"
	{ held "$s"; printf '%s\n[1]\n%s\n' "$l1" "$l2"; } >"$T/in"
	run stage "$s" "$(broken_opt "$s")" "$T/missing" <"$T/in"
	is "$rc:$(jq -r .name "$T/out" | tr '\n' ' ')" "2:l1.test l2.test acme.test " \
		"$s: a line that is not an object and a setup error: exit 2, every record out"
	like "$(cat "$T/err")" "*line 3: not a JSON object*" "$s: ... the line named"

	# ---------------------------------------------------- memory
	# 5,000 records with keys (21 MB) go through in little memory: only
	# the records held are kept.
	[ -e "$T/many" ] || locals 5000 >"$T/many"
	rc=0
	case $s in
	dnsup)	set -- pki-dnsup --resolver "127.0.0.1:$DEAD" --server "127.0.0.1:$DEAD" ;;
	finish)	set -- pki-acme finish ;;
	esac
	/usr/bin/time -f %M -o "$T/rss" "$@" <"$T/many" >"$T/out" 2>"$T/err" || rc=$?
	cat "$T/err" >>"$T/stderr.all"
	is "$rc" 0 "$s: 5,000 records with keys: exit 0"
	ok "$s: ... each passes unchanged" cmp -s "$T/out" "$T/many"
	rss=$(tail -n 1 "$T/rss")
	diag "$s: peak RSS $rss KB for 5,000 records of $(($(wc -c <"$T/many") / 1024)) KB"
	if [ -n "${PKI_ASAN:-}" ]; then
		pass "$s: peak RSS # SKIP the ASan build keeps freed memory"
	else
		ok "$s: peak RSS under 30 MB ($rss KB)" test "$rss" -lt 30000
	fi
done

# pki-dnsup --remove undoes for a record with errors: it is held (here it
# gets the setup error), while one with nothing published passes at once.
pub=$(jq -cn '{name: "pub.test", errors: [{stage: "pki-acme", message: "failed"}],
	dns: {published: [{owner: "_acme-challenge.pub.test.", type: "TXT", ttl: 60,
	data: "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", zone: "pub.test.",
	server: "127.0.0.1#53"}]}}')
start dnsup --remove --key-file "$T/missing"
printf '%s\n%s\n' "$pub" "$l1" >&3
is "$(line)" "$l1" "dnsup --remove: a record with nothing published comes out at once"
finish_input
is "$rc:$(jq -c '[.name, .errors[-1].message[0:18], (.dns.published | length)]' "$T/rest")" \
	'2:["pub.test","nothing withdrawn:",1]' \
	"dnsup --remove: a failed record with entries published is held, to be undone"

# A record too long to pass on goes on reduced, with an error of the
# stage, which then exits 1 although the record is not its business.
head -c 1500000 /dev/zero | tr '\0' A |
	awk '{ printf "{\"name\":\"big.test\",\"pad\":\"%s\"}\n", $0 }' >"$T/big"
for s in dnsup finish; do
	rc=0
	stage "$s" <"$T/big" >"$T/out" 2>"$T/err" || rc=$?
	is "$rc:$(jq -c '[.name, has("pad"), (.errors | length)]' "$T/out")" \
		'1:["big.test",false,1]' "$s: a 1.5 MB record comes out reduced: exit 1"
done
rm -f "$T/big"

nok "no private key on stderr" grep -q "$SECRET_PATTERN" "$T/stderr.all"
done_testing
