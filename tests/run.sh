#!/bin/bash
# run.sh TEST... — runs every Check program, then checks what the docs
# promise: the header's example compiles and runs, the README's programs are
# the examples they quote, every example runs, and make install works with
# pkg-config. Fails if anything failed; prints the total number of checks.
set -u
BUILD=${BUILD:-build}
export TG_BIN=${TG_BIN:-$BUILD/tg}
export TG_FAILALLOC_BIN=${TG_FAILALLOC_BIN:-$BUILD/tests/tg_failalloc}
total=0
failed=0
for t in "$@"; do
    if [ "$(basename "$t")" = check_mpi ] && [ -z "${TG_MPI_BIN:-}" ]; then
        echo "check_mpi: NOT RUN: no Open MPI here (make check installs it as root; else" \
            "apt-get install -y openmpi-bin libopenmpi-dev, then make check again)"
        continue
    fi
    out=$("$t" 2>&1)
    status=$?
    printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks' | sed "s|^|$(basename "$t"): |"
    [ $status -eq 0 ] || { printf '%s\n' "$out" | grep -v '^Running suite' >&2; failed=$((failed + 1)); }
    n=$(printf '%s\n' "$out" | sed -n 's/^[0-9]*%: Checks: \([0-9]*\).*/\1/p')
    total=$((total + ${n:-0}))
done

# include/tg.h opens with a complete program, and its Modules section has
# another: they must compile and run.
for marker in example "modules example"; do
    example=$BUILD/tests/header_$(echo "$marker" | tr ' ' _)
    sed -n "/--- $marker ---/,/--- end ---/p" include/tg.h | sed '1d;$d' | sed 's/^ \* \{0,1\}//' > "$example.c"
    if [ -s "$example.c" ] && ${CC:-cc} ${CFLAGS:-} ${LDFLAGS:-} -o "$example" "$example.c" "$BUILD/libtg.a" -lm -pthread &&
        "$example" > "$example.out"; then
        echo "header $marker: compiles and runs ($(tail -n 1 "$example.out"))"
    else
        echo "header $marker: FAILED" >&2
        failed=$((failed + 1))
    fi
done

# The README's program is examples/readme_fit.c, and prints what the README says.
awk '/^## tg in 30 lines/{f=1} f&&/^```c$/{p=1;next} p&&/^```$/{exit} p' README.md > "$BUILD/tests/readme_fit.c"
if ! cmp -s "$BUILD/tests/readme_fit.c" examples/readme_fit.c; then
    echo "README: its 30-line program differs from examples/readme_fit.c" >&2
    failed=$((failed + 1))
elif [ "$("$BUILD/examples/readme_fit")" != "w = 2.000, b = -1.000" ]; then
    echo "README: examples/readme_fit printed something else than the README says" >&2
    failed=$((failed + 1))
else
    echo "README program: matches examples/readme_fit.c and prints what it says"
fi

# Code the README quotes is the example's code: every line of the first C
# block under a heading (but "..." and "}") stands in the example.
check_quote() { # HEADING EXAMPLE
    missing=$(awk -v h="$1" 'index($0, h) == 1 {f=1} f&&/^```c$/{p=1;next} p&&/^```$/{exit} p' README.md |
        sed 's/^ *//' | grep -v -x -e '' -e '\.\.\.' -e '}' | grep -v -F -x -f <(sed 's/^ *//' "$2"))
    if [ -n "$missing" ]; then
        printf 'README: lines under "%s" not in %s:\n%s\n' "$1" "$2" "$missing" >&2
        failed=$((failed + 1))
    else
        echo "README: \"$1\" quotes $2"
    fi
}
check_quote "## Optimizers and schedules from C" examples/warmup_cosine.c
check_quote "## From C: the tutorial's training loop" examples/fashion_mnist.c
check_quote "## Your own network: modules and state dicts" examples/own_network.c

# The new user's network of issue 14, with modules in C, is at most 1.3
# times its PyTorch version's lines of code (docs/MODULES.md).
read -r c_lines _ py_lines _ <<< "$(scripts/count_lines.sh examples/own_network.c examples/own_network.py | tr '\n' ' ')"
if [ $((c_lines * 10)) -le $((py_lines * 13)) ]; then
    echo "examples/own_network.c: $c_lines lines of code, $py_lines in PyTorch (at most 1.3 times)"
