# ca.sh - the local CA: pki ca init|roll (a single CA, or a root and the
# intermediates it signs, ssl-mgr's my-root and my-sub), pki ca root
# export-key|remove-key|import-key (the root's key kept offline) and
# pki import ca (a CA made elsewhere).  pki ca crl is in revoke.sh.
#
# pki-localca makes and checks the certificates and keys, pki-store
# stores them: one record, one transaction, so a run killed half-way
# leaves a CA made whole or not at all, and the next run makes what is
# missing.  The CA's key is only ever on a pipe or in a file of mode 0600.
# shellcheck disable=SC2016 # SQL is single-quoted on purpose

_ca_usage="usage: pki ca init|roll [--intermediate] [--algo rsa|ec] [--days DAYS] [--subject DN] | crl [FILE] | root export-key FILE | root remove-key | root import-key FILE"

# pki_ca_count WHO: the valid instances of the local CA WHO ("root": the
# root, else the CA that signs) that are not revoked.
pki_ca_count() {
	pki_sql -At -v who="$1" <<'EOF'
SET search_path TO pki, dd, public;
SELECT count(*) FROM certinstances i
  JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
  JOIN localca_settings l ON s.name = CASE :'who' WHEN 'root'
	THEN l.root_name ELSE l.subject_name END
 WHERE s.type = 'CA' AND i.state <> 'revoked'
   AND i.not_after > now() AT TIME ZONE 'UTC';
EOF
}

# pki_ca_passphrase: the CA passphrase file, made if missing.
pki_ca_passphrase() {
	[ -f "$PKI_CA_PASSPHRASE_FILE" ] && return 0
	(umask 077 && mkdir -p "$(dirname "$PKI_CA_PASSPHRASE_FILE")" &&
		openssl rand -base64 32 > "$PKI_CA_PASSPHRASE_FILE") ||
		pki_die 2 "cannot write $PKI_CA_PASSPHRASE_FILE"
	pki_say "new CA passphrase in $PKI_CA_PASSPHRASE_FILE: keep a copy in a safe place"
}

# pki_ca_store ARGS...: pki-localca ARGS into pki-store, said.
pki_ca_store() {
	pki_run_dir
	# shellcheck disable=SC2086 # PKI_FLAGS is a word list
	pki_stage pki-localca pki-localca $PKI_FLAGS "$@" |
		pki_stage pki-store pki-store $PKI_FLAGS |
		pki_stage summary pki_summary
	pki_stages_status pki-localca pki-store summary
}

# pki ca init|roll [--intermediate] [--algo rsa|ec] [--days DAYS]
# [--subject DN]: make the local CA (serverPKI -I).  init refuses when a
# valid CA exists; with --intermediate it makes a root (if there is no
# valid one) and an intermediate signed by it.  roll makes a new CA
# instance that signs every new certificate from then on: a new
# intermediate signed by the root when the CA is one, else a new CA.
pki_ca() {
	_sub=${1:-}
	[ $# -gt 0 ] && shift
	case $_sub in
	init | roll) ;;
	crl) pki_ca_crl "$@"; return ;;
	root) pki_ca_root "$@"; return ;;
	*) pki_die 2 "$_ca_usage" ;;
	esac
	_inter='' _algo=''
	for _a in "$@"; do
		case $_a in
		--intermediate) _inter=1 ;;
		esac
	done
	if [ -n "$_inter" ]; then	# the others go to pki-localca as they are
		for _a in "$@"; do
			shift
			[ "$_a" = --intermediate ] || set -- "$@" "$_a"
		done
	fi
	_valid=$(pki_ca_count ca) || return 1
	if [ "$_sub" = init ] && [ "$_valid" -gt 0 ]; then
		pki_say "the local CA exists already (pki ca roll makes a new one)"
		return 0
	fi
	if [ "$_sub" = roll ] && [ -z "$_inter" ]; then
		_inter=$(pki_sql -At <<'EOF'
SET search_path TO pki, dd, public;
SELECT 1 FROM certinstances i
  JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
  JOIN localca_settings l ON s.name = l.subject_name
 WHERE s.type = 'CA' AND i.cacert <> i.id AND i.state <> 'revoked'
   AND i.not_after > now() AT TIME ZONE 'UTC'
 ORDER BY i.id DESC LIMIT 1;
EOF
) || return 1
	fi
	pki_ca_passphrase
	pki_flags
	if [ -z "$_inter" ]; then
		pki_ca_store --init "$@"
		return
	fi
	# A root first, unless one is there: a run killed after it was
	# stored makes only the intermediate the next time.  The root takes
	# --algo only (its name, subject and lifetime are the settings').
	if [ "$(pki_ca_count root)" -eq 0 ]; then
		_prev=''
		for _a in "$@"; do
			[ "$_prev" = --algo ] && _algo=$_a
			_prev=$_a
		done
		pki_ca_store --init --root ${_algo:+--algo "$_algo"} || return
	fi
	pki_ca_store --init --intermediate "$@"
}

