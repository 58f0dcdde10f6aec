-- 026-csr.sql - certificates whose key pki never sees (CSR input), and
-- places that ask for DH parameters.  Applied by "pki db migrate" inside
-- one transaction.
--
-- Certificates.csr: the PKCS#10 request (PEM) given by "pki cert add
-- NAME --csr FILE" or "pki cert set NAME --csr FILE"; every issue and
-- renewal of the certificate has it signed.  Its key is held elsewhere:
-- the instances have no key in CertKeyData (key NULL, as for a CA
-- certificate pki has no key of).  encryption_algo is the CSR's key's.
--
-- Places.dhparam: the RFC 7919 group (ffdhe2048, ffdhe3072, ffdhe4096)
-- whose DH parameters pki-deploy writes beside the certificate, as
-- dhparam.pem (pki-deploy(1), "DH parameters").
--
-- The records of pki-select carry "keyless": true and "csr" ({ALGO:
-- PEM}) for a certificate with a CSR, and the place's
-- "dhparam" only when they are set, so that every other record is as it
-- was: cert_records is wrapped, not written out again, and keeps whatever
-- the migrations before it made.

SET search_path TO pki, dd, public;

ALTER TABLE Certificates ADD COLUMN csr TEXT
	CONSTRAINT certificates_csr
	CHECK (csr IS NULL OR (csr ~ '^-----BEGIN CERTIFICATE REQUEST-----'
	    AND length(csr) <= 65536 AND encryption_algo <> 'rsa_plus_ec'));
COMMENT ON COLUMN Certificates.csr IS
	'the PKCS#10 request (PEM) to sign: the key is held elsewhere';

ALTER TABLE Places ADD COLUMN dhparam TEXT
	CONSTRAINT places_dhparam
	CHECK (dhparam IN ('ffdhe2048', 'ffdhe3072', 'ffdhe4096'));
COMMENT ON COLUMN Places.dhparam IS
	'the RFC 7919 group written beside the certificate as dhparam.pem';

ALTER VIEW cert_records RENAME TO cert_records_nocsr;

CREATE VIEW cert_records AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       CASE WHEN c.csr IS NULL AND NOT EXISTS (
		SELECT 1 FROM targets t JOIN places p ON p.id = t.place
		 WHERE t.certificate = b.id AND p.dhparam IS NOT NULL)
	    THEN b.record
	    ELSE (CASE WHEN c.csr IS NULL THEN b.record::jsonb
		ELSE b.record::jsonb || jsonb_build_object('keyless', true,
		    'csr', jsonb_build_object(c.encryption_algo::text, c.csr))
		END ||
		jsonb_build_object('targets', COALESCE((
		SELECT jsonb_agg(CASE WHEN p.dhparam IS NULL THEN e.t
			ELSE jsonb_set(e.t, '{place}', (e.t->'place') ||
			    jsonb_build_object('dhparam', p.dhparam))
			END ORDER BY e.n)
		  FROM jsonb_array_elements(b.record::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN places p ON p.id = t.place), '[]')))::json
	END AS record
  FROM cert_records_nocsr b
  JOIN certificates c ON c.id = b.id;
