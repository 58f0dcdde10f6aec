-- 025-cahier.sql - the local CA as a hierarchy (ssl-mgr's my-root and
-- my-sub): a root CA whose key may be kept offline, and the intermediate
-- CAs it signs, which sign the certificates.  The intermediate is the
-- Subjects row localca_settings.subject_name (the single CA of pki ca init
-- without --intermediate is that row too); the root is the row root_name.
-- An intermediate instance's CAcert is its root's instance, so
-- instance_chain() of a certificate gives its intermediate and the root.
-- A root instance whose CertKeyData.key is empty has its key offline
-- (pki ca root export-key, remove-key, import-key).

SET search_path TO pki, dd, public;

ALTER TABLE pki.localca_settings
	ADD COLUMN root_name	CITEXT	NOT NULL DEFAULT 'Local Root CA',
	ADD COLUMN root_dn	TEXT	NOT NULL DEFAULT 'CN=Local Root CA',
	ADD COLUMN root_days	int	NOT NULL DEFAULT 7300
				CHECK (root_days >= 365),
	ADD CONSTRAINT localca_root_name_differs
		CHECK (root_name <> subject_name);
