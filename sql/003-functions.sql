-- 003-functions.sql - serverPKI's triggers, views and functions (manual,
-- 5.3 and 5.4), with the argument lists and column names the manual
-- documents.  Errors are raised with messages that start with '?', like
-- serverPKI's, and say what is wrong.  Applied by "pki db migrate" inside
-- one transaction.
--
-- Fixed against serverPKI: the updated trigger of Places sits on Places
-- (not on Jails); a target's jail must sit on the target's own disthost
-- (not merely on a disthost that has some jail); remove_target finds
-- targets without jail or place; remove_altname and remove_service fail
-- when there is nothing to remove; remove_cert does not take an altname.

SET search_path TO pki, dd, public;

---------------------------------------------------------------- updated

-- Sets the common column "updated" on every UPDATE.
CREATE FUNCTION pki.set_updated() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
BEGIN
	NEW.updated := CURRENT_TIMESTAMP;
	RETURN NEW;
END
$$;

CREATE TRIGGER ut_Revision BEFORE UPDATE ON Revision
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_Certificates BEFORE UPDATE ON Certificates
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_CertInstances BEFORE UPDATE ON CertInstances
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_CertKeyData BEFORE UPDATE ON CertKeyData
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_Subjects BEFORE UPDATE ON Subjects
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_Services BEFORE UPDATE ON Services
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_Certificates_Services BEFORE UPDATE ON Certificates_Services
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_DistHosts BEFORE UPDATE ON DistHosts
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_Jails BEFORE UPDATE ON Jails
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_Places BEFORE UPDATE ON Places
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();
CREATE TRIGGER ut_Targets BEFORE UPDATE ON Targets
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

---------------------------------------------------------------- integrity

-- The certificate's own name (the subject that is not an altname) goes
-- only with the certificate: remove_cert, not DELETE FROM subjects.
CREATE FUNCTION pki.forbid_deleting_cert_name() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
BEGIN
	IF NOT OLD.isAltname AND EXISTS
	    (SELECT 1 FROM Certificates WHERE id = OLD.certificate) THEN
		RAISE EXCEPTION '?Subject "%" is the name of a certificate: '
		    'remove the certificate (remove_cert) instead', OLD.name;
	END IF;
	RETURN OLD;
END
$$;
CREATE TRIGGER forbid_deleting_cert_name BEFORE DELETE ON Subjects
	FOR EACH ROW EXECUTE FUNCTION pki.forbid_deleting_cert_name();

-- One subject per certificate is not an altname.  The partial unique
-- index holds it under concurrency; the trigger says it in words.
CREATE UNIQUE INDEX subjects_one_cert_name ON Subjects (certificate)
	WHERE NOT isAltname;

CREATE FUNCTION pki.one_cert_name_per_cert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	other	citext;
BEGIN
	IF NEW.isAltname OR NEW.certificate IS NULL THEN
		RETURN NEW;
	END IF;
	SELECT name INTO other FROM Subjects
	    WHERE certificate = NEW.certificate AND NOT isAltname
	    AND id <> NEW.id;
	IF FOUND THEN
		RAISE EXCEPTION '?Subject "%": certificate % already has the '
		    'subject name "%" (only one subject per certificate is '
		    'not an altname)', NEW.name, NEW.certificate, other;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER one_cert_name_per_cert BEFORE INSERT OR UPDATE ON Subjects
	FOR EACH ROW EXECUTE FUNCTION pki.one_cert_name_per_cert();

-- A subject of a certificate keeps its certificate and its isAltname.
CREATE FUNCTION pki.no_subject_reparenting() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
BEGIN
	IF OLD.certificate IS NOT NULL AND
	    (NEW.certificate IS DISTINCT FROM OLD.certificate OR
	     NEW.isAltname IS DISTINCT FROM OLD.isAltname) THEN
		RAISE EXCEPTION '?Subject "%": its certificate and isAltname '
		    'cannot change (remove it and add it again)', OLD.name;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER no_subject_reparenting BEFORE UPDATE ON Subjects
	FOR EACH ROW EXECUTE FUNCTION pki.no_subject_reparenting();

