#!/usr/bin/env bash
# Print the Python interpreter newsflow's venv should be made with.
#
# Python 3.12 first: spaCy's wheels for Python < 3.12 are compiled with Cython profiling
# hooks, which take and release the GIL on every call inside the NER's transition loop;
# on 3.12 the same model runs the same NER about 1.6x faster (bench/RESULTS.md, "nlp").
# Python 3.11 still works, with a warning. A pyenv shim for a version that is installed but
# not selected exits non-zero, so every candidate is run, not just looked up.
set -uo pipefail

works() {  # works PYTHON MINOR: PYTHON runs and is 3.MINOR
    "$1" -c "import sys; sys.exit(sys.version_info[:2] != (3, $2))" >/dev/null 2>&1
}

candidates_312=(python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12)
if command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root 2>/dev/null)"
    for dir in "$root"/versions/3.12.*; do
        [ -x "$dir/bin/python3.12" ] && candidates_312+=("$dir/bin/python3.12")
    done
fi

for candidate in "${candidates_312[@]}"; do
    if works "$candidate" 12; then
        command -v "$candidate"
        exit 0
    fi
done

for candidate in python3 python3.11; do
    if works "$candidate" 11; then
        echo "find-python: Python 3.12 not found; using $(command -v "$candidate") (3.11):" \
             "entity extraction runs about 1.6x slower there" >&2
        command -v "$candidate"
        exit 0
    fi
done

echo "find-python: newsflow needs Python 3.12 (or 3.11); install python3.12" >&2
exit 1
