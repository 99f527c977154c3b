#!/bin/sh
# run.sh TEST... — runs every Check program, then the header's example, and
# fails if anything failed. Prints the total number of checks.
set -u
BUILD=${BUILD:-build}
total=0
failed=0
for t in "$@"; do
    out=$("$t" 2>&1)
    status=$?
    printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks' | sed "s|^|$(basename "$t"): |"
    [ $status -eq 0 ] || { printf '%s\n' "$out" | grep -v '^Running suite' >&2; failed=$((failed + 1)); }
    n=$(printf '%s\n' "$out" | sed -n 's/^[0-9]*%: Checks: \([0-9]*\).*/\1/p')
    total=$((total + ${n:-0}))
done

# include/tg.h opens with a complete program: it must compile and run.
example=$BUILD/tests/header_example
sed -n '/--- example ---/,/--- end ---/p' include/tg.h | sed '1d;$d' | sed 's/^ \* \{0,1\}//' > "$example.c"
if ${CC:-cc} ${CFLAGS:-} ${LDFLAGS:-} -o "$example" "$example.c" "$BUILD/libtg.a" -lm && "$example" > "$example.out"; then
    echo "header example: compiles and runs ($(tail -n 1 "$example.out"))"
else
    echo "header example: FAILED" >&2
    failed=$((failed + 1))
fi

echo "total: $total checks in $# programs, $failed failed"
[ $failed -eq 0 ]
