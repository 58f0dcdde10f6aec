-- 017-persist.sql - dns-persist-01 (draft-ietf-acme-dns-persist) as an
-- ACME certificate's challenge: its names are proven by a standing TXT
-- record at _validation-persist.NAME that names the CA and the account,
-- published once by pki-dnsup and left in place, so that a renewal needs
-- no DNS change.  The records of pki-select carry it as "challenge", as
-- the other types (006-acme.sql).

SET search_path TO pki, dd, public;

ALTER TABLE certificates DROP CONSTRAINT certificates_acme_challenge_check;
ALTER TABLE certificates ADD CONSTRAINT certificates_acme_challenge_check
	CHECK (acme_challenge IN ('dns-01', 'http-01', 'dns-persist-01'));
