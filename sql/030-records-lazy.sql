-- 030-records-lazy.sql - each layer of cert_records computes its record
-- only when a query reads it.  Applied by "pki db migrate" inside one
-- transaction.
--
-- 029 made each layer read the record below once through a LATERAL
-- subquery.  The planner cannot drop such a subquery, so every query of
-- cert_records built every record it joined, even one that reads only
-- the id and name: pki-select --schedule over 100,000 certificates took
-- 2.5 s against 0.16 s before.
--
-- Each layer is now a function of the certificate's id and the record
-- below, and each view only projects: the record below is an argument,
-- computed once, and a query that does not read the record calls no
-- function at all.  PL/pgSQL functions are never inlined, so the
-- record is not copied into the function's body either.  What each
-- layer computes is unchanged (016, 022, 026, 027).

SET search_path TO pki, dd, public;

-- 016: the ACME profile.
CREATE FUNCTION pki.record_profile(cert int4, rec json) RETURNS json
	LANGUAGE plpgsql STABLE AS $$
DECLARE
	profile text;
BEGIN
	SELECT c.acme_profile INTO profile FROM pki.certificates c
	 WHERE c.id = cert AND c.type = 'LE';
	IF profile IS NULL THEN
		RETURN rec;
	END IF;
	RETURN (rec::jsonb || jsonb_build_object('profile', profile))::json;
END $$;

-- 022: the place's format and PKCS#12 passphrase file.
CREATE FUNCTION pki.record_formats(cert int4, rec json) RETURNS json
	LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pki.targets t
		JOIN pki.places p ON p.id = t.place
		 WHERE t.certificate = cert
		   AND (p.format <> 'pem' OR p.p12_passphrase_file IS NOT NULL))
	THEN
		RETURN rec;
	END IF;
	RETURN jsonb_set(rec::jsonb, '{targets}', (
		SELECT jsonb_agg(CASE WHEN p.id IS NULL THEN e.t
			ELSE jsonb_set(e.t, '{place}', (e.t->'place') ||
			    jsonb_strip_nulls(jsonb_build_object(
				'format', p.format,
				'p12_passphrase_file', p.p12_passphrase_file)))
			END ORDER BY e.n)
		  FROM jsonb_array_elements(rec::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN pki.targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN pki.places p ON p.id = t.place))::json;
END $$;

-- 026: the CSR of a keyless certificate, the place's DH parameters.
CREATE FUNCTION pki.record_csr(cert int4, rec json) RETURNS json
	LANGUAGE plpgsql STABLE AS $$
DECLARE
	csr text;
	algo text;
	r jsonb;
BEGIN
	SELECT c.csr, c.encryption_algo::text INTO csr, algo
	  FROM pki.certificates c WHERE c.id = cert;
	IF csr IS NULL AND NOT EXISTS (SELECT 1 FROM pki.targets t
		JOIN pki.places p ON p.id = t.place
		 WHERE t.certificate = cert AND p.dhparam IS NOT NULL)
	THEN
		RETURN rec;
	END IF;
	r := rec::jsonb;
	IF csr IS NOT NULL THEN
		r := r || jsonb_build_object('keyless', true,
		    'csr', jsonb_build_object(algo, csr));
	END IF;
	RETURN (r || jsonb_build_object('targets', COALESCE((
		SELECT jsonb_agg(CASE WHEN p.dhparam IS NULL THEN e.t
			ELSE jsonb_set(e.t, '{place}', (e.t->'place') ||
			    jsonb_build_object('dhparam', p.dhparam))
			END ORDER BY e.n)
		  FROM jsonb_array_elements(rec::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN pki.targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN pki.places p ON p.id = t.place), '[]')))::json;
END $$;

-- 027: the place's kind (hook, redis) and what that kind needs.
CREATE FUNCTION pki.record_kinds(cert int4, rec json) RETURNS json
	LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pki.targets t
		JOIN pki.places p ON p.id = t.place
		 WHERE t.certificate = cert AND p.kind <> 'files')
	THEN
		RETURN rec;
	END IF;
	RETURN jsonb_set(rec::jsonb, '{targets}', (
		SELECT jsonb_agg(CASE WHEN p.id IS NULL OR p.kind = 'files'
			THEN e.t
			ELSE jsonb_set(e.t, '{place}', (e.t->'place') ||
			    jsonb_strip_nulls(jsonb_build_object(
				'kind', p.kind,
				'hook_command', p.hook_command,
				'redis_url', p.redis_url,
				'redis_prime_style', p.redis_prime_style,
				'redis_auth_file', p.redis_auth_file)))
			END ORDER BY e.n)
		  FROM jsonb_array_elements(rec::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN pki.targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN pki.places p ON p.id = t.place))::json;
END $$;

CREATE OR REPLACE VIEW cert_records_noformat AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       pki.record_profile(b.id, b.record) AS record
  FROM cert_records_base b;

CREATE OR REPLACE VIEW cert_records_nocsr AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       pki.record_formats(b.id, b.record) AS record
  FROM cert_records_noformat b;

CREATE OR REPLACE VIEW cert_records_nokind AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       pki.record_csr(b.id, b.record) AS record
  FROM cert_records_nocsr b;

CREATE OR REPLACE VIEW cert_records AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       pki.record_kinds(b.id, b.record) AS record
  FROM cert_records_nokind b;
