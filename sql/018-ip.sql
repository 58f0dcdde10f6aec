-- 017-ip.sql - IP-address certificates (RFC 8738): a server's name and
-- its altnames may be an IPv4 or IPv6 address, written as RFC 5952
-- writes it (the form in which ACME identifiers are compared), in the
-- words of pki_host_check() in common/name.c.  A host name's last label
-- is never all digits (RFC 3696 2): 192.0.2.01 is neither.

SET search_path TO pki, dd, public;

CREATE OR REPLACE FUNCTION dd.host_name_problem(the_name text,
	allow_wildcard boolean) RETURNS text
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
		IF c = '' AND substr(n, start, len) ~ '^[0-9]+$' THEN
			RETURN 'the last label is all digits (not a host name, '
			    'nor an IP address as 192.0.2.1 or 2001:db8::1)';
		END IF;
		IF c = '' THEN
			RETURN NULL;
		END IF;
		start := i + 1;
	END LOOP;
	RETURN NULL;
END
$$;

-- NULL if THE_NAME may name a server: an address in canonical form (a
-- dotted quad without leading zeros, or IPv6 as host() prints it), or a
-- host name.
CREATE FUNCTION dd.server_name_problem(the_name text, allow_wildcard boolean)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	a	inet;
BEGIN
	IF the_name ~ '^([0-9]{1,3}\.){3}[0-9]{1,3}$'
	    OR strpos(the_name, ':') > 0 THEN
		BEGIN
			a := the_name::inet;
		EXCEPTION WHEN invalid_text_representation THEN
			a := NULL;
		END;
		IF a IS NOT NULL AND masklen(a) = 32 + 96 * (family(a) / 6)
		    AND (family(a) = 6 OR the_name !~ '(^|\.)0[0-9]') THEN
			IF host(a) = the_name THEN
				RETURN NULL;
			END IF;
			RETURN 'IP address not in its canonical form (RFC 5952: '
			    'lower case, no leading zeros, :: for the longest '
			    'run of zeros)';
		END IF;
	END IF;
	RETURN dd.host_name_problem(the_name, allow_wildcard);
END
$$;

CREATE OR REPLACE FUNCTION dd.name_problem(the_name text,
	the_type dd.subject_type) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	alnum	CONSTANT text :=
	    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
BEGIN
	IF the_type IS NULL OR the_type IN ('server', 'reserved') THEN
		RETURN dd.server_name_problem(the_name, true);
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

CREATE OR REPLACE FUNCTION pki.check_subject_name() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text;
BEGIN
	IF NEW.isAltname THEN
		why := dd.server_name_problem(NEW.name::text, true);
	ELSE
		why := dd.name_problem(NEW.name::text, NEW.type);
	END IF;
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Subject name "%": %', NEW.name, why;
	END IF;
	RETURN NEW;
END
$$;

GRANT EXECUTE ON FUNCTION dd.server_name_problem(text, boolean) TO PUBLIC;
