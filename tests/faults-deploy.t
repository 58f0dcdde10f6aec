#!/bin/sh
# faults-deploy.t - pki distribute and pki-store when what they write to
# fails under them: an sshd killed with -9 in the middle of an upload; a
# full file system on a target (this machine's and one over SFTP);
# PostgreSQL restarted while pki-deploy uploads; a full disk under
# pki-store's spool.  Each time: a clear error naming the host or file,
# nothing half-written in place, the other targets go on, and the next
# run converges.  (A reload that hangs, killed at --timeout and recorded:
# deploy.t, "reload timeout".)
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# shellcheck source=tests/lib/sshd.sh
. "$(dirname "$0")/lib/sshd.sh"
sshd_setup 3
pg_setup

state() {	# state NAME: the state of NAME's newest instance
	q "SELECT state FROM certinstances WHERE id = (SELECT max(id) FROM inst WHERE name = '$1')"
}
# states LIKE: "count state" of the newest instances of names LIKE.
states() {
	q "SELECT count(*) || ' ' || state FROM certinstances WHERE id IN
		(SELECT max(id) FROM inst WHERE name LIKE '$1' GROUP BY name)
		GROUP BY state ORDER BY state" | tr '\n' ',' | sed 's/,$//'
}
# statuses LIKE: "count host status" of their newest instances' targets.
statuses() {
	q "SELECT n || ' ' || h || ' ' || s FROM (SELECT count(*) n, \"Dist Host\" h, \"Status\" s
		FROM deploy_state WHERE \"Serial\" IN (SELECT max(id) FROM inst WHERE name LIKE '$1'
		GROUP BY name) GROUP BY 2, 3) x ORDER BY h, s" | tr '\n' ',' | sed 's/,$//'
}
claims() { q "SELECT count(*) FROM deployments WHERE claimed IS NOT NULL"; }
# certs PREFIX N HOST PLACE...: N certificates PREFIX1.test ..., each with
# a target on HOST in PLACE for each pair.
certs() {
	_p=$1 _n=$2
	shift 2
	_targets=$*
	_i=0
	while [ "$_i" -lt "$_n" ]; do
		_i=$((_i + 1))
		echo "SELECT pki.add_cert('$_p$_i.test', 'server', 'local', 'ec',
			false, NULL, NULL, NULL, NULL);"
		_t=$_targets
		while [ -n "$_t" ]; do
			# shellcheck disable=SC2086 # host and place
			set -- $_t
			echo "SELECT pki.add_target('$_p$_i.test', '$1', NULL, '$2');"
			shift 2
			_t=$*
		done
	done | q "$(cat)" > /dev/null
}
# pems DIR: the regular files of DIR (not the dot files) that are not a
# whole PEM (BEGIN to END), one a line (none: nothing truncated).
pems() {
	find "$1" -type f ! -name '.*' -exec awk '
		FNR == 1 { if (f != "" && !whole) print f; f = FILENAME; whole = 0
			if ($0 !~ /^-----BEGIN /) { print f; f = "" } }
		{ whole = /^-----END [A-Z ]+-----$/ }
		END { if (f != "" && !whole) print f }' {} + | sort
}
temps() { find "$@" -name '*.pki-new' | wc -l; }
# full DIR: fill the file system of DIR (a tmpfs) to the last block.
full() {
	dd if=/dev/zero of="$1/.filler" bs=4k 2>/dev/null || true
	dd if=/dev/zero of="$1/.filler2" bs=512 2>/dev/null || true
}

sshd_pki_conf 10
pg_local_ca

q "INSERT INTO disthosts (fqdn) VALUES ('web1.test'), ('web2.test'), ('web3.test'), ('localhost');
   INSERT INTO places (name, cert_file_type, cert_path, reload_command) VALUES
	('k1', 'separate', '$T/k/w1/{}', NULL),
	('k3', 'separate', '$T/k/w3/{}', NULL),
	('k3b', 'separate', '$T/k/w3/b/{}', NULL),
	('k3c', 'separate', '$T/k/w3/c/{}', NULL),
	('f1', 'separate', '$T/f1/{}', NULL),
	('f2', 'separate', '$T/full/w2/{}', 'echo reload >> $T/f2.reload'),
	('fl', 'separate', '$T/full/loc/{}', NULL)"

# ------------------------------------------------------------ sshd killed
# web3's sshd and its sessions are killed with -9 once the first file of
# the batch is on it (in three places, to have enough to cut): its
# targets fail naming it, web1 gets everything, and the next run writes
# only what web3 lacks.
certs k 20 web1.test k1 web3.test k3 web3.test k3b web3.test k3c
# (and two for the full file system, deployed by the same runs)
certs f 2 web1.test f1 web2.test f2 localhost fl
mkdir -p "$T/full"
tmpfs=0
if mount -t tmpfs -o size=256k,mode=0755 pki-test "$T/full" 2>"$T/mount.err"; then
	at_exit "umount '$T/full'"
	tmpfs=1
