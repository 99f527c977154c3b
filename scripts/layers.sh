#!/bin/bash
# layers.sh [ROOT] — checks that tg's files only call down (docs/ARCHITECTURE.md).
#
# The layers, bottom first: a file may include the headers of its own layer
# and of those below, and call the functions (and use the objects) those
# layers define; within a layer no two files may call each other in a
# circle. A name's home is the file that defines it at file scope; calls
# are read from the code with comments and strings taken out. Macros are
# not expanded (TG__INPUTS_OK is a call of the layer that defines it):
# "a simple script over #includes and known names", as the issue asked.
#
# Prints every call or include that goes up, and every circle; exits 1 if
# there is one, 0 otherwise.
set -u
ROOT=${1:-.}
cd "$ROOT" || exit 2

# layer name: the files in it (directories and single files), bottom first
LAYERS=(
    "api: include"
    "base: src/base"
    "kernels: src/kernels"
    "tensor: src/tensor"
    "io: src/io"
    "graph: src/graph"
    "ops: src/ops"
    "optim: src/optim"
    "nn: src/nn"
    "models: models datasets"
    "cli: src/cli"
)

declare -A layer_of   # file -> layer index
declare -a layer_name
files=()
for i in "${!LAYERS[@]}"; do
    name=${LAYERS[$i]%%:*}
    layer_name[$i]=$name
    for place in ${LAYERS[$i]#*:}; do
        [ -e "$place" ] || { echo "layers.sh: $place (layer $name) does not exist" >&2; exit 2; }
        while IFS= read -r f; do
            layer_of[$f]=$i
            files+=("$f")
        done < <(find "$place" -name '*.[ch]' | sort)
    done
done

# Every C file of the library and the command must be on a layer.
unplaced=$(find src models datasets include -name '*.[ch]' | sort | while IFS= read -r f; do
    [ -n "${layer_of[$f]+x}" ] || echo "$f"
done)
if [ -n "$unplaced" ]; then
    echo "layers.sh: files on no layer (add them to LAYERS and to docs/ARCHITECTURE.md):" >&2
    echo "$unplaced" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The code without comments, strings and character constants.
strip() {
    sed -e 's/\\\\//g' -e 's/\\"//g' -e "s/'[^']*'//g" "$1" |
        perl -0777 -pe 's{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g; s{"[^"\n]*"}{""}g'
}

# What each .c file defines at file scope: functions (a name followed by a
# parameter list at the start of a definition) and objects with an
# initialiser, both not static.
for f in "${files[@]}"; do
    case $f in *.c) ;; *) continue ;; esac
    strip "$f" > "$tmp/code"
    perl -0777 -ne '
        while (/^(?!static\b)[A-Za-z_][\w \t\*]*?\b(tg_\w+)\s*\([^;{]*\)\s*\{/mg) { print "$1\n" }
        while (/^(?!static\b)(?:const\s+)?\w[\w \t\*]*?\b(tg_\w+)(?:\[[^\]]*\])?\s*=/mg) { print "$1\n" }
    ' "$tmp/code" | sort -u | sed "s|\$| $f|"
done > "$tmp/defs"

status=0
: > "$tmp/edges"
for f in "${files[@]}"; do
    me=${layer_of[$f]}
    dir=$(dirname "$f")
    # includes of our own headers: resolved next to the file, then in include/
    while IFS= read -r inc; do
        target=$(realpath -m --relative-to=. "$dir/$inc")
        [ -e "$target" ] || target="include/$inc"
        [ -n "${layer_of[$target]+x}" ] || continue
        if [ "${layer_of[$target]}" -gt "$me" ]; then
            echo "$f (${layer_name[$me]}) includes $target (${layer_name[${layer_of[$target]}]}), a layer above"
            status=1
        fi
    done < <(sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([^"]*\)".*/\1/p' "$f")
    case $f in *.c) ;; *) continue ;; esac
    # uses of names defined in other files
    strip "$f" | grep -o '\btg_[A-Za-z0-9_]*' | sort -u > "$tmp/used"
    join "$tmp/used" <(sort -k1,1 "$tmp/defs") | while read -r fn home; do
        [ "$home" = "$f" ] && continue
        echo "$f $home $fn" >> "$tmp/edges"
        if [ "${layer_of[$home]}" -gt "$me" ]; then
            echo "$f (${layer_name[$me]}) calls $fn of $home (${layer_name[${layer_of[$home]}]}), a layer above"
            echo 1 > "$tmp/failed"
        fi
    done
done
[ -e "$tmp/failed" ] && status=1

# Circles: the file-level graph of calls must have a topological order.
if ! cut -d' ' -f1,2 "$tmp/edges" | sort -u | tsort > /dev/null 2> "$tmp/tsort"; then
    echo "files that call each other in a circle:"
    grep -v 'input contains a loop' "$tmp/tsort" | sed 's/^tsort: /  /'
    status=1
fi

if [ $status -eq 0 ]; then
    echo "layers: ${#files[@]} files on ${#LAYERS[@]} layers; every include and call goes down, no circles"
fi
exit $status
