#!/bin/sh
# hostile.t - hostile values through every door an administrator or a
# record opens: certificate names, altnames, services, profiles and
# challenges (pki cert add), places, their paths and reload commands
# (pki place add), disthosts and jailroots (SQL), the directory of pki
# export, the account of a certbot renewal file (pki import certbot), the
# contact and directory of pki-acme register, and the fields of the
# records each stage reads (pki-deploy, pki-tlsa, pki-dnsup, pki-store).
# Each value is either refused in one line that names the record and
# field (the others go on), or carried through literally: the file at
# exactly its path in the place, the remote command exactly the one
# configured (sshd's forced command logs what it was asked to run), SQL
# storing the very string.  At the end: no canary file, nothing written
# outside the places, the tables intact, no control character in
# anything printed.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# shellcheck source=tests/lib/sshd.sh
. "$(dirname "$0")/lib/sshd.sh"
sshd_setup 1
pg_setup
sshd_pki_conf 20
pg_local_ca

# Every command sshd runs for pki goes through $T/forced, which logs it
# (NUL-terminated) and runs it; sftp is sftp-server.
SFTP_SERVER=$(for f in /usr/lib/openssh/sftp-server /usr/libexec/sftp-server \
	/usr/libexec/openssh/sftp-server; do [ -x "$f" ] && echo "$f" && break; done)
cat > "$T/forced" <<EOF
#!/bin/sh
if [ "\$SSH_ORIGINAL_COMMAND" = internal-sftp ] || [ "\$SSH_ORIGINAL_COMMAND" = sftp ]; then
	exec $SFTP_SERVER
fi
printf '%s\0' "\$SSH_ORIGINAL_COMMAND" >> $T/remote.log
exec /bin/sh -c "\$SSH_ORIGINAL_COMMAND"
EOF
chmod 755 "$T/forced"
printf 'command="%s" %s\n' "$T/forced" "$(cat "$SSH_KEY.pub")" > "$SSHD_DIR/authorized_keys/root"
# A reload command that records its arguments, one per line.
cat > "$T/argv" <<EOF
#!/bin/sh
for a; do printf '%s|' "\$a"; done >> $T/argv.log
echo >> $T/argv.log
EOF
chmod 755 "$T/argv"

CANARY=$T/PWNED
long=$(printf '%65536s' '' | tr ' ' a)
# The hostile values, one per line of $T/values as JSON strings (they
# may hold newlines).  The first is every shell, path, format and SQL
# trick at once; the second the same with a trailing newline.
python3 - "$CANARY" "$long" > "$T/values" <<'EOF'
import json, sys
c, long = sys.argv[1:3]
sink = ("-a'b\"c\\d$(touch %s)e`touch %s`f;touch %s|g&h*i ../j %%s%%n"
	"\x01\x1b[31m'); DROP TABLE certificates;--\ntouch %s" % (c, c, c, c))
for v in [sink, sink + "\n", long, "$(touch %s)" % c, "`touch %s`" % c,
	  "x;touch %s" % c, "x|touch %s" % c, "x\ntouch %s" % c, "x\n", "'",
	  '"', "\\", "../../../../../tmp/x", "-oProxyCommand=touch %s" % c,
	  "-x", "a\x01b\x1b[31mc\x7f", "\u00fcml\u00e4ut.test",
	  "\u4f8b\u3048.test", "%s%n%s%n", "'); DROP TABLE certificates;--",
	  "b" * 64 + ".test", "a b", "*", "*.test", "a\tb", ".", "..", ""]:
    print(json.dumps(v))
