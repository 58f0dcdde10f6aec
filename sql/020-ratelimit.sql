-- 020-ratelimit.sql - a failure because the CA limits new orders: the CA
-- names the time until which it takes none (Retry-After, carried as the
-- error's "until" by pki-acme), and the certificate's next attempt waits
-- at least that long, however short the backoff; at most a week (Let's
-- Encrypt's longest window), so that a time that lies cannot hold a
-- certificate back for good.

SET search_path TO pki, dd, public;

CREATE FUNCTION pki.schedule_failed(cert int4, at timestamp, message text,
	retry timestamp) RETURNS void LANGUAGE sql AS $$
	SELECT pki.schedule_failed(cert, at, message);
	UPDATE pki.schedule
	   SET next_attempt = greatest(next_attempt,
		least(retry, at + interval '7 days'))
	 WHERE certificate = cert AND retry IS NOT NULL;
$$;
