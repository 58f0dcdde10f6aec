-- 013-ari.sql - ACME Renewal Information (RFC 9773) of each instance:
-- the CA's suggested window, the time chosen at random inside it and
-- when to ask the CA again, for the scheduler, where the window wins
-- over the lifetime rule (renew with a third of the lifetime left).
--
-- Written only by pki-store, from the "ari" that "pki-acme ari" adds to
-- a record of an instance (pki-record(5)); one row per instance,
-- replaced by each lookup.  A lookup that failed (status 'error') keeps
-- the window and time chosen of the last one that worked and sets only
-- checked, next_check and error.  status 'unsupported': the CA's
-- directory has no renewalInfo, and the lifetime rule applies.
--   cert_ids      per algorithm, the certID of the certificate asked about
--   window_start, window_end   the window of the certificate whose
--                 window starts first
--   renew_at      the time chosen inside it
--   next_check    when to ask again (Retry-After clamped to 1 min .. 1 day)

SET search_path TO pki, dd, public;

CREATE TABLE pki.ari (
	id		SERIAL		PRIMARY KEY,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	certinstance	int4		NOT NULL UNIQUE
				REFERENCES CertInstances
				ON DELETE CASCADE ON UPDATE CASCADE,
	status		TEXT		NOT NULL
				CHECK (status IN ('ok', 'unsupported', 'error')),
	cert_ids	JSONB		NOT NULL DEFAULT '{}',
	window_start	TIMESTAMPTZ,
	window_end	TIMESTAMPTZ,
	renew_at	TIMESTAMPTZ,
	checked		TIMESTAMPTZ	NOT NULL,
	next_check	TIMESTAMPTZ	NOT NULL,
	error		TEXT		CHECK (length(error) <= 1024),
	CHECK (window_end > window_start),
	CHECK (renew_at BETWEEN window_start AND window_end),
	CHECK ((window_start IS NULL) = (window_end IS NULL) AND
	    (window_start IS NULL) = (renew_at IS NULL))
);
CREATE INDEX ari_renew_at ON pki.ari (renew_at);
CREATE INDEX ari_next_check ON pki.ari (next_check);
CREATE TRIGGER ut_ari BEFORE UPDATE ON pki.ari
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
