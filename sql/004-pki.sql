-- 004-pki.sql - what pki adds to serverPKI's schema: the event log, the
-- settings of the local CA, and the name checks of common/name.c enforced
-- in the database as well.  Applied by "pki db migrate" inside one
-- transaction.

SET search_path TO pki, dd, public;

---------------------------------------------------------------- events

-- Every action and error of the programs and workflows.  No foreign keys:
-- the log outlives the certificates and instances it names.
CREATE TABLE pki.events (
	id		bigserial	PRIMARY KEY,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	certificate	int4,		-- Certificates.id, if any
	instance	int4,		-- CertInstances.id, if any
	name		CITEXT,		-- the certificate's name at the time
	stage		TEXT		NOT NULL,	-- program or workflow
	level		TEXT		NOT NULL
				CHECK (level IN ('info', 'error')),
	message		TEXT		NOT NULL
);
CREATE INDEX events_certificate_created ON pki.events (certificate, created);
CREATE INDEX events_created ON pki.events (created);
CREATE TRIGGER ut_events BEFORE UPDATE ON pki.events
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

---------------------------------------------------------------- local CA

-- How the local CA and the certificates it issues are made.  One row.
-- subject_name is the name of the CA's Subjects row (created by
-- pki-store, not here).
CREATE TABLE pki.localca_settings (
	id		int		PRIMARY KEY DEFAULT 1
				CHECK (id = 1),
	subject_name	CITEXT		NOT NULL DEFAULT 'Local CA',
	ca_dn		TEXT		NOT NULL DEFAULT 'CN=Local CA',
	ca_algo		TEXT		NOT NULL DEFAULT 'rsa'
				CHECK (ca_algo IN ('rsa', 'ec')),
	ca_rsa_bits	int		NOT NULL DEFAULT 4096
				CHECK (ca_rsa_bits IN (2048, 3072, 4096)),
	ca_ec_curve	TEXT		NOT NULL DEFAULT 'P-384'
				CHECK (ca_ec_curve IN ('P-256', 'P-384')),
	ca_days		int		NOT NULL DEFAULT 3680
				CHECK (ca_days >= 365),
	leaf_days	int		NOT NULL DEFAULT 375
				CHECK (leaf_days BETWEEN 1 AND 3650),
	backdate_seconds int		NOT NULL DEFAULT 3600
				CHECK (backdate_seconds BETWEEN 0 AND 86400),
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT
);
INSERT INTO pki.localca_settings DEFAULT VALUES;
CREATE TRIGGER ut_localca_settings BEFORE UPDATE ON pki.localca_settings
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

---------------------------------------------------------------- names

-- NULL if THE_NAME is a valid host name, else why not, in the words of
-- pki_dns_name_check() in common/name.c: labels of letters, digits and
-- hyphens, 1-63 characters, no hyphen at either end, at most 253 in all,
-- no trailing dot; with ALLOW_WILDCARD a leading "*." is allowed.
CREATE FUNCTION dd.host_name_problem(the_name text, allow_wildcard boolean)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	n	text := the_name;
	ldh	CONSTANT text :=
	    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-';
	start	int := 1;
	len	int;
	c	text;
BEGIN
	IF n IS NULL OR n = '' THEN
		RETURN 'empty name';
	END IF;
	IF octet_length(n) > 253 THEN
		RETURN 'longer than 253 characters';
	END IF;
	IF left(n, 2) = '*.' THEN
		IF NOT coalesce(allow_wildcard, false) THEN
			RETURN 'wildcard not allowed here';
		END IF;
		n := substr(n, 3);
	END IF;
	-- Position length(n) + 1 is the end of the name (c = '').
	FOR i IN 1 .. length(n) + 1 LOOP
		c := substr(n, i, 1);
		IF c <> '.' AND c <> '' THEN
			IF c = '*' THEN
				RETURN 'wildcard only as the whole first label';
			END IF;
			IF strpos(ldh, c) = 0 THEN
				RETURN 'character other than letter, digit, '
				    'hyphen or dot';
			END IF;
			CONTINUE;
		END IF;
		len := i - start;
		IF len = 0 THEN
			IF c = '' AND i > 1 THEN
				RETURN 'trailing dot';
			END IF;
			RETURN 'empty label';
		END IF;
		IF len > 63 THEN
			RETURN 'label longer than 63 characters';
		END IF;
		IF substr(n, start, 1) = '-' OR substr(n, i - 1, 1) = '-' THEN
			RETURN 'label starts or ends with a hyphen';
		END IF;
		IF c = '' THEN
			RETURN NULL;
		END IF;
		start := i + 1;
	END LOOP;
	RETURN NULL;
