-- 006-acme.sql - what pki-acme needs of the database: the ACME accounts,
-- the challenge type of each certificate, and that type in the cert
-- record ("challenge").  Applied by "pki db migrate" inside one
-- transaction.

SET search_path TO pki, dd, public;

---------------------------------------------------------------- accounts

-- The accounts at ACME CAs, written by pki-store from the records of
-- "pki-acme register | rollover | deactivate".  pki-acme order, finish and
-- revoke use the newest valid account of their directory.  key: the
-- account key, PEM PKCS#8, encrypted like every key at rest when
-- Revision.keysEncrypted.
CREATE TABLE pki.acme_accounts (
	id		SERIAL		PRIMARY KEY,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	directory	TEXT		NOT NULL,	-- the CA's directory URL
	url		TEXT		NOT NULL UNIQUE, -- the account's URL
	contact		TEXT[]		NOT NULL DEFAULT '{}', -- mailto: URLs
	key		BYTEA		NOT NULL,
	key_type	TEXT		NOT NULL DEFAULT 'ec'
				CHECK (key_type IN ('ec', 'rsa')),
	status		TEXT		NOT NULL DEFAULT 'valid'
				CHECK (status IN ('valid', 'deactivated',
				    'revoked')),
	eab_kid		TEXT		-- the external account's key id
);
CREATE INDEX acme_accounts_directory ON pki.acme_accounts
	(directory, status, created);
CREATE TRIGGER ut_acme_accounts BEFORE UPDATE ON pki.acme_accounts
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

---------------------------------------------------------------- challenges

-- How an ACME certificate proves its names: dns-01 (a TXT record, the
-- only way for wildcards) or http-01 (a file on the web server).
ALTER TABLE pki.Certificates ADD COLUMN acme_challenge TEXT NOT NULL
	DEFAULT 'dns-01' CHECK (acme_challenge IN ('dns-01', 'http-01'));

---------------------------------------------------------------- records

-- cert_records of 005-records.sql with "challenge": the challenge type of
-- an ACME certificate (null for the local CA's).
CREATE OR REPLACE VIEW cert_records AS
SELECT c.id,
       s.name,
       s.type AS subject_type,
       c.disabled,
       json_build_object(
	   'id', c.id,
	   'name', s.name,
	   'subject_type', s.type,
	   'ca', CASE c.type WHEN 'LE' THEN 'acme' ELSE 'local' END,
	   'algos', CASE c.encryption_algo
			WHEN 'rsa_plus_ec' THEN json_build_array('rsa', 'ec')
			ELSE json_build_array(c.encryption_algo) END,
	   'altnames', COALESCE((
		SELECT json_agg(a.name ORDER BY a.name)
		  FROM subjects a
		 WHERE a.certificate = c.id AND a.isaltname), '[]'),
	   'ocsp_must_staple', c.ocsp_must_staple,
	   'disabled', c.disabled,
	   'services', COALESCE((
		SELECT json_agg(json_build_object(
			   'name', sv.name,
			   'port', sv.port,
			   'tlsa_prefix', sv.tlsaprefix)
			 ORDER BY sv.port, sv.name)
		  FROM certificates_services cs
		  JOIN services sv ON sv.id = cs.service
		 WHERE cs.certificate = c.id), '[]'),
	   'targets', COALESCE((
		SELECT json_agg(json_build_object(
			   'id', t.id,
			   'disthost', d.fqdn,
			   'jailroot', d.jailroot,
			   'jail', j.name,
			   'place', CASE WHEN p.id IS NULL THEN NULL ELSE
				json_build_object(
				   'name', p.name,
				   'cert_file_type', p.cert_file_type,
				   'cert_path', p.cert_path,
				   'key_path', p.key_path,
				   'uid', p.uid,
				   'gid', p.gid,
				   'mode', p.mode,
				   'chown_both', p.chownboth,
				   'pg_link', p.pglink,
				   'reload_command', p.reload_command) END)
			 ORDER BY d.fqdn, j.name, p.name)
		  FROM targets t
		  JOIN disthosts d ON d.id = t.disthost
		  LEFT JOIN jails j ON j.id = t.jail
		  LEFT JOIN places p ON p.id = t.place
		 WHERE t.certificate = c.id), '[]'),
	   'challenge', CASE c.type WHEN 'LE' THEN c.acme_challenge END
       ) AS record
  FROM certificates c
  JOIN subjects s ON s.certificate = c.id AND NOT s.isaltname;