EOF
ncli=2	# the values tried at every door of the command line
# value N: the Nth value, exactly (a trailing newline kept).
value() {
	_v=$(sed -n "${1}p" "$T/values" | jq -j .; printf x)
	printf '%s' "${_v%x}"
}
# short N: a printable name of value N for the test's description.
short() {
	sed -n "${1}p" "$T/values" | cut -c 1-24
}
# oneline GLOB: $out is one line that matches GLOB.
oneline() {
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || return 1
	# shellcheck disable=SC2254
	case $out in $1) return 0 ;; esac
	return 1
}
tables() {	# the tables of pki and dd
	q "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname IN ('pki', 'dd') AND c.relkind = 'r'"
}
tables0=$(tables)
touch "$T/start"
# sqlstr V: V as an SQL string literal.
sqlstr() {
	printf '%s.' "$1" | sed -e "s/'/''/g" -e "1s/^/'/" -e "\$s/\\.\$/'/"
}

# ------------------------------------------------------------ pki cert add
i=0
while [ "$i" -lt "$ncli" ]; do
	i=$((i + 1))
	v=$(value "$i"; printf x)
	v=${v%x}
	capture pki cert add "$v" -a ec
	is "$rc" 1 "cert add NAME $(short "$i"): refused"
	ok "in one line naming the field" oneline 'pki: ?Subject name "*'
	capture pki cert add "alt$i.test" -a ec -A "$v"
	ok "cert add -A $(short "$i"): refused in one line" oneline 'pki: ?Subject name "*'
	capture pki cert add "prof$i.test" -a ec -P "$v"
	if [ "$rc" -eq 0 ]; then
		is "$(q "SELECT acme_profile = $(sqlstr "$v") FROM certificates c
			JOIN subjects s ON s.certificate = c.id WHERE s.name = 'prof$i.test'")" t \
			"cert add -P $(short "$i"): the profile stored as is"
	else
		ok "cert add -P $(short "$i"): refused in one line" oneline 'pki: *profile*'
	fi
	capture pki cert add "svc$i.test" -a ec -S "$v:443"
	ok "cert add -S $(short "$i"):443: refused in one line" oneline 'pki: *service*'
	capture pki cert add "port$i.test" -a ec -S "https:$v"
	ok "cert add -S https:$(short "$i"): refused in one line" \
		oneline 'pki: -S https:*: the port is not a number'
	capture pki cert add "ch$i.test" -a ec -C "$v"
	ok "cert add -C $(short "$i"): refused in one line" \
		oneline 'pki: -C *: use dns-01, http-01 or dns-persist-01'
done
is "$(q "SELECT count(*) FROM subjects WHERE name !~ '^(prof[0-9]\.test|Local CA.*)$'")" 0 \
	"nothing stored but the profiles"

# ------------------------------------------------------------ pki place add
sink=$(value 1; printf x)
sink=${sink%x}
sinknl=$(value 2; printf x)
sinknl=${sinknl%x}
capture pki place add "$sinknl" --cert-path "$T/pn/{}"
is "$rc" 0 "place add NAME: a place's name is any text"
is "$(q "SELECT count(*) FROM places WHERE name = $(sqlstr "$sinknl")")" 1 \
	"stored exactly, the trailing newline too"
capture pki place add pl --cert-path "$T/x/{}" --mode "$sink"
ok "place add --mode hostile: refused in one line" oneline 'pki: *'
capture pki place add pl --cert-path "$T/x/{}" --type "$sink"
ok "place add --type hostile: refused in one line" oneline 'pki: *'
capture pki place add pl --cert-path "relative/{}"
ok "place add --cert-path relative: refused in one line" \
	oneline 'pki: ?Place "pl": cert_path "relative/{}": not absolute'
# The place on web1: a path of every shell character, a reload command
# that records its arguments.  Another on this machine.
rdir="$T/web1/odd \$(touch $CANARY) \`touch $CANARY\` 'q' \"d\" ;|&*%s%n"
reload="$T/argv {} 'a b' \"c;d\" \$((1+1))"
capture pki place add remote --cert-path "$rdir/{}" --reload "$reload"
is "$rc" 0 "place add: a path and a reload command of shell characters"
ldir="$T/local/it's \$(touch $CANARY) \`x\` \\ ../../a"
capture pki place add local --cert-path "$ldir/{}"
ok "a path with a \"..\" part: refused in one line" \
	oneline 'pki: ?Place "local": cert_path "*": a "." or ".." part'
