-- 023-claims.sql - one claim per certificate, kept by the database.
--
-- pki-select --create claims certificates a chunk at a time: it locks
-- their pki.schedule rows FOR UPDATE SKIP LOCKED, so that runs claiming
-- at the same time take different slices of the batch instead of
-- waiting for each other, and asks again under the locks before it
-- inserts the 'reserved' instances.  This index makes a second claim of
-- a certificate an error whatever a program does; certinstances_reserved
-- of 008-runs.sql was the same index, not unique.
--
-- A database with two claims of one certificate (none should have them)
-- keeps the first; the run of the other finds its claim gone, as when it
-- is taken over, and pki-store refuses its record.

SET search_path TO pki, dd, public;

WITH extra AS (DELETE FROM pki.certinstances i WHERE i.state = 'reserved'
	AND EXISTS (SELECT 1 FROM pki.certinstances f
		     WHERE f.certificate = i.certificate
		       AND f.state = 'reserved' AND f.id < i.id)
	RETURNING i.id, i.certificate)
INSERT INTO pki.events (certificate, name, stage, level, message)
SELECT e.certificate, s.name, 'pki db migrate', 'warning',
       'claim ' || e.id || ' removed: a second claim of its certificate'
  FROM extra e JOIN pki.subjects s ON s.certificate = e.certificate
   AND NOT s.isaltname;

DROP INDEX pki.certinstances_reserved;
CREATE UNIQUE INDEX certinstances_reserved ON pki.certinstances (certificate)
	WHERE state = 'reserved';
