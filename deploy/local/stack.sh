#!/usr/bin/env bash
# The local stack: Apache Kafka (KRaft, single combined node) and Elasticsearch, both from
# Maven Central, on 127.0.0.1, off the standard ports. Run by `newsflow stack up|down|status`
# (which passes the settings below as environment variables); usable on its own too.
#
#   stack.sh fetch          download into the cache once (no server started)
#   stack.sh up             fetch if needed, format KRaft storage on first use, start both,
#                           wait until healthy; harmless when already up
#   stack.sh down           stop exactly the processes `up` started (by pid), wait for them
#   stack.sh status [--json]
#   stack.sh reset          down, then delete data (the download cache is kept)
#
# Why these versions: see deploy/local/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STACK_HOME="${NEWSFLOW_STACK__HOME:-/var/tmp/newsflow}"
KAFKA_VERSION="${NEWSFLOW_KAFKA_VERSION:-4.1.1}"
ES_VERSION="${NEWSFLOW_ES_VERSION:-8.19.21}"
KAFKA_PORT="${NEWSFLOW_STACK__KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${NEWSFLOW_STACK__KAFKA_CONTROLLER_PORT:-19093}"
ES_PORT="${NEWSFLOW_STACK__ES_PORT:-19200}"
ES_TRANSPORT_PORT="${NEWSFLOW_STACK__ES_TRANSPORT_PORT:-19300}"
KAFKA_HEAP="${NEWSFLOW_STACK__KAFKA_HEAP:-512m}"
ES_HEAP="${NEWSFLOW_STACK__ES_HEAP:-512m}"
# Extra JVM options of both servers. The default keeps the JIT at its first tier (C1): on a
# small machine the optimising tier's compiling took most of the servers' CPU for many runs
# after a start (bench/RESULTS.md, session 17). Set to "" for the JVM's default.
DEFAULT_JVM_OPTIONS="-XX:TieredStopAtLevel=1"
JVM_OPTIONS="${NEWSFLOW_STACK__JVM_OPTIONS-$DEFAULT_JVM_OPTIONS}"
START_TIMEOUT="${NEWSFLOW_STACK__START_TIMEOUT_S:-180}"
ES_USER="${NEWSFLOW_ES_USER:-newsflow-es}"

# The download cache can be shared between several stack homes (tests run a second stack).
CACHE="${NEWSFLOW_STACK_CACHE:-$STACK_HOME/cache}"
KAFKA_LIB="$CACHE/kafka-$KAFKA_VERSION/lib"
ES_ZIP="$CACHE/elasticsearch-$ES_VERSION.zip"
KAFKA_DIR="$STACK_HOME/kafka"
ES_DIR="$STACK_HOME/elasticsearch"
ES_HOME="$ES_DIR/elasticsearch-$ES_VERSION"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    die "$1 is missing: install it (Debian: sudo apt-get install -y $2) and run again"
  fi
  log "installing $2 with apt-get (missing: $1)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

find_java() {
  # Kafka 4.x and Elasticsearch 8.19 both run on Java 17 or newer.
  local candidate
  for candidate in "${NEWSFLOW_JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(java_major "$candidate")" -ge 17 ] 2>/dev/null; then
      readlink -f "$candidate"; return 0
    fi
  done
  return 1
}

require_tools() {
  command -v unzip >/dev/null || apt_install unzip unzip
  command -v curl >/dev/null || apt_install curl curl
  JAVA="$(find_java)" || { apt_install "Java 17+" openjdk-17-jre-headless; JAVA="$(find_java)" || die "no Java 17+ found after install"; }
  JDK_HOME="$(dirname "$(dirname "$JAVA")")"
}

require_maven() {
  command -v mvn >/dev/null || apt_install "Maven" maven
}

# ---------------------------------------------------------------- fetch (cached)
fetch() {
  require_tools
  mkdir -p "$CACHE"
  if [ ! -f "$KAFKA_LIB/.complete" ]; then
    require_maven
    log "fetching Kafka $KAFKA_VERSION and its runtime dependencies from Maven Central"
    rm -rf "$KAFKA_LIB"
    mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB" >&2 \
      || die "Maven could not resolve Kafka $KAFKA_VERSION"
    touch "$KAFKA_LIB/.complete"
  fi
  if [ ! -f "$ES_ZIP" ]; then
    require_maven
    log "fetching Elasticsearch $ES_VERSION (integ-test-zip) from Maven Central"
    local dl; dl="$(mktemp -d)"
    mvn -q -B dependency:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$dl" >&2 || die "Maven could not fetch Elasticsearch $ES_VERSION"
    mv "$dl/elasticsearch-$ES_VERSION.zip" "$ES_ZIP.part" && mv "$ES_ZIP.part" "$ES_ZIP"
    rm -rf "$dl"
  fi
}