else
    echo "examples/own_network.c: $c_lines lines of code, more than 1.3 times PyTorch's $py_lines" >&2
    failed=$((failed + 1))
fi

# docs/MODULES.md shows both programs whole.
for f in examples/own_network.c examples/own_network.py; do
    lang=c; [ "${f##*.}" = py ] && lang=python
    if awk -v h="## $f" -v l="$lang" '$0 == h {f=1} f && $0 == "```" l {p=1; next} p && /^```$/ {exit} p' docs/MODULES.md |
        cmp -s - "$f"; then
        echo "docs/MODULES.md: shows $f as it is"
    else
        echo "docs/MODULES.md: its copy of $f differs from the file" >&2
        failed=$((failed + 1))
    fi
done

# The README's tg trace session: every line it shows (but "...") is in what
# that command prints.
session=$(awk '/^\$ build\/tg trace/{f=1} f&&/^```$/{exit} f' README.md)
command=$(printf '%s\n' "$session" | head -n 1 | sed "s|^\$ build/|$BUILD/|")
missing=$(printf '%s\n' "$session" | sed 1d | grep -v -x -e '\.\.\.' | grep -v -F -x -f <(eval "$command"))
if [ -z "$session" ] || [ -n "$missing" ]; then
    printf 'README: its tg trace session shows lines tg trace does not print:\n%s\n' "$missing" >&2
    failed=$((failed + 1))
else
    echo "README: its tg trace session is what tg trace prints"
fi

# Every example runs to completion. check_tutorial has run fashion_mnist
# for an epoch and compared its output with docs/TUTORIAL.md's.
# They run in a directory of their own: some write files where they run.
scratch=$(mktemp -d) exdir=$(cd "$BUILD/examples" && pwd)
for ex in "$BUILD"/examples/*; do
    [ -x "$ex" ] || continue
    [ "$(basename "$ex")" = fashion_mnist ] && continue
    if ! (cd "$scratch" && "$exdir/$(basename "$ex")" > /dev/null); then
        echo "example $(basename "$ex"): FAILED" >&2
        failed=$((failed + 1))
    fi
done
rm -rf "$scratch"
echo "examples: $(ls "$BUILD"/examples | wc -l) run"

# Every fuzz target replays its seeds and the inputs that once crashed it
# (tests/fuzz/regress): loaded or refused with a message, never a crash.
for target in "$BUILD"/fuzz/fuzz_*; do
    name=${target##*/fuzz_}
    inputs="tests/fuzz/seeds/$name"
    [ -d "tests/fuzz/regress/$name" ] && inputs="$inputs tests/fuzz/regress/$name"
    if out=$("$target" $inputs 2>&1 </dev/null | tail -n 1) && [ "${out% inputs}" -gt 0 ] 2>/dev/null; then
        echo "fuzz $name: $out replayed"
    else
        echo "fuzz $name: FAILED replaying $inputs" >&2
        "$target" $inputs 2>&1 </dev/null | tail -n 20 >&2
        failed=$((failed + 1))
    fi
done

