#!/bin/sh
# Runs each test program; ends with one "N passed, N failed" line.
# usage: t/run.sh SUPERD_BINARY TEST...
superd=$1
shift
passed=0
failed=0
failures=
for t in "$@"; do
	echo "== $t"
	if SUPERD="$superd" timeout 600 "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $t"
	fi
done
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
