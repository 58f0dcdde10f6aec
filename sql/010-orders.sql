-- 010-orders.sql - ACME orders kept from the moment they are placed, so
-- that a run that dies half-way costs the CA nothing more: the next run
-- resumes the order (with the key and CSR it was placed for) instead of
-- ordering again, and withdraws the challenge records the dead run left
-- in DNS.  Applied by "pki db migrate" inside one transaction.
--
-- Written only by pki-store: "pki-store --checkpoint", right after
-- "pki-acme order" in the pipeline, stores each order placed or resumed
-- before a challenge of it is published; the pipeline's last pki-store
-- settles it (its status, its challenges withdrawn); storing a
-- certificate makes the open order of its certificate and algorithm
-- 'done' (the trigger below).  Read by "pki-acme order --resume" and
-- "pki-select --orphans".
--
-- An order belongs to a certificate and algorithm, not to a claim: a run
-- that takes over the claim of a dead run makes a claim of its own (a new
-- instance id) and resumes the dead run's order, which then names the new
-- claim and run.  At most one order per certificate and algorithm is
-- open; one placed anew replaces the open one.

SET search_path TO pki, dd, public;

-- One row per ACME order (peter_sslers's AcmeOrder).
--   instance      the claim (certinstances.id in state 'reserved') of the
--                 run that placed or resumed it last; no foreign key, for
--                 a claim is deleted when it is released or taken over
--   run           that run: while it is alive the order is its own
--   names         the names ordered, lower case, sorted (COLLATE "C")
--   status        the ACME status of the order as last seen (RFC 8555 7.1.6)
--   state         pki's: open (to be finished or resumed), done (its
--                 certificate is stored), failed (the CA made it invalid),
--                 replaced (a new order was placed instead)
--   challenges    the challenges the run asked to publish, as the record's
--                 "challenges" entries (owner, txt, ...)
--   withdrawn     when the challenge records were last known withdrawn
--                 (NULL: they may be published: after the run that
--                 published them died, the next run withdraws them)
--   key           the private key the CSR was made with, PEM PKCS#8,
--                 encrypted like every key at rest when
--                 Revision.keysEncrypted; NULL once the order is over
--   csr           the PKCS#10 request, PEM, the order is finalized with
CREATE TABLE pki.acme_orders (
	id		SERIAL		PRIMARY KEY,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	certificate	int4		NOT NULL
				REFERENCES Certificates
				ON DELETE CASCADE ON UPDATE CASCADE,
	algo		dd.cert_encryption_algo NOT NULL
				CHECK (algo IN ('rsa', 'ec')),
	instance	int4,
	run		int4		REFERENCES pki.runs ON DELETE SET NULL,
	directory	TEXT		NOT NULL,
	account		TEXT		NOT NULL,
	url		TEXT		NOT NULL UNIQUE,
	names		TEXT[]		NOT NULL,
	status		TEXT		NOT NULL DEFAULT 'pending'
				CHECK (status IN ('pending', 'ready',
				    'processing', 'valid', 'invalid')),
	state		TEXT		NOT NULL DEFAULT 'open'
				CHECK (state IN ('open', 'done', 'failed',
				    'replaced')),
	finalize	TEXT,
	certificate_url	TEXT,
	authorizations	jsonb		NOT NULL DEFAULT '[]',
	challenges	jsonb		NOT NULL DEFAULT '[]',
	withdrawn	TIMESTAMP,
	expires		TIMESTAMP,
	key		BYTEA,
	csr		TEXT
);
CREATE UNIQUE INDEX acme_orders_open ON pki.acme_orders (certificate, algo)
	WHERE state = 'open';
CREATE INDEX acme_orders_left ON pki.acme_orders (run)
	WHERE withdrawn IS NULL;
CREATE TRIGGER ut_acme_orders BEFORE UPDATE ON pki.acme_orders
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

-- The names of an order as acme_orders.names keeps them, from a JSON
-- array of strings.
CREATE FUNCTION pki.acme_names(the_names json) RETURNS text[]
	LANGUAGE sql IMMUTABLE AS $$
	SELECT ARRAY(SELECT DISTINCT lower(n) COLLATE "C"
		       FROM json_array_elements_text(the_names) n ORDER BY 1)
$$;

-- A certificate stored for an instance of a certificate ends the open
-- order of that certificate and algorithm: done, its key forgotten.
CREATE FUNCTION pki.acme_order_done() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	UPDATE pki.acme_orders o SET state = 'done', key = NULL
	  FROM pki.certinstances i
	 WHERE i.id = NEW.certinstance AND o.certificate = i.certificate
	   AND o.algo = NEW.encryption_algo AND o.state = 'open';
	RETURN NULL;
END
$$;
CREATE TRIGGER acme_order_done AFTER INSERT ON pki.certkeydata
	FOR EACH ROW EXECUTE FUNCTION pki.acme_order_done();
