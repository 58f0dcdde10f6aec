-- 022-formats.sql - the format a place writes a certificate in.
-- Applied by "pki db migrate" inside one transaction.
--
-- Places.format: 'pem' (the file set of cert_file_type, as before),
-- 'der' (the certificate and the key in DER), 'fullchain' (certificate
-- and chain in one PEM file, the key beside it), 'bundle' (key,
-- certificate and chain in one PEM file, for readers that want one
-- atomic file) or 'p12' (PKCS#12: key, certificate and chain, encrypted
-- with the passphrase of the file p12_passphrase_file names, on the
-- machine pki-deploy runs on; the database holds only that path).
-- pki-deploy(1), "Formats", says which files each writes.
--
-- The records of pki-select carry "format" and "p12_passphrase_file" in
-- the place of a target only when the place is not plain PEM, so that
-- every other record is as it was: cert_records is wrapped, not written
-- out again, and keeps whatever the migrations before it made.

SET search_path TO pki, dd, public;

ALTER TABLE Places ADD COLUMN format TEXT NOT NULL DEFAULT 'pem'
	CONSTRAINT places_format
	CHECK (format IN ('pem', 'der', 'fullchain', 'bundle', 'p12'));
ALTER TABLE Places ADD COLUMN p12_passphrase_file TEXT
	CONSTRAINT places_p12_passphrase_file
	CHECK (p12_passphrase_file ~ '^/' AND length(p12_passphrase_file)
	    <= 1024 AND p12_passphrase_file !~ '[[:cntrl:]]');
COMMENT ON COLUMN Places.format IS
	'pem, der, fullchain, bundle or p12 (pki-deploy(1), "Formats")';
COMMENT ON COLUMN Places.p12_passphrase_file IS
	'p12: the file (on the deploying machine) holding the passphrase';

ALTER VIEW cert_records RENAME TO cert_records_noformat;

CREATE VIEW cert_records AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       CASE WHEN NOT EXISTS (
		SELECT 1 FROM targets t JOIN places p ON p.id = t.place
		 WHERE t.certificate = b.id
		   AND (p.format <> 'pem' OR p.p12_passphrase_file IS NOT NULL))
	    THEN b.record
	    ELSE jsonb_set(b.record::jsonb, '{targets}', (
		SELECT jsonb_agg(CASE WHEN p.id IS NULL THEN e.t
			ELSE jsonb_set(e.t, '{place}', (e.t->'place') ||
			    jsonb_strip_nulls(jsonb_build_object(
				'format', p.format,
				'p12_passphrase_file', p.p12_passphrase_file)))
			END ORDER BY e.n)
		  FROM jsonb_array_elements(b.record::jsonb->'targets')
			WITH ORDINALITY e(t, n)
		  LEFT JOIN targets t ON t.id = (e.t->>'id')::int4
		  LEFT JOIN places p ON p.id = t.place))::json
	END AS record
  FROM cert_records_noformat b;