# make install into a private prefix gives libtg.so.VERSION with its soname
# and links, tg.h and tg.pc; a program built against it, with an rpath or
# with libtg.a linked in (the README's two commands), runs with no
# LD_LIBRARY_PATH, and the static one needs no libtg.so at all.
install_check() {
    prefix=$1
    pc="env PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config"
    version=$(sed -n 's/^#define TG_VERSION "\(.*\)"/\1/p' include/tg.h)
    ${MAKE:-make} --no-print-directory -s install PREFIX="$prefix" BUILD="$BUILD" >/dev/null || return 1
    readelf -d "$prefix/lib/libtg.so.$version" | grep -q 'SONAME.*\[libtg\.so\.0\]' || { echo "no soname libtg.so.0"; return 1; }
    [ "$(readlink "$prefix/lib/libtg.so.0")" = "libtg.so.$version" ] &&
        [ "$(readlink "$prefix/lib/libtg.so")" = libtg.so.0 ] || { echo "missing links"; return 1; }
    ${CC:-cc} ${LDFLAGS:-} -o "$BUILD/tests/installed_rpath" examples/readme_fit.c $($pc --cflags --libs tg) \
        -Wl,-rpath,"$($pc --variable=libdir tg)" || return 1
    ${CC:-cc} ${LDFLAGS:-} -o "$BUILD/tests/installed_static" examples/readme_fit.c \
        $($pc --cflags --libs --static tg | sed 's/-ltg\b/-l:libtg.a/') || return 1
    readelf -d "$BUILD/tests/installed_rpath" | grep -q 'NEEDED.*libtg\.so\.0' || { echo "rpath build does not load libtg.so.0"; return 1; }
    ! readelf -d "$BUILD/tests/installed_static" | grep -q 'NEEDED.*libtg' || { echo "static build needs libtg.so"; return 1; }
    for p in installed_rpath installed_static; do
        [ "$(env -u LD_LIBRARY_PATH "$BUILD/tests/$p")" = "w = 2.000, b = -1.000" ] || { echo "$p did not run"; return 1; }
    done
}
prefix=$(mktemp -d)
if why=$(install_check "$prefix" 2>&1); then
    echo "make install: soname libtg.so.0 and links; programs built with an rpath or libtg.a run without LD_LIBRARY_PATH"
else
    printf 'make install: FAILED\n%s\n' "$why" >&2
    failed=$((failed + 1))
fi
rm -rf "$prefix"

# On a machine without a package the build needs, make names it and the
# command that installs it before any compiler runs (a package that exists
# nowhere stands in for the missing one).
out=$(mktemp -d)
if msg=$(${MAKE:-make} --no-print-directory BUILD="$out/build" DEPS_BUILD=tg-no-such-package all 2>&1); then
    echo "make with a missing package: it built anyway" >&2
    failed=$((failed + 1))
elif ! printf '%s\n' "$msg" | grep -q 'missing Debian packages: tg-no-such-package' ||
    ! printf '%s\n' "$msg" | grep -q 'apt-get install -y tg-no-such-package' || [ -e "$out/build/obj" ]; then
    printf 'make with a missing package: expected the package and its install command before compiling, got:\n%s\n' "$msg" >&2
    failed=$((failed + 1))
else
    echo "make with a missing package: names it and the apt-get command, compiles nothing"
fi
rm -rf "$out"

# Layers only call down (docs/ARCHITECTURE.md): the tree passes the check,
# and the check fails a copy with one call up (tensor.c calling tg_relu),
# one include up, and one circle within a layer.
if why=$(scripts/layers.sh 2>&1); then
    echo "$why"
else
    printf 'layers: FAILED\n%s\n' "$why" >&2
    failed=$((failed + 1))
fi
# The command knows no particular model or image size: it builds models by
# name (tg_model_new) and takes shapes and classes from the data set.
if hits=$(grep -rnE 'tg_mlp|28 ?\* ?28' src/cli); then
    printf 'src/cli names the MLP or the image size:\n%s\n' "$hits" >&2
    failed=$((failed + 1))
fi
copy=$(mktemp -d)
cp -r include src models datasets "$copy"
printf 'void tg__call_up(void) { tg_relu(NULL, NULL); }\n' >> "$copy/src/tensor/tensor.c"
printf '#include "../ops/ops.h"\n' >> "$copy/src/base/rng.c"
printf 'void tg__b(void);\nvoid tg__a(void) { tg__b(); }\n' >> "$copy/src/nn/penalty.c"
printf 'void tg__a(void);\nvoid tg__b(void) { tg__a(); }\n' >> "$copy/src/nn/gradcheck_suite.c"
if why=$(scripts/layers.sh "$copy" 2>&1) ||
    ! printf '%s\n' "$why" | grep -q 'src/tensor/tensor.c (tensor) calls tg_relu of src/ops/unary.c (ops), a layer above' ||
    ! printf '%s\n' "$why" | grep -q 'src/base/rng.c (base) includes src/ops/ops.h (ops), a layer above' ||
    ! printf '%s\n' "$why" | grep -q 'src/nn/penalty.c'; then
    printf 'layers: the check passed a tree that calls up, or named it wrongly:\n%s\n' "$why" >&2
    failed=$((failed + 1))
fi
rm -rf "$copy"

echo "total: $total checks in $# programs, $failed failed"
[ $failed -eq 0 ]