capture pki place add local --cert-path "$T/a$(printf '\033[31m\nb')/{}"
ok "a control character: refused, the message without it" \
	oneline 'pki: ?Place "local": cert_path "*\\x1b?31m\\x0ab/{}": a control character'
capture pki place add local --cert-path "$T/a" --key-path "$T/a//b"
ok "--key-path with \"//\": refused" oneline 'pki: ?Place "local": key_path "*": an empty part ("//")'
capture q "INSERT INTO disthosts (fqdn, jailroot) VALUES ('j.test', 'jails')"
like "$out" 'ERROR:  ?Disthost "j.test": jailroot "jails": not absolute*' "a relative jailroot: refused"
ldir="$T/local/it's \$(touch $CANARY) \`x\` \\ ..a"
capture pki place add local --cert-path "$ldir/{}" --reload "$T/argv local {}"
is "$rc" 0 "a path with ', \$( ), \`, \\ and ..a: taken"
echo "PKI_DEPLOY_LOCAL=here.test" >> "$T/pki.conf"
q "INSERT INTO disthosts (fqdn) VALUES ('web1.test'), ('here.test')"
pki -q cert add h.test -a ec
q "SELECT add_target('h.test', 'web1.test', NULL, 'remote'),
	add_target('h.test', 'here.test', NULL, 'local'),
	add_target('h.test', 'web1.test', NULL, $(sqlstr "$sinknl"))" >/dev/null
pki -q issue -o h.test >/dev/null
: > "$T/remote.log"
capture pki distribute
is "$rc" 0 "pki distribute to the hostile places"
ok "the files in the remote place, at exactly its path" \
	test -s "$rdir/h.test/h.test_server_cert.pem" -a -s "$rdir/h.test/h.test_server_key.pem"
ok "in the local one" test -s "$ldir/h.test/h.test_server_cert.pem"
ok "in the place of the hostile name" test -s "$T/pn/h.test/h.test_server_cert.pem"
quoted=$(printf '%s' "$reload" | sed "s/{}/''/; s/'/'\\\\''/g")
is "$(tr '\0' '\n' < "$T/remote.log")" \
	"echo pki-deploy-pgid \$\$; exec /bin/sh -c '$quoted' </dev/null >/dev/null" \
	"the one command run on web1: exactly the configured reload command"
is "$(sort "$T/argv.log")" "local||
|a b|c;d|2|" "each reload command ran as configured, {} quoted"

# pki export SERIAL DIR: DIR is a directory, whatever it looks like ("-P"
# was an option of cd, which went to $HOME).
hserial=$(q "SELECT max(id) FROM inst WHERE name = 'h.test'")
mkdir "$T/exp"
xport() {	# xport FORMAT DIR: pki export of h.test from $T/exp
	# shellcheck disable=SC2016 # the inner shell expands them
	capture sh -c 'cd "$1" && pki export --format "$2" "$3" "$4"' sh "$T/exp" "$1" "$hserial" "$2"
}
for f in pem der; do
	xport "$f" -P
	is "$rc" 0 "pki export --format $f to -P"
done
ok "the files below ./-P" test -s "$T/exp/-P/h.test/ec/cert.pem" -a -s "$T/exp/-P/h.test/ec/cert.der"
nok "nothing in \$HOME" test -e "$HOME/h.test"
xport pem "$sink"
is "$rc" 0 "pki export to a directory of every shell character"
ok "the files below it, exactly" test -s "$T/exp/$sink/h.test/ec/cert.pem"
xport der "$sink"
ok "--format der (written by pki-deploy): a control character in the path refused in one line" \
	oneline 'pki: export h.test (ec): place export: cert_path "*": a control character'

