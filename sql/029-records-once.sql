-- 029-records-once.sql - each layer of cert_records computes the record
-- of the layer below once.  Applied by "pki db migrate" inside one
-- transaction.
--
-- 016, 022, 026 and 027 each wrapped cert_records in a view that named
-- the record below two to four times (a CASE that passes it on, or
-- rebuilds it).  PostgreSQL inlines views, so every mention became the
-- whole expression again: the record of the first layer was built up to
-- 72 times per row, and the planner planned each copy.  With four layers
-- a SELECT of every record of a small test database took 30 s to run
-- and 240 ms to plan (pki-select plans its queries at each run), against
-- 0.3 s and 16 ms with two.
--
-- Each layer now takes the record below through a LATERAL subquery that
-- OFFSET 0 keeps from being pulled up: the record is built once, and the
-- layer reads that result as often as it likes.  The layers' columns and
-- what they compute are unchanged; a condition on id or name still goes
-- down to the tables.

SET search_path TO pki, dd, public;

-- 016: the ACME profile.
CREATE OR REPLACE VIEW cert_records_noformat AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       CASE WHEN c.acme_profile IS NULL OR c.type <> 'LE' THEN r.rec
	    ELSE (r.rec::jsonb ||
		jsonb_build_object('profile', c.acme_profile))::json
	END AS record
  FROM cert_records_base b
  CROSS JOIN LATERAL (SELECT b.record AS rec OFFSET 0) r
  JOIN certificates c ON c.id = b.id;

-- 022: the place's format and PKCS#12 passphrase file.
CREATE OR REPLACE VIEW cert_records_nocsr AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       CASE WHEN NOT EXISTS (
		SELECT 1 FROM targets t JOIN places p ON p.id = t.place
		 WHERE t.certificate = b.id
		   AND (p.format <> 'pem' OR p.p12_passphrase_file IS NOT NULL))
	    THEN r.rec
	    ELSE jsonb_set(r.rec::jsonb, '{targets}', (
		SELECT jsonb_agg(CASE WHEN p.id IS NULL THEN e.t
			ELSE jsonb_set(e.t, '{place}', (e.t->'place') ||
			    jsonb_strip_nulls(jsonb_build_object(
				'format', p.format,
				'p12_passphrase_file', p.p12_passphrase_file)))
			END ORDER BY e.n)
		  FROM jsonb_array_elements(r.rec::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN places p ON p.id = t.place))::json
	END AS record
  FROM cert_records_noformat b
  CROSS JOIN LATERAL (SELECT b.record AS rec OFFSET 0) r;

-- 026: the CSR of a keyless certificate, the place's DH parameters.
CREATE OR REPLACE VIEW cert_records_nokind AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       CASE WHEN c.csr IS NULL AND NOT EXISTS (
		SELECT 1 FROM targets t JOIN places p ON p.id = t.place
		 WHERE t.certificate = b.id AND p.dhparam IS NOT NULL)
	    THEN r.rec
	    ELSE (CASE WHEN c.csr IS NULL THEN r.rec::jsonb
		ELSE r.rec::jsonb || jsonb_build_object('keyless', true,
		    'csr', jsonb_build_object(c.encryption_algo::text, c.csr))
		END ||
		jsonb_build_object('targets', COALESCE((
		SELECT jsonb_agg(CASE WHEN p.dhparam IS NULL THEN e.t
			ELSE jsonb_set(e.t, '{place}', (e.t->'place') ||
			    jsonb_build_object('dhparam', p.dhparam))
			END ORDER BY e.n)
		  FROM jsonb_array_elements(r.rec::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN places p ON p.id = t.place), '[]')))::json
	END AS record
  FROM cert_records_nocsr b
  CROSS JOIN LATERAL (SELECT b.record AS rec OFFSET 0) r
  JOIN certificates c ON c.id = b.id;

-- 027: the place's kind (hook, redis) and what that kind needs.
CREATE OR REPLACE VIEW cert_records AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       CASE WHEN NOT EXISTS (
		SELECT 1 FROM targets t JOIN places p ON p.id = t.place
		 WHERE t.certificate = b.id AND p.kind <> 'files')
	    THEN r.rec
	    ELSE jsonb_set(r.rec::jsonb, '{targets}', (
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
		  FROM jsonb_array_elements(r.rec::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN places p ON p.id = t.place))::json
	END AS record
  FROM cert_records_nokind b
  CROSS JOIN LATERAL (SELECT b.record AS rec OFFSET 0) r;
