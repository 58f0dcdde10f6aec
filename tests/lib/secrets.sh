# secrets.sh - what the secrets tests (secrets-all.t, secrets-net.t)
# look for and where: every secret there is - each private key of the
# database in clear (every instance's, the CA's, the ACME accounts'),
# and the other secrets a test names (a TSIG secret, the CA passphrase)
# - searched for in what pki printed, the process table, syslog, the
# events and runs the database keeps, and every file of the run that
# group or others may read.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/secrets.sh"
#   secrets_sample_start      sample the command lines of the test's
#   secrets_sample_stop       processes (other tests may run beside it)
#                             every 20 ms, each new one a line of $T/ps,
#                             until stopped
#   secrets_db_keys           every private key of the database, in clear,
#                             PEM, into $SECRETS/keys.pem (the CA's
#                             decrypted with $PKI_CA_PASSPHRASE_FILE; the
#                             others as stored: a test that encrypts keys
#                             at rest would find fewer); how many on stdout
#   secrets_needle TEXT       look for TEXT as it is
#   secrets_needle_b64 B64    look for B64 and for the hex of its bytes
#   secrets_leaks FILE...     the FILEs where a needle is: in the text,
#                             or (a file that is not all text) in the
#                             hex of its bytes; one a line
#   secrets_readable          the files below $T and $PKI_HOME that group
#                             or others may read (the secrets' own not)
#   secrets_kinds             one file per kind of needle, each holding
#                             it in another form than the text the search
#                             looks for first (raw bytes for hex, a DER
#                             file, ...): secrets_leaks must name them all
#   secrets_check             the tests: no needle nor a PEM header of a
#                             private key in $T/all (what capture kept),
#                             $T/ps, $SYSLOG (syslog.sh), the events and
#                             runs; no needle in a file secrets_readable
#                             names; and each of secrets_kinds found
#
# What is looked for, per private key: each line of its PEM, its base64
# on one line, and the hex of its DER (in text, or in a file's bytes);
# per secret given as base64: that text and the hex of its bytes.  The
# needles and keys are kept in $SECRETS (mode 0700).

SECRETS=$T/secrets
mkdir -m 0700 "$SECRETS"
: >"$SECRETS/needles"
: >"$SECRETS/given"

secrets_sample_start() {
	python3 -c '
import os, sys, time
top, seen = int(sys.argv[1]), set()
out = open(sys.argv[2], "ab", buffering=0)
while True:
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/" + d + "/stat", "rb") as f:
                    st = f.read()
            except OSError:
                continue
            ppid = st[st.rindex(b")") + 2:].split()[1]
            kids.setdefault(ppid.decode(), []).append(d)
    todo = [str(top)]
    while todo:
        for k in kids.get(todo.pop(), []):
            todo.append(k)
            try:
                with open("/proc/" + k + "/cmdline", "rb") as f:
                    c = f.read().rstrip(b"\0").replace(b"\0", b" ")
            except OSError:
                continue
            if c and c not in seen:
                seen.add(c)
                out.write(c + b"\n")
    time.sleep(0.02)
' $$ "$T/ps" &
	_sc_sampler=$!
	at_exit "kill $_sc_sampler 2>/dev/null"
}

secrets_sample_stop() {
	kill "$_sc_sampler" 2>/dev/null
	wait "$_sc_sampler" 2>/dev/null
	return 0
}

# _sc_key_needles FILE: the needles of the PEM private key in FILE:
# each line of its PEM (but a short last one), the start of its base64
# on one line, the start of the hex of its DER and that hex in pieces
# of 64 digits (a leak of 127 digits or more in a row holds one).
_sc_key_needles() {
	sed '1d;$d' "$1" | awk 'length($0) >= 40'
	sed '1d;$d' "$1" | tr -d '\n' | cut -c1-80
	echo
	openssl pkey -in "$1" -outform DER | od -An -tx1 -v | tr -d ' \n' |
		awk '{ print substr($0, 1, 96)
			for (i = 1; i + 63 <= length($0); i += 64)
				print substr($0, i, 64) }'
}