# pki import certbot: a renewal file names the account's server and id,
# which make a path below the directory; one that climbs out of it is
# refused, and the account key it points at is never read.
cb=$T/certbot
mkdir -p "$cb/renewal" "$cb/live/l1" "$cb/archive/l1" "$cb/accounts/acme.test/dir" "$T/evil/x"
cp "$T/exp/-P/h.test/ec/cert.pem" "$cb/archive/l1/cert1.pem"
cp "$T/exp/-P/h.test/ec/chain.pem" "$cb/archive/l1/chain1.pem"
cp "$T/exp/-P/h.test/ec/key.pem" "$cb/archive/l1/privkey1.pem"
ln -s ../../archive/l1/cert1.pem "$cb/live/l1/cert.pem"
printf '{"uri": "https://evil.test/acct/1"}\n' > "$T/evil/x/regr.json"
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
	openssl ec -text -noout 2>/dev/null | python3 -c 'import base64, json, re, sys
t = sys.stdin.read()
def hx(label):
    m = re.search(label + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", t)
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
d, pub = hx("priv")[-32:].rjust(32, b"\0"), hx("pub")
b = lambda v: base64.urlsafe_b64encode(v).rstrip(b"=").decode()
print(json.dumps({"kty": "EC", "crv": "P-256", "d": b(d), "x": b(pub[1:33]),
	"y": b(pub[33:65])}))' > "$T/evil/x/private_key.json"
chmod 600 "$T/evil/x/private_key.json"
for acct in "server = https://../../evil
account = x" "server = https://acme.test/dir
account = ../../../../evil/x" "server = https://acme.test/dir
account = \$(touch $CANARY)"; do
	printf '%s\n' "$acct" > "$cb/renewal/l1.conf"
	capture pki import certbot "$cb"
	is "$(printf '%s\n' "$out" | grep -c '^pki: certbot account .*: \(not an account id\|server https://.*: a "\.",\)')" 1 \
		"certbot account $(printf '%s' "$acct" | tr '\n' ' ' | cut -c 1-40): refused in one line"
done
is "$(q "SELECT count(*) FROM acme_accounts WHERE url LIKE '%evil%'")" 0 \
	"the account key outside the certbot directory was never read"

# ------------------------------------------------------------ forged records
# Each value in each field a record gives a stage; every record comes
# out, refused with an error in one line naming its field, or done as is.
pki -q cert add r.test -a ec
pki-select --create -o r.test 2>>"$T/all" | pki-keygen 2>>"$T/all" | pki-csr 2>>"$T/all" |
	pki-localca 2>>"$T/all" > "$T/r"
jq -c 'del(.instance)' "$T/r" > "$T/r0"
place=$(jq -nc --arg p "$T/rec/{}" '{name: "rec", cert_file_type: "separate",
	cert_path: $p, key_path: null, mode: null, reload_command: null}')
jq -c --argjson pl "$place" --slurpfile vs "$T/values" '. as $r | $vs[] as $v |
	($r | .targets = [{id: 1, disthost: $v, place: $pl}]),
	($r | .targets = [{id: 1, disthost: "here.test", place: $pl,
		jailroot: "/", jail: $v}]),
	($r | .targets = [{id: 1, disthost: "here.test", place: ($pl |
		.cert_path = "\($pl.cert_path | rtrimstr("/{}"))/\($v)/{}")}]),
	($r | .targets = [{id: 1, disthost: "here.test", place: ($pl |
		.cert_path = "\($pl.cert_path | rtrimstr("/{}"))/n/{}" | .name = $v)}]),
	($r | .name = $v | .targets = [{id: 1, disthost: "here.test", place: $pl}])' \
	"$T/r0" > "$T/in"
n=$(wc -l < "$T/in")
run pki-deploy --local here.test < "$T/in"
cat "$T/err" >> "$T/all"
is "$(wc -l < "$T/out")" "$n" "pki-deploy: every forged record comes out ($n)"
is "$(jq -c 'select(.deployed["1"].status | IN("ok", "failed") | not)' "$T/out")" "" \
	"each one deployed, or its target failed"
is "$(jq -r '.deployed["1"] | select(.status == "failed") | .error |
	select(test("^(name|disthost|jail|place [^:]*: cert_path)[: ]") | not)' "$T/out")" "" \
	"the error names the field: name, disthost, jail or place's cert_path"
is "$(jq -r 'select(.deployed["1"].status == "ok") | .name' "$T/out" | sort -u | tr '\n' ' ')" \
	"*.test r.test " "deployed: the names that are names (a wildcard's files named _.test)"
jq -r 'select(.deployed["1"].status == "ok") | .deployed["1"].files[].path' "$T/out" | sort -u > "$T/paths"
ok "the files deployed are below the place, nowhere else" sh -c \
	"! grep -v '^$T/rec/' '$T/paths' && test -s '$T/paths' && test \"\$(find '$T/rec' -type f | wc -l)\" -eq \"\$(wc -l < '$T/paths')\""

# What is not UTF-8 (a message cut in a character, a reload command's
# stderr in Latin-1) is still said, with "?" for those bytes; jansson
# refused it, and the error or the reload's result was lost.
u=a$(python3 -c 'print("\u00fc" * 3000)')
jq -c --arg u "$u" --arg p "$T/rec/{}" --arg r "printf 'caf\\351 \\377\\n' >&2; exit 3" '
	(.targets = [{id: 1, disthost: "here.test", jailroot: "/", jail: $u,
		place: {name: "rec", cert_file_type: "separate", cert_path: $p}}]),
	(.targets = [{id: 1, disthost: "here.test", place: {name: "rec",
		cert_file_type: "separate", cert_path: $p, reload_command: $r}}])' \
	"$T/r0" > "$T/in"
run pki-deploy --local here.test < "$T/in"
cat "$T/err" >> "$T/all"
like "$(jq -r '.deployed["1"].error' "$T/out" | head -n 1)" 'jail "a*?": not 1 to 64 characters' \
	"a jail name cut in a character: its error kept"
is "$(jq -c '.deployed["1"] | [.error, .reload.stderr]' "$T/out" | sed -n 2p)" \
	'["reload: exit 3: caf? ?","caf? ?\n"]' "a reload command's stderr in Latin-1: its result kept"

# pki-tlsa: the port, the protocol of the prefix, the name.
jq -c --slurpfile vs "$T/values" '. as $r | $vs[] as $v |
	($r | .services = [{name: "https", port: $v}]),
	($r | .services = [{name: "https", tlsa_prefix: "_443._\($v).{}. 3600 IN TLSA 3 1 1"}]),
	($r | .services = [{name: $v, port: 443}])' "$T/r0" > "$T/in"
n=$(wc -l < "$T/in")
run pki-tlsa < "$T/in"
cat "$T/err" >> "$T/all"
is "$(wc -l < "$T/out")" "$n" "pki-tlsa: every forged record comes out ($n)"
is "$(jq -r '.tlsa[]?.owner' "$T/out" | sort -u)" "_443._tcp.r.test." \
	"no owner but the one of port 443, TCP"
is "$(jq -c 'select((.errors // []) == [] and (.services[0].name | test("^[a-z]+$")) and .tlsa == null)' "$T/out")" "" \
	"a record without TLSA records has an error"

# pki-dnsup: the owner of a TLSA record, to a server that is not there.
jq -c --slurpfile vs "$T/values" '. as $r | $vs[] as $v |
	($r | .tlsa = [{owner: $v, ttl: 3600, usage: 3, selector: 1, mtype: 1,
		data: "AA"}]),
	($r | .tlsa = [{owner: "_443._tcp.\($v).", ttl: 3600, usage: 3,
		selector: 1, mtype: 1, data: $v}])' "$T/r0" > "$T/in"
n=$(wc -l < "$T/in")
noport=
free_port noport
noacme=
run pki-dnsup --tlsa --server "127.0.0.1:$noport" --resolver "127.0.0.1:$noport" --timeout 2 < "$T/in"
cat "$T/err" >> "$T/all"
is "$(wc -l < "$T/out")" "$n" "pki-dnsup: every forged record comes out ($n)"
is "$(jq -c 'select((.errors // []) | length == 0)' "$T/out")" "" "each with an error"
is "$(jq -r '.errors[]? | select(.message | startswith("tlsa[0]: ")) | .field' "$T/out" | sort -u | tr '\n' ' ')" \
	"tlsa " "naming the field"

# pki-store believes no name a record gives: r.test's record is stored,
# then the same claim under another name (a hostile one, h.test's) is
# refused.
jq -c --arg v "$sink" '., (.name = $v), (.name = "h.test")' "$T/r" > "$T/in"
run pki-store < "$T/in"
cat "$T/err" >> "$T/all"
is "$rc:$(wc -l < "$T/out")" "1:3" "pki-store: exit 1, every record out"
is "$(jq -r '.instance.state // ([.errors[] | .field // "-"] | join(","))' "$T/out" | tr '\n' ' ')" \
	"issued name name " "r.test stored; the hostile name and h.test refused, naming the field"
is "$(q "SELECT string_agg(s.name, ' ') FROM certinstances i JOIN subjects s
	ON s.certificate = i.certificate AND NOT s.isaltname
	WHERE i.id = $(jq -r .instance.id "$T/r")")" r.test "under its own name"

# pki-acme register: a contact address becomes "mailto:ADDR" as it is,
# so what a mailto: URI reads otherwise is refused before the CA is
# asked; so is a directory that is no https URL, at once (it was asked,
# with retries, for 7 s).
free_port noacme
for e in "$sink" "a?subject=x@b.test" "a%40c@b.test" "$long@b.test" "a@$long"; do
	capture pki-acme register --email "$e" --directory "https://127.0.0.1:$noacme/dir" \
		--agree-tos < /dev/null
	ok "register --email $(printf '%s' "$e" | head -n 1 | cut -c 1-20): refused in one line" \
		oneline "pki-acme: --email *: *"
done
for d in "file:///etc/passwd" "http://127.0.0.1:$noacme/\$(touch $CANARY)" "-oProxyCommand=x" \
	"$(printf 'https://a\nb')"; do
	capture pki-acme register --email a@b.test --directory "$d" --agree-tos < /dev/null
	ok "register --directory $(printf '%s' "$d" | head -n 1 | cut -c 1-20): refused in one line" \
		oneline "pki-acme: --directory (or PKI_ACME_DIRECTORY): not an https:// URL*"
done

# ------------------------------------------------------------ afterwards
is "$(find "$T" /tmp "$HOME" / -maxdepth 1 -type f -name PWNED 2>/dev/null)" "" \
	"no canary file: nothing of the values ran"
is "$(find "$T" -newer "$T/start" -type f ! -path "$T/home/*" ! -path "$T/sshd/*" \
	! -path "$T/web1/*" ! -path "$T/local/*" ! -path "$T/pn/*" ! -path "$T/rec/*" ! -path "$T/exp/*" \
	! -path "$T/certbot/*" ! -path "$T/evil/*" \
	-path "$T/*/*" | sort)" "" "nothing written outside the places (and the test's own files)"
is "$(find /tmp -maxdepth 2 -newer "$T/start" -name x 2>/dev/null)" "" "nothing at ../../../../tmp/x"
is "$(tables)" "$tables0" "every table is still there"
is "$(q "SELECT count(*) > 0 FROM certificates")" t "and certificates has its rows"
is "$(LC_ALL=C grep -c '[[:cntrl:]]' "$T/all")" 0 \
	"no control character in anything pki printed (a message is one line)"
! grep -q "$SECRET_PATTERN" "$T/all"
ok "no key in any message" [ $? -eq 0 ]
done_testing
