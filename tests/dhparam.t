#!/bin/sh
# dhparam.t - DH parameters (ssl-mgr's sslm-dhparm): pki dhparam DIR
# writes the RFC 7919 groups as PEM DH parameter files that openssl reads
# as those groups, mode 0644, and keeps them on the next run; --generate
# makes parameters of its own, kept while younger than --days and made
# anew when older (the file's age set with touch, so that only a few are
# generated, of a size allowed in tests only); a place with --dhparam
# gets dhparam.pem beside the certificate.  Negative cases: an unknown
# group, a directory that is not there or cannot take the file, a size
# too small, --days without --generate.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

umask 022
d=$T/dh
mkdir -p "$d"
group() { openssl pkeyparam -in "$1" -noout -text 2>/dev/null | sed -n 's/^GROUP: //p'; }
bits() { openssl pkeyparam -in "$1" -noout -text 2>/dev/null | sed -n 's/^DH Parameters: (\([0-9]*\) bit)$/\1/p'; }
mtime() { stat -c %Y "$1"; }

# ------------------------------------------------------------ named groups
capture pki dhparam "$d"
is "$rc" 0 "pki dhparam DIR"
for g in ffdhe2048 ffdhe3072 ffdhe4096; do
	f=$d/$g.pem
	is "$(group "$f") $(bits "$f")" "$g ${g#ffdhe}" "$g.pem: openssl pkeyparam reads the group $g"
	ok "$g.pem: openssl dhparam -check" quiet openssl dhparam -in "$f" -check -noout
	is "$(head -1 "$f") $(stat -c %a "$f")" "-----BEGIN DH PARAMETERS----- 644" \
		"$g.pem: PEM DH parameters, mode 0644"
done
touch -d '2020-01-01' "$d/ffdhe2048.pem"
capture pki -v dhparam --group ffdhe2048 "$d"
is "$rc:$(mtime "$d/ffdhe2048.pem")" "0:$(date -d 2020-01-01 +%s)" \
	"run again: the file of a named group is kept, whatever its age"
like "$out" "*ffdhe2048.pem: ffdhe2048 kept*" "and says so"
printf 'spoiled\n' > "$d/ffdhe3072.pem"
capture pki dhparam --group ffdhe3072 "$d"
is "$rc:$(group "$d/ffdhe3072.pem")" "0:ffdhe3072" "a file that is not the group's is written again"
ok "no temporary file is left" [ -z "$(find "$d" -name '.*')" ]

# ------------------------------------------------------------ generated
PKI_DHPARAM_MIN_BITS=512
export PKI_DHPARAM_MIN_BITS
capture pki dhparam --generate 512 "$d"
is "$rc:$(bits "$d/dh512.pem")" "0:512" "--generate 512 (a size for tests only): dh512.pem"
ok "openssl dhparam -check: a safe prime" quiet openssl dhparam -in "$d/dh512.pem" -check -noout
is "$(stat -c %a "$d/dh512.pem")" 644 "mode 0644"
cp "$d/dh512.pem" "$T/first.pem"
touch -d '100 days ago' "$d/dh512.pem"
t=$(mtime "$d/dh512.pem")
capture pki -v dhparam --generate 512 "$d"
is "$rc:$(mtime "$d/dh512.pem")" "0:$t" "100 days old: kept (younger than the default 120)"
like "$out" "*kept, younger than 120 days*" "and says so"
cmp -s "$d/dh512.pem" "$T/first.pem"
is "$?" 0 "unchanged"
capture pki dhparam --generate 512 --days 90 "$d"
is "$rc" 0 "--days 90"
ok "100 days old with --days 90: made anew" [ "$(mtime "$d/dh512.pem")" -gt "$t" ]
cmp -s "$d/dh512.pem" "$T/first.pem"
is "$?" 1 "new parameters"
touch -d '121 days ago' "$d/dh512.pem"
t=$(mtime "$d/dh512.pem")
capture pki dhparam --generate 512 "$d"
ok "121 days old: made anew" [ "$(mtime "$d/dh512.pem")" -gt "$t" ]
unset PKI_DHPARAM_MIN_BITS
capture pki dhparam --generate 512 "$d"
is "$rc:$out" "2:pki-dhparam: --generate: \"512\" is not a number from 2048 to 8192" \
	"outside tests the size is at least 2048"

# ------------------------------------------------------------ negative
capture pki dhparam --group ffdhe1024 "$d"
is "$rc:$out" "2:pki-dhparam: --group \"ffdhe1024\": use ffdhe2048, ffdhe3072 or ffdhe4096" \
	"an unknown group: refused by name"
capture pki dhparam "$T/none"
is "$rc:$out" "2:pki-dhparam: $T/none: No such file or directory" "a directory that is not there"
capture pki dhparam --days 10 "$d"
is "$rc" 2 "--days without --generate: refused"
mkdir "$T/full"
mkdir "$T/full/ffdhe2048.pem"	# a directory where the file should go
capture pki dhparam "$T/full"
is "$rc" 1 "a file that cannot be written: exit 1"
like "$out" "*$T/full/ffdhe2048.pem*" "names the file"
ok "the other groups are written" [ -f "$T/full/ffdhe3072.pem" ] && [ -f "$T/full/ffdhe4096.pem" ]

# ------------------------------------------------------------ a place asks for them
q "UPDATE localca_settings SET ca_algo = 'ec'"
pki -q ca init >/dev/null
PKI_CA_PASSPHRASE_FILE=$PKI_HOME/ca.pass
export PKI_CA_PASSPHRASE_FILE
q "INSERT INTO disthosts (fqdn) VALUES ('localhost')" >/dev/null
pki -q place add web --type certbot --cert-path "$T/web/{}"
pki -q place add plain --cert-path "$T/plain/{}"
capture pki place set web --dhparam ffdhe1024
is "$rc:$out" "1:pki: place web: --dhparam \"ffdhe1024\": not ffdhe2048, ffdhe3072, ffdhe4096 or none" \
	"pki place set --dhparam with an unknown group: refused"
capture pki place set web --dhparam ffdhe3072
is "$rc:$out" "0:pki: place web changed" "pki place set --dhparam ffdhe3072"
pki -q cert add w.test -a ec
q "SELECT add_target('w.test', 'localhost', NULL, 'web')" >/dev/null
q "SELECT add_target('w.test', 'localhost', NULL, 'plain')" >/dev/null
pki -q issue >/dev/null
capture pki distribute -a
is "$rc" 0 "pki distribute"
f=$T/web/w.test/dhparam.pem
is "$(group "$f") $(stat -c %a "$f")" "ffdhe3072 644" \
	"the place gets dhparam.pem of its group beside the certificate, mode 0644"
ok "beside cert.pem" [ -f "$T/web/w.test/cert.pem" ]
ok "a place that does not ask gets none" [ ! -e "$T/plain/w.test/dhparam.pem" ]
pki-select --serial "$(q "SELECT max(id) FROM inst WHERE name = 'w.test'")" --with-keys > "$T/sel"
jq -c '.targets |= map(select(.place.name == "web") | .place.dhparam = "ffdhe1024")' "$T/sel" > "$T/bad"
run pki-deploy < "$T/bad"
is "$rc:$(jq -r '.deployed[].error' "$T/out")" \
	"1:place web: dhparam: not ffdhe2048, ffdhe3072 or ffdhe4096" \
	"pki-deploy: an unknown group in the record: that target fails, naming place and field"
capture pki place set web --dhparam none
is "$(q "SELECT coalesce(dhparam, 'none') FROM places WHERE name = 'web'")" none "--dhparam none: no more"

done_testing