secrets_db_keys() {
	(
		umask 077
		q "SELECT convert_from(key, 'UTF8') FROM certkeydata
			UNION ALL SELECT convert_from(key, 'UTF8') FROM acme_accounts" |
			awk -v pass="file:$PKI_CA_PASSPHRASE_FILE" '
			/-----BEGIN/ { f = "" }
			{ f = f $0 "\n" }
			/-----END/ {
				c = "openssl pkey -passin " pass " 2>/dev/null"
				printf "%s", f | c
				close(c)
			}'
	) >"$SECRETS/keys.pem"
	rm -f "$SECRETS"/key.*
	awk '/BEGIN PRIVATE KEY/ { n++ } n { print > (dir "/key." n) }' \
		dir="$SECRETS" "$SECRETS/keys.pem"
	for _k in "$SECRETS"/key.*; do
		[ -f "$_k" ] && _sc_key_needles "$_k"
	done | grep -v '^$' >>"$SECRETS/needles"
	grep -c -- '-----BEGIN PRIVATE KEY-----' "$SECRETS/keys.pem"
}

secrets_needle() {
	printf '%s\n' "$1" | tee -a "$SECRETS/given" >>"$SECRETS/needles"
}

secrets_needle_b64() {
	secrets_needle "$1"
	secrets_needle "$(printf '%s\n' "$1" | openssl base64 -d -A |
		od -An -tx1 -v | tr -d ' \n')"
}

secrets_leaks() {
	[ $# -gt 0 ] || return 0
	{
		grep -l -a -i -F -f "$SECRETS/needles" "$@"
		LC_ALL=C grep -l -a '[^[:print:][:space:]]' "$@" |
		while IFS= read -r _f; do
			od -An -tx1 -v "$_f" | tr -d ' \n' |
				grep -q -F -f "$SECRETS/needles" && echo "$_f"
		done
	} | sort -u
}

secrets_readable() {
	find "$T" "$PKI_HOME" -type f -perm /044 ! -path "$SECRETS/*" 2>/dev/null
}

secrets_kinds() {
	(
		umask 077
		mkdir -p "$SECRETS/kinds"
		_n=0
		for _k in "$SECRETS"/key.*; do
			_n=$((_n + 1))
			case $((_n % 3)) in
			0) cp "$_k" "$SECRETS/kinds/pem.$_n" ;;
			1) openssl pkey -in "$_k" -outform DER >"$SECRETS/kinds/der.$_n" ;;
			2) sed '1d;$d' "$_k" | tr -d '\n' >"$SECRETS/kinds/b64.$_n" ;;
			esac
		done
		_n=0
		while IFS= read -r _l; do	# the secrets given as themselves
			_n=$((_n + 1))
			case $_l in
			*[!0-9a-f]*) printf 'x=%s;\n' "$_l" >"$SECRETS/kinds/text.$_n" ;;
			*) perl -e 'print pack("H*", $ARGV[0])' "$_l" \
				>"$SECRETS/kinds/raw.$_n" ;;
			esac
		done <"$SECRETS/given"
	)
	find "$SECRETS/kinds" -type f | sort
}