-- A jail sits on a disthost that has a jailroot, and does not move to
-- another disthost while targets use it.
CREATE FUNCTION pki.jail_on_disthost_with_jailroot() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	host	record;
BEGIN
	SELECT FQDN, jailroot INTO host FROM DistHosts WHERE id = NEW.distHost;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?Jail "%": no disthost with id %',
		    NEW.name, NEW.distHost;
	END IF;
	IF coalesce(host.jailroot, '') = '' THEN
		RAISE EXCEPTION '?Jail "%": disthost "%" has no jailroot '
		    '(set DistHosts.jailroot first)', NEW.name, host.FQDN;
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.distHost <> OLD.distHost AND EXISTS
	    (SELECT 1 FROM Targets WHERE jail = NEW.id) THEN
		RAISE EXCEPTION '?Jail "%" is used by targets: it cannot move '
		    'to disthost "%"', NEW.name, host.FQDN;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER jail_on_disthost_with_jailroot BEFORE INSERT OR UPDATE
	ON Jails FOR EACH ROW
	EXECUTE FUNCTION pki.jail_on_disthost_with_jailroot();

-- A disthost keeps its jailroot while jails sit on it.
CREATE FUNCTION pki.jailroot_while_jails() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	names	text;
BEGIN
	IF coalesce(NEW.jailroot, '') <> '' THEN
		RETURN NEW;
	END IF;
	SELECT string_agg(name::text, ', ' ORDER BY name) INTO names
	    FROM Jails WHERE distHost = NEW.id;
	IF names IS NOT NULL THEN
		RAISE EXCEPTION '?Disthost "%" needs its jailroot: jails % sit '
		    'on it', NEW.FQDN, names;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER jailroot_while_jails BEFORE UPDATE ON DistHosts
	FOR EACH ROW EXECUTE FUNCTION pki.jailroot_while_jails();

-- A target's jail sits on the target's own disthost.
CREATE FUNCTION pki.target_jail_on_its_disthost() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	j	record;
	host	citext;
BEGIN
	IF NEW.jail IS NULL THEN
		RETURN NEW;
	END IF;
	SELECT jl.name, jl.distHost, d.FQDN INTO j
	    FROM Jails jl JOIN DistHosts d ON d.id = jl.distHost
	    WHERE jl.id = NEW.jail;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?Target: no jail with id %', NEW.jail;
	END IF;
	IF j.distHost IS DISTINCT FROM NEW.distHost THEN
		SELECT FQDN INTO host FROM DistHosts WHERE id = NEW.distHost;
		RAISE EXCEPTION '?Target: jail "%" sits on disthost "%", not on '
		    '"%"', j.name, j.FQDN, coalesce(host::text, NEW.distHost::text);
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER target_jail_on_its_disthost BEFORE INSERT OR UPDATE
	ON Targets FOR EACH ROW
	EXECUTE FUNCTION pki.target_jail_on_its_disthost();

---------------------------------------------------------------- views

-- Meta data of every certificate: one row per combination of altname,
-- service and target.
CREATE VIEW pki.certs AS
SELECT	s1.type			AS "Subject",
	s1.name			AS "Cert Name",
	c.type			AS "Type",
	c.encryption_algo	AS algo,
	c.ocsp_must_staple	AS omsp_ms,
	c.authorized_until::date AS authorized,
	s2.name			AS "Alt Name",
	s.name			AS "TLSA",
	s.port			AS "Port",
	d.FQDN			AS "Dist Host",
	j.name			AS "Jail",
	p.name			AS "Place"
FROM Certificates c
LEFT JOIN Subjects s1 ON s1.certificate = c.id AND NOT s1.isAltname
LEFT JOIN Subjects s2 ON s2.certificate = c.id AND s2.isAltname
LEFT JOIN Certificates_Services cs ON cs.certificate = c.id
LEFT JOIN Services s ON s.id = cs.service
LEFT JOIN Targets t ON t.certificate = c.id
LEFT JOIN DistHosts d ON d.id = t.distHost
LEFT JOIN Jails j ON j.id = t.jail
LEFT JOIN Places p ON p.id = t.place
ORDER BY s1.name, s2.name, d.FQDN, j.name, p.name, s.name, s.port;