# ---------------------------------------------------------------- process helpers
# A pid counts as ours only if it is alive and its command line names our stack home, so
# a recycled pid of someone else's process is never signalled.
our_pid() {
  local pidfile="$1" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$STACK_HOME" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_pid() {
  local name="$1" pidfile="$2" pid i
  pid="$(our_pid "$pidfile")" || { rm -f "$pidfile"; log "$name is not running"; return 0; }
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
}

fail_with_log() {
  local name="$1" logfile="$2"
  log "$name failed to become healthy; last lines of $logfile:"
  tail -n 40 "$logfile" >&2 2>/dev/null || true
  exit 1
}

# ---------------------------------------------------------------- Kafka
kafka_write_config() {
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$KAFKA_DIR/data|g" \
      "$HERE/kafka/server.properties.in" >"$KAFKA_DIR/server.properties"
  cp "$HERE/kafka/log4j2.properties" "$KAFKA_DIR/log4j2.properties"
}

kafka_java_opts() {
  echo "-Xms$KAFKA_HEAP -Xmx$KAFKA_HEAP -XX:+UseG1GC $JVM_OPTIONS -Djava.awt.headless=true" \
       "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties -Dkafka.logs.dir=$KAFKA_DIR/logs"
}

kafka_up() {
  if pid="$(our_pid "$KAFKA_DIR/kafka.pid")"; then
    log "Kafka already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"; return 0
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process; set NEWSFLOW_STACK__KAFKA_PORT"
  kafka_write_config
  # shellcheck disable=SC2046
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id
    # Like Kafka's own random-uuid, never one that starts with "-": the storage tool would
    # read it as an option (1 id in 64 did, and `stack up` failed).
    cluster_id="$(python3 -c 'import base64,uuid
while (i := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()).startswith("-"): pass
print(i)')"
    log "formatting KRaft storage (cluster id $cluster_id)"
    "$JAVA" $(kafka_java_opts) -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$KAFKA_DIR/server.properties" -g >"$KAFKA_DIR/format.out" 2>&1 \
      || fail_with_log "Kafka storage format" "$KAFKA_DIR/format.out"
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  # setsid: the broker must outlive the shell (and the CLI) that started it.
  setsid nohup "$JAVA" $(kafka_java_opts) -cp "$KAFKA_LIB/*" kafka.Kafka \
    "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/kafka.out" 2>&1 </dev/null &
  echo $! >"$KAFKA_DIR/kafka.pid"
}

kafka_wait() {
  local deadline=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    our_pid "$KAFKA_DIR/kafka.pid" >/dev/null || fail_with_log "Kafka (process exited)" "$KAFKA_DIR/kafka.out"
    if port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$KAFKA_DIR/kafka.out" 2>/dev/null; then
      log "Kafka is up"; return 0
    fi
    sleep 0.5
  done
  fail_with_log "Kafka (timeout ${START_TIMEOUT}s)" "$KAFKA_DIR/kafka.out"
}

# ---------------------------------------------------------------- Elasticsearch
es_as_user() {
  # Elasticsearch refuses to run as root: run it as an unprivileged system user.
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$ES_USER" -- "$@"
  else
    "$@"
  fi
}

es_prepare() {
  mkdir -p "$ES_DIR/data" "$ES_DIR/logs"
  if [ ! -x "$ES_HOME/bin/elasticsearch" ]; then
    log "unpacking Elasticsearch $ES_VERSION"
    rm -rf "$ES_HOME"
    unzip -q "$ES_ZIP" -d "$ES_DIR"
  fi
  sed -e "s|@ES_PORT@|$ES_PORT|g" -e "s|@TRANSPORT_PORT@|$ES_TRANSPORT_PORT|g" \
      -e "s|@DATA_DIR@|$ES_DIR/data|g" -e "s|@LOGS_DIR@|$ES_DIR/logs|g" \
      "$HERE/elasticsearch/elasticsearch.yml.in" >"$ES_HOME/config/elasticsearch.yml"
  if [ "$(id -u)" -eq 0 ]; then
    id -u "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
    chown -R "$ES_USER:$ES_USER" "$ES_DIR"
    # Every parent folder must be traversable by that user.
    chmod o+x "$STACK_HOME" "$ES_DIR"
  fi
}