# pki_ca_root_row: "instance<TAB>certificate<TAB>has key" of the newest
# valid root, nothing if there is none.
pki_ca_root_row() {
	pki_sql -At -F "$(printf '\t')" <<'EOF'
SET search_path TO pki, dd, public;
SELECT i.id, i.certificate, length(d.key) > 0 FROM certinstances i
  JOIN certkeydata d ON d.certinstance = i.id
  JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
  JOIN localca_settings l ON s.name = l.root_name
 WHERE s.type = 'CA' AND i.state <> 'revoked'
   AND i.not_after > now() AT TIME ZONE 'UTC'
 ORDER BY i.id DESC LIMIT 1;
EOF
}

# pki ca root export-key FILE | remove-key | import-key FILE: the root's
# key (encrypted with the CA passphrase) out to FILE (mode 0600, never
# one that exists, never a terminal), out of the database (once exported,
# and only while an intermediate it signed can sign), and back in from
# FILE (refused unless it is the root's key).
pki_ca_root() {
	_act=${1:-}
	[ $# -gt 0 ] && shift
	case $_act:$# in
	export-key:1 | import-key:1 | remove-key:0) ;;
	*) pki_die 2 "$_ca_usage" ;;
	esac
	pki_run_dir
	_row=$(pki_ca_root_row) || exit 2
	[ -n "$_row" ] ||
		pki_die 1 "ca root $_act: no valid root CA in the database (pki ca init --intermediate makes one)"
	_rinst=$(printf '%s\n' "$_row" | cut -f1)
	_rcert=$(printf '%s\n' "$_row" | cut -f2)
	_rkey=$(printf '%s\n' "$_row" | cut -f3)
	case $_act in
	export-key) pki_ca_root_export "$1" ;;
	remove-key) pki_ca_root_remove ;;
	import-key) pki_ca_root_import "$1" ;;
	esac
}

pki_ca_root_export() {
	[ "$_rkey" = t ] ||
		pki_die 1 "ca root export-key: the key of root instance $_rinst is not in the database"
	case $1 in
	- | '') pki_die 2 "ca root export-key: FILE, not the standard output" ;;
	esac
	if [ -e "$1" ] || [ -L "$1" ]; then
		pki_die 2 "ca root export-key: $1 exists; a key file is never overwritten"
	fi
	# noclobber: created here (O_EXCL), mode 0600 by the umask.
	if ! (umask 077 && set -C && : > "$1" && set +C &&
		pki_sql -At -v inst="$_rinst" > "$1" <<'EOF'
SET search_path TO pki, dd, public;
SELECT rtrim(convert_from(key, 'UTF8'), E'\n') FROM certkeydata
 WHERE certinstance = :'inst'::int4 AND length(key) > 0;
EOF
	) || ! grep -q 'ENCRYPTED PRIVATE KEY' "$1"; then
		[ -f "$1" ] && rm -f "$1"
		pki_die 2 "ca root export-key: cannot write $1"
	fi
	pki_sql -v inst="$_rinst" -v cert="$_rcert" -v file="$1" <<'EOF' || exit 2
