-- 008-runs.sql - runs that know who is alive.
--
-- Every workflow run that claims work (a certificate to issue, a target
-- to deploy to) registers itself in pki.runs and holds a session-level
-- advisory lock on (pki.run_lock_class(), its id) for its lifetime.  The
-- database then knows whether a run is alive: the lock goes when the run's
-- connection goes, whether the run ended, was killed with -9 or lost its
-- database.  A claim names its run, and the claims of a dead run are
-- taken over at once by the next run, with an event, not after a fixed
-- hour.  Claims that name no run (a pipeline typed by hand) still lapse
-- after pki-select --stale.

SET search_path TO pki, dd, public;

CREATE TABLE pki.runs (
	id		SERIAL		PRIMARY KEY,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	host		TEXT		NOT NULL,
	pid		int4		NOT NULL,
	command		TEXT		NOT NULL
);
CREATE TRIGGER ut_runs BEFORE UPDATE ON pki.runs
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

ALTER TABLE pki.certinstances ADD COLUMN run int4
	REFERENCES pki.runs ON DELETE SET NULL;
CREATE INDEX certinstances_run ON pki.certinstances (run);
CREATE INDEX certinstances_reserved ON pki.certinstances (certificate)
	WHERE state = 'reserved';
ALTER TABLE pki.deployments ADD COLUMN run int4
	REFERENCES pki.runs ON DELETE SET NULL;
CREATE INDEX deployments_run ON pki.deployments (run);

-- A warning: something went wrong and was repaired (a dead run's claim
-- taken over), nobody need act.
ALTER TABLE pki.events DROP CONSTRAINT events_level_check;
ALTER TABLE pki.events ADD CONSTRAINT events_level_check
	CHECK (level IN ('info', 'warning', 'error'));

-- The first key of the runs' advisory locks ('PKI1').
CREATE FUNCTION pki.run_lock_class() RETURNS int4
	LANGUAGE sql IMMUTABLE AS 'SELECT 1347111217';

-- The runs alive now: those whose lock some session holds.
CREATE FUNCTION pki.runs_alive() RETURNS TABLE (run int4)
	LANGUAGE sql STABLE AS $$
	SELECT objid::int8::int4 FROM pg_catalog.pg_locks
	 WHERE locktype = 'advisory' AND granted AND objsubid = 2
	   AND classid = pki.run_lock_class()::oid
	   AND database = (SELECT oid FROM pg_catalog.pg_database
			    WHERE datname = current_database())
$$;

CREATE FUNCTION pki.run_alive(the_run int4) RETURNS boolean
	LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM pki.runs_alive() a WHERE a.run = the_run)
$$;

-- Forget runs that are over and hold nothing: kept a day for the events.
CREATE FUNCTION pki.runs_prune() RETURNS void LANGUAGE sql AS $$
	DELETE FROM pki.runs r
	 WHERE r.created < (now() AT TIME ZONE 'UTC') - interval '1 day'
	   AND NOT pki.run_alive(r.id)
	   AND NOT EXISTS (SELECT 1 FROM pki.certinstances i
			    WHERE i.run = r.id AND i.state = 'reserved')
$$;

-- Register a run of COMMAND by process PID on HOST and hold its lock in
-- this session until the session ends; returns the run's id.  Runs that
-- are over are forgotten on the way.
CREATE FUNCTION pki.run_begin(the_host text, the_pid int4, the_command text)
	RETURNS int4 LANGUAGE plpgsql AS $$
DECLARE
	the_run int4;
BEGIN
	PERFORM pki.runs_prune();
	INSERT INTO pki.runs (host, pid, command)
	     VALUES (the_host, the_pid, the_command) RETURNING id INTO the_run;
	PERFORM pg_advisory_lock(pki.run_lock_class(), the_run);
	RETURN the_run;
END
$$;

-- A run as people name it: "run 12 (pid 345 on db1, since 10:02:03)".
CREATE FUNCTION pki.run_text(the_run int4) RETURNS text
	LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT format('run %s (pid %s on %s, since %s)', id,
		pid, host, to_char(created, 'YYYY-MM-DD HH24:MI:SS'))
		  FROM pki.runs WHERE id = the_run), 'a run')
$$;

