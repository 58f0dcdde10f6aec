# lookout.sh - what monitoring and people look at: pki metrics (a
# Prometheus text file for node_exporter's textfile collector, also
# written by every pki schedule run when PKI_METRICS_FILE is set), pki
# report --html (one self-contained page), and the outcome of each run
# (pki.run_outcomes, sql/028-lookout.sql) that both show.
#
# Both are made by jq from pki status --json (the certificates, their
# instances, schedule and targets) and one query of the runs, and are
# written as a whole: a temporary file in the file's directory, mode
# 0644, renamed over the file, so a reader sees the old file or the new
# one, never a part.
#
#   PKI_METRICS_FILE   pki schedule: the metrics file written after each run
# shellcheck disable=SC2016 # jq programs and SQL are single-quoted on purpose

# pki_run_end STATUS: the run registered by pki_run_begin ended with
# exit status STATUS: counted in pki.run_outcomes, once per run.  Says
# nothing and fails nothing when the database does not answer.
pki_run_end() {
	[ -n "${PKI_RUN:-}" ] && [ -n "${PKI_RUN_COMMAND:-}" ] || return 0
	[ -z "${PKI_RUN_ENDED:-}" ] || return 0
	PKI_RUN_ENDED=1
	pki_psql -v command="$PKI_RUN_COMMAND" -v status="$1" \
		>/dev/null 2>&1 <<'EOF' || true
SELECT pki.run_end(:'command', :'status'::int4);
EOF
}

# pki_lookout_data NOW: the certificates as pki status --json gives them
# (not disabled ones) in $PKI_RUN_DIR/certs.json, and in
# $PKI_RUN_DIR/runs.json {"now": unix time of NOW (empty: the clock),
# "runs": [{"command", "outcome", "runs", "last"}]}.  Returns 2 when
# the database does not answer.
pki_lookout_data() {
	pki_run_dir
	_names='[]' _expiring='' _now=$1
	pki_status_json > "$PKI_RUN_DIR/certs.json" || return 2
	pki_sql -At -v now="$1" > "$PKI_RUN_DIR/runs.json" <<'EOF' || return 2
SET search_path TO pki, dd, public;
SELECT json_build_object('now', extract(epoch FROM coalesce(
	nullif(:'now', '')::timestamptz, now()))::int8,
	'runs', coalesce((SELECT json_agg(json_build_object('command',
	command, 'outcome', outcome, 'runs', runs, 'last', rfc3339(last))
	ORDER BY command, outcome) FROM run_outcomes), '[]'));
EOF
}

# pki_lookout_write FILE JQ-PROGRAM: the output of jq -r JQ-PROGRAM on
# the data of pki_lookout_data ($certs: the certificates, $runs, $now)
# written to FILE as a whole (a temporary file .FILE.XXXXXX in its
# directory, mode 0644, renamed over it; those of killed writers, older
# than an hour, removed).  A one-line error and 2 when it cannot be.
pki_lookout_write() {
	_lw_file=$1
	case $_lw_file in
	*/*) _lw_dir=${_lw_file%/*} ;;
	*) _lw_dir=. ;;
	esac
	[ -n "$_lw_dir" ] || _lw_dir=/
	if [ -d "$_lw_file" ]; then
		printf 'pki: %s: is a directory\n' "$_lw_file" >&2
		return 2
	fi
	# What a writer that was killed left (none is written for an hour).
	find "$_lw_dir" -maxdepth 1 -type f -name ".${_lw_file##*/}.??????" \
		-mmin +60 -exec rm -f {} + 2>/dev/null || true
	if ! _lw_tmp=$(mktemp "$_lw_dir/.${_lw_file##*/}.XXXXXX" 2>/dev/null); then
		printf 'pki: %s: cannot create a file in %s\n' "$_lw_file" \
			"$_lw_dir" >&2
		return 2
	fi
	if "$JQ" -n -r --slurpfile certs "$PKI_RUN_DIR/certs.json" \
		--slurpfile runs "$PKI_RUN_DIR/runs.json" \
		'$runs[0] as $r | $r.now as $now | $r.runs as $runs |
		'"$2" > "$_lw_tmp" 2>"$PKI_RUN_DIR/lookout.err" &&
	    chmod 0644 "$_lw_tmp" && mv -f "$_lw_tmp" "$_lw_file" 2>/dev/null; then
		return 0
	fi
	rm -f "$_lw_tmp"
	printf 'pki: %s: cannot write it%s\n' "$_lw_file" "$(head -n 1 \
		"$PKI_RUN_DIR/lookout.err" | sed 's/^./ (&/; s/.$/&)/')" >&2
	return 2
}

