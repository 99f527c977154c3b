#!/bin/sh
# count_lines.sh FILE... — lines of code: not blank, not only a comment (C's
# /* ... */ and //, Python's # and the module docstring). For the C and
# PyTorch versions of examples/own_network (docs/MODULES.md).
for f in "$@"; do
    case $f in
    *.py) n=$(awk 'BEGIN { doc = 0 }
                   /^"""/ { if (!seen) { doc = !doc; if (doc && /""".*"""/) doc = 0; seen = !doc; next } }
                   doc { next }
                   /^[ \t]*(#|$)/ { next } { n++ } END { print n }' "$f") ;;
    *) n=$(awk '/^[ \t]*\/\*/ { c = 1 } c { if (/\*\//) c = 0; next }
               /^[ \t]*(\/\/|$)/ { next } { n++ } END { print n }' "$f") ;;
    esac
    echo "$n $f"
done
