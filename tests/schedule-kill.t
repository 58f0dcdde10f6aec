#!/bin/sh
# schedule-kill.t - pki schedule killed with -9 (the whole process group)
# while it generates a key, while pki-store is in its transaction (the
# certificate issued by the CA, not stored), and while a target's reload
# command runs (the certificate stored, its files in place); then run
# again at once, it converges: each certificate has one instance,
# deployed with its key, the reload command run to its end, no claim
# left, no challenge record, and the CA got the one order each
# certificate needs, then none once it is issued.  The ACME moments in
# between (the order placed, the wait for DNS, the order finished) are
# tests/resume.t's, for the issue pipeline that pki schedule runs as pki
# issue does (pki_issue_pipeline); recover.t and schedule-run.t kill runs
# of local certificates at no chosen moment.  The moment comes by itself
# (a lock the test holds, a reload command that waits), or by a stage
# put first in PATH for the run to be killed only; nothing in pki waits
# for a test.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/acmedns.sh
. "$(dirname "$0")/lib/acmedns.sh"
acmedns_setup PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0
acmedns_account

waits() { [ "$(pg_waiting)" -gt 0 ]; }

# Every certificate goes to this machine, where the reload command waits
# while $T/hold-reload exists (and then fails, as a command killed
# would); a reload that runs to its end is a line in $T/reloads.
mkdir -p "$T/deploy"
q "INSERT INTO disthosts (fqdn) VALUES ('localhost');
   INSERT INTO places (name, cert_file_type, cert_path, reload_command)
   VALUES ('p', 'separate', '$T/deploy', 'if [ -e $T/hold-reload ]; then
	touch $T/in-reload; while [ -e $T/hold-reload ]; do sleep 0.05; done;
	exit 1; fi; echo done >> $T/reloads')"

# For the keygen moment only: the programs, with a pki-keygen that waits
# while $T/hold-keygen exists.
mkdir "$T/bin"
for p in "$PKI_BUILD"/bin/pki-*; do ln -s "$p" "$T/bin/"; done
rm "$T/bin/pki-keygen"
cat > "$T/bin/pki-keygen" <<EOF
#!/bin/sh
touch "$T/in-keygen"
while [ -e "$T/hold-keygen" ]; do sleep 0.05; done
exec "$PKI_BUILD/bin/pki-keygen" "\$@"
EOF
chmod +x "$T/bin/pki-keygen"

# killed MOMENT NAME WAIT...: a new ACME certificate NAME deployed to
# localhost; pki schedule (with $BIN as its programs, if set) in a
# session of its own is killed with -9 once WAIT succeeds; then what was
# held is let go (the lock of pg_hold too, if $HOLD is set), pki
# schedule runs again, and the outcome is checked.
BIN='' HOLD=
killed() {
	_moment=$1 _name=$2
	shift 2
	pki -q cert add "$_name" -c acme -a ec
	q "SELECT add_target('$_name', 'localhost', NULL, 'p')" >/dev/null
	_o0=$(orders) _r0=$(wc -l < "$T/reloads")
	setsid env ${BIN:+PKI_BINDIR="$BIN"} pki -v schedule \
		> "$T/killed.out" 2>&1 8>&- &
	kill_when "$_moment: pki schedule" $! "$T/killed.out" "$@"
	cat "$T/killed.out" >> "$T/all"
	rm -f "$T/hold-keygen" "$T/hold-reload" "$T/in-keygen" "$T/in-reload"
	[ -n "${HOLD:-}" ] && pg_release
	diag "$_moment: when killed: $(($(orders) - _o0)) orders, $(q "SELECT count(*)
		FROM certinstances WHERE state = 'reserved'") claims"
	rc=0
	pki schedule > "$T/rerun.out" 2>&1 || rc=$?
	cat "$T/rerun.out" >> "$T/all"
	is "$rc" 0 "$_moment: the run after it: exit 0"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/rerun.out"
	is "$(q "SELECT string_agg(state::text, ' ') FROM certinstances i
		JOIN subjects s ON s.certificate = i.certificate
		WHERE s.name = '$_name'")" deployed "$_moment: one instance, deployed"
	is "$(q "SELECT count(*) FROM certinstances WHERE state = 'reserved'")" 0 \
		"$_moment: no claim left"
	is "$(($(orders) - _o0))" 1 "$_moment: one order for it at the CA"
	_f=$T/deploy/${_name}_server
	ok "$_moment: its key on the target is its certificate's" [ -n "$(openssl x509 \
		-in "${_f}_cert.pem" -noout -pubkey 2>/dev/null)" ] && [ "$(openssl pkey \
		-in "${_f}_key.pem" -pubout 2>/dev/null)" = "$(openssl x509 \
		-in "${_f}_cert.pem" -noout -pubkey)" ]
	is "$(($(wc -l < "$T/reloads") - _r0)):$(find "$T/deploy" -name '.*.pki-reload' | wc -l)" \
		"1:0" "$_moment: the reload command ran to its end once, no marker left"
	is "$(dig +short +norecurse -p "$NAMED_PORT" @127.0.0.1 TXT "_acme-challenge.$_name")" \
		"" "$_moment: no challenge record left"
}
: > "$T/reloads"

touch "$T/hold-keygen"
BIN=$T/bin
killed keygen a.example.test test -e "$T/in-keygen"
BIN=
pg_hold "BEGIN; LOCK TABLE pki.certkeydata IN EXCLUSIVE MODE;"
HOLD=1
killed store b.example.test waits
HOLD=
touch "$T/hold-reload"
killed deploy c.example.test test -e "$T/in-reload"

# Then a run finds nothing to do and orders nothing.
o=$(orders)
rc=0
pki schedule > "$T/last.out" 2>&1 || rc=$?
is "$rc:$(($(orders) - o))" "0:0" "a run after all: exit 0, no order"
is "$(pki-select --schedule | jq -r 'select(.action != "ari") | .name')" "" \
	"nothing is due but asking the CA for renewal windows"

nok "no private key in anything pki printed" grep -q "$SECRET_PATTERN" "$T/all" "$T/last.out"
done_testing