END
$$;

-- NULL if THE_NAME is a valid subject name of type THE_TYPE, else why
-- not, in the words of pki_subject_check() in common/name.c: servers (and
-- reserved placeholders) need host names (one leading "*." allowed);
-- clients and CAs have 1-64 characters of letters, digits, space, ".",
-- "_", "@" and "-", starting with a letter or digit.
CREATE FUNCTION dd.name_problem(the_name text, the_type dd.subject_type)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	alnum	CONSTANT text :=
	    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
BEGIN
	IF the_type IS NULL OR the_type IN ('server', 'reserved') THEN
		RETURN dd.host_name_problem(the_name, true);
	END IF;
	IF the_name IS NULL OR the_name = '' THEN
		RETURN 'empty name';
	END IF;
	IF octet_length(the_name) > 64 THEN
		RETURN 'longer than 64 characters';
	END IF;
	IF strpos(alnum, left(the_name, 1)) = 0 THEN
		RETURN 'does not start with a letter or digit';
	END IF;
	IF translate(the_name, alnum || ' ._@-', '') <> '' THEN
		RETURN 'character other than letter, digit, space, dot, '
		    'underscore, at or hyphen';
	END IF;
	RETURN NULL;
END
$$;

-- NULL if THE_NAME is a valid jail name: 1-64 characters of letters,
-- digits, ".", "_" and "-", starting with a letter or digit, without "..".
CREATE FUNCTION dd.jail_name_problem(the_name text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	alnum	CONSTANT text :=
	    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
BEGIN
	IF the_name IS NULL OR the_name = '' THEN
		RETURN 'empty name';
	END IF;
	IF octet_length(the_name) > 64 THEN
		RETURN 'longer than 64 characters';
	END IF;
	IF strpos(alnum, left(the_name, 1)) = 0 THEN
		RETURN 'does not start with a letter or digit';
	END IF;
	IF translate(the_name, alnum || '._-', '') <> '' THEN
		RETURN 'character other than letter, digit, dot, underscore '
		    'or hyphen';
	END IF;
	IF strpos(the_name, '..') > 0 THEN
		RETURN 'contains ".."';
	END IF;
	RETURN NULL;
END
$$;

GRANT EXECUTE ON FUNCTION dd.host_name_problem(text, boolean),
	dd.name_problem(text, dd.subject_type), dd.jail_name_problem(text)
	TO PUBLIC;

-- A subject's name fits its type; an altname is always a host name.
CREATE FUNCTION pki.check_subject_name() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text;
BEGIN
	IF NEW.isAltname THEN
		why := dd.host_name_problem(NEW.name::text, true);
	ELSE
		why := dd.name_problem(NEW.name::text, NEW.type);
	END IF;
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Subject name "%": %', NEW.name, why;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER check_subject_name BEFORE INSERT OR UPDATE ON pki.Subjects
	FOR EACH ROW EXECUTE FUNCTION pki.check_subject_name();

-- A disthost's FQDN is a host name without wildcard.
CREATE FUNCTION pki.check_disthost_name() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text := dd.host_name_problem(NEW.FQDN::text, false);
BEGIN
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Disthost FQDN "%": %', NEW.FQDN, why;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER check_disthost_name BEFORE INSERT OR UPDATE ON pki.DistHosts
	FOR EACH ROW EXECUTE FUNCTION pki.check_disthost_name();

-- A jail's name becomes a path component: keep it plain.
CREATE FUNCTION pki.check_jail_name() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text := dd.jail_name_problem(NEW.name::text);
BEGIN
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Jail name "%": %', NEW.name, why;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER check_jail_name BEFORE INSERT OR UPDATE ON pki.Jails
	FOR EACH ROW EXECUTE FUNCTION pki.check_jail_name();