fi
pki -q issue > /dev/null
pki distribute > "$T/k.out" 2>&1 &
pid=$!
i=0
until [ -d "$T/k/w3" ] || [ "$i" -gt 3000 ]; do i=$((i + 1)); sleep 0.002; done
sshd_freeze web3.test
# shellcheck disable=SC2046 # a list of process ids
kill -9 $(sshd_tree web3.test)
rc=0
wait "$pid" || rc=$?
cat "$T/k.out" >> "$T/all"
is "$rc" 1 "sshd killed with -9 mid-upload: exit 1"
grep '^k[0-9]*.test: .*web3.test' "$T/k.out" > "$T/k.failed"
ok "... some of web3's certificates were cut off" test -s "$T/k.failed"
diag "web3 cut off in $(wc -l < "$T/k.failed") of 20 certificates"
like "$(head -1 "$T/k.failed")" "k*.test: instance * issued: * of 4 target(s) ok; web3.test: connection lost (*" \
	"... one line per certificate, naming the host"
is "$(grep -vc 'web3.test: connection lost' "$T/k.failed")" 0 "... every one"
is "$(statuses 'k%' | tr ',' '\n' | grep web1)" "20 web1.test ok" "... web1 got all 20"
is "$(pems "$T/k")" "" "... no truncated certificate or key under a real name"
is "$(claims)" 0 "... no claim left"
find "$T/k/w3" -type f ! -name '.*' -printf '%p %i %T@\n' | sort > "$T/k.had"
sshd_start web3.test
capture pki distribute
is "$rc" 0 "sshd back: an immediate re-run"
is "$(states 'k%'),$(states 'f%'):$(statuses 'k%')" "20 deployed,2 deployed:20 web1.test ok,60 web3.test ok" \
	"... every instance deployed, every target ok"
is "$(printf '%s\n' "$out" | sed 's/: instance [0-9]* deployed: [1-3] of [1-3] target(s) ok$//' | sort)" \
	"$(cut -d: -f1 "$T/k.failed" | sort)" "... only the certificates that web3 lacked"
is "$(find "$T/k/w3" -type f ! -name '.*' -printf '%p %i %T@\n' | sort | join - "$T/k.had" | wc -l)" \
	"$(wc -l < "$T/k.had")" "... the files web3 had are left alone"
is "$(pems "$T/k"):$(temps "$T/k")" ":0" "... whole files, no temporary file left"

# ------------------------------------------------------------ full file system
# A tmpfs full to the last block is a target on this machine and the
# directory web2's sshd writes into.
if [ "$tmpfs" -eq 0 ]; then
	[ "${CI:-}" != true ] || fail "mount -t tmpfs: $(cat "$T/mount.err")"
	skip "no tmpfs here: $(cat "$T/mount.err")"
else
	is "$(states 'f%')" "2 deployed" "two certificates on the tmpfs"
	sums() { find "$T/full/w2" "$T/full/loc" -type f ! -name '.*' -exec sha256sum {} + | sort; }
	sums > "$T/f.sums"
	q "UPDATE certinstances SET not_after = now() - interval '1 day' WHERE state = 'deployed'
		AND id IN (SELECT id FROM inst WHERE name LIKE 'f%')"
	pki -q issue > /dev/null
	full "$T/full"
	capture pki distribute
	is "$rc" 1 "renewed onto a full file system: exit 1"
	like "$out" "*f1.test: instance * issued: 1 of 3 target(s) ok; *web2.test: write $T/full/w2/f1.test/.f1.test_server_cert.pem.pki-new: No space left on device*" \
		"... over SFTP: the file, and that the file system is full"
	like "$out" "*f1.test: *localhost: write $T/full/loc/f1.test/.f1.test_server_cert.pem.pki-new: No space left on device*" \
		"... on this machine too"
	is "$(statuses 'f%')" "2 localhost failed,2 web1.test ok,2 web2.test failed" \
		"... the other target gets them"
	is "$(sums)" "$(cat "$T/f.sums")" "... the old files intact"
	is "$(temps "$T/full")" 0 "... no temporary file left"
	rm -f "$T/full/.filler" "$T/full/.filler2"
	capture pki distribute
	is "$rc:$(states 'f%'):$(statuses 'f%')" "0:2 deployed:2 localhost ok,2 web1.test ok,2 web2.test ok" \
		"space freed: the next run converges"
	is "$(pems "$T/full"):$(temps "$T/full")" ":0" "... whole files, no temporary file"
fi

# ------------------------------------------------------------ PostgreSQL restarted
# PostgreSQL restarts while pki-deploy waits for web2's reload: the
# run ends, and after an immediate re-run the database says deployed
# exactly what the targets hold, and no claim is left.
q "INSERT INTO places (name, cert_file_type, cert_path, reload_command) VALUES
	('p1', 'separate', '$T/p/w1/{}', NULL),
	('p2', 'separate', '$T/p/w2/{}', 'touch $T/p.reloading; sleep 1')"
