-- 019-alerts.sql - what a person is told: the action a certificate is
-- due for, and the certificates that expire soon with no renewal, each
-- decided once here for pki-select --schedule, pki status --json and
-- --expiring, and the alert mail of pki schedule (sh/alert.sh).

SET search_path TO pki, dd, public;

-- The action that issue or renewal of certificate CERT is at time AT:
-- 'remind' for a local certificate when the run cannot sign (REMIND:
-- the CA key's passphrase is not there), 'renew' when it has a valid
-- instance, else 'issue'.  (When it is due is pki.schedule.due_at.)
CREATE FUNCTION pki.due_action(cert int4, at timestamp, remind boolean)
	RETURNS text LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN c.type = 'local' AND remind THEN 'remind'
		WHEN EXISTS (SELECT 1 FROM pki.certinstances i
			WHERE i.certificate = cert AND i.state IN ('issued',
			'prepublished', 'deployed') AND i.not_after > at)
		THEN 'renew' ELSE 'issue' END
	  FROM pki.certificates c WHERE c.id = cert
$$;

-- The certificates (not disabled, not a CA) whose best valid instance
-- at time AT expires within DAYS days, or that have none: no instance
-- issued, prepublished or deployed is valid beyond AT + DAYS.  NOT_AFTER
-- is that of the best one, NULL when there is none.  Only candidates are
-- looked at, on indexes: the certificates with an instance in those
-- states that ends by AT + DAYS (certinstances_valid_not_after), and
-- those with no instance in them (pki.schedule.renew_at '-infinity');
-- in a fleet that renews in time both are few, however large it is.
CREATE INDEX schedule_no_instance ON pki.schedule (certificate)
	WHERE renew_at = '-infinity';

CREATE FUNCTION pki.expiring(at timestamp, days numeric)
	RETURNS TABLE (certificate int4, name citext, not_after timestamp)
	LANGUAGE sql STABLE AS $$
	WITH cand AS (SELECT i.certificate FROM pki.certinstances i
		WHERE i.state IN ('issued', 'prepublished', 'deployed')
		  AND i.not_after <= at + days * interval '1 day'
		UNION SELECT s.certificate FROM pki.schedule s
		WHERE s.renew_at = '-infinity')
	SELECT c.id, s.name, (SELECT max(i.not_after) FROM pki.certinstances i
		WHERE i.certificate = c.id AND i.not_after > at
		  AND i.state IN ('issued', 'prepublished', 'deployed'))
	  FROM cand JOIN pki.certificates c ON c.id = cand.certificate
	  JOIN pki.subjects s ON s.certificate = c.id AND NOT s.isaltname
	   AND s.type NOT IN ('CA', 'reserved')
	 WHERE NOT c.disabled AND NOT EXISTS (SELECT 1 FROM pki.certinstances i
		WHERE i.certificate = c.id
		  AND i.state IN ('issued', 'prepublished', 'deployed')
		  AND i.not_after > at + days * interval '1 day')
$$;

-- A time (UTC) as RFC 3339 text, as the records carry times.
CREATE FUNCTION pki.rfc3339(t timestamp) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN isfinite(t) THEN
		to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END
$$;