# The jq definitions both programs use: ts, an RFC 3339 time (or null)
# as unix seconds (or null); valid, the instances in a valid state that
# are valid at $now; current, the certificate's current instance (the
# valid one that ends last, null when none); ready, whether every
# target holds the current instance.
_lookout_jq_defs='
def ts: if . == null then null else fromdateiso8601 end;
def valid: [.instances[] | select((.state == "issued" or
	.state == "prepublished" or .state == "deployed") and
	(.not_after | ts) > $now)];
def current: valid | max_by([(.not_after | ts), .id]);
def ready: current as $cur | $cur != null and
	all(.targets[]; .instance == $cur.id and .status == "ok");
def certs: $certs | map(select(.disabled | not));
'

# The metrics (pki(1), METRICS): per certificate its current instance's
# dates and renewal time, whether every target holds it, its failures
# and last attempt; per workflow command its runs by outcome and when
# the last one, and the last successful one, ended.
_metrics_jq=$_lookout_jq_defs'
def esc: tostring | gsub("\\\\"; "\\\\") | gsub("\""; "\\\"") |
	gsub("\n"; "\\n");
def labels: to_entries | map("\(.key)=\"\(.value | esc)\"") | join(",");
# family(NAME; TYPE; HELP; SAMPLES): SAMPLES are [LABELS, VALUE], those
# whose VALUE is null left out.
def family(name; type; help; samples):
	"# HELP \(name) \(help)", "# TYPE \(name) \(type)",
	(samples | select(.[1] != null) | "\(name){\(.[0] | labels)} \(.[1])");
def percert(name; help; f):
	family(name; "gauge"; help; certs[] | [{name}, f]);
def b: if . then 1 else 0 end;
(["pki schedule"] + [$runs[].command] | unique) as $commands |
def outcome(c; o): [$runs[] | select(.command == c and .outcome == o)][0];
percert("x509_cert_not_before"; "The not_before of the current instance (unix time).";
	current.not_before | ts),
percert("x509_cert_not_after"; "The not_after of the current instance (unix time).";
	current.not_after | ts),
percert("certmanager_certificate_expiration_timestamp_seconds";
	"The date after which the current instance expires (unix time).";
	current.not_after | ts),
percert("certmanager_certificate_renewal_timestamp_seconds";
	"When the current instance is due for renewal (unix time).";
	current.renew_at | ts),
family("certmanager_certificate_ready_status"; "gauge";
	"Whether every target holds a valid current instance (condition True) or not (False).";
	certs[] | ready as $r | ([{name, condition: "True"}, ($r | b)],
	[{name, condition: "False"}, ($r | not | b)])),
percert("pki_certificate_due_timestamp_seconds";
	"When the certificate is due for its next issue or renewal attempt, backoff included (unix time).";
	.due.at | ts),
percert("pki_certificate_consecutive_failures";
	"Failed attempts to issue or renew the certificate in a row.";
	.failures),
percert("pki_certificate_last_attempt_timestamp_seconds";
	"When the certificate was last claimed for issue or renewal, or failed (unix time).";
	.last_attempt | ts),
percert("pki_certificate_targets"; "Targets (host, jail, place) of the certificate.";
	.targets | length),
percert("pki_certificate_targets_current";
	"Targets that hold the current instance.";
	current as $cur | [.targets[] | select($cur != null and
	.instance == $cur.id and .status == "ok")] | length),
