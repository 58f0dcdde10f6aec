#!/bin/sh
# secrets-net.t - secrets-all.t's search over the workflows that reach
# other servers: pki register, pki issue and pki renew of an ACME
# certificate by dns-01 through BIND with a TSIG key (Pebble), a local
# certificate beside it, pki distribute to this machine and over SFTP to
# an sshd, the TLSA records published and rolled (pki roll) - each run
# with -v -v and PKI_SYSLOG, the process table sampled.  No secret - a
# private key of the database (each instance's, the CA's, the ACME
# account's), the TSIG secret (its base64 and the hex of its bytes), the
# CA passphrase - is in anything pki printed, in a command line, in
# syslog, in the events and runs, or in a file group or others may read
# (secrets.sh).  And strace shows each key file, on this machine (what
# pki-deploy does) and on the SSH host (what sshd's internal-sftp does),
# created with O_CREAT|O_EXCL and a mode no wider than the place's, and
# never written or set wider before it takes its name.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
if ! command -v strace >/dev/null 2>&1; then
	[ -z "${CI:-}" ] || { echo "Bail out! no strace (Makefile DEB_PKGS)"; exit 1; }
	skip_all "no strace"
fi
# shellcheck source=tests/lib/acmedns.sh
. "$(dirname "$0")/lib/acmedns.sh"
# shellcheck source=tests/lib/sshd.sh
. "$(dirname "$0")/lib/sshd.sh"
# shellcheck source=tests/lib/syslog.sh
. "$(dirname "$0")/lib/syslog.sh"
# shellcheck source=tests/lib/secrets.sh
. "$(dirname "$0")/lib/secrets.sh"
acmedns_setup PEBBLE_AUTHZREUSE=0
sshd_setup 1
pg_local_ca
sshd_pki_conf 20
{ acmedns_conf; echo PKI_ACME_AGREE_TOS=yes; echo PKI_SYSLOG=local6; } >>"$PKI_CONF"
if ! syslog_start; then
	[ -z "${CI:-}" ] || { echo "Bail out! no unshare -m with an overlay /dev for syslog"; exit 1; }
	skip_all "syslog: no mount namespace with an overlay /dev here (unshare -m)"
fi

