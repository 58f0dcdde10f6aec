-- 018-ip.sql - IP-address certificates (RFC 8738): a server's name and
-- its altnames may be an IPv4 or IPv6 address, written as RFC 5952
-- writes it (the form in which ACME identifiers are compared), in the
-- words of pki_host_check() in common/name.c.  A certificate's host name
-- never has a last label of digits alone (RFC 3696 2): 192.0.2.01 is
-- neither an address nor a name.  (A disthost's FQDN is checked as
-- before: hosts may be reached by address.)

SET search_path TO pki, dd, public;

-- NULL if THE_NAME may name a server: an address in canonical form (a
-- dotted quad without leading zeros, or IPv6 as host() prints it), or a
-- host name whose last label is not all digits.
CREATE FUNCTION dd.server_name_problem(the_name text, allow_wildcard boolean)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	a	inet;
	why	text;
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
	why := dd.host_name_problem(the_name, allow_wildcard);
	IF why IS NULL AND the_name ~ '(^|\.)[0-9]+$' THEN
		RETURN 'the last label is all digits (not a host name, nor an '
		    'IP address as 192.0.2.1 or 2001:db8::1)';
	END IF;
	RETURN why;
END
$$;

-- dd.name_problem of 004 as it was for clients and CAs; servers' names
-- are server_name_problem's.
ALTER FUNCTION dd.name_problem(text, dd.subject_type)
	RENAME TO name_problem_004;
CREATE FUNCTION dd.name_problem(the_name text, the_type dd.subject_type)
	RETURNS text
	LANGUAGE sql IMMUTABLE
	AS $$
	SELECT CASE WHEN the_type IS NULL OR the_type IN ('server', 'reserved')
		THEN dd.server_name_problem(the_name, true)
		ELSE dd.name_problem_004(the_name, the_type) END
$$;

-- An altname is a server's name.
CREATE OR REPLACE FUNCTION pki.check_subject_name() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text := dd.name_problem(NEW.name::text,
		    CASE WHEN NEW.isAltname THEN 'server' ELSE NEW.type END);
BEGIN
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Subject name "%": %', NEW.name, why;
	END IF;
	RETURN NEW;
END
$$;

GRANT EXECUTE ON FUNCTION dd.server_name_problem(text, boolean),
	dd.name_problem(text, dd.subject_type),
	dd.name_problem_004(text, dd.subject_type) TO PUBLIC;
