-- 032-hostile.sql - hostile values refused where they come in, in one
-- readable line.  Applied by "pki db migrate" inside one transaction.
--
-- A place's cert_path and key_path and a disthost's jailroot become
-- paths on a host: pki-deploy checked them only when it deployed
-- (path_problem() in cmd/pki-deploy/path.c), so "pki place add" took a
-- relative path or one with ".." and every deployment to it failed.  Now
-- the database refuses them as pki-deploy would (NOT VALID: rows of an
-- older database stay, and pki-deploy still refuses them per target).
--
-- The messages of the name checks quoted the name as it was: a newline
-- in it cut the message in two (psql's caller saw half of it), an
-- escape sequence went to the terminal, 64 KiB of name filled the
-- screen.  They quote it with dd.visible() now.

SET search_path TO pki, dd, public;

-- THE_TEXT for a message: each control character as \xHH, a backslash
-- as \\, at most 256 characters (then "..."; a host name has 253).
CREATE FUNCTION dd.visible(the_text text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	t	text := left(coalesce(the_text, ''), 257);
	out	text := '';
	c	text;
BEGIN
	FOR i IN 1 .. least(length(t), 256) LOOP
		c := substr(t, i, 1);
		IF c = '\' THEN
			out := out || '\\';
		ELSIF ascii(c) < 32 OR ascii(c) = 127 THEN
			out := out || '\x' || lpad(to_hex(ascii(c)), 2, '0');
		ELSE
			out := out || c;
		END IF;
	END LOOP;
	IF length(t) > 256 THEN
		out := out || '...';
	END IF;
	RETURN out;
END
$$;

-- NULL if THE_PATH (NULL: none) may become a path on a host, else why
-- not, in the words of path_problem() in cmd/pki-deploy/path.c (which
-- sees it with "{}" replaced and trailing slashes dropped).
CREATE FUNCTION dd.path_problem(the_path text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	p	text;
BEGIN
	IF the_path IS NULL THEN
		RETURN NULL;
	END IF;
	IF the_path = '' THEN
		RETURN 'empty';
	END IF;
	IF left(the_path, 1) <> '/' THEN
		RETURN 'not absolute';
	END IF;
	IF octet_length(the_path) > 1024 THEN
		RETURN 'longer than 1024 characters';
	END IF;
	IF the_path ~ '[\x01-\x1f\x7f]' THEN
		RETURN 'a control character';
	END IF;
	p := regexp_replace(the_path, '/+$', '');
	IF p ~ '//' THEN
		RETURN 'an empty part ("//")';
	END IF;
	IF p ~ '/\.\.?(/|$)' THEN
		RETURN 'a "." or ".." part';
	END IF;
	RETURN NULL;
END
$$;

GRANT EXECUTE ON FUNCTION dd.visible(text), dd.path_problem(text) TO PUBLIC;

CREATE FUNCTION pki.check_place_paths() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text;
BEGIN
	why := dd.path_problem(NEW.cert_path);
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Place "%": cert_path "%": %',
		    dd.visible(NEW.name), dd.visible(NEW.cert_path), why;
	END IF;
	why := dd.path_problem(NEW.key_path);
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Place "%": key_path "%": %',
		    dd.visible(NEW.name), dd.visible(NEW.key_path), why;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER check_place_paths BEFORE INSERT OR UPDATE OF cert_path,
	key_path ON pki.Places
	FOR EACH ROW EXECUTE FUNCTION pki.check_place_paths();

-- The name checks of 004 and 018, their messages quoted with visible().
CREATE OR REPLACE FUNCTION pki.check_subject_name() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text := dd.name_problem(NEW.name::text,
		    CASE WHEN NEW.isAltname THEN 'server' ELSE NEW.type END);
BEGIN
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Subject name "%": %', dd.visible(NEW.name),
		    why;
	END IF;
	RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION pki.check_disthost_name() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text := dd.host_name_problem(NEW.FQDN::text, false);
BEGIN
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Disthost FQDN "%": %', dd.visible(NEW.FQDN),
		    why;
	END IF;
	why := dd.path_problem(nullif(NEW.jailroot, ''));
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Disthost "%": jailroot "%": %', NEW.FQDN,
		    dd.visible(NEW.jailroot), why;
	END IF;
	RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION pki.check_jail_name() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
DECLARE
	why	text := dd.jail_name_problem(NEW.name::text);
BEGIN
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '?Jail name "%": %', dd.visible(NEW.name), why;
	END IF;
	RETURN NEW;
END
$$;
