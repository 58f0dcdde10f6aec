-- 031-acme-server.sql - a certificate's own ACME server: the directory
-- URL of the CA that issues and renews it, when it is not the one of
-- pki.conf (PKI_ACME_DIRECTORY).  Applied by "pki db migrate" inside one
-- transaction.
--
-- pki cert add|set --acme-server URL sets it, pki import certbot sets it
-- from a lineage's renewal configuration ("server"); NULL: the CA of
-- pki.conf.  The record gets it as "acme_directory" (pki-record(5)):
-- pki-acme sends the certificate's requests there, signed with the
-- newest valid account of that directory (acme_accounts).

SET search_path TO pki, dd, public;

ALTER TABLE pki.Certificates ADD COLUMN acme_directory TEXT
	CHECK (acme_directory ~ '^https://[^[:space:][:cntrl:]]+$'
	    AND length(acme_directory) <= 1024);

-- 016/030's layer, which adds what only an ACME certificate has: the
-- profile, and now the directory.
CREATE OR REPLACE FUNCTION pki.record_profile(cert int4, rec json)
	RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE
	profile text;
	directory text;
BEGIN
	SELECT c.acme_profile, c.acme_directory INTO profile, directory
	  FROM pki.certificates c
	 WHERE c.id = cert AND c.type = 'LE';
	IF profile IS NULL AND directory IS NULL THEN
		RETURN rec;
	END IF;
	RETURN (rec::jsonb || jsonb_strip_nulls(jsonb_build_object(
	    'profile', profile, 'acme_directory', directory)))::json;
END $$;

-- An account the CA forgot (Pebble, restarted, knows none) is registered
-- again with its key by pki-acme: the row of its old URL becomes
-- 'replaced' (pki-store, from the new account's "replaces"), so that it
-- is never taken for the newest valid account again.
ALTER TABLE pki.acme_accounts
	DROP CONSTRAINT acme_accounts_status_check,
	ADD CONSTRAINT acme_accounts_status_check
	    CHECK (status IN ('valid', 'deactivated', 'revoked', 'replaced'));
