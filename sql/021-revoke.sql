-- 021-revoke.sql - when and why an instance was revoked, for the local
-- CA's CRL (pki-localca --crl).  pki-store sets both when
-- it marks an instance 'revoked' (pki revoke); an instance revoked
-- before this migration has neither, and its CRL entry takes the time
-- of its last update and no reason.

ALTER TABLE pki.certinstances
	ADD COLUMN revoked_at	TIMESTAMP,	-- UTC, like not_before
	ADD COLUMN revoke_reason TEXT
		CHECK (revoke_reason IN ('unspecified', 'keyCompromise',
		    'cACompromise', 'affiliationChanged', 'superseded',
		    'cessationOfOperation', 'certificateHold',
		    'privilegeWithdrawn', 'aACompromise'));
