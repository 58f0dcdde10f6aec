-- 002-pki.sql - schema pki: serverPKI's tables (manual, chapter "The
-- database", 5.2), schema version 6.  Every relation has the common columns
-- id, created, updated, remarks.  Applied by "pki db migrate" inside one
-- transaction.

CREATE SCHEMA IF NOT EXISTS pki;
COMMENT ON SCHEMA pki IS 'certificates, their instances and where they go';

SET search_path TO pki, dd, public;

-- Revision of the schema and whether keys at rest are encrypted.
CREATE TABLE Revision (
	id		SERIAL		PRIMARY KEY,
	schemaVersion	int2		NOT NULL DEFAULT 6,
	keysEncrypted	BOOLEAN		NOT NULL DEFAULT false,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT
);
INSERT INTO Revision (schemaVersion, keysEncrypted) VALUES (6, false);

-- One row per defined certificate: its meta data.
CREATE TABLE Certificates (
	id		SERIAL		PRIMARY KEY,
	type		dd.cert_type	NOT NULL,
	disabled	BOOLEAN		NOT NULL DEFAULT false,
	-- LE: authorization valid until; local: last "please issue" mail
	authorized_until TIMESTAMP,
	encryption_algo	dd.cert_encryption_algo NOT NULL DEFAULT 'rsa',
	ocsp_must_staple BOOLEAN	NOT NULL DEFAULT false,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT
);

-- Issued instances of a certificate.  CAcert is the instance of the CA
-- that issued it (a CA's own instance points to itself, hence deferred).
CREATE TABLE CertInstances (
	id		SERIAL		PRIMARY KEY,
	certificate	int4		NOT NULL
				REFERENCES Certificates
				ON DELETE CASCADE ON UPDATE CASCADE,
	state		dd.cert_state	NOT NULL,
	ocsp_must_staple BOOLEAN	NOT NULL DEFAULT false,
	CAcert		int4		NOT NULL
				REFERENCES CertInstances
				ON DELETE RESTRICT ON UPDATE RESTRICT
				DEFERRABLE INITIALLY DEFERRED,
	not_before	TIMESTAMP	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	not_after	TIMESTAMP	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT
);
CREATE INDEX certinstances_certificate ON CertInstances (certificate);
CREATE INDEX certinstances_cacert ON CertInstances (CAcert);

-- The certificate and key of an instance, one row per algorithm.
-- hash: uppercase hex SHA-256 (what the TLSA record of the instance holds).
CREATE TABLE CertKeyData (
	id		SERIAL		PRIMARY KEY,
	certinstance	int4		NOT NULL
				REFERENCES CertInstances
				ON DELETE CASCADE ON UPDATE CASCADE,
	encryption_algo	dd.cert_encryption_algo NOT NULL DEFAULT 'rsa',
	cert		BYTEA		NOT NULL,
	key		BYTEA,		-- NULL: no key here (an ACME CA's cert)
	hash		TEXT		NOT NULL UNIQUE,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	UNIQUE (certinstance, encryption_algo)
);

-- Subject names and alternative names.  Exactly one subject per certificate
-- is not an altname: the certificate's name.
CREATE TABLE Subjects (
	id		SERIAL		PRIMARY KEY,
	type		dd.subject_type	NOT NULL DEFAULT 'server',
	name		CITEXT		NOT NULL UNIQUE,
	isAltname	BOOLEAN		NOT NULL DEFAULT true,
	certificate	int4
				REFERENCES Certificates
				ON DELETE CASCADE ON UPDATE CASCADE,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT
);
CREATE INDEX subjects_certificate ON Subjects (certificate);

-- Service and port combinations for TLSA records.  TLSAprefix: the owner
-- name with '{}' for the host name, TTL and TLSA parameters.
CREATE TABLE Services (
	id		SERIAL		PRIMARY KEY,
	name		CITEXT		NOT NULL,
	port		dd.port_number	NOT NULL,
	TLSAprefix	TEXT		NOT NULL,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	UNIQUE (name, port)
);
-- 3 1 1 (the public key) survives a renewal that keeps the key; serverPKI
-- used 3 0 1 (the whole certificate).
INSERT INTO Services (name, port, TLSAprefix) VALUES
	('https', 443, '_443._tcp.{}. 3600 IN TLSA 3 1 1'),
	('caldav', 8443, '_8443._tcp.{}. 3600 IN TLSA 3 1 1'),
	('imap', 143, '_143._tcp.{}. 3600 IN TLSA 3 1 1'),
	('submission', 587, '_587._tcp.{}. 3600 IN TLSA 3 1 1'),
	('smtp', 25, '_25._tcp.{}. 3600 IN TLSA 3 1 1');

-- Which services (TLSA records) a certificate has.
CREATE TABLE Certificates_Services (
	id		SERIAL		NOT NULL UNIQUE,
	certificate	int4		NOT NULL
				REFERENCES Certificates
				ON DELETE CASCADE ON UPDATE CASCADE,
	service		int4		NOT NULL
				REFERENCES Services
				ON DELETE CASCADE ON UPDATE CASCADE,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	PRIMARY KEY (certificate, service)
);
CREATE INDEX certificates_services_service ON Certificates_Services (service);

-- Hosts that receive certificates and keys.  jailroot: where the jails'
-- file systems are, NULL (or empty) if the host has no jails.
CREATE TABLE DistHosts (
	id		SERIAL		PRIMARY KEY,
	FQDN		CITEXT		NOT NULL UNIQUE,
	jailroot	TEXT,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT
);

-- FreeBSD jails on a disthost.
CREATE TABLE Jails (
	id		SERIAL		PRIMARY KEY,
	name		CITEXT		NOT NULL UNIQUE,
	distHost	int4		NOT NULL
				REFERENCES DistHosts
				ON DELETE CASCADE ON UPDATE CASCADE,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT
);
CREATE INDEX jails_disthost ON Jails (distHost);

-- Where and how files are put on a target.  cert_path: directory, '{}'
-- stands for the subject name; reload_command: '{}' stands for the jail.
CREATE TABLE Places (
	id		SERIAL		PRIMARY KEY,
	name		CITEXT		NOT NULL UNIQUE,
	cert_file_type	dd.place_cert_file_type NOT NULL DEFAULT 'separate',
	cert_path	TEXT		NOT NULL,
	key_path	TEXT,
	uid		int4,
	gid		int4,
	mode		int2,		-- of the key file; NULL: 0400
	chownBoth	BOOLEAN		NOT NULL DEFAULT false,
	pgLink		BOOLEAN		NOT NULL DEFAULT false,
	reload_command	TEXT,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT
);

-- A certificate goes to a disthost, maybe into a jail, maybe to a place.
-- A target whose jail or place is deleted is deleted too (serverPKI set
-- them NULL, which silently sent the files to the host itself).
CREATE TABLE Targets (
	id		SERIAL		PRIMARY KEY,
	distHost	int4		NOT NULL
				REFERENCES DistHosts
				ON DELETE CASCADE ON UPDATE CASCADE,
	jail		int4
				REFERENCES Jails
				ON DELETE CASCADE ON UPDATE CASCADE,
	place		int4
				REFERENCES Places
				ON DELETE CASCADE ON UPDATE CASCADE,
	certificate	int4		NOT NULL
				REFERENCES Certificates
				ON DELETE CASCADE ON UPDATE CASCADE,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	UNIQUE NULLS NOT DISTINCT (distHost, jail, place, certificate)
);
CREATE INDEX targets_certificate ON Targets (certificate);
CREATE INDEX targets_jail ON Targets (jail);
CREATE INDEX targets_place ON Targets (place);