# The syscalls that make, write, chmod and name a file, with the path of
# each descriptor (-y) and no data (-s 0), one file per process (-ff).
calls=openat,open,creat,write,pwrite64,writev,fchmod,fchmodat,chmod,rename,renameat,renameat2,link,linkat
mkdir -m 0700 "$T/trace"
# pki-deploy, as the workflows run it (PKI_BINDIR), under strace.
mkdir "$T/bin"
ln -s "$PKI_BUILD"/bin/* "$T/bin/"
rm "$T/bin/pki-deploy"
cat >"$T/bin/pki-deploy" <<EOF
#!/bin/sh
exec strace -ff --seccomp-bpf -qq -s 0 -y -e trace=$calls \
	-o "$T/trace/deploy.\$\$" "$PKI_BUILD/bin/pki-deploy" "\$@"
EOF
chmod +x "$T/bin/pki-deploy"
PKI_BINDIR=$T/bin
export PKI_BINDIR
# The SSH host's sshd, and every session it starts, under strace.
sshd=$(cat "$SSHD_DIR/web1.test/pid")
strace -ff -qq -s 0 -y -e trace="$calls" -o "$T/trace/sshd" -p "$sshd" &
tracer=$!
at_exit "kill $tracer 2>/dev/null"
n=0
until grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$sshd/status"; do
	n=$((n + 1))
	[ "$n" -lt 250 ] || { echo "Bail out! strace did not attach to sshd"; exit 1; }
	sleep 0.02
done

mkdir -p "$T/loc" "$T/ro" "$T/web"
q "INSERT INTO disthosts (fqdn) VALUES ('localhost'), ('web1.test');
   INSERT INTO places (name, cert_path, mode) VALUES ('loc', '$T/loc/{}', 600),
	('ro', '$T/ro/{}', 400), ('web', '$T/web/{}', 600)"

secrets_sample_start
capture ns pki -v -v register
is "$rc" 0 "pki register"
capture ns pki -v -v cert add acme.example.test -c acme -a ec -S https:443
capture ns pki -v -v cert add local.example.test -a ec -S https:443
q "SELECT add_target('acme.example.test', 'localhost', NULL, 'loc'),
	add_target('acme.example.test', 'web1.test', NULL, 'web'),
	add_target('local.example.test', 'localhost', NULL, 'ro'),
	add_target('local.example.test', 'web1.test', NULL, 'web')" >/dev/null
capture ns pki -v -v issue
is "$rc" 0 "pki issue: ACME by dns-01 (named, TSIG), the local CA"
capture ns pki -v -v distribute
is "$rc" 0 "pki distribute: here and over SFTP, TLSA records published"
A=_443._tcp.acme.example.test.
tlsa() { dig +short +norec -p "$NAMED2_PORT" @127.0.0.1 TLSA "$A" | wc -l | tr -d ' '; }
is "$(tlsa)" 1 "the TLSA record is served"
capture ns pki -v -v renew --force -o acme.example.test
is "$rc" 0 "pki renew --force of the ACME certificate"
is "$(tlsa)" 2 "its next key's TLSA record prepublished beside the current one"
next=$(q "SELECT max(id) FROM inst WHERE name = 'acme.example.test'")
due=$(q "SELECT extract(epoch FROM roll_due($next, interval '0'))::bigint")
capture ns pki -v -v roll --min-roll-mins 0 --now "$(date -u -d "@$((due + 60))" +%FT%TZ)" -o acme.example.test
is "$rc:$(q "SELECT state FROM certinstances WHERE id = $next")" 0:deployed \
	"pki roll: the next certificate deployed"
is "$(tlsa)" 1 "and the old TLSA record withdrawn"
secrets_sample_stop
syslog_sync
kill "$tracer"
wait "$tracer" 2>/dev/null

# ------------------------------------------------------------ the secrets
is "$(secrets_db_keys)" \
	"$(q "SELECT (SELECT count(*) FROM certkeydata WHERE length(key) > 0)
		+ (SELECT count(*) FROM acme_accounts)")" \
	"the keys to look for: every one of the database, the CA's and the ACME account's too"
secrets_needle_b64 "$NAMED_TSIG_SECRET"
secrets_needle "$(cat "$PKI_CA_PASSPHRASE_FILE")"
for p in pki pki-acme pki-dnsup pki-deploy pki-store; do
	ok "syslog has lines of $p" grep -E -q "^<1[78][0-9]>.* $p(\[[0-9]+\])?: " "$SYSLOG"
done
ok "... and the debug lines of -v -v" grep -q "^<183>" "$SYSLOG"
secrets_check

# ------------------------------------------------------------ key modes
# modes WHERE MODE DIR TRACE...: no key file below DIR made wider than
# MODE, and each of those there traced from its creation to its name.
modes() {
	_w=$1 _m=$2 _d=$3
	shift 3
	secrets_key_modes "$_m" "$_d" "$@" >"$T/modes"
	is "$(grep '^bad' "$T/modes")" "" \
		"$_w: each key file created O_CREAT|O_EXCL, mode $_m (the place's) from its first byte, never wider"
	is "$(grep '^key' "$T/modes" | sort)" \
		"$(find "$_d" -type f -name '*key*' -printf 'key %p %m\n' | sort)" \
		"... each key file of the place, traced from its creation to its name"
}
modes "here" 600 "$T/loc" "$T"/trace/deploy.*
modes "here, a place of mode 400" 400 "$T/ro" "$T"/trace/deploy.*
modes "the SSH host (internal-sftp)" 600 "$T/web" "$T"/trace/sshd.*
# The check fails where it should: the same traces, with each key file
# created 0644 and set to 0600 once written.
for t in deploy sshd; do
	cat "$T"/trace/"$t".* | sed 's/\(key[^"]*pki-new", O_[^)]*\), 0600)/\1, 0644)/' \
		>"$T/wrong.$t"
	like "$(secrets_key_modes 600 "$T" "$T/wrong.$t" | grep -c '^bad')" "[1-9]*" \
		"$t: a key file created 0644 would be found"
done
done_testing
