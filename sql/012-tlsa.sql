-- 012-tlsa.sql - the DANE TLSA records of each instance, and what pki
-- last published in DNS at each owner.
--
-- pki-store keeps the "tlsa" that pki-tlsa computed for an instance
-- (pki issue) in tlsa_records, so that publishing, consolidating and
-- rolling never compute them again.  The RRset wanted at an owner is
-- that of the instances a client may be served: deployed and
-- prepublished (pki.tlsa_rrset()).  tlsa_published is what the last
-- pki-dnsup --tlsa that every authoritative server took put there, so
-- that pki distribute changes DNS only where the wanted RRset changed
-- (a renewal that keeps its key, TLSA 3 1 1, changes nothing).

SET search_path TO pki, dd, public;

CREATE TABLE pki.tlsa_records (
	id		SERIAL		PRIMARY KEY,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	certinstance	int4		NOT NULL
				REFERENCES CertInstances
				ON DELETE CASCADE ON UPDATE CASCADE,
	owner		CITEXT		NOT NULL
				CHECK (length(owner) <= 254 AND owner ~
				    '^_[0-9]{1,5}\._(tcp|udp|sctp)\.([A-Za-z0-9_-]{1,63}\.)+$'),
	ttl		int4		NOT NULL CHECK (ttl >= 0),
	usage		int2		NOT NULL CHECK (usage BETWEEN 0 AND 3),
	selector	int2		NOT NULL CHECK (selector BETWEEN 0 AND 1),
	mtype		int2		NOT NULL CHECK (mtype BETWEEN 0 AND 2),
	data		TEXT		NOT NULL
				CHECK (length(data) <= 4096 AND
				    data ~ '^([0-9A-F]{2})+$'),
	algo		TEXT,		-- the certificate it was computed from
	service		CITEXT,		-- the service that asked for it
	UNIQUE (certinstance, owner, usage, selector, mtype, data)
);
CREATE INDEX tlsa_records_owner ON pki.tlsa_records (owner);
CREATE TRIGGER ut_tlsa_records BEFORE UPDATE ON pki.tlsa_records
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

-- What pki published at OWNER when every authoritative server served it:
-- the RRset as tlsa_norm() writes it ('[]': none).  withheld: pki tlsa
-- remove emptied it, and pki distribute leaves it empty until pki tlsa
-- consolidate.
CREATE TABLE pki.tlsa_published (
	id		SERIAL		PRIMARY KEY,
	created		dd.created,
	updated		dd.updated,
	remarks		TEXT,
	owner		CITEXT		NOT NULL UNIQUE,
	certificate	int4		REFERENCES Certificates
				ON DELETE SET NULL ON UPDATE CASCADE,
	rrset		jsonb		NOT NULL DEFAULT '[]',
	withheld	BOOLEAN		NOT NULL DEFAULT false,
	published	TIMESTAMP	NOT NULL DEFAULT LOCALTIMESTAMP
);
CREATE INDEX tlsa_published_certificate ON pki.tlsa_published (certificate);
CREATE TRIGGER ut_tlsa_published BEFORE UPDATE ON pki.tlsa_published
	FOR EACH ROW EXECUTE FUNCTION pki.set_updated();

-- RRS, an array of TLSA entries ({ttl, usage, selector, mtype, data},
-- other members ignored), in one form that compares with =: each RR
-- once, data in upper case, ordered.
CREATE FUNCTION pki.tlsa_norm(rrs jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE AS $$
SELECT coalesce(jsonb_agg(x.rr ORDER BY x.u, x.s, x.m, x.d), '[]')
  FROM (SELECT DISTINCT jsonb_build_object('ttl', (r->>'ttl')::int4,
		'usage', (r->>'usage')::int2, 'selector', (r->>'selector')::int2,
		'mtype', (r->>'mtype')::int2, 'data', upper(r->>'data')) AS rr,
		(r->>'usage')::int2 AS u, (r->>'selector')::int2 AS s,
		(r->>'mtype')::int2 AS m, upper(r->>'data') AS d
	  FROM jsonb_array_elements(coalesce(rrs, '[]')) r) x
$$;

-- The RRset wanted at THE_OWNER: the records of the deployed and
-- prepublished instances (a client may be served either), each once,
-- all with the least TTL among them (an RRset has one TTL); '[]' when
-- none.  The roll (prepublished beside deployed) needs nothing else.
CREATE FUNCTION pki.tlsa_rrset(the_owner citext) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
SELECT pki.tlsa_norm(jsonb_agg(jsonb_build_object('ttl', t.ttl,
	'usage', r.usage, 'selector', r.selector, 'mtype', r.mtype,
	'data', r.data)))
  FROM tlsa_records r
  JOIN certinstances i ON i.id = r.certinstance
  CROSS JOIN (SELECT min(r2.ttl) AS ttl FROM tlsa_records r2
	  JOIN certinstances i2 ON i2.id = r2.certinstance
	 WHERE r2.owner = the_owner
	   AND i2.state IN ('deployed', 'prepublished')) t
 WHERE r.owner = the_owner AND i.state IN ('deployed', 'prepublished')
$$;

-- The owners of certificate THE_CERT: those of its instances' records
-- (whatever their state: an owner of none deployed is to be empty) and
-- those pki published for it (a service dropped leaves one to empty).
CREATE FUNCTION pki.tlsa_owners(the_cert int4) RETURNS SETOF citext
	LANGUAGE sql STABLE
	SET search_path = pki, dd, public AS $$
SELECT r.owner FROM tlsa_records r
  JOIN certinstances i ON i.id = r.certinstance
 WHERE i.certificate = the_cert
UNION
SELECT owner FROM tlsa_published WHERE certificate = the_cert
$$;

-- What pki status lists: per owner, the records of each instance with
-- its state, whether a client may be served it, and whether DNS has it
-- (as pki last published it).
CREATE VIEW pki.tlsa_state AS
SELECT s.name AS "Cert Name", r.owner AS "Owner", i.id AS "Serial",
       i.state AS "State", r.ttl AS "TTL",
       r.usage || ' ' || r.selector || ' ' || r.mtype || ' ' ||
	   r.data AS "TLSA",
       i.state IN ('deployed', 'prepublished') AS "Wanted",
       coalesce(p.rrset @> jsonb_build_array(jsonb_build_object(
	   'usage', r.usage, 'selector', r.selector, 'mtype', r.mtype,
	   'data', r.data)), false) AS "Published",
       p.withheld AS "Withheld", p.published AS "Published at"
  FROM tlsa_records r
  JOIN certinstances i ON i.id = r.certinstance
  JOIN subjects s ON s.certificate = i.certificate AND NOT s.isaltname
  LEFT JOIN tlsa_published p ON p.owner = r.owner;
