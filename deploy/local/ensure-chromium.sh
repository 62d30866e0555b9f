#!/usr/bin/env bash
# Debian's Chromium for the monitor page's browser tests (tests/browser). Playwright's Python
# client drives it through executable_path; Playwright's own browser download is never used
# (it cannot work without the internet). Installed with apt-get when missing, as stack.sh
# does for Java. NEWSFLOW_CHROMIUM points the tests at another Chromium.
set -euo pipefail
CHROMIUM="${NEWSFLOW_CHROMIUM:-/usr/bin/chromium}"

[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium: $CHROMIUM is missing: install it (Debian: sudo apt-get install -y chromium) and run again" >&2
  exit 1
fi
echo "chromium: installing Debian's chromium with apt-get (for tests/browser)" >&2
DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "chromium: $CHROMIUM still missing after apt-get" >&2; exit 1; }
