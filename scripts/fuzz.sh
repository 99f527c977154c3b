#!/bin/sh
# fuzz.sh BUILD SECONDS TARGET... — runs each libFuzzer target (BUILD/fuzz/
# fuzz_TARGET) for SECONDS, starting from its seeds (tests/fuzz/seeds), its
# regression inputs (tests/fuzz/regress) and the corpus earlier runs grew
# (BUILD/fuzz/corpus, kept between runs). A crash, hang (10 s), leak or
# sanitizer report stops the target and fails the run; the input that did
# it is saved in BUILD/fuzz/artifacts/. Once the bug is fixed, that input
# goes into tests/fuzz/regress/TARGET/, where make check replays it.
set -eu
build=$1
seconds=$2
shift 2
# Flag names as the fuzzer's dictionary for the command line.
grep -oh '"--[a-z0-9-]*' src/cli/*.c | sed 's/$/"/' | sort -u > "$build/fuzz/cli.dict"
# and tg trace's expressions: its functions, operators and NAME=VALUE
printf '"%s"\n' trace 'sigmoid(' 'tanh(' 'relu(' 'exp(' 'log(' 'sqrt(' 'abs(' 'square(' \
    '^' '^-' ' = ' '; ' '*' '/' '(' ')' 'x=' '1e30' >> "$build/fuzz/cli.dict"
failed=0
for t in "$@"; do
    corpus=$build/fuzz/corpus/$t
    mkdir -p "$corpus" "$build/fuzz/artifacts"
    dirs="$corpus tests/fuzz/seeds/$t"
    [ -d "tests/fuzz/regress/$t" ] && dirs="$dirs tests/fuzz/regress/$t"
    dict=""
    [ "$t" = cli ] && dict="-dict=$build/fuzz/cli.dict"
    log=$build/fuzz/$t.log
    # -close_fd_mask=3: the command line target prints usage on every bad
    # flag; stdin is /dev/null so that a path like /dev/stdin cannot wait.
    if "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz/artifacts/$t-" $dict $dirs </dev/null >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -n 1)   # -a: inputs echoed in the log may be binary
        echo "fuzz $t: ${seconds} s, $runs inputs, $cov, corpus $(ls "$corpus" | wc -l) files, no failure"
    else
        echo "fuzz $t: FAILED — see $log" >&2
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5 >&2
        failed=1
    fi
done
exit $failed
