#!/usr/bin/env bash
# Fetch, once and cached, what tests/unit/deploy/test_k8s.py needs to render deploy/k8s and
# validate it without a cluster. Package registries only:
#   kustomize     Go module proxy   go install sigs.k8s.io/kustomize/kustomize/v5
#   strimzi       Maven Central     io.strimzi:api + io.strimzi:crd-generator; the CRDs are
#                                   generated exactly as Strimzi's own build does (api/pom.xml)
#   eck           Go module proxy   github.com/elastic/cloud-on-k8s/v3, config/crds/v1/resources
#   keda          Go module proxy   github.com/kedacore/keda/v2, config/crd/bases
# (The Kubernetes schemas themselves come from PyPI: kubernetes-validate, in the dev extra.)
#
# Usage: fetch.sh ITEM...      ITEM: kustomize | strimzi | eck | keda
# Prints one line per item: "ok ITEM PATH" (the binary, or a directory of CRD YAML files), or
# "absent ITEM REASON" when a tool it needs (go, mvn, Java >= 21) is not on this machine.
# Exits non-zero only when a fetch or build fails although its tools are there.
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.1   # v5.8.2+ need a newer Go than 1.26 (their kustomize/api)
STRIMZI_VERSION=1.2.0      # Strimzi 1.x serves only the kafka.strimzi.io/v1 API
ECK_VERSION=v3.5.0
KEDA_VERSION=v2.21.0

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${NEWSFLOW_K8S_CACHE:-/var/tmp/newsflow/cache/k8s}"
mkdir -p "$CACHE"
# Outside any go.mod, so that `go` touches no module of the caller's.
cd "$CACHE"
export GOFLAGS=-modcacherw

log() { echo "fetch.sh: $*" >&2; }

# Build into a temporary sibling, then rename: a concurrent or interrupted run never leaves
# a half-written cache entry behind.
publish() {  # publish TMP FINAL
  if ! mv -T "$1" "$2" 2>/dev/null; then rm -rf "$1"; fi
}

fetch_kustomize() {
  local out="$CACHE/kustomize-$KUSTOMIZE_VERSION"
  if [[ ! -x "$out/kustomize" ]]; then
    command -v go >/dev/null || { echo "absent kustomize no 'go' command to build it"; return; }
    log "building kustomize $KUSTOMIZE_VERSION from the Go module proxy (once)"
    local tmp; tmp="$(mktemp -d "$CACHE/.kustomize.XXXXXX")"
    GOBIN="$tmp" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
    publish "$tmp" "$out"
  fi
  echo "ok kustomize $out/kustomize"
}

java21() {  # the first java with a major version >= 21 (the Strimzi generator's class files)
  local candidate major
  for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/*/bin/java \
                   "$(command -v java || true)"; do
    [[ -x "$candidate" ]] || continue
    major="$("$candidate" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
    if [[ -n "$major" && "$major" -ge 21 ]]; then echo "$candidate"; return; fi
  done
}

fetch_strimzi() {
  local out="$CACHE/strimzi-crds-$STRIMZI_VERSION"
  if [[ ! -f "$out/kafka.yaml" ]]; then
    command -v mvn >/dev/null || { echo "absent strimzi no 'mvn' command"; return; }
    local java; java="$(java21)"
    [[ -n "$java" ]] || { echo "absent strimzi no Java >= 21 (set JAVA_HOME)"; return; }
    log "generating the Strimzi $STRIMZI_VERSION CRDs from Maven Central artifacts (once)"
    local tmp; tmp="$(mktemp -d "$CACHE/.strimzi.XXXXXX")"
    mvn -q -B -f "$HERE/strimzi-crds/pom.xml" -Dstrimzi.version="$STRIMZI_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$tmp/lib" >&2
    # The arguments of the crd-generator execution in Strimzi's api/pom.xml.
    "$java" -cp "$tmp/lib/*" io.strimzi.crdgenerator.CrdGenerator \
      --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
      --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
      "io.strimzi.api.kafka.model.kafka.Kafka=$tmp/kafka.yaml" \
      "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$tmp/kafkanodepool.yaml" \
      "io.strimzi.api.kafka.model.topic.KafkaTopic=$tmp/kafkatopic.yaml" >&2
    rm -rf "$tmp/lib"
    publish "$tmp" "$out"
  fi
  echo "ok strimzi $out"
}

fetch_go_module_crds() {  # ITEM MODULE VERSION SUBDIR FILE...
  local item="$1" module="$2" version="$3" subdir="$4"; shift 4
  local out="$CACHE/$item-crds-$version"
  if [[ ! -d "$out" ]]; then
    command -v go >/dev/null || { echo "absent $item no 'go' command"; return; }
    log "downloading Go module $module@$version (once)"
    local dir
    dir="$(go mod download -json "$module@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    [[ -d "$dir/$subdir" ]] || { log "no $subdir in $module@$version"; return 1; }
    local tmp; tmp="$(mktemp -d "$CACHE/.$item.XXXXXX")"
    local file
    for file in "$@"; do cp "$dir/$subdir/$file" "$tmp/"; done
    publish "$tmp" "$out"
  fi
  echo "ok $item $out"
}

[[ $# -gt 0 ]] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for item in "$@"; do
  case "$item" in
    kustomize) fetch_kustomize ;;
    strimzi) fetch_strimzi ;;
    eck) fetch_go_module_crds eck github.com/elastic/cloud-on-k8s/v3 "$ECK_VERSION" \
           config/crds/v1/resources \
           elasticsearch.k8s.elastic.co_elasticsearches.yaml kibana.k8s.elastic.co_kibanas.yaml ;;
    keda) fetch_go_module_crds keda github.com/kedacore/keda/v2 "$KEDA_VERSION" \
            config/crd/bases keda.sh_scaledobjects.yaml ;;
    *) log "unknown item $item"; exit 2 ;;
  esac
done
