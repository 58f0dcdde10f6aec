# schedule.sh - helpers of the schedule tests (schedule.t,
# schedule-run.t), for a database of tests/lib/pg.sh: q SQL, the time
# D days into NAME's newest instance, the actions due then, the valid
# instances now, and the database aged by DAYS.
# shellcheck shell=sh

# the time D days (may be fractional) after the not_before of NAME's
# newest instance
at() {
	q "SELECT to_char(max(i.not_before) + $2 * interval '1 day',
		'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM certinstances i
		JOIN subjects s ON s.certificate = i.certificate
		WHERE s.name = '$1' AND i.state <> 'reserved'"
}
# the actions due for NAME at D days, sorted, space-separated
acts() {
	pki-select --schedule --now "$(at "$1" "$2")" -o "$1" |
		jq -r .action | sort | tr '\n' ' ' | sed 's/ $//'
}
valid() {	# valid NAME: how many valid instances NAME has now
	q "SELECT count(*) FROM certinstances i JOIN subjects s
		ON s.certificate = i.certificate AND NOT s.isaltname
		WHERE s.name = '$1' AND i.state IN ('issued', 'prepublished',
		'deployed') AND i.not_after > now() AT TIME ZONE 'UTC'"
}
# age DAYS: the database as it will be DAYS days from now (every date
# moved that far into the past), for runs that issue at the real time
age() {
	q "UPDATE certinstances SET not_before = not_before - $1 * interval '1 day',
		not_after = not_after - $1 * interval '1 day'
		WHERE certificate NOT IN (SELECT certificate FROM subjects
		WHERE type = 'CA');
	   UPDATE schedule SET next_attempt = next_attempt - $1 * interval '1 day',
		last_failure = last_failure - $1 * interval '1 day'"
}
leaf() { q "UPDATE localca_settings SET leaf_days = $1"; }
