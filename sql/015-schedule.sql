-- 015-schedule.sql - when each certificate is due, stored and indexed,
-- for pki-select --schedule and --create --due (pki schedule).
--
-- Every instance has a renewal time, renew_at, kept by triggers: when a
-- third of its lifetime is left (half for lifetimes under 10 days), or
-- what the certificate's override says (renew_before_days, or
-- renew_fraction of the lifetime left), made earlier by a jitter that is
-- fixed per instance (up to a tenth of that lead, so that certificates
-- issued together spread over the runs of some hours or days and none
-- renews later than its rule); the CA's ACME Renewal Information
-- (pki.ari.renew_at) wins when there is one.  Each valid instance of an
-- ACME certificate also has ari_check, when to ask its CA for the window.
--
-- pki.schedule holds one row per certificate: renew_at, the renewal time
-- of its newest valid instance ('-infinity' when it has none: issue at
-- once), and its failures: how many in a row, the last one's time and
-- message, and next_attempt (1 h after the first failure, then 2 h, 4 h
-- ... at most 1 day).  due_at, the later of the two, is indexed: "what is
-- due now" is a range scan.  pki-store records failures and successes
-- (schedule_failed, schedule_succeeded).

SET search_path TO pki, dd, public;

ALTER TABLE pki.certificates
	ADD COLUMN renew_before_days numeric
		CHECK (renew_before_days > 0 AND renew_before_days <= 3650),
	ADD COLUMN renew_fraction numeric
		CHECK (renew_fraction > 0 AND renew_fraction < 1),
	ADD CONSTRAINT certificates_renew_one_override
		CHECK (renew_before_days IS NULL OR renew_fraction IS NULL);

-- ari_check: when to ask an ACME CA for the instance's renewal window
-- (pki.ari.next_check; at once when never asked; NULL for a local CA).
ALTER TABLE pki.certinstances ADD COLUMN renew_at TIMESTAMP,
	ADD COLUMN ari_check TIMESTAMP;

CREATE TABLE pki.schedule (
	id		SERIAL		PRIMARY KEY,
	certificate	int4		NOT NULL UNIQUE
				REFERENCES Certificates
				ON DELETE CASCADE ON UPDATE CASCADE,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	renew_at	TIMESTAMP	NOT NULL DEFAULT '-infinity',
	failures	int4		NOT NULL DEFAULT 0 CHECK (failures >= 0),
	last_failure	TIMESTAMP,
	last_error	TEXT		CHECK (length(last_error) <= 1024),
	next_attempt	TIMESTAMP,
	due_at		TIMESTAMP	GENERATED ALWAYS AS
				(CASE WHEN next_attempt > renew_at
				 THEN next_attempt ELSE renew_at END) STORED
);
CREATE INDEX schedule_due_at ON pki.schedule (due_at);
CREATE TRIGGER ut_schedule BEFORE UPDATE ON pki.schedule
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

-- Expiry and archiving are range scans too.
CREATE INDEX certinstances_valid_not_after ON pki.certinstances (not_after)
	WHERE state IN ('issued', 'prepublished', 'deployed');
CREATE INDEX certinstances_expired_not_after ON pki.certinstances (not_after)
	WHERE state = 'expired';
CREATE INDEX certinstances_archived ON pki.certinstances (certificate, id)
	WHERE state = 'archived';
CREATE INDEX certinstances_ari_check ON pki.certinstances (ari_check)
	WHERE state IN ('issued', 'prepublished', 'deployed');

-- The renewal time of an instance of certificate CERT valid from NB to NA
-- by the lifetime rule, the certificate's override and the jitter of
-- instance INST; ARI (ARI_AT, UTC) wins when not NULL.
CREATE FUNCTION pki.renew_time(inst int4, nb timestamp, na timestamp,
	before_days numeric, fraction numeric, ari_at timestamp)
	RETURNS timestamp LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN ari_at IS NOT NULL THEN ari_at ELSE
	  greatest(nb, na - lead - lead / 10 *
	    ((hashint4(inst)::int8 & 65535) / 65536.0)::float8) END
	  FROM (SELECT CASE
		WHEN before_days IS NOT NULL THEN before_days::float8 * interval '1 day'
		WHEN fraction IS NOT NULL THEN (na - nb) * fraction::float8
		WHEN na - nb < interval '10 days' THEN (na - nb) / 2
		ELSE (na - nb) / 3 END AS lead) l
$$;

-- The renewal time of instance I as stored now.
CREATE FUNCTION pki.instance_renew_time(i pki.certinstances)
	RETURNS timestamp LANGUAGE sql STABLE AS $$
	SELECT pki.renew_time(i.id, i.not_before, i.not_after,
		c.renew_before_days, c.renew_fraction,
		(SELECT a.renew_at AT TIME ZONE 'UTC' FROM pki.ari a
		  WHERE a.certinstance = i.id))
	  FROM pki.certificates c WHERE c.id = i.certificate
$$;

