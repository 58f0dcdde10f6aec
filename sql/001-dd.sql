-- 001-dd.sql - the data dictionary: schema dd with the domains, enums and
-- the citext extension that the pki schema builds on (serverPKI's "dd").
-- Applied by "pki db migrate" inside one transaction.

CREATE SCHEMA IF NOT EXISTS dd;
COMMENT ON SCHEMA dd IS 'data dictionary of pki: domains, enums, name checks';
GRANT USAGE ON SCHEMA dd TO PUBLIC;

-- Case-insensitive names (subjects, hosts, jails, places, services).
-- citext is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS citext SCHEMA dd;

SET search_path TO dd, public;

-- Time of a row's creation.
CREATE DOMAIN dd.created AS TIMESTAMP
	DEFAULT CURRENT_TIMESTAMP
	NOT NULL;

-- Time of a row's last update (set by the trigger pki.set_updated).
CREATE DOMAIN dd.updated AS TIMESTAMP
	NULL;

-- A TCP or UDP port number.
CREATE DOMAIN dd.port_number AS int4
	CONSTRAINT port_number CHECK (VALUE >= 0 AND VALUE <= 65535);

-- What a subject names: a CA, a client (person), a server, or a
-- placeholder.
CREATE TYPE dd.subject_type AS ENUM ('CA', 'client', 'server', 'reserved');

-- Which files a place receives.
CREATE TYPE dd.place_cert_file_type AS ENUM (
	'cert only', 'separate', 'combine key', 'combine cacert', 'combine both');

-- Who issues a certificate: an ACME CA (serverPKI's "LE") or the local CA.
CREATE TYPE dd.cert_type AS ENUM ('LE', 'local');

-- The states of a certificate instance.
CREATE TYPE dd.cert_state AS ENUM (
	'reserved', 'issued', 'prepublished', 'deployed', 'revoked', 'expired',
	'archived');

-- The key algorithms of a certificate.
CREATE TYPE dd.cert_encryption_algo AS ENUM ('rsa', 'ec', 'rsa_plus_ec');

GRANT USAGE ON DOMAIN dd.created, dd.updated, dd.port_number TO PUBLIC;
GRANT USAGE ON TYPE dd.subject_type, dd.place_cert_file_type, dd.cert_type,
	dd.cert_state, dd.cert_encryption_algo TO PUBLIC;
