#!/usr/bin/env bash
# `make demo`: the main job on the embedded default.
#   1. bring up the local Kafka + Elasticsearch (deploy/local/stack.sh)
#   2. serve the bundled sample feeds (deploy/demo/feeds) on 127.0.0.1:8765
#   3. poll them once into Kafka, run the worker until every article is indexed
#   4. print search hits tagged military-cooperation and what arrived on that tag's stream
# The stack stays up afterwards so that you can search and subscribe; the feed server and
# the worker are stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NEWSFLOW="$ROOT/.venv/bin/newsflow"
PYTHON="$ROOT/.venv/bin/python"
DEMO_HOME="${NEWSFLOW_DEMO_HOME:-/var/tmp/newsflow/demo}"
FEEDS_PORT="${NEWSFLOW_DEMO_FEEDS_PORT:-8765}"
TAG="military-cooperation"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cd "$ROOT"
mkdir -p "$DEMO_HOME"
# A fresh feed state every run, so the demo always publishes its articles; indexing is
# idempotent (the article id is the document id), so a re-run does not duplicate them.
rm -rf "$DEMO_HOME/poller-state"
export NEWSFLOW_POLLER__STATE_DIR="$DEMO_HOME/poller-state"
export NEWSFLOW_PROCESSORS__DATA_DIR="$DEMO_HOME/processors"
export NEWSFLOW_ALLOW_HOSTS="127.0.0.1"

say "1/4 local stack (Kafka + Elasticsearch)"
"$NEWSFLOW" stack up

feeds_pid=""; worker_pid=""
cleanup() {
  [ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
  [ -n "$feeds_pid" ] && kill "$feeds_pid" 2>/dev/null && wait "$feeds_pid" 2>/dev/null || true
}
trap cleanup EXIT

say "2/4 sample feeds on http://127.0.0.1:$FEEDS_PORT/"
if (exec 3<>"/dev/tcp/127.0.0.1/$FEEDS_PORT") 2>/dev/null; then
  echo "port $FEEDS_PORT is in use; set NEWSFLOW_DEMO_FEEDS_PORT to a free port" >&2; exit 1
fi
"$PYTHON" -m http.server "$FEEDS_PORT" --bind 127.0.0.1 --directory deploy/demo/feeds \
  >"$DEMO_HOME/feeds.log" 2>&1 &
feeds_pid=$!
sed "s|http://127.0.0.1:8765/|http://127.0.0.1:$FEEDS_PORT/|" deploy/demo/feeds.yaml >"$DEMO_HOME/feeds.yaml"
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$FEEDS_PORT") 2>/dev/null && break; sleep 0.1; done

say "3/4 poll once -> Kafka, worker -> Elasticsearch + tag streams"
# The feed state is fresh, so the cycle's new articles are every article of the demo feeds.
summary="$("$NEWSFLOW" poll --feeds "$DEMO_HOME/feeds.yaml" --once --min-host-gap 0 --json | tail -n 1)"
expected="$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["new_articles"])' "$summary")"
echo "polled: $expected new articles produced to Kafka"
"$NEWSFLOW" worker >"$DEMO_HOME/worker.log" 2>&1 &
worker_pid=$!
echo "worker started (pid $worker_pid, log $DEMO_HOME/worker.log); waiting for $expected articles to be indexed"
"$PYTHON" - "$expected" "$worker_pid" "http://127.0.0.1:$FEEDS_PORT/" <<'PY'
import os, sys, time
from elasticsearch import ApiError, Elasticsearch, TransportError
from newsflow.settings import load_settings
expected, pid, feed_prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
settings = load_settings().elasticsearch
es = Elasticsearch(settings.url, request_timeout=10)
query = {"prefix": {"feed_url": feed_prefix}}
deadline = time.monotonic() + 300
count = 0
last_error = ""
while time.monotonic() < deadline:
    try:
        if es.indices.exists_alias(name=settings.alias):
            count = es.count(index=settings.alias, query=query)["count"]
    except (ApiError, TransportError) as exc:
        # The worker creates a month's backing index when its first article arrives; a
        # count that reaches it before its shard has started gets a 503. Ask again.
        last_error = f" (last error: {exc})"
    if count >= expected:
        print(f"indexed {count}/{expected}")
        sys.exit(0)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("the worker exited; see its log")
    time.sleep(1)
sys.exit(f"only {count}/{expected} indexed after 300 s{last_error}; see the worker log")
PY

say "4/4 results"
echo "\$ newsflow search --tag $TAG"
"$NEWSFLOW" search --tag "$TAG"
echo
echo "\$ newsflow search \"joint drills\""
"$NEWSFLOW" search "joint drills" --limit 3
echo
echo "\$ newsflow subscribe $TAG --from-beginning --max 20 --timeout 5"
"$NEWSFLOW" subscribe "$TAG" --from-beginning --max 20 --timeout 5

cat <<MSG

Done. The stack is still up (Kafka 127.0.0.1:19092, Elasticsearch http://127.0.0.1:19200).
With .venv/bin on your PATH (export PATH="$ROOT/.venv/bin:\$PATH"):
  keep it running:  newsflow worker &                 # enrich, index, route to tag streams
                    newsflow poll --feeds feeds.yaml  # your own feed list, continuously
  search:           newsflow search "drone" --tag drone-warfare --json
  subscribe:        newsflow subscribe $TAG --group me    # resumes where 'me' stopped
  stop everything:  newsflow stack down
MSG
