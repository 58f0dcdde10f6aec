-- 016-profiles.sql - the ACME profile of a certificate
-- (draft-ietf-acme-profiles): the name of one of the profiles the CA's
-- directory lists in meta.profiles (Let's Encrypt's classic, tlsserver,
-- shortlived), which decides the certificate's lifetime and contents.
-- NULL: PKI_ACME_PROFILE of pki.conf, else the CA's default.
--
-- The records of pki-select carry it as "profile", only when it is set,
-- so that every other record is as it was: cert_records is wrapped, not
-- written out again, and keeps whatever the migrations before it made.

SET search_path TO pki, dd, public;

ALTER TABLE certificates ADD COLUMN acme_profile TEXT
	CHECK (acme_profile ~ '^[A-Za-z0-9._-]{1,64}$');

ALTER VIEW cert_records RENAME TO cert_records_base;

CREATE VIEW cert_records AS
SELECT b.id, b.name, b.subject_type, b.disabled,
       CASE WHEN c.acme_profile IS NULL OR c.type <> 'LE' THEN b.record
	    ELSE (b.record::jsonb ||
		jsonb_build_object('profile', c.acme_profile))::json
	END AS record
  FROM cert_records_base b
  JOIN certificates c ON c.id = b.id;