-- Like certs, with the primary keys of the rows shown.
CREATE VIEW pki.certs_ids AS
SELECT	c.id			AS c_id,
	s1.id			AS sl_id,
	s1.type			AS "Subject Type",
	s1.name			AS "Cert Name",
	c.type			AS "Type",
	c.encryption_algo	AS algo,
	c.ocsp_must_staple	AS omsp_ms,
	c.authorized_until::date AS authorized,
	s2.id			AS s2_id,
	s2.name			AS "Alt Name",
	s.id			AS s_id,
	s.name			AS "TLSA",
	s.port			AS "Port",
	t.id			AS t_id,
	d.id			AS d_id,
	d.FQDN			AS "FQDN",
	j.id			AS j_id,
	j.name			AS "Jail",
	p.id			AS p_id,
	p.name			AS "Place"
FROM Certificates c
LEFT JOIN Subjects s1 ON s1.certificate = c.id AND NOT s1.isAltname
LEFT JOIN Subjects s2 ON s2.certificate = c.id AND s2.isAltname
LEFT JOIN Certificates_Services cs ON cs.certificate = c.id
LEFT JOIN Services s ON s.id = cs.service
LEFT JOIN Targets t ON t.certificate = c.id
LEFT JOIN DistHosts d ON d.id = t.distHost
LEFT JOIN Jails j ON j.id = t.jail
LEFT JOIN Places p ON p.id = t.place
ORDER BY c.id, s1.id, s2.id, s.id, t.id;

-- Certificate instances: one row per instance and algorithm (an instance
-- without cert/key data yet, e.g. reserved, shows once with algorithm and
-- hash NULL).
CREATE VIEW pki.inst AS
SELECT	i.id,
	s.name,
	c.type,
	i.state,
	i.CAcert		AS cacert,
	i.ocsp_must_staple	AS ocsplustaple,
	i.not_before,
	i.not_after,
	k.encryption_algo,
	k.hash,
	i.updated
FROM CertInstances i
JOIN Certificates c ON c.id = i.certificate
LEFT JOIN Subjects s ON s.certificate = c.id AND NOT s.isAltname
LEFT JOIN CertKeyData k ON k.certinstance = i.id
ORDER BY i.id, k.encryption_algo;

---------------------------------------------------------------- helpers

-- The algorithm named by TEXT: NULL, '' and 'NULL' (the manual's spelling
-- of "none") mean rsa; 'rsa plus ec' is the manual's rsa_plus_ec.
CREATE FUNCTION pki.algo_from_text(the_algo text)
	RETURNS dd.cert_encryption_algo
	LANGUAGE plpgsql IMMUTABLE
	AS $$
DECLARE
	a	text := lower(btrim(coalesce(the_algo, '')));
BEGIN
	IF a IN ('', 'null', 'rsa') THEN
		RETURN 'rsa';
	ELSIF a = 'ec' THEN
		RETURN 'ec';
	ELSIF a IN ('rsa_plus_ec', 'rsa plus ec') THEN
		RETURN 'rsa_plus_ec';
	END IF;
	RAISE EXCEPTION '?Encryption algorithm "%" unknown: use rsa, ec or '
	    'rsa_plus_ec', the_algo;
END
$$;

-- The id of the certificate named THE_CERT_NAME (its subject name, not
-- an altname); raises if there is none.
CREATE FUNCTION pki.cert_id(the_cert_name citext) RETURNS int4
	LANGUAGE plpgsql STABLE
	SET search_path = pki, dd, public
	AS $$
DECLARE
	subj	record;
	owner	citext;
BEGIN
	IF coalesce(the_cert_name, '') = '' THEN
		RAISE EXCEPTION '?The certificate name must not be empty';
	END IF;
	SELECT certificate, isAltname INTO subj
	    FROM Subjects WHERE name = the_cert_name;
	IF NOT FOUND OR subj.certificate IS NULL THEN
		RAISE EXCEPTION '?No certificate named "%"', the_cert_name;
	END IF;
	IF subj.isAltname THEN
		SELECT name INTO owner FROM Subjects
		    WHERE certificate = subj.certificate AND NOT isAltname;
		RAISE EXCEPTION '?"%" is an altname of certificate "%", not a '
		    'certificate name', the_cert_name, owner;
	END IF;
	RETURN subj.certificate;
END
$$;

-- Raises unless THE_NAME is free to become a subject name or altname.
CREATE FUNCTION pki.check_name_free(the_name citext) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pki, dd, public
	AS $$
DECLARE
	subj	record;
