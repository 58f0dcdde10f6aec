-- 007-deploy.sql - distribution: the state of every instance on every
-- target, the rule for which instance to distribute, and two file sets of
-- certbot and ssl-mgr for the places.  Applied by "pki db migrate" inside
-- one transaction.
--
-- serverPKI kept one state per instance and set it to 'deployed' although
-- a host failed.  pki keeps a row per instance and target (host, jail,
-- place): its status, the files the target holds (path, SHA-256, mode),
-- the reload command's exit status and stderr, the last error, how often
-- it was tried and when.  An instance becomes 'deployed' only when every
-- target of its certificate holds it (pki-store does that); a target that
-- failed is tried again on the next run.

SET search_path TO pki, dd, public;

---------------------------------------------------------------- places

-- 'certbot': cert.pem, chain.pem, fullchain.pem, privkey.pem and
-- bundle.pem (ssl-mgr: key + fullchain) in cert_path.
-- 'certbot live': the same files in cert_path/archive/NAME/SERIAL/ and
-- the link cert_path/live/NAME to that directory, replaced at once, so a
-- reader sees the old set or the new one, never a mix.
-- (A value added here can be used only once this transaction committed.)
ALTER TYPE dd.place_cert_file_type ADD VALUE IF NOT EXISTS 'certbot';
ALTER TYPE dd.place_cert_file_type ADD VALUE IF NOT EXISTS 'certbot live';

-- Places.mode is written as the octal digits of the mode, like chmod(1)
-- takes them: 640 for rw-r-----.  A key file never gives others access.
-- NOT VALID: rows of an older database are checked by pki-deploy, which
-- refuses such a place, rather than failing this migration.
ALTER TABLE Places ADD CONSTRAINT places_mode_octal CHECK (mode IS NULL
	OR (mode::text ~ '^[0-7]{3}$' AND mode % 10 = 0
	    AND mode / 100 % 10 >= 4)) NOT VALID;
COMMENT ON COLUMN Places.mode IS
	'mode of the key file as octal digits (640 = rw-r-----); NULL: 400';

---------------------------------------------------------------- deployments

-- One row per instance and target that pki distributed (or is
-- distributing) the instance to.
--   status        pending: claimed by a run that has not reported yet;
--                 ok: the target holds the instance; failed: the last
--                 attempt failed (last_error says why)
--   files         what the target holds after the last success:
--                 [{"path", "sha256", "mode"}] or [{"path", "link"}]
--   claimed       set by pki-select --distribute/--consolidate while a
--                 run works on the target, cleared by pki-store; a claim
--                 older than pki-select --stale is void
--   attempts      results stored for this instance and target
--   tried         time of the last result; deployed: of the last success
CREATE TABLE pki.Deployments (
	id		SERIAL		PRIMARY KEY,
	certinstance	int4		NOT NULL
				REFERENCES CertInstances
				ON DELETE CASCADE ON UPDATE CASCADE,
	target		int4		NOT NULL
				REFERENCES Targets
				ON DELETE CASCADE ON UPDATE CASCADE,
	status		TEXT		NOT NULL DEFAULT 'pending'
				CHECK (status IN ('pending', 'ok', 'failed')),
	files		jsonb		NOT NULL DEFAULT '[]',
	reload_command	TEXT,
	reload_status	int4,
	reload_stderr	TEXT,
	last_error	TEXT,
	attempts	int4		NOT NULL DEFAULT 0,
	claimed		TIMESTAMP,
	tried		TIMESTAMP,
	deployed	TIMESTAMP,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	UNIQUE (certinstance, target)
);
CREATE INDEX deployments_target ON pki.Deployments (target);
CREATE TRIGGER ut_Deployments BEFORE UPDATE ON pki.Deployments
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

---------------------------------------------------------------- rules

-- True when every target of the certificate of instance THE_ID holds the
-- instance (a certificate without targets has nowhere to go: false).
CREATE FUNCTION pki.instance_on_all_targets(the_id int4) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public
	AS $$
SELECT EXISTS (SELECT 1 FROM Targets t JOIN CertInstances i
		ON i.certificate = t.certificate WHERE i.id = the_id)
   AND NOT EXISTS (
	SELECT 1 FROM Targets t
	  JOIN CertInstances i ON i.certificate = t.certificate
	 WHERE i.id = the_id
	   AND NOT EXISTS (SELECT 1 FROM Deployments d
			    WHERE d.certinstance = i.id AND d.target = t.id
			      AND d.status = 'ok'))
$$;

-- The instance of certificate THE_CERT that pki distribute (serverPKI -D)
-- deploys: the newest instance in state issued or prepublished that is
-- valid now and newer than the deployed one; else the deployed instance
-- when a target does not hold it yet (it failed, or was added since).
-- NULL: nothing to distribute.
CREATE FUNCTION pki.instance_to_distribute(the_cert int4) RETURNS int4
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public
	AS $$
WITH dep AS (
	SELECT id FROM CertInstances
	 WHERE certificate = the_cert AND state = 'deployed'
	 ORDER BY id DESC LIMIT 1),
fresh AS (
	SELECT i.id FROM CertInstances i
	 WHERE i.certificate = the_cert
	   AND i.state IN ('issued', 'prepublished')
	   AND i.not_before <= now() AT TIME ZONE 'UTC'
	   AND i.not_after > now() AT TIME ZONE 'UTC'
	   AND i.id > coalesce((SELECT id FROM dep), 0)
	   AND EXISTS (SELECT 1 FROM CertKeyData k WHERE k.certinstance = i.id)
	 ORDER BY i.id DESC LIMIT 1)
SELECT coalesce((SELECT id FROM fresh),
	(SELECT id FROM dep WHERE NOT pki.instance_on_all_targets(dep.id)))
$$;

-- The deployed instance of certificate THE_CERT that pki consolidate
-- (serverPKI -K) checks on its targets; NULL if there is none.
CREATE FUNCTION pki.instance_to_consolidate(the_cert int4) RETURNS int4
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public
	AS $$
SELECT id FROM CertInstances
 WHERE certificate = the_cert AND state = 'deployed'
 ORDER BY id DESC LIMIT 1
$$;

---------------------------------------------------------------- view

-- Where each instance is, for people: one row per instance and target.
CREATE VIEW pki.deploy_state AS
SELECT	s.name		AS "Cert Name",
	i.id		AS "Serial",
	i.state		AS "State",
	d.fqdn		AS "Dist Host",
	j.name		AS "Jail",
	p.name		AS "Place",
	dp.status	AS "Status",
	dp.attempts	AS "Attempts",
	dp.reload_status AS "Reload",
	dp.last_error	AS "Last Error",
	dp.tried	AS "Tried",
	dp.deployed	AS "Deployed",
	t.id		AS t_id
  FROM Deployments dp
  JOIN CertInstances i ON i.id = dp.certinstance
  JOIN Targets t ON t.id = dp.target
  JOIN Subjects s ON s.certificate = i.certificate AND NOT s.isAltname
  JOIN DistHosts d ON d.id = t.distHost
  LEFT JOIN Jails j ON j.id = t.jail
  LEFT JOIN Places p ON p.id = t.place;