es_up() {
  if pid="$(our_pid "$ES_DIR/es.pid")"; then
    log "Elasticsearch already running (pid $pid) on 127.0.0.1:$ES_PORT"; return 0
  fi
  port_open "$ES_PORT" && die "port $ES_PORT is taken by another process; set NEWSFLOW_STACK__ES_PORT"
  es_prepare
  rm -f "$ES_DIR/es.pid"
  log "starting Elasticsearch $ES_VERSION on 127.0.0.1:$ES_PORT"
  # -d daemonises and writes the server JVM's pid to es.pid; the launcher's own output
  # (start-up errors) goes to es.out.
  es_as_user env ES_JAVA_HOME="$JDK_HOME" ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP $JVM_OPTIONS" \
    ES_PATH_CONF="$ES_HOME/config" \
    "$ES_HOME/bin/elasticsearch" -d -p "$ES_DIR/es.pid" >"$ES_DIR/es.out" 2>&1 \
    || { cat "$ES_DIR/es.out" >&2; fail_with_log "Elasticsearch (launcher)" "$ES_DIR/logs/newsflow-local.log"; }
}

es_wait() {
  local deadline=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if [ -f "$ES_DIR/es.pid" ] && ! our_pid "$ES_DIR/es.pid" >/dev/null; then
      fail_with_log "Elasticsearch (process exited)" "$ES_DIR/logs/newsflow-local.log"
    fi
    if curl -fsS "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1; then
      log "Elasticsearch is up"; return 0
    fi
    sleep 1
  done
  fail_with_log "Elasticsearch (timeout ${START_TIMEOUT}s)" "$ES_DIR/logs/newsflow-local.log"
}

# ---------------------------------------------------------------- commands
cmd_up() {
  local t0=$SECONDS
  fetch
  kafka_up
  es_up
  kafka_wait
  es_wait
  log "stack is up in $((SECONDS - t0)) s: kafka=127.0.0.1:$KAFKA_PORT elasticsearch=http://127.0.0.1:$ES_PORT"
}

cmd_down() {
  stop_pid "Elasticsearch" "$ES_DIR/es.pid"
  stop_pid "Kafka" "$KAFKA_DIR/kafka.pid"
}

component_json() {
  local name="$1" pidfile="$2" port="$3" healthy="$4" pid running=false
  if pid="$(our_pid "$pidfile")"; then running=true; else pid=null; fi
  printf '"%s":{"running":%s,"pid":%s,"address":"127.0.0.1:%s","healthy":%s}' \
    "$name" "$running" "$pid" "$port" "$healthy"
}

cmd_status() {
  local kafka_ok=false es_ok=false
  our_pid "$KAFKA_DIR/kafka.pid" >/dev/null && port_open "$KAFKA_PORT" && kafka_ok=true
  curl -fsS -m 3 "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1 && es_ok=true
  if [ "${1:-}" = "--json" ]; then
    printf '{%s,%s,"home":"%s","kafka_version":"%s","elasticsearch_version":"%s"}\n' \
      "$(component_json kafka "$KAFKA_DIR/kafka.pid" "$KAFKA_PORT" "$kafka_ok")" \
      "$(component_json elasticsearch "$ES_DIR/es.pid" "$ES_PORT" "$es_ok")" \
      "$STACK_HOME" "$KAFKA_VERSION" "$ES_VERSION"
  else
    local kpid epid
    kpid="$(our_pid "$KAFKA_DIR/kafka.pid" || echo -)"; epid="$(our_pid "$ES_DIR/es.pid" || echo -)"
    printf 'kafka %s  127.0.0.1:%s  pid %s  healthy=%s\n' "$KAFKA_VERSION" "$KAFKA_PORT" "$kpid" "$kafka_ok"
    printf 'elasticsearch %s  http://127.0.0.1:%s  pid %s  healthy=%s\n' "$ES_VERSION" "$ES_PORT" "$epid" "$es_ok"
  fi
  [ "$kafka_ok" = true ] && [ "$es_ok" = true ]
}

cmd_reset() {
  cmd_down
  log "deleting data in $KAFKA_DIR and $ES_DIR (cache kept)"
  rm -rf "$KAFKA_DIR" "$ES_DIR"
}

case "${1:-}" in
  fetch) fetch ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) shift; cmd_status "${1:-}" ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 fetch|up|down|status [--json]|reset" >&2; exit 2 ;;
esac
