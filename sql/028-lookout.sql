-- 028-lookout.sql - what monitoring sees (pki metrics, pki report):
-- when each certificate was last attempted, and how the runs of each
-- workflow ended.
--
-- pki.schedule.last_attempt: the time of the last attempt to issue or
-- renew the certificate: its last claim (a 'reserved' instance made by
-- pki-select --create) or its last failure (pki.schedule_failed, at the
-- time pki-store was given), whichever is later.
--
-- pki.run_outcomes: per workflow command ('pki schedule', 'pki issue',
-- ...) and outcome ('success': exit 0, 'failure': some certificate
-- failed, exit 1; 'error': the run could not do its work, any other
-- status) how many runs ended so, and when the last one did.  One row
-- per command and outcome, so it does not grow with the runs; pki.runs,
-- which is pruned after a day, is not enough to say "the last run that
-- went well was a week ago".

SET search_path TO pki, dd, public;

ALTER TABLE pki.schedule ADD COLUMN last_attempt TIMESTAMP;

-- A claim is an attempt.
CREATE FUNCTION pki.certinstances_attempt() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	UPDATE pki.schedule SET last_attempt = greatest(last_attempt,
		NEW.created)
	 WHERE certificate = NEW.certificate;
	RETURN NULL;
END
$$;
CREATE TRIGGER certinstances_attempt AFTER INSERT ON pki.certinstances
	FOR EACH ROW WHEN (NEW.state = 'reserved')
	EXECUTE FUNCTION pki.certinstances_attempt();

-- A failure is one too.
CREATE FUNCTION pki.schedule_attempt() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	NEW.last_attempt := greatest(NEW.last_attempt, NEW.last_failure);
	RETURN NEW;
END
$$;
CREATE TRIGGER schedule_attempt BEFORE UPDATE OF last_failure
	ON pki.schedule FOR EACH ROW
	WHEN (NEW.last_failure IS NOT NULL)
	EXECUTE FUNCTION pki.schedule_attempt();

-- What the migration finds: the newest instance's creation, the failure.
UPDATE pki.schedule s SET last_attempt = greatest(s.last_failure,
	(SELECT max(i.created) FROM pki.certinstances i
	  WHERE i.certificate = s.certificate));

CREATE TABLE pki.run_outcomes (
	id		SERIAL		PRIMARY KEY,
	command		TEXT		NOT NULL,
	outcome		TEXT		NOT NULL
				CHECK (outcome IN ('success', 'failure', 'error')),
	runs		int8		NOT NULL DEFAULT 0 CHECK (runs >= 0),
	last		TIMESTAMP	NOT NULL,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	UNIQUE (command, outcome)
);
CREATE TRIGGER ut_run_outcomes BEFORE UPDATE ON pki.run_outcomes
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

-- A run of COMMAND ended with exit status STATUS (now).
CREATE FUNCTION pki.run_end(the_command text, status int4) RETURNS void
	LANGUAGE sql AS $$
	INSERT INTO pki.run_outcomes AS o (command, outcome, runs, last)
	VALUES (the_command, CASE status WHEN 0 THEN 'success'
		WHEN 1 THEN 'failure' ELSE 'error' END, 1,
		now() AT TIME ZONE 'UTC')
	ON CONFLICT (command, outcome) DO UPDATE
	   SET runs = o.runs + 1, last = EXCLUDED.last
$$;
