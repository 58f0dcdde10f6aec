-- 027-targets.sql - two more kinds of place: a hook (files written on
-- the machine pki-deploy runs on, then a command of the admin's run for
-- each certificate and target) and Redis priming (peter_sslers's
-- prime_style 1 and 2 layouts, for OpenResty's dynamic certificates).
-- Applied by "pki db migrate" inside one transaction.
--
-- Places.kind: 'files' (the files of cert_file_type and format on the
-- target's disthost, as before), 'hook' or 'redis'; pki-deploy(1),
-- "Hook places" and "Redis places", says what each does.
--   hook_command       hook: the command, run by /bin/sh -c as it is
--                      written here; nothing of a certificate is ever put
--                      into it (the values reach it in its environment)
--   redis_url          redis: redis://[USER@]HOST[:PORT][/DB]; NULL:
--                      the target's disthost, port 6379, database 0
--   redis_prime_style  redis: 1 or 2 (peter_sslers's redis.prime_style)
--   redis_auth_file    redis: the file (on the deploying machine) holding
--                      the password for AUTH; the database holds only
--                      its path
-- A redis place writes no file: its cert_path may be NULL.
--
-- Deployments.hook_*: the hook's command, exit status and stderr, as
-- reload_* hold the reload command's.
--
-- The records of pki-select carry these in the place of a target only
-- when the place is not of kind files, so that every other record is as
-- it was: cert_records is wrapped, not written out again.

SET search_path TO pki, dd, public;

ALTER TABLE Places ADD COLUMN kind TEXT NOT NULL DEFAULT 'files'
	CONSTRAINT places_kind CHECK (kind IN ('files', 'hook', 'redis'));
ALTER TABLE Places ADD COLUMN hook_command TEXT
	CONSTRAINT places_hook_command CHECK (length(hook_command) <= 4096);
ALTER TABLE Places ADD COLUMN redis_url TEXT
	CONSTRAINT places_redis_url CHECK (redis_url ~
	    '^(redis://)?([A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[0-9]{1,5})?$');
ALTER TABLE Places ADD COLUMN redis_prime_style int2
	CONSTRAINT places_redis_prime_style CHECK (redis_prime_style IN (1, 2));
ALTER TABLE Places ADD COLUMN redis_auth_file TEXT
	CONSTRAINT places_redis_auth_file
	CHECK (redis_auth_file ~ '^/' AND length(redis_auth_file) <= 1024
	    AND redis_auth_file !~ '[[:cntrl:]]');
ALTER TABLE Places ALTER COLUMN cert_path DROP NOT NULL;
ALTER TABLE Places ADD CONSTRAINT places_kind_fields CHECK (CASE kind
	WHEN 'hook' THEN hook_command IS NOT NULL AND cert_path IS NOT NULL
	WHEN 'redis' THEN redis_prime_style IS NOT NULL
	ELSE cert_path IS NOT NULL END);
COMMENT ON COLUMN Places.kind IS
	'files, hook or redis (pki-deploy(1), "Hook places", "Redis places")';
COMMENT ON COLUMN Places.hook_command IS
	'hook: run by /bin/sh -c after the files are written, values in its environment';
COMMENT ON COLUMN Places.redis_url IS
	'redis: redis://[USER@]HOST[:PORT][/DB]; NULL: the disthost, 6379, 0';
COMMENT ON COLUMN Places.redis_prime_style IS
	'redis: peter_sslers''s prime_style, 1 or 2';
COMMENT ON COLUMN Places.redis_auth_file IS
	'redis: the file (on the deploying machine) holding the AUTH password';

ALTER TABLE Deployments ADD COLUMN hook_command TEXT;
ALTER TABLE Deployments ADD COLUMN hook_status int4;
ALTER TABLE Deployments ADD COLUMN hook_stderr TEXT;

ALTER VIEW cert_records RENAME TO cert_records_nokind;

CREATE VIEW cert_records AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       CASE WHEN NOT EXISTS (
		SELECT 1 FROM targets t JOIN places p ON p.id = t.place
		 WHERE t.certificate = b.id AND p.kind <> 'files')
	    THEN b.record
	    ELSE jsonb_set(b.record::jsonb, '{targets}', (
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
		  FROM jsonb_array_elements(b.record::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN places p ON p.id = t.place))::json
	END AS record
  FROM cert_records_nokind b;