-- Certificate CERT's renewal time: that of its newest valid instance,
-- '-infinity' when it has none.
CREATE FUNCTION pki.schedule_refresh(cert int4) RETURNS void
	LANGUAGE sql AS $$
	INSERT INTO pki.schedule AS s (certificate, renew_at)
	SELECT c.id, coalesce((SELECT max(i.renew_at) FROM pki.certinstances i
		WHERE i.certificate = c.id
		  AND i.state IN ('issued', 'prepublished', 'deployed')),
		'-infinity')
	  FROM pki.certificates c WHERE c.id = cert
	ON CONFLICT (certificate) DO UPDATE SET renew_at = EXCLUDED.renew_at
	 WHERE s.renew_at IS DISTINCT FROM EXCLUDED.renew_at
$$;

-- When to ask the CA of instance I for its window.
CREATE FUNCTION pki.instance_ari_check(i pki.certinstances)
	RETURNS timestamp LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN c.type = 'LE' THEN coalesce((SELECT a.next_check
		AT TIME ZONE 'UTC' FROM pki.ari a WHERE a.certinstance = i.id),
		i.not_before) END
	  FROM pki.certificates c WHERE c.id = i.certificate
$$;

CREATE FUNCTION pki.certinstances_renew_at() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	NEW.renew_at := pki.instance_renew_time(NEW);
	NEW.ari_check := pki.instance_ari_check(NEW);
	RETURN NEW;
END
$$;
CREATE TRIGGER certinstances_renew_at
	BEFORE INSERT OR UPDATE OF not_before, not_after, certificate
	ON pki.certinstances
	FOR EACH ROW EXECUTE FUNCTION pki.certinstances_renew_at();

CREATE FUNCTION pki.certinstances_schedule() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		PERFORM pki.schedule_refresh(OLD.certificate);
	END IF;
	IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR
	    NEW.certificate <> OLD.certificate) THEN
		PERFORM pki.schedule_refresh(NEW.certificate);
	END IF;
	RETURN NULL;
END
$$;
-- (UPDATE OF names the columns SET, not those a BEFORE trigger changed.)
CREATE TRIGGER certinstances_schedule
	AFTER INSERT OR DELETE OR UPDATE OF state, renew_at, certificate,
	not_before, not_after ON pki.certinstances
	FOR EACH ROW EXECUTE FUNCTION pki.certinstances_schedule();

-- A new certificate is due at once; a changed override moves the renewal
-- time of its instances.
CREATE FUNCTION pki.certificates_schedule() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO pki.schedule (certificate) VALUES (NEW.id);
	ELSE
		UPDATE pki.certinstances i SET renew_at =
			pki.instance_renew_time(i) WHERE i.certificate = NEW.id;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER certificates_schedule
	AFTER INSERT OR UPDATE OF renew_before_days, renew_fraction
	ON pki.certificates
	FOR EACH ROW EXECUTE FUNCTION pki.certificates_schedule();

-- A renewal window stored or changed moves its instance's renewal time.
CREATE FUNCTION pki.ari_schedule() RETURNS trigger
	LANGUAGE plpgsql AS $$
DECLARE
	inst int4 := CASE TG_OP WHEN 'DELETE' THEN OLD.certinstance
		ELSE NEW.certinstance END;
BEGIN
	UPDATE pki.certinstances i SET renew_at = pki.instance_renew_time(i),
	       ari_check = pki.instance_ari_check(i)
	 WHERE i.id = inst;
	RETURN NULL;
END
$$;
CREATE TRIGGER ari_schedule AFTER INSERT OR DELETE OR UPDATE
	ON pki.ari FOR EACH ROW EXECUTE FUNCTION pki.ari_schedule();

-- An attempt to issue or renew CERT failed at AT with MESSAGE: one more
-- failure in a row, the next attempt 1 h, 2 h, 4 h ... at most 1 day
-- later.
CREATE FUNCTION pki.schedule_failed(cert int4, at timestamp, message text)
	RETURNS void LANGUAGE sql AS $$
	UPDATE pki.schedule SET failures = failures + 1, last_failure = at,
	       last_error = left(message, 1024),
	       next_attempt = at + least(interval '1 day',
		   interval '1 hour' * power(2, least(failures, 5)))
	 WHERE certificate = cert
$$;

-- An instance of CERT was issued: its failures are forgotten.
CREATE FUNCTION pki.schedule_succeeded(cert int4) RETURNS void
	LANGUAGE sql AS $$
	UPDATE pki.schedule SET failures = 0, last_failure = NULL,
	       last_error = NULL, next_attempt = NULL
	 WHERE certificate = cert AND failures > 0
$$;

-- What the migration finds.
UPDATE pki.certinstances i SET renew_at = pki.instance_renew_time(i),
	ari_check = pki.instance_ari_check(i);
INSERT INTO pki.schedule (certificate)
SELECT id FROM pki.certificates ON CONFLICT DO NOTHING;
SELECT pki.schedule_refresh(id) FROM pki.certificates;
