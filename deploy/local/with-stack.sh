#!/usr/bin/env bash
# Run a command with the local stack up: start it if needed, run, and stop it again only
# if this script started it (a developer's running stack is left as it was).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NEWSFLOW="$HERE/../../.venv/bin/newsflow"

started=0
if ! "$NEWSFLOW" stack status >/dev/null 2>&1; then
  "$NEWSFLOW" stack up || exit 1
  started=1
fi
"$@"
rc=$?
if [ "$started" = 1 ]; then
  "$NEWSFLOW" stack down || rc=1
fi
exit $rc