family("pki_runs_total"; "counter"; "Runs of each workflow command, by outcome (success: exit 0, failure: some certificate failed, error: the run failed).";
	$commands[] as $c | ("success", "failure", "error") as $o |
	[{command: $c, outcome: $o}, (outcome($c; $o) | .runs // 0)]),
family("pki_run_last_timestamp_seconds"; "gauge"; "When the last run of the command ended (unix time, 0: never).";
	$commands[] as $c | [{command: $c}, ([$runs[] | select(.command == $c)
	| .last | ts] | max // 0)]),
family("pki_run_last_success_timestamp_seconds"; "gauge"; "When the last successful run of the command ended (unix time, 0: never).";
	$commands[] as $c | [{command: $c}, (outcome($c; "success") | .last | ts // 0)])
'

_metrics_usage="usage: pki metrics [--now TIME] FILE"

# pki metrics [--now TIME] FILE: the metrics, as at TIME, written to FILE.
pki_metrics() {
	_mnow=
	while [ $# -gt 0 ]; do
		case $1 in
		--now) [ $# -ge 2 ] || pki_die 2 "$_metrics_usage"
			_mnow=$2; shift 2 ;;
		--) shift; break ;;
		-*) pki_die 2 "$_metrics_usage" ;;
		*) break ;;
		esac
	done
	if [ $# -ne 1 ] || [ -z "$1" ]; then
		pki_die 2 "$_metrics_usage"
	fi
	pki_metrics_write "$1" "$_mnow"
}

# pki_metrics_write FILE NOW: the metrics as at NOW (empty: the clock)
# written to FILE; 2 (said in one line) when they cannot be.
pki_metrics_write() {
	pki_lookout_data "$2" || return 2
	pki_lookout_write "$1" "$_metrics_jq"
}

# The page of pki report --html: a timeline of every certificate's
# instances with now marked, what is due and when, the failures, and
# the deployment per target.  Every text goes through @html.
_report_jq=$_lookout_jq_defs'
def day: todate[0:10];
def when: if . == null then "" else .[0:16] | sub("T"; " ") end;
def pct: . * 10000 | round / 100 | tostring + "%";
certs as $cs |
([$cs[].instances[] | select(.state != "reserved" and .state != "archived"
	and .not_before != null)]) as $is |
([$is[].not_before | ts] + [$now - 7 * 86400] | min) as $lo |
([$is[].not_after | ts] + [$now + 7 * 86400] | max) as $hi |
def x: ((. - $lo) / ($hi - $lo)) | if . < 0 then 0 elif . > 1 then 1 else . end;
($now | x) as $nx |
"<!DOCTYPE html>",
"<html lang=\"en\"><head><meta charset=\"utf-8\">",
"<title>pki report \($now | todate | @html)</title>",
"<style>
body { font: 14px/1.4 sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; white-space: nowrap; }
td.msg { white-space: normal; }
th { background: #eef; }
tr.fail td { background: #fdd; }
.fail b, td.bad { color: #b00000; font-weight: bold; }
td.ok { color: #070; }
.tl { position: relative; width: 560px; height: 22px; background: #f4f4f4; }
.bar { position: absolute; top: 3px; height: 16px; border-radius: 3px; }
.s-deployed { background: #2e8b57; } .s-issued { background: #3b6fd1; }
.s-prepublished { background: #8a5cd6; } .s-expired, .s-revoked { background: #aaa; }
.now { position: absolute; top: 0; bottom: 0; width: 2px; background: #e00000; }
.due { position: absolute; top: 0; height: 22px; width: 4px; background: #f0a000; }
.key span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }
</style></head><body>",
"<h1>pki: \($cs | length) certificates at \($now | todate | @html)</h1>",
"<p>\([$cs[] | select(.failures > 0)] | length) failing, \([$cs[] | select(ready | not)] | length) not held by every target.</p>",
"<h2>Validity</h2>",
"<p class=\"key\">\($lo | day | @html) to \($hi | day | @html):<span class=\"s-deployed\"></span>deployed<span class=\"s-issued\"></span>issued<span class=\"s-prepublished\"></span>prepublished<span class=\"s-expired\"></span>expired<span class=\"now\" style=\"position: static\"></span>now<span class=\"due\" style=\"position: static\"></span>due</p>",
"<table><tr><th>certificate</th><th>validity</th><th>expires</th><th>targets holding it</th></tr>",
($cs[] | (current.not_after) as $exp | (current.id) as $cur |
	[.targets[] | select(.instance == $cur and .status == "ok")] as $held |
	"<tr\(if .failures > 0 then " class=\"fail\"" else "" end)><td>\(.name | @html)</td><td><div class=\"tl\">" +
	([.instances[] | select(.state != "reserved" and .state != "archived"
	and .not_before != null) | (.not_before | ts | x) as $a |
	(.not_after | ts | x) as $b |
	"<div class=\"bar s-\(.state | @html)\" style=\"left: \($a | pct); width: \($b - $a | pct)\" title=\"instance \(.id) \(.state | @html)\"></div>"] | join("")) +
	(if .due.at != null then "<div class=\"due\" style=\"left: \(.due.at | ts | x | pct)\"></div>" else "" end) +
	"<div class=\"now\" style=\"left: \($nx | pct)\"></div></div></td><td>\($exp | when | @html)</td>" +
	"<td class=\"\(if ready then "ok" else "bad" end)\">\($held | length) of \(.targets | length)</td></tr>"),
"</table>",
"<h2>Due</h2>",
"<table><tr><th>certificate</th><th>action</th><th>at</th><th>failures</th><th>last attempt</th><th>next attempt</th><th>last error</th></tr>",
($cs | sort_by(.due.at // "") | .[] |
	"<tr\(if .failures > 0 then " class=\"fail\"" else "" end)><td>\(.name | @html)</td><td>\(.due.action | @html)</td><td>\(.due.at // "now" | when | @html)</td><td>\(if .failures > 0 then "<b>\(.failures)</b>" else "0" end)</td><td>\(.last_attempt | when | @html)</td><td>\(.next_attempt | when | @html)</td><td class=\"msg\">\(if .last_error then "<b>FAILED: \(.last_error | @html)</b>" else "" end)</td></tr>"),
"</table>",
"<h2>Deployment</h2>",
"<table><tr><th>certificate</th><th>host</th><th>jail</th><th>place</th><th>instance</th><th>status</th><th>attempts</th><th>tried</th><th>last error</th></tr>",
($cs[] | (current.id) as $cur | .name as $n | .targets[] |
	(.status == "ok" and .instance == $cur) as $good |
	"<tr><td>\($n | @html)</td><td>\(.host | @html)</td><td>\(.jail // "" | @html)</td><td>\(.place // "" | @html)</td><td>\(.instance // "" | @html)\(if .instance != null and .instance != $cur then " (not current)" else "" end)</td><td class=\"\(if $good then "ok" else "bad" end)\">\(.status // "not deployed" | @html)</td><td>\(.attempts // 0)</td><td>\(.tried | when | @html)</td><td class=\"msg\">\(.last_error // "" | @html)</td></tr>"),
"</table>",
"<h2>Runs</h2>",
"<table><tr><th>command</th><th>outcome</th><th>runs</th><th>last</th></tr>",
($runs[] | "<tr\(if .outcome != "success" then " class=\"fail\"" else "" end)><td>\(.command | @html)</td><td>\(.outcome | @html)</td><td>\(.runs)</td><td>\(.last | when | @html)</td></tr>"),
"</table></body></html>"
'

_report_usage="usage: pki report --html FILE [--now TIME]"

# pki report --html FILE [--now TIME]: the page, as at TIME, in FILE.
pki_report_html() {
	_rfile='' _rnow=''
	while [ $# -gt 0 ]; do
		case $1 in
		--html | --now)
			if [ $# -lt 2 ] || [ -z "$2" ]; then
				pki_die 2 "$_report_usage"
			fi
			[ "$1" = --html ] && _rfile=$2 || _rnow=$2
			shift 2 ;;
		*) pki_die 2 "$_report_usage" ;;
		esac
	done
	[ -n "$_rfile" ] || pki_die 2 "$_report_usage"
	pki_lookout_data "$_rnow" || return 2
	pki_lookout_write "$_rfile" "$_report_jq"
}