certs p 3 web1.test p1 web2.test p2
pki -q issue > /dev/null
pki distribute > "$T/p.out" 2>&1 &
pid=$!
i=0
until [ -e "$T/p.reloading" ] || [ "$i" -gt 3000 ]; do i=$((i + 1)); sleep 0.005; done
pki db stop > /dev/null 2>&1
pki db start > /dev/null 2>&1
rc=0
wait "$pid" || rc=$?
cat "$T/p.out" >> "$T/all"
diag "pki distribute with PostgreSQL restarted under it: exit $rc"
like "$rc" "[01]" "PostgreSQL restarted mid-run: the run ends, done or with a record failed"
capture pki distribute
is "$rc:$(states 'p%'):$(statuses 'p%')" "0:3 deployed:3 web1.test ok,3 web2.test ok" \
	"an immediate re-run: every instance deployed, every target ok"
is "$(claims)" 0 "... no claim left"
# Each file the database says a target has, with its hash: on the target.
q "SELECT lower(f->>'sha256') || '  ' || (f->>'path') FROM deployments d,
	jsonb_array_elements(d.files) f WHERE d.status = 'ok' AND d.certinstance IN
	(SELECT max(id) FROM inst WHERE name LIKE 'p%' GROUP BY name)" > "$T/p.sums"
is "$(wc -l < "$T/p.sums"):$(sha256sum -c --quiet "$T/p.sums" 2>&1)" "12:" \
	"... and each file it records is on the target, as recorded"

# ------------------------------------------------------------ full spool
# The database is down and the disk under pki-store's spool fills up
# in the middle of a record: that record is not kept and says so, the
# spool holds only whole records, and once there is space and the
# database is back the next run stores what was kept and issues the
# rest again.
mkdir -p "$T/sp"
if ! mount -t tmpfs -o size=16k,mode=0700 pki-test "$T/sp" 2>"$T/mount.err"; then
	[ "${CI:-}" != true ] || fail "mount -t tmpfs: $(cat "$T/mount.err")"
	skip "no tmpfs here: $(cat "$T/mount.err")"
else
	at_exit "umount '$T/sp'"
	spool=$T/sp/spool
	for n in 1 2 3 4; do echo "SELECT pki.add_cert('s$n.test', 'server', 'local', 'ec',
		false, NULL, NULL, NULL, NULL);"; done | q "$(cat)" > /dev/null
	# a run of its own (a session that holds it), which then dies
	mkfifo "$T/hold"
	psql -X -q -At -d "$PKI_DB" < "$T/hold" > "$T/hold.id" &
	holder=$!
	exec 8> "$T/hold"
	echo "SELECT pki.run_begin('here', 4242, 'faults-deploy.t');" >&8
	i=0
	until [ -s "$T/hold.id" ] || [ "$i" -gt 200 ]; do i=$((i + 1)); sleep 0.02; done
	pki-select --create --run "$(cat "$T/hold.id")" -o s1.test -o s2.test -o s3.test \
		-o s4.test 2>>"$T/all" | pki-keygen | pki-csr | pki-localca > "$T/made" 2>>"$T/all"
	exec 8>&-
	wait "$holder"
	mkdir -m 0700 "$spool"
	pki db stop > /dev/null 2>&1
	full "$T/sp"
	truncate -s -4096 "$T/sp/.filler"
	run pki-store --spool "$spool" < "$T/made"
	is "$rc" 2 "pki-store, the database down, the spool's disk full: exit 2"
	f=$(ls "$spool"/*.jsonl)
	is "$(jq -r '.errors[-1].message | sub("database: .*;"; "database:;")' "$T/out")" \
		"not stored: database:; kept for the next run
not stored: database:; not kept either: $f: No space left on device
not stored: database:; not kept either: $f: No space left on device
not stored: database:; not kept either: $f: No space left on device" \
		"... the record that fits is kept, the others say the spool file is full"
	is "$(grep -c "s[234].test: .*not kept either: $f: No space left on device" "$T/err")" 3 \
		"... and so does stderr"
	is "$(jq -r .name "$f" 2>&1)" s1.test "... the spool holds whole records only"
	is "$(find "$spool" -name '.*' -type f | wc -l)" 0 "... and no file under its first name"
	rm -f "$T/sp/.filler"
	pki db start > /dev/null 2>&1
	PKI_SPOOL=$spool pki issue > "$T/s.out" 2>"$T/s.err"
	is "$?" 0 "space and the database back: the next pki issue: exit 0"
	cat "$T/s.out" "$T/s.err" >> "$T/all"
	is "$(states 's%')" "4 issued" "... every certificate issued"
	is "$(q "SELECT count(*) FROM certinstances i JOIN inst n ON n.id = i.id
		WHERE n.name LIKE 's%' AND i.state = 'reserved'")" 0 "... no claim left"
	is "$(find "$spool" -type f | wc -l)" 0 "... and the spool is empty"
fi

done_testing
