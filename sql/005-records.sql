-- 005-records.sql - how a configured certificate becomes a cert record.
--
-- pki-select reads this view: one row per certificate, its configuration
-- as the JSON object that starts the record (see pki-record(5)).  serverPKI's
-- cert type 'LE' is the record's "ca": "acme"; encryption_algo
-- 'rsa_plus_ec' is "algos": ["rsa", "ec"].

SET search_path TO pki, dd, public;

CREATE VIEW cert_records AS
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
		 WHERE t.certificate = c.id), '[]')
       ) AS record
  FROM certificates c
  JOIN subjects s ON s.certificate = c.id AND NOT s.isaltname;

-- The PEM certificates of the CAs above instance THE_ID, issuer first,
-- following CertInstances.CAcert up to the instance that refers to itself
-- (a root, or the last CA certificate pki knows).  '' for a self-signed CA.
CREATE FUNCTION instance_chain(the_id int4) RETURNS text
    LANGUAGE sql STABLE
    AS $$
	WITH RECURSIVE up(id, cacert, depth) AS (
		SELECT ci.id, ci.cacert, 1
		  FROM certinstances i
		  JOIN certinstances ci ON ci.id = i.cacert
		 WHERE i.id = the_id AND i.cacert <> i.id
		UNION ALL
		SELECT ci.id, ci.cacert, up.depth + 1
		  FROM up
		  JOIN certinstances ci ON ci.id = up.cacert
		 WHERE up.cacert <> up.id AND up.depth < 16
	)
	SELECT COALESCE(string_agg(pem, '' ORDER BY depth), '')
	  FROM (SELECT DISTINCT ON (up.depth) up.depth,
		       convert_from(d.cert, 'UTF8') AS pem
		  FROM up
		  JOIN certkeydata d ON d.certinstance = up.id
		 ORDER BY up.depth, d.id) AS certs;
    $$;