SET search_path TO pki, dd, public;
INSERT INTO events (certificate, instance, name, stage, level, message)
SELECT :'cert'::int4, :'inst'::int4, l.root_name, 'pki', 'info',
       'root key exported to ' || :'file' FROM localca_settings l;
EOF
	pki_say "the key of root instance $_rinst is in $1 (mode 0600, encrypted with the CA passphrase): keep it offline; pki ca root remove-key takes it out of the database"
}

pki_ca_root_remove() {
	[ "$_rkey" = t ] || {
		pki_say "the key of root instance $_rinst is not in the database"
		return 0
	}
	_why=$(pki_sql -At -v inst="$_rinst" <<'EOF'
SET search_path TO pki, dd, public;
SELECT CASE
  WHEN NOT EXISTS (SELECT 1 FROM events WHERE instance = :'inst'::int4
		    AND message LIKE 'root key exported to %')
  THEN 'it was never exported (pki ca root export-key FILE)'
  WHEN NOT EXISTS (SELECT 1 FROM certinstances i
		     JOIN certkeydata d ON d.certinstance = i.id
		    WHERE i.cacert = :'inst'::int4 AND i.id <> i.cacert
		      AND i.state <> 'revoked' AND length(d.key) > 0
		      AND i.not_after > now() AT TIME ZONE 'UTC')
  THEN 'no valid intermediate it signed can sign (pki ca init --intermediate)'
  ELSE '' END;
EOF
) || exit 2
	[ -z "$_why" ] ||
		pki_die 1 "ca root remove-key: the key of root instance $_rinst is kept: $_why"
	pki_sql -v inst="$_rinst" -v cert="$_rcert" <<'EOF' || exit 2
SET search_path TO pki, dd, public;
BEGIN;
UPDATE certkeydata SET key = '\x'::bytea WHERE certinstance = :'inst'::int4;
INSERT INTO events (certificate, instance, name, stage, level, message)
SELECT :'cert'::int4, :'inst'::int4, l.root_name, 'pki', 'info',
       'root key removed from the database' FROM localca_settings l;
COMMIT;
EOF
	pki_say "the key of root instance $_rinst is out of the database (pki ca root import-key FILE brings it back)"
}

pki_ca_root_import() {
	[ -r "$1" ] || pki_die 2 "ca root import-key: cannot read $1"
	pki_run_dir
	pki_sql -At -v inst="$_rinst" > "$PKI_RUN_DIR/root.pem" <<'EOF' || exit 2
SET search_path TO pki, dd, public;
SELECT convert_from(cert, 'UTF8') FROM certkeydata
 WHERE certinstance = :'inst'::int4;
EOF
	pki_ca_passphrase
	pki_flags
	pki_ca_store --import --root --ca-cert "$PKI_RUN_DIR/root.pem" \
		--ca-key "$1" || return
	_row=$(pki_ca_root_row) || exit 2
	[ "$(printf '%s\n' "$_row" | cut -f3)" = t ] ||
		pki_die 1 "ca root import-key: the key of root instance $_rinst is still not in the database"
	pki_say "the key of root instance $_rinst is back in the database"
}

_import_usage="usage: pki import ca --cert FILE --key FILE"

# pki import ca --cert FILE --key FILE: a local CA made elsewhere
# (serverPKI's ca_cert and ca_key) becomes the CA that signs; its key,
# in clear or encrypted with the CA passphrase, is stored encrypted with
# it.  Importing it again changes nothing.
pki_import_ca() {
	_cert='' _key=''
	while [ $# -gt 0 ]; do
		case $1 in
		--cert) [ $# -ge 2 ] || pki_die 2 "$_import_usage"
			_cert=$2; shift 2 ;;
		--key) [ $# -ge 2 ] || pki_die 2 "$_import_usage"
			_key=$2; shift 2 ;;
		*) pki_die 2 "$_import_usage" ;;
		esac
	done
	[ -n "$_cert" ] || pki_die 2 "$_import_usage"
	[ -n "$_key" ] || pki_die 2 "$_import_usage"
	pki_ca_passphrase
	pki_flags
	pki_ca_store --import --ca-cert "$_cert" --ca-key "$_key"
}
