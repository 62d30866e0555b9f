#!/usr/bin/env bash
# Print the Python interpreter newsflow's venv should be made with.
#
# Python 3.12 first (what CI runs), then 3.13 (its unit tests pass): spaCy's wheels for
# Python < 3.12 are compiled with Cython profiling hooks, which take and release the GIL on
# every call inside the NER's transition loop; on 3.12 and 3.13 the same model runs the same
# NER about 1.6x faster (processors/README.md, "NER speed"). Python 3.11 still works, with
# a warning. A pyenv shim for a version that is installed but not selected exits non-zero,
# so every candidate is run, not just looked up.
set -uo pipefail

works() {  # works PYTHON MINOR: PYTHON runs and is 3.MINOR
    "$1" -c "import sys; sys.exit(sys.version_info[:2] != (3, $2))" >/dev/null 2>&1
}

pyenv_root=""
command -v pyenv >/dev/null 2>&1 && pyenv_root="$(pyenv root 2>/dev/null)"

for minor in 12 13; do
    candidates=("python3.$minor" "/usr/bin/python3.$minor" "/usr/local/bin/python3.$minor")
    if [ -n "$pyenv_root" ]; then
        for dir in "$pyenv_root"/versions/3."$minor".*; do
            [ -x "$dir/bin/python3.$minor" ] && candidates+=("$dir/bin/python3.$minor")
        done
    fi
    for candidate in "${candidates[@]}"; do
        if works "$candidate" "$minor"; then
            command -v "$candidate"
            exit 0
        fi
    done
done

for candidate in python3 python3.11; do
    if works "$candidate" 11; then
        echo "find-python: Python 3.12/3.13 not found; using $(command -v "$candidate") (3.11):" \
             "entity extraction runs about 1.6x slower there" >&2
        command -v "$candidate"
        exit 0
    fi
done

echo "find-python: newsflow needs Python 3.12 (or 3.13, 3.11); install python3.12" >&2
exit 1
