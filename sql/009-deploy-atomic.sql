-- 009-deploy-atomic.sql - a place may ask for its files to be replaced
-- all at once.  Applied by "pki db migrate" inside one transaction.
--
-- A renewal replaces a certificate and its key: two files, two renames,
-- and a run killed between them leaves a new certificate beside the old
-- key.  A place with atomic = true gets every file of a certificate in a
-- new version directory, <cert_path>/.pki-NAME/<instance>/, and each
-- file's usual path is a link into <cert_path>/.pki-NAME/current, the
-- one link that pki-deploy swaps by a single rename: a reader sees the
-- old set or the new one, never a mix (pki-deploy(1), "Atomic places").
-- The certbot live file type is versioned that way already.

SET search_path TO pki, dd, public;

ALTER TABLE Places ADD COLUMN atomic BOOLEAN NOT NULL DEFAULT false;
COMMENT ON COLUMN Places.atomic IS
	'files in a new version directory, swapped in by one link (pki-deploy)';

---------------------------------------------------------------- records

-- cert_records of 006-acme.sql with the place's "atomic".
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
				   'reload_command', p.reload_command,
				   'atomic', p.atomic) END)
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
