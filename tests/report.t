#!/bin/sh
# report.t - pki report --html: one page with nothing from the network
# and no script, every text escaped (a certificate named <script>...),
# rendered by headless Chromium to a PNG that is not blank and shows the
# validity bars, today's line and the failure, and to a DOM that holds
# every certificate, its due time, the failure and every target's state.
# Local CA only.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"
# shellcheck source=tests/lib/chromium.sh
. "$(dirname "$0")/lib/chromium.sh"
chromium_check
# shellcheck source=tests/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
pg_setup

# shellcheck source=tests/lib/lookout.sh
. "$(dirname "$0")/lib/lookout.sh"
lookout_certs evil.test
pki -q schedule >/dev/null 2>&1 || true
# A name no check lets in (a database edited by hand), and an error
# message with markup.
q "SET session_replication_role = replica;
   UPDATE subjects SET name = '<script>alert(1)</script>&amp;'
    WHERE name = 'evil.test';
   UPDATE schedule SET last_error = last_error || ' <b>bold</b>'
    WHERE certificate = (SELECT certificate FROM subjects WHERE name = 'fail.test')"

run pki report --html "$T/r.html"
is "$rc:$(cat "$T/out" "$T/err")" "0:" "pki report --html FILE: exit 0, says nothing"
is "$(stat -c %a "$T/r.html")" 644 "mode 0644"
like "$(head -n 1 "$T/r.html")" "<!DOCTYPE html>" "an HTML page"
nok "no script, nothing fetched: no <script, src=, href=, url(, <link, @import, <img ..." \
	grep -Eiq '<script|src=|href=|url\(|<link|@import|<img|<iframe|<object|<embed' "$T/r.html"
is "$(grep -c '&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;' "$T/r.html")" 2 \
	"the hostile name escaped, every time (timeline, due; it has no targets)"
ok "the error's markup escaped" grep -q ' &lt;b&gt;bold&lt;/b&gt;' "$T/r.html"

# ------------------------------------------------------------ the DOM
# One start of Chromium: the DOM it built on stdout, its picture in r.png.
chromium_run --dump-dom --screenshot="$T/r.png" --window-size=1200,800 \
	"file://$T/r.html" > "$T/dom"
ok "Chromium read it" grep -q '</html>' "$T/dom"
nok "no script element in the page Chromium built" grep -qi '<script' "$T/dom"
ok "the hostile name is text" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;' "$T/dom"
# the text of the page, the tags taken out
sed -e 's/<[^>]*>/ /g' "$T/dom" > "$T/text"
tr '\n' ' ' < "$T/text" > "$T/text1"
for n in good.test nodeploy.test fail.test; do
	ok "$n is in the page's text" grep -q "$n" "$T/text"
done
ok "the failure is there: FAILED, its stage and message" \
	grep -q "FAILED: pki-acme: .*&lt;b&gt;bold&lt;/b&gt;" "$T/text"
due=$(q "SELECT to_char(due_at, 'YYYY-MM-DD HH24:MI') FROM schedule
	WHERE certificate = (SELECT certificate FROM subjects WHERE name = 'good.test')")
ok "good.test's due time ($due)" grep -q "good.test *renew *$due" "$T/text"
ok "good.test's target: localhost, loc, ok" grep -q "good.test *localhost *loc *[0-9]* *ok" "$T/text"
ok "nodeploy.test's target: failed, with its error" \
	grep -q "nodeploy.test *localhost *bad *[0-9]* *failed .*No such file or directory" "$T/text"
ok "the numbers: 4 certificates, 1 failing, 2 not held by every target" \
	grep -q "4 certificates at .*1 failing, 2 not held by every target" "$T/text1"
ok "good.test: its target holds it" grep -q "good.test *20[0-9-]* [0-9:]* *1 of 1" "$T/text"
ok "nodeploy.test: its target does not" grep -q "nodeploy.test *20[0-9-]* [0-9:]* *0 of 1" "$T/text"

# ------------------------------------------------------------ the picture
# colours: the failure's row (fdd), a deployed instance (2e8b57), an
# issued one (3b6fd1), today's line (e00000)
# shellcheck disable=SC2046 # the numbers png.py prints, a word each
set -- $(python3 "$PKI_TOP/tests/lib/png.py" "$T/r.png" ffdddd 2e8b57 3b6fd1 e00000)
is "$1x$2" 1200x800 "a 1200x800 PNG"
ok "not blank: $3 colours" test "${3:-0}" -gt 20
ok "the failure's row is highlighted ($4 pixels)" test "${4:-0}" -gt 1000
ok "a deployed instance's bar ($5 pixels)" test "${5:-0}" -gt 500
ok "an issued instance's bar ($6 pixels)" test "${6:-0}" -gt 500
ok "today's line ($7 pixels)" test "${7:-0}" -gt 40

# ------------------------------------------------------------ errors
run pki report --html "$T/no/such/dir/r.html"
is "$rc:$(wc -l < "$T/err")" "2:1" "a file that cannot be written: exit 2, one line"
run pki report "$T/r.html"
is "$rc:$(cat "$T/err")" "2:pki: usage: pki report --html FILE [--now TIME]" "no --html: the usage"
cp "$T/r.html" "$T/before"
pki db stop
run pki report --html "$T/r.html"
is "$rc" 2 "the database away: exit 2"
ok "... and the page as it was" cmp -s "$T/before" "$T/r.html"

done_testing
