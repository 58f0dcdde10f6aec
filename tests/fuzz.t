#!/bin/sh
# fuzz.t - every fuzz target of tests/fuzz/ run over its corpus: the seeds
# and every input that once made one crash, hang or leak (make fuzz finds
# them; they are kept under tests/fuzz/corpus/TARGET/).  Under the
# sanitizer build (make check-asan) each input is checked by ASan, UBSan
# and LeakSanitizer; here too, each must run to its end.
# shellcheck source=tests/lib/env.sh
. "$(dirname "$0")/lib/env.sh"

corpus=$PKI_TOP/tests/fuzz/corpus

# Every target has a corpus and every corpus a target.
targets=$(cd "$PKI_BUILD/fuzz" && for f in *; do
	[ -f "$f" ] && [ -x "$f" ] && echo "$f"; done)
dirs=$(cd "$corpus" && for d in *; do [ -d "$d" ] && echo "$d"; done)
is "$(echo "$targets" | sort)" "$(echo "$dirs" | sort)" \
	"one corpus per fuzz target (build/fuzz/ against tests/fuzz/corpus/)"

for t in $targets; do
	want=$(find "$corpus/$t" -type f ! -name '.*' | wc -l)
	rc=0
	"$PKI_BUILD/fuzz/$t" "$corpus/$t" >"$T/out" 2>"$T/err" || rc=$?
	is "$rc" 0 "$t: its $want inputs run to their end"
	is "$(grep -c '^fuzz driver: ran '"$want"' inputs$' "$T/err")" 1 \
		"$t: the driver ran all $want"
	if grep -q -e 'Sanitizer' -e 'runtime error' "$T/err"; then
		fail "$t: no sanitizer report"
		diag "$(grep -A20 -e Sanitizer -e 'runtime error' "$T/err" | head -40)"
	else
		pass "$t: no sanitizer report"
	fi
	[ "$want" -gt 0 ] || fail "$t: its corpus is empty"
done

# The driver itself: a file it cannot read is an error, not a pass.
rc=0
"$PKI_BUILD/fuzz/record" "$T/no-such-file" 2>"$T/err" || rc=$?
is "$rc" 1 "a missing input fails the driver"
like "$(cat "$T/err")" "*no-such-file: No such file or directory*" \
	"and it names it"

done_testing