BEGIN
	SELECT s.isAltname, s1.name AS owner INTO subj
	    FROM Subjects s
	    LEFT JOIN Subjects s1 ON s1.certificate = s.certificate
		AND NOT s1.isAltname
	    WHERE s.name = the_name;
	IF NOT FOUND THEN
		RETURN;
	ELSIF subj.isAltname THEN
		RAISE EXCEPTION '?"%" is already in use as altname of '
		    'certificate "%"', the_name, subj.owner;
	ELSE
		RAISE EXCEPTION '?"%" is already in use as a subject name',
		    the_name;
	END IF;
END
$$;

-- The ids of a service, disthost, jail and place by name; NULL for a NULL
-- name; raise if there is no such row.
CREATE FUNCTION pki.service_id(the_service_name citext,
	the_port dd.port_number) RETURNS int4
	LANGUAGE plpgsql STABLE
	SET search_path = pki, dd, public
	AS $$
DECLARE
	the_id	int4;
BEGIN
	IF coalesce(the_service_name, '') = '' OR the_port IS NULL THEN
		RAISE EXCEPTION '?The service name and port must not be empty';
	END IF;
	SELECT id INTO the_id FROM Services
	    WHERE name = the_service_name AND port = the_port;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?No service "%" with port %',
		    the_service_name, the_port;
	END IF;
	RETURN the_id;
END
$$;

CREATE FUNCTION pki.disthost_id(the_disthost_name citext) RETURNS int4
	LANGUAGE plpgsql STABLE
	SET search_path = pki, dd, public
	AS $$
DECLARE
	the_id	int4;
BEGIN
	IF the_disthost_name IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT id INTO the_id FROM DistHosts WHERE FQDN = the_disthost_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?No disthost "%"', the_disthost_name;
	END IF;
	RETURN the_id;
END
$$;

CREATE FUNCTION pki.jail_id(the_jail citext) RETURNS int4
	LANGUAGE plpgsql STABLE
	SET search_path = pki, dd, public
	AS $$
DECLARE
	the_id	int4;
BEGIN
	IF the_jail IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT id INTO the_id FROM Jails WHERE name = the_jail;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?No jail "%"', the_jail;
	END IF;
	RETURN the_id;
END
$$;

CREATE FUNCTION pki.place_id(the_place citext) RETURNS int4
	LANGUAGE plpgsql STABLE
	SET search_path = pki, dd, public
	AS $$
DECLARE
	the_id	int4;
BEGIN
	IF the_place IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT id INTO the_id FROM Places WHERE name = the_place;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?No place "%"', the_place;
	END IF;
	RETURN the_id;
END
$$;

-- 'disthost "h", jail "j", place "p"' for messages.
CREATE FUNCTION pki.target_text(the_disthost_name citext, the_jail citext,
	the_place citext) RETURNS text
	LANGUAGE sql IMMUTABLE
	AS $$
SELECT format('disthost "%s"', the_disthost_name)
	|| CASE WHEN the_jail IS NULL THEN ''
	   ELSE format(', jail "%s"', the_jail) END
	|| CASE WHEN the_place IS NULL THEN ''
	   ELSE format(', place "%s"', the_place) END
$$;

---------------------------------------------------------------- functions

-- Adds a certificate with its subject name and, optionally, one altname,
-- one service (TLSA) and one target.  Returns the new cert's certs row as
-- text.
CREATE FUNCTION pki.add_cert(the_name citext,
	the_subject_type dd.subject_type, the_cert_type dd.cert_type,
	the_encryption_algo text, must_staple boolean, the_altname citext,
	the_tlsa_name citext, the_tlsa_port dd.port_number,
	the_disthost_name citext, the_jail citext DEFAULT NULL,
	the_place citext DEFAULT NULL) RETURNS text
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	algo		dd.cert_encryption_algo;
	cert		int4;
	svc		int4;
	host		int4;
	jail_id		int4;
	place_id	int4;
	result		text;
