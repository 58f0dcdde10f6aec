-- 014-roll.sql - the DANE roll: a renewal whose TLSA records are new is
-- published beside the current ones before it is deployed.
--
-- An issued instance "needs prepublish" when its certificate has a
-- deployed instance and, at one of its owners, DNS serves an RRset (as
-- pki last published it: non-empty, not withheld) that lacks one of the
-- instance's records: a DANE client that looked there would refuse the
-- new certificate.  An owner where nothing is published needs no wait
-- (no client checks there; pki distribute publishes it after the
-- deployment, the rule of a first certificate), and neither does a
-- renewal whose records are all published already (key kept, 3 1 1).
--
-- pki-select --tlsa prepublish gives such an instance's owners the RRset
-- tlsa_rrset(owner) ∪ its records; once pki-dnsup --tlsa saw every
-- authoritative server serve it, pki-store makes the instance
-- 'prepublished', stamping prepublished (when) and prepublish_ttl (the
-- largest TTL of the RRsets replaced and published there: how long a
-- resolver may keep an RRset without the new records).  It is deployed
-- no earlier than prepublished + max(2 × prepublish_ttl, the minimum roll
-- time: ssl-mgr's min_roll_mins, PKI_MIN_ROLL_MINS, 90 by default).

SET search_path TO pki, dd, public;

ALTER TABLE pki.certinstances
	ADD COLUMN prepublished TIMESTAMP,
	ADD COLUMN prepublish_ttl int4 CHECK (prepublish_ttl >= 0);

-- The RRset wanted at THE_OWNER (012's, now with the roll's rule): the
-- records of the deployed instances, and of the prepublished ones at an
-- owner where a deployed instance of their certificate has records too.
-- At an owner that only the renewal has (a service or name added since)
-- its records wait for its deployment, as a first certificate's do: no
-- client is shown a record the certificate it is served does not match.
CREATE OR REPLACE FUNCTION pki.tlsa_rrset(the_owner citext) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
WITH w AS (SELECT r.ttl, r.usage, r.selector, r.mtype, r.data
	  FROM tlsa_records r JOIN certinstances i ON i.id = r.certinstance
	 WHERE r.owner = the_owner AND (i.state = 'deployed'
	    OR (i.state = 'prepublished' AND EXISTS (SELECT 1
		  FROM tlsa_records r2
		  JOIN certinstances d ON d.id = r2.certinstance
		 WHERE r2.owner = the_owner AND d.state = 'deployed'
		   AND d.certificate = i.certificate))))
SELECT tlsa_norm(jsonb_agg(jsonb_build_object('ttl',
	(SELECT min(ttl) FROM w), 'usage', w.usage, 'selector', w.selector,
	'mtype', w.mtype, 'data', w.data))) FROM w
$$;

-- The owners of THE_INST's records where DNS serves a non-empty RRset
-- (not withheld) that lacks one of them.
CREATE FUNCTION pki.tlsa_prepublish_owners(the_inst int4)
	RETURNS SETOF citext
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
SELECT DISTINCT r.owner FROM tlsa_records r
  JOIN tlsa_published p ON p.owner = r.owner
 WHERE r.certinstance = the_inst AND NOT p.withheld
   AND jsonb_array_length(p.rrset) > 0
   AND NOT p.rrset @> jsonb_build_array(jsonb_build_object(
	'usage', r.usage, 'selector', r.selector, 'mtype', r.mtype,
	'data', r.data))
$$;

-- Whether THE_INST is an issued instance that needs prepublish.
CREATE FUNCTION pki.instance_needs_prepublish(the_inst int4) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
SELECT EXISTS (SELECT 1 FROM certinstances i
	 WHERE i.id = the_inst AND i.state = 'issued'
	   AND EXISTS (SELECT 1 FROM certinstances d
		 WHERE d.certificate = i.certificate AND d.state = 'deployed')
	   AND EXISTS (SELECT 1 FROM pki.tlsa_prepublish_owners(i.id)))
$$;

-- The RRset to publish at THE_OWNER while THE_INST is prepublished:
-- tlsa_rrset(THE_OWNER) and THE_INST's records there, each once, all
-- with the least TTL among them.
CREATE FUNCTION pki.tlsa_prepublish_rrset(the_owner citext, the_inst int4)
	RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
WITH rs AS (SELECT e FROM jsonb_array_elements(tlsa_rrset(the_owner)) e
	UNION ALL
	SELECT jsonb_build_object('ttl', r.ttl, 'usage', r.usage,
		'selector', r.selector, 'mtype', r.mtype, 'data', r.data)
	  FROM tlsa_records r
	 WHERE r.owner = the_owner AND r.certinstance = the_inst)
SELECT tlsa_norm(jsonb_agg(rs.e || jsonb_build_object('ttl',
	(SELECT min((e->>'ttl')::int4) FROM rs)))) FROM rs
$$;

-- When the prepublished instance THE_INST may be deployed, with a
-- minimum roll time of THE_MIN_ROLL; NULL if it is not prepublished.
CREATE FUNCTION pki.roll_due(the_inst int4, the_min_roll interval)
	RETURNS timestamp
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
SELECT i.prepublished + greatest(make_interval(secs =>
	2 * coalesce(i.prepublish_ttl, 0)), the_min_roll)
  FROM certinstances i
 WHERE i.id = the_inst AND i.state = 'prepublished'
$$;

-- The instance of THE_CERT that is next to be deployed, at THE_NOW: the
-- newest valid issued or prepublished instance newer than the deployed
-- one; NULL if there is none.
CREATE FUNCTION pki.instance_next(the_cert int4, the_now timestamp)
	RETURNS int4
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
SELECT i.id FROM certinstances i
 WHERE i.certificate = the_cert
   AND i.state IN ('issued', 'prepublished')
   AND i.not_before <= the_now AND i.not_after > the_now
   AND i.id > coalesce((SELECT max(id) FROM certinstances
	 WHERE certificate = the_cert AND state = 'deployed'), 0)
   AND EXISTS (SELECT 1 FROM certkeydata k WHERE k.certinstance = i.id)
 ORDER BY i.id DESC LIMIT 1
$$;

-- Whether THE_INST is to wait at THE_NOW before it is deployed: it needs
-- prepublish, or it is prepublished and its roll is not due; but never
-- once the deployed instance expires within a day (serverPKI's switch
-- margin): a DNS that refused the prepublish for so long must not leave
-- every client, DANE or not, an expired certificate.
CREATE FUNCTION pki.instance_held(the_inst int4, the_now timestamp,
	the_min_roll interval) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
SELECT (pki.instance_needs_prepublish(the_inst) OR
	coalesce(pki.roll_due(the_inst, the_min_roll) > the_now, false))
   AND NOT EXISTS (SELECT 1 FROM certinstances n
	 JOIN certinstances d ON d.certificate = n.certificate
	 WHERE n.id = the_inst AND d.state = 'deployed'
	   AND d.not_after <= the_now + interval '1 day')
$$;

-- The instance of certificate THE_CERT that pki distribute puts on its
-- targets at THE_NOW: the next one (instance_next) unless it is held;
-- else the deployed one while a target lacks it.  THE_ROLL (pki roll):
-- only a prepublished instance whose wait is over.  NULL: none.
CREATE FUNCTION pki.instance_to_distribute(the_cert int4, the_now timestamp,
	the_min_roll interval, the_roll boolean) RETURNS int4
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
WITH nx AS (SELECT i.id, i.state FROM certinstances i
	 WHERE i.id = pki.instance_next(the_cert, the_now)),
dep AS (SELECT max(id) AS id FROM certinstances
	 WHERE certificate = the_cert AND state = 'deployed')
SELECT coalesce(
	(SELECT id FROM nx WHERE (NOT the_roll OR nx.state = 'prepublished')
		AND NOT pki.instance_held(nx.id, the_now, the_min_roll)),
	(SELECT id FROM dep WHERE NOT the_roll
		AND NOT pki.instance_on_all_targets(dep.id)))
$$;

-- The one-argument form of 007, for psql users: now, 90 minutes.
CREATE OR REPLACE FUNCTION pki.instance_to_distribute(the_cert int4)
	RETURNS int4
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
SELECT pki.instance_to_distribute(the_cert, (now() AT TIME ZONE 'UTC')::timestamp,
	interval '90 minutes', false)
$$;

-- 012's view, with "Wanted" as tlsa_rrset() now decides it: a record of a
-- prepublished instance at an owner only it has is not wanted yet.
CREATE OR REPLACE VIEW pki.tlsa_state AS
SELECT s.name AS "Cert Name", r.owner AS "Owner", i.id AS "Serial",
       i.state AS "State", r.ttl AS "TTL",
       r.usage || ' ' || r.selector || ' ' || r.mtype || ' ' ||
	   r.data AS "TLSA",
       pki.tlsa_rrset(r.owner) @> jsonb_build_array(jsonb_build_object(
	   'usage', r.usage, 'selector', r.selector, 'mtype', r.mtype,
	   'data', r.data)) AS "Wanted",
       coalesce(p.rrset @> jsonb_build_array(jsonb_build_object(
	   'usage', r.usage, 'selector', r.selector, 'mtype', r.mtype,
	   'data', r.data)), false) AS "Published",
       p.withheld AS "Withheld", p.published AS "Published at"
  FROM tlsa_records r
  JOIN certinstances i ON i.id = r.certinstance
  JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
  LEFT JOIN tlsa_published p ON p.owner = r.owner;
