#!/bin/sh
# Runs every test program given as argument and prints "N passed, N failed".
# A program that dies without printing its cases counts as one failure.
pass=0; fail=0
export NNC_TEST_DIR="${NNC_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}"
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | grep -c '^PASS: ')
    f=$(printf '%s\n' "$out" | grep -c '^FAIL: ')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL: $t exited with status $rc"; fi
    if [ "$f" -ne 0 ]; then printf '%s\n' "$out" | grep -v '^PASS: '; fi
    echo "$(basename "$t"): $p passed, $f failed"
    pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