BEGIN
	IF coalesce(the_name, '') = '' THEN
		RAISE EXCEPTION '?add_cert: the_name (subject name) must not '
		    'be empty';
	END IF;
	IF the_subject_type IS NULL THEN
		RAISE EXCEPTION '?add_cert: the_subject_type must not be empty '
		    '(CA, client, server or reserved)';
	END IF;
	IF the_cert_type IS NULL THEN
		RAISE EXCEPTION '?add_cert: the_cert_type must not be empty '
		    '(LE or local)';
	END IF;
	algo := pki.algo_from_text(the_encryption_algo);
	the_altname := nullif(the_altname, '');
	the_tlsa_name := nullif(the_tlsa_name, '');
	the_disthost_name := nullif(the_disthost_name, '');
	the_jail := nullif(the_jail, '');
	the_place := nullif(the_place, '');

	PERFORM pki.check_name_free(the_name);
	IF the_altname IS NOT NULL THEN
		IF the_altname = the_name THEN
			RAISE EXCEPTION '?add_cert: the altname "%" is the '
			    'subject name itself', the_altname;
		END IF;
		PERFORM pki.check_name_free(the_altname);
	END IF;
	IF (the_tlsa_name IS NULL) <> (the_tlsa_port IS NULL) THEN
		RAISE EXCEPTION '?add_cert: give both the_tlsa_name and '
		    'the_tlsa_port, or neither';
	END IF;
	IF the_tlsa_name IS NOT NULL THEN
		svc := pki.service_id(the_tlsa_name, the_tlsa_port);
	END IF;
	IF the_disthost_name IS NULL AND
	    (the_jail IS NOT NULL OR the_place IS NOT NULL) THEN
		RAISE EXCEPTION '?add_cert: a jail or place needs '
		    'the_disthost_name';
	END IF;
	host := pki.disthost_id(the_disthost_name);
	jail_id := pki.jail_id(the_jail);
	place_id := pki.place_id(the_place);

	INSERT INTO Certificates (type, encryption_algo, ocsp_must_staple)
	    VALUES (the_cert_type, algo, coalesce(must_staple, false))
	    RETURNING id INTO cert;
	INSERT INTO Subjects (type, name, isAltname, certificate)
	    VALUES (the_subject_type, the_name, false, cert);
	IF the_altname IS NOT NULL THEN
		INSERT INTO Subjects (type, name, isAltname, certificate)
		    VALUES (the_subject_type, the_altname, true, cert);
	END IF;
	IF svc IS NOT NULL THEN
		INSERT INTO Certificates_Services (certificate, service)
		    VALUES (cert, svc);
	END IF;
	IF host IS NOT NULL THEN
		INSERT INTO Targets (distHost, jail, place, certificate)
		    VALUES (host, jail_id, place_id, cert);
	END IF;

	SELECT v::text INTO result FROM certs v WHERE v."Cert Name" = the_name
	    LIMIT 1;
	RETURN result;
END
$$;

-- Deletes a certificate with its subjects, services, targets, instances
-- and their cert/key data.
CREATE FUNCTION pki.remove_cert(the_cert_name citext) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	cert	int4 := pki.cert_id(the_cert_name);
	n	bigint;
BEGIN
	SELECT count(*) INTO n
	    FROM CertInstances mine
	    JOIN CertInstances other ON other.CAcert = mine.id
	    WHERE mine.certificate = cert AND other.certificate <> cert;
	IF n > 0 THEN
		RAISE EXCEPTION '?Certificate "%" is the CA of % instance(s) '
		    'of other certificates: remove those first',
		    the_cert_name, n;
	END IF;
	DELETE FROM Certificates WHERE id = cert;
END
$$;

-- Adds an altname to a certificate.
CREATE FUNCTION pki.add_altname(the_cert_name citext, the_altname citext)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	cert	int4 := pki.cert_id(the_cert_name);
BEGIN
	IF coalesce(the_altname, '') = '' THEN
		RAISE EXCEPTION '?add_altname: the_altname must not be empty';
	END IF;
	PERFORM pki.check_name_free(the_altname);
	INSERT INTO Subjects (type, name, isAltname, certificate)
	    SELECT type, the_altname, true, cert
	    FROM Subjects WHERE certificate = cert AND NOT isAltname;
END
$$;

-- Removes an altname.
CREATE FUNCTION pki.remove_altname(the_altname citext) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	alt	boolean;
BEGIN
	IF coalesce(the_altname, '') = '' THEN
		RAISE EXCEPTION '?remove_altname: the_altname must not be '
		    'empty';
	END IF;
	SELECT isAltname INTO alt FROM Subjects WHERE name = the_altname;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?No altname "%"', the_altname;
	END IF;
	IF NOT alt THEN
		RAISE EXCEPTION '?"%" is the subject name of a certificate, not '
		    'an altname (remove_cert removes certificates)',
		    the_altname;
	END IF;
	DELETE FROM Subjects WHERE name = the_altname AND isAltname;