# secrets_key_modes MODE DIR TRACE...: what strace -y (-f or -ff, -s 0)
# saw of the key files below DIR (a name with "key" in it) in each
# TRACE, against the place's MODE (octal, 600): a line "bad: ..." for each key file opened
# for writing but not created (O_CREAT|O_EXCL), created with or set to a
# mode wider than MODE, or written while its mode is wider or before it
# was created (in this trace), or a key file's name taken by a file
# whose life is not in the trace; then "key PATH MODE" for each file
# that took the name of a key file (rename, link) with its history
# clean, and the mode it had.  Each TRACE file is one process's (-ff)
# or a whole tree's (-f); the traces of syscalls that failed are left.
secrets_key_modes() {
	_km_mode=$1 _km_dir=$2
	shift 2
	awk -v place="$_km_mode" -v dir="$_km_dir/" '
	function oct(s,   n, i) {
		n = 0
		for (i = 1; i <= length(s); i++)
			n = n * 8 + substr(s, i, 1)
		return n
	}
	function wider(m, p,   i) {	# 1 if m has a bit p has not
		for (i = 0; i < 12; i++)
			if (int(m / 2 ^ i) % 2 == 1 && int(p / 2 ^ i) % 2 == 0)
				return 1
		return 0
	}
	function key(p) {
		if (index(p, dir) != 1)
			return 0
		sub(/.*\//, "", p)
		return p ~ /key/
	}
	function str(n,   s, i) {	# the n-th quoted string of the line
		s = $0
		for (i = 1; i <= n; i++) {
			if (!match(s, /"[^"]*"/))
				return ""
			if (i == n)
				return substr(s, RSTART + 1, RLENGTH - 2)
			s = substr(s, RSTART + RLENGTH)
		}
	}
	function fdpath(   s) {	# the path of the first fd argument
		if (!match($0, /\([0-9]+<[^>]*>/))
			return ""
		s = substr($0, RSTART, RLENGTH)
		sub(/^\([0-9]+</, "", s)
		sub(/>$/, "", s)
		return s
	}
	function lastmode(   s) {	# the last octal argument: 0600
		s = $0
		sub(/\) += .*/, "", s)
		sub(/.*, */, "", s)
		return s ~ /^0[0-7]*$/ ? oct(s) : -1
	}
	function bad(why) { print "bad: " FILENAME ": " why; nbad++ }
	FNR == 1 { split("", cur); split("", wrote) }
	{ sub(/^(\[pid +)?[0-9]+\]? +/, "") }
	/ = -1 / { next }
	/^(openat|open|creat)\(/ {
		p = str(1)
		if (p == "" || !key(p))
			next
		creat = /^creat\(/
		if (!creat && $0 !~ /O_WRONLY|O_RDWR/)
			next
		if (!creat && ($0 !~ /O_CREAT/ || $0 !~ /O_EXCL/)) {
			bad(p " opened for writing, not created (O_CREAT|O_EXCL)")
			next
		}
		m = lastmode()
		if (creat || m < 0 || wider(m, oct(place)))
			bad(sprintf("%s created with mode %o, the place'"'"'s is %s", p, m, place))
		cur[p] = m
		next
	}
	/^(write|pwrite64|writev|pwritev|pwritev2)\(/ {
		p = fdpath()
		if (p == "" || !key(p))
			next
		if (!(p in cur))
			bad(p " written, but not created in this trace")
		else if (wider(cur[p], oct(place)))
			bad(sprintf("%s written while its mode is %o", p, cur[p]))
		wrote[p] = 1
		next
	}
	/^(fchmod|chmod|fchmodat)\(/ {
		p = /^fchmod\(/ ? fdpath() : str(1)
		if (p == "" || !key(p))
			next
		m = lastmode()
		if (wider(m, oct(place)))
			bad(sprintf("%s set to mode %o, the place'"'"'s is %s", p, m, place))
		cur[p] = m
		next
	}
	/^(rename|renameat|renameat2|link|linkat)\(/ {
		s = str(1)
		d = str(2)
		if (!key(d) && !key(s))
			next
		if (!(s in cur) || !(s in wrote)) {
			bad(d " takes the place of " s ", whose life is not in this trace")
			next
		}
		cur[d] = cur[s]
		wrote[d] = 1
		final[d] = sprintf("%o", cur[d])
		next
	}
	END {
		for (d in final)
			print "key " d " " final[d]
		exit nbad > 0
	}' "$@"
}

secrets_check() {
	q "SELECT * FROM events" >"$T/events"
	q "SELECT * FROM runs" >"$T/runs"
	_rows=$(q "SELECT (SELECT count(*) FROM events) || ' ' ||
		(SELECT count(*) FROM runs)")
	ok "the events and runs are there to be searched" test \
		"$(wc -l <"$T/events")" -ge "${_rows% *}" -a \
		"$(wc -l <"$T/runs")" -ge "${_rows#* }" -a "${_rows% *}" -gt 0
	ok "the process table was sampled" test "$(grep -c 'pki-' "$T/ps")" -gt 10
	for _w in "$T/all" "$T/ps" "$T/events" "$T/runs" "$SYSLOG"; do
		is "$(secrets_leaks "$_w")" "" "no secret in ${_w##*/}"
		nok "... nor a PEM header for a key" grep -a -q 'PRIVATE KEY' "$_w"
	done
	secrets_readable >"$T/readable"
	# shellcheck disable=SC2046 # file names without blanks
	is "$(secrets_leaks $(cat "$T/readable"))" "" \
		"no secret in any of the $(wc -l <"$T/readable" | tr -d ' ') files group or others may read"
	_kinds=$(secrets_kinds)
	# shellcheck disable=SC2086 # file names without blanks
	is "$(secrets_leaks $_kinds | wc -l)" "$(echo "$_kinds" | wc -l)" \
		"the search finds each secret where there is one: PEM, DER, base64, raw bytes, text"
}
