-- 011-limits.sql - a certificate carries at most 100 names (its name and
-- 99 altnames): Let's Encrypt's limit, and what keeps a cert record well
-- under the 1 MiB a record may have.  add_cert and add_altname are
-- refused past it, with the certificate named.

SET search_path TO pki, dd, public;

CREATE FUNCTION pki.names_per_cert_limit() RETURNS trigger
	LANGUAGE plpgsql AS $$
DECLARE
	the_count int;
BEGIN
	IF TG_OP = 'UPDATE' AND
	   OLD.certificate IS NOT DISTINCT FROM NEW.certificate THEN
		RETURN NEW;
	END IF;
	SELECT count(*) INTO the_count FROM pki.subjects
	 WHERE certificate = NEW.certificate;
	IF the_count >= 100 THEN
		RAISE EXCEPTION 'certificate % carries % names already: at most 100 (Let''s Encrypt''s limit)',
			(SELECT name FROM pki.subjects WHERE certificate =
			    NEW.certificate AND NOT isaltname LIMIT 1), the_count
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER names_per_cert_limit BEFORE INSERT OR UPDATE OF certificate
	ON pki.subjects FOR EACH ROW
	WHEN (NEW.certificate IS NOT NULL)
	EXECUTE FUNCTION pki.names_per_cert_limit();