END
$$;

-- Adds an existing service (TLSA record) to a certificate.
CREATE FUNCTION pki.add_service(the_cert_name citext,
	the_service_name citext, the_port dd.port_number) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	cert	int4 := pki.cert_id(the_cert_name);
	svc	int4 := pki.service_id(the_service_name, the_port);
BEGIN
	IF EXISTS (SELECT 1 FROM Certificates_Services
	    WHERE certificate = cert AND service = svc) THEN
		RAISE EXCEPTION '?Certificate "%" already has service "%" '
		    'port %', the_cert_name, the_service_name, the_port;
	END IF;
	INSERT INTO Certificates_Services (certificate, service)
	    VALUES (cert, svc);
END
$$;

-- Removes a service from a certificate.
CREATE FUNCTION pki.remove_service(the_cert_name citext,
	the_service_name citext, the_port dd.port_number) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	cert	int4 := pki.cert_id(the_cert_name);
	svc	int4 := pki.service_id(the_service_name, the_port);
BEGIN
	DELETE FROM Certificates_Services
	    WHERE certificate = cert AND service = svc;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?Certificate "%" has no service "%" port %',
		    the_cert_name, the_service_name, the_port;
	END IF;
END
$$;

-- Adds a target (disthost, optional jail and place) to a certificate.
-- Returns the target's certs row as text.
CREATE FUNCTION pki.add_target(the_name citext, the_disthost_name citext,
	the_jail citext DEFAULT NULL, the_place citext DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	cert		int4 := pki.cert_id(the_name);
	host		int4;
	jail_id		int4;
	place_id	int4;
	result		text;
BEGIN
	IF coalesce(the_disthost_name, '') = '' THEN
		RAISE EXCEPTION '?add_target: the_disthost_name must not be '
		    'empty';
	END IF;
	the_jail := nullif(the_jail, '');
	the_place := nullif(the_place, '');
	host := pki.disthost_id(the_disthost_name);
	jail_id := pki.jail_id(the_jail);
	place_id := pki.place_id(the_place);
	IF EXISTS (SELECT 1 FROM Targets t WHERE t.certificate = cert
	    AND t.distHost = host AND t.jail IS NOT DISTINCT FROM jail_id
	    AND t.place IS NOT DISTINCT FROM place_id) THEN
		RAISE EXCEPTION '?Certificate "%" already has the target %',
		    the_name,
		    pki.target_text(the_disthost_name, the_jail, the_place);
	END IF;
	INSERT INTO Targets (distHost, jail, place, certificate)
	    VALUES (host, jail_id, place_id, cert);
	SELECT v::text INTO result FROM certs v
	    WHERE v."Cert Name" = the_name
	    AND v."Dist Host" = the_disthost_name
	    AND v."Jail" IS NOT DISTINCT FROM the_jail
	    AND v."Place" IS NOT DISTINCT FROM the_place
	    LIMIT 1;
	RETURN result;
END
$$;

-- Removes a target from a certificate.  A NULL jail or place matches a
-- target without one.
CREATE FUNCTION pki.remove_target(the_cert_name citext,
	the_disthost_name citext, the_jail citext DEFAULT NULL,
	the_place citext DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pki, dd, public
	AS $$
DECLARE
	cert		int4 := pki.cert_id(the_cert_name);
	host		int4;
	jail_id		int4;
	place_id	int4;
BEGIN
	IF coalesce(the_disthost_name, '') = '' THEN
		RAISE EXCEPTION '?remove_target: the_disthost_name must not '
		    'be empty';
	END IF;
	the_jail := nullif(the_jail, '');
	the_place := nullif(the_place, '');
	host := pki.disthost_id(the_disthost_name);
	jail_id := pki.jail_id(the_jail);
	place_id := pki.place_id(the_place);
	DELETE FROM Targets t WHERE t.certificate = cert
	    AND t.distHost = host AND t.jail IS NOT DISTINCT FROM jail_id
	    AND t.place IS NOT DISTINCT FROM place_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION '?Certificate "%" has no target %',
		    the_cert_name,
		    pki.target_text(the_disthost_name, the_jail, the_place);
	END IF;
END
$$;
