"""deploy/k8s, rendered by kustomize and validated without a cluster.

Every object of every overlay must validate against the Kubernetes schemas (PyPI
kubernetes-validate, strict) or its operator's CRD schema (Strimzi, ECK, KEDA; fetched and
cached by deploy/k8s/tools/fetch.sh from Maven Central and the Go module proxy). Then what
schemas cannot see: the commands exist in the real CLI, the environment builds valid
Settings, secrets come only from Secret refs, partitions, autoscaling and replication fit
together, every taxonomy tag has its topic, and the pods are hardened.

Skips only when a tool fetch.sh needs (go, mvn, Java >= 21) is absent from the machine.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest
import yaml

from ingest.feeds import parse_feed_list
from newsflow.cli import cli
from newsflow.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
LAYOUTS = ["base", "overlays/small", "overlays/large"]
IMAGE = "newsflow:0.1.0"
SECRET_WORDS = re.compile(r"PASSWORD|API_KEY|SECRET|TOKEN", re.IGNORECASE)
DEFAULTS = Settings()

Obj = dict[str, Any]


def _load_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newsflow_k8s_validate",
                                                  K8S / "tools" / "validate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tools = _load_tools()


def _fetch(item: str) -> Path:
    try:
        return tools.fetch(item)
    except tools.ToolAbsent as exc:
        pytest.skip(f"cannot fetch {exc} (deploy/k8s/tools/fetch.sh)")


@pytest.fixture(scope="session")
def kustomize() -> Path:
    return _fetch("kustomize")


@pytest.fixture(scope="session")
def validator() -> Any:
    crds = tools.CrdSchemas()
    for item in ("strimzi", "eck", "keda"):
        crds.add_dir(_fetch(item))
    return tools.Validator(crds)


@pytest.fixture(scope="session")
def rendered(kustomize: Path) -> dict[str, list[Obj]]:
    return {layout: tools.render(kustomize, K8S / layout) for layout in LAYOUTS}


@pytest.fixture(params=LAYOUTS)
def objects(request: pytest.FixtureRequest, rendered: dict[str, list[Obj]]) -> list[Obj]:
    return copy.deepcopy(rendered[request.param])


# ------------------------------------------------------------------------------ helpers


def one(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in objects if o["kind"] == kind
             and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def every(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def newsflow_containers(objects: list[Obj]) -> list[tuple[Obj, Obj]]:
    pairs = [(d, c) for d in every(objects, "Deployment")
             for c in d["spec"]["template"]["spec"]["containers"]
             if c["image"].split(":")[0].endswith("newsflow")]
    assert {d["metadata"]["name"] for d, _ in pairs} == {
        "newsflow-poller", "newsflow-worker", "newsflow-ordered", "newsflow-api"}
    return pairs


def kibana_import(objects: list[Obj]) -> tuple[Obj, Obj]:
    """The Job that runs `newsflow kibana import`, and its container."""
    job = one(objects, "Job", "newsflow-kibana-import")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return job, container


def mounted_secret(pod: Obj, container: Obj, path: str) -> tuple[str, str]:
    """(Secret name, key) of the secret volume item that ``path`` in the container reads."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        secret = volumes[mount["name"]].get("secret")
        if secret and path.startswith(prefix):
            rel = path[len(prefix):]
            for item in secret.get("items", []):
                if item["path"] == rel:
                    return secret["secretName"], item["key"]
    raise AssertionError(f"{path} is not a file of a mounted Secret")


def container_env(objects: list[Obj], container: Obj) -> dict[str, Any]:
    """NAME -> value (str) or valueFrom (dict), envFrom ConfigMaps first, as the kubelet does."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        env.update(one(objects, "ConfigMap", ref)["data"])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


def env_config_map(objects: list[Obj]) -> dict[str, str]:
    """newsflow-env's data (its name carries kustomize's content hash)."""
    (found,) = [c for c in every(objects, "ConfigMap")
                if c["metadata"]["name"].startswith("newsflow-env-")]
    return found["data"]


def articles_topic(objects: list[Obj]) -> Obj:
    topics = [t for t in every(objects, "KafkaTopic")
              if t["spec"].get("topicName") == DEFAULTS.kafka.articles_topic]
    assert len(topics) == 1
    return topics[0]


def broker_count(objects: list[Obj]) -> int:
    return sum(p["spec"]["replicas"] for p in every(objects, "KafkaNodePool")
               if "broker" in p["spec"]["roles"])


def resolve(args: list[str]) -> click.Command:
    """`newsflow ARGS` down the click tree; fails on an unknown command or option."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="newsflow")
    rest = list(args)
    while isinstance(command, click.Group) and rest:
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        if sub is None:
            raise LookupError(name)
        command = sub
    command.make_context(command.name, rest, resilient_parsing=False)
    return command


# ---------------------------------------------------------------------------- schemas


def test_every_object_validates_against_its_schema(objects: list[Obj], validator: Any) -> None:
    problems = [p for obj in objects for p in validator.errors(obj)]
    assert not problems, "\n".join(problems)


def test_every_custom_resource_has_its_crd_schema(objects: list[Obj], validator: Any) -> None:
    builtin = ("v1", "apps/v1", "policy/v1", "batch/v1")
    custom = {(o["apiVersion"], o["kind"]) for o in objects if o["apiVersion"] not in builtin}
    assert custom == {
        ("kafka.strimzi.io/v1", "Kafka"), ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("kafka.strimzi.io/v1", "KafkaTopic"), ("elasticsearch.k8s.elastic.co/v1",
                                                "Elasticsearch"),
        ("kibana.k8s.elastic.co/v1", "Kibana"), ("keda.sh/v1alpha1", "ScaledObject"),
    }
    assert custom <= set(validator.crds.schemas)


BREAKAGES = [
    # (kind, name, what breaks, how): each must be caught by the schemas.
    ("Deployment", "newsflow-worker", "misspelt container field",
     lambda o: o["spec"]["template"]["spec"]["containers"][0].update(imagePullPolcy="Always")),
    ("Service", "newsflow-api", "port by name",
     lambda o: o["spec"]["ports"][0].update(port="http")),
    ("PodDisruptionBudget", "newsflow-worker", "unknown field",
     lambda o: o["spec"].update(maxUnavailabe=1)),
    ("KafkaTopic", "news-articles", "partitions not a number",
     lambda o: o["spec"].update(partitions="twelve")),
    ("Kafka", "newsflow", "listener without tls",
     lambda o: o["spec"]["kafka"]["listeners"][0].pop("tls")),
    ("KafkaNodePool", "brokers", "unknown role",
     lambda o: o["spec"].update(roles=["zookeeper"])),
    ("Elasticsearch", "newsflow", "misspelt nodeSet field",
     lambda o: o["spec"]["nodeSets"][0].update(counts=3)),
    ("Elasticsearch", "newsflow", "misspelt podTemplate field",
     lambda o: o["spec"]["nodeSets"][0]["podTemplate"]["spec"]["containers"][0].update(
         resource={})),
    ("Kibana", "newsflow", "no version", lambda o: o["spec"].pop("version")),
    ("ScaledObject", "newsflow-worker", "no triggers", lambda o: o["spec"].pop("triggers")),
    ("ScaledObject", "newsflow-worker", "misspelt metadata",
     lambda o: o["metadata"].update(lables={})),
    ("Job", "newsflow-kibana-import", "misspelt spec field",
     lambda o: o["spec"].update(backofLimit=3)),
    ("Job", "newsflow-kibana-import", "restartPolicy not a string",
     lambda o: o["spec"]["template"]["spec"].update(restartPolicy=1)),
]


@pytest.mark.parametrize(("kind", "name", "what", "breaks"), BREAKAGES,
                         ids=[f"{b[0]}-{b[2]}" for b in BREAKAGES])
def test_the_validation_catches_broken_objects(
    rendered: dict[str, list[Obj]], validator: Any, kind: str, name: str, what: str,
    breaks: Any,
) -> None:
    obj = copy.deepcopy(one(rendered["base"], kind, name))
    assert validator.errors(obj) == []
    breaks(obj)
    assert validator.errors(obj), f"{kind}/{name} with {what} passed validation"


def test_crd_schema_conversion_reads_schemas_as_the_api_server_does() -> None:
    schema = tools.crd_to_json_schema({
        "type": "object",
        "properties": {
            "size": {"x-kubernetes-int-or-string": True,
                     "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "note": {"type": "string", "nullable": True},
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"a": {"type": "integer"}}},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    })
    import jsonschema

    check = jsonschema.Draft202012Validator(schema)
    assert not list(check.iter_errors(
        {"size": "10Gi", "note": None, "open": {"a": 1, "b": 2}, "map": {"k": "v"}}))
    assert not list(check.iter_errors({"size": 3}))
    assert list(check.iter_errors({"sise": 3}))          # unknown field
    assert list(check.iter_errors({"size": 1.5}))        # neither int nor string
    assert list(check.iter_errors({"map": {"k": 1}}))
    assert list(check.iter_errors({"open": {"a": "x"}}))  # named fields still typed


# ------------------------------------------------------------ newsflow and its settings


def test_each_container_runs_a_real_newsflow_command(objects: list[Obj]) -> None:
    for deployment, container in newsflow_containers(objects):
        assert container["image"] == IMAGE, deployment["metadata"]["name"]
        assert "command" not in container, "the image's entrypoint is `newsflow`"
        args = container["args"]
        try:
            command = resolve(args)
        except LookupError as missing:
            if args[0] == "api":
                # Being built in parallel (issue 5): the manifest already references it.
                continue
            pytest.fail(f"{deployment['metadata']['name']}: no command {missing} in {args}")
        assert not isinstance(command, click.Group), args


def test_the_api_deployment_command_exists(rendered: dict[str, list[Obj]]) -> None:
    api = one(rendered["base"], "Deployment", "newsflow-api")
    args = api["spec"]["template"]["spec"]["containers"][0]["args"]
    try:
        command = resolve(args)
    except LookupError:
        pytest.skip(f"`newsflow {' '.join(args)}` is not built yet (issue 5); "
                    "the api Deployment already runs it")
    assert not isinstance(command, click.Group)


def test_poller_reads_the_feeds_configmap_at_its_mount(objects: list[Obj]) -> None:
    poller = one(objects, "Deployment", "newsflow-poller")["spec"]["template"]["spec"]
    args = poller["containers"][0]["args"]
    assert args[:3] == ["poll", "--feeds", "/config/feeds.yaml"]
    mounts = {m["name"]: m for m in poller["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in poller["volumes"]}
    feeds = next(v for v in volumes.values() if v.get("configMap", {}).get("name")
                 == "newsflow-feeds")
    mount = mounts[feeds["name"]]
    # A directory mount (no subPath): ConfigMap edits reach the running poller.
    assert mount["mountPath"] == "/config" and "subPath" not in mount
    text = one(objects, "ConfigMap", "newsflow-feeds")["data"]["feeds.yaml"]
    assert parse_feed_list(text, "newsflow-feeds"), "the feed list must parse and list feeds"


def test_taxonomy_configmap_is_the_processors_taxonomy(objects: list[Obj]) -> None:
    shipped = (ROOT / "processors" / "enrich" / "taxonomy.yaml").read_text(encoding="utf-8")
    copied = (K8S / "base" / "config" / "taxonomy.yaml").read_text(encoding="utf-8")
    assert copied == shipped, ("deploy/k8s/base/config/taxonomy.yaml differs from "
                               "processors/enrich/taxonomy.yaml: cp "
                               "processors/enrich/taxonomy.yaml "
                               "deploy/k8s/base/config/taxonomy.yaml")
    assert one(objects, "ConfigMap", "newsflow-taxonomy")["data"]["taxonomy.yaml"] == shipped
    worker = one(objects, "Deployment", "newsflow-worker")["spec"]["template"]["spec"]
    env = container_env(objects, worker["containers"][0])
    assert env["NEWSFLOW_PROCESSORS__TAXONOMY_FILE"] == "/config/taxonomy.yaml"


def test_environment_builds_valid_settings(
    objects: list[Obj], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ./newsflow.yaml
    for name in [n for n in os.environ if n.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(name)
    for deployment, container in newsflow_containers(objects):
        env = container_env(objects, container)
        with monkeypatch.context() as m:
            for key, value in env.items():
                assert key.startswith("NEWSFLOW_"), key
                m.setenv(key, value if isinstance(value, str) else "from-a-secret")
            settings = load_settings()  # extra="forbid": a misspelt key is an error
        assert settings.kafka.bootstrap_servers.endswith(":9092"), deployment["metadata"]
        assert settings.elasticsearch.url.startswith("http")


def test_secrets_only_through_secret_refs(objects: list[Obj]) -> None:
    for config_map in every(objects, "ConfigMap"):
        for key in config_map.get("data", {}):
            assert not SECRET_WORDS.search(key), f"{key} in ConfigMap"
    for _deployment, container in newsflow_containers(objects):
        for item in container.get("env", []):
            if SECRET_WORDS.search(item["name"]):
                assert "value" not in item, f"{item['name']} given as a plain value"
                assert "secretKeyRef" in item["valueFrom"], item
    assert not every(objects, "Secret"), "no Secret is kept in the manifests"


def test_elasticsearch_over_tls_with_the_eck_ca_and_password(objects: list[Obj]) -> None:
    es = one(objects, "Elasticsearch")
    name = es["metadata"]["name"]
    # ECK's self-signed HTTP certificate is on (its SANs include the Service name below).
    assert es["spec"]["http"]["tls"]["selfSignedCertificate"].get("disabled") is not True
    for deployment, container in newsflow_containers(objects):
        env = container_env(objects, container)
        assert env["NEWSFLOW_ELASTICSEARCH__URL"] == f"https://{name}-es-http:9200"
        assert env["NEWSFLOW_ELASTICSEARCH__USERNAME"] == "elastic"
        if deployment["metadata"]["name"] == "newsflow-poller":
            continue  # the poller never talks to Elasticsearch
        ref = env["NEWSFLOW_ELASTICSEARCH__PASSWORD"]["secretKeyRef"]
        assert ref == {"name": f"{name}-es-elastic-user", "key": "elastic"}
        pod = deployment["spec"]["template"]["spec"]
        ca = env["NEWSFLOW_ELASTICSEARCH__CA_CERTS"]
        assert mounted_secret(pod, container, ca) == (f"{name}-es-http-certs-public", "ca.crt")


# -------------------------------------------------------------- Kafka, topics, autoscaling


def test_kafka_is_kraft_with_node_pools_and_a_plain_listener(objects: list[Obj]) -> None:
    kafka = one(objects, "Kafka")
    cluster = kafka["metadata"]["name"]
    pools = every(objects, "KafkaNodePool")
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == cluster for p in pools)
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    assert controllers in (1, 3, 5), "a KRaft quorum of an odd size"
    listener = one([{"kind": "L", "metadata": {"name": x["name"]}, **x}
                    for x in kafka["spec"]["kafka"]["listeners"]], "L", "plain")
    assert (listener["port"], listener["tls"]) == (9092, False)
    peers = [p["podSelector"]["matchLabels"] for p in listener["networkPolicyPeers"]
             if "podSelector" in p]
    for deployment, container in newsflow_containers(objects):
        env = container_env(objects, container)
        assert env["NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS"] == f"{cluster}-kafka-bootstrap:9092"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(peer.items() <= labels.items() for peer in peers), (
            f"{deployment['metadata']['name']} may not reach Kafka through its NetworkPolicy")
    config = kafka["spec"]["kafka"]["config"]
    brokers = broker_count(objects)
    assert config["default.replication.factor"] <= brokers
    # Topics newsflow creates itself get as many replicas as the declared ones.
    replication = int(env_config_map(objects)["NEWSFLOW_KAFKA__REPLICATION_FACTOR"])
    assert replication == config["default.replication.factor"]
    assert config["offsets.topic.replication.factor"] <= brokers
    assert config["min.insync.replicas"] <= config["default.replication.factor"]
    assert config["min.insync.replicas"] < brokers or brokers == 1, "one broker may be down"


def test_every_topic_newsflow_uses_is_declared(objects: list[Obj]) -> None:
    kafka = one(objects, "Kafka")["metadata"]["name"]
    topics = {t["spec"]["topicName"]: t for t in every(objects, "KafkaTopic")}
    taxonomy = yaml.safe_load((ROOT / "processors" / "enrich" / "taxonomy.yaml").read_text())
    tags = [tag["id"] for tag in taxonomy["tags"]]
    assert len(tags) == 10
    expected = {DEFAULTS.kafka.articles_topic, DEFAULTS.kafka.deadletter_topic,
                DEFAULTS.poller.assignment_topic} | {DEFAULTS.kafka.tag_topic(t) for t in tags}
    assert set(topics) == expected
    brokers = broker_count(objects)
    for name, topic in topics.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka, name
        assert topic["spec"]["replicas"] <= brokers, name
        assert topic["spec"]["config"]["min.insync.replicas"] <= topic["spec"]["replicas"], name
    assert topics[DEFAULTS.poller.assignment_topic]["spec"]["partitions"] == (
        DEFAULTS.poller.assignment_partitions)


def test_partitions_and_worker_autoscaling_fit_together(objects: list[Obj]) -> None:
    partitions = articles_topic(objects)["spec"]["partitions"]
    env = env_config_map(objects)
    assert int(env["NEWSFLOW_KAFKA__ARTICLES_PARTITIONS"]) == partitions
    tag_partitions = {t["spec"]["partitions"] for t in every(objects, "KafkaTopic")
                      if t["spec"]["topicName"].startswith(DEFAULTS.kafka.tag_topic_prefix)}
    assert tag_partitions == {int(env["NEWSFLOW_KAFKA__TAG_PARTITIONS"])}

    scaled = one(objects, "ScaledObject", "newsflow-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "newsflow-worker"
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= partitions
    (trigger,) = scaled["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["consumerGroup"] == DEFAULTS.processors.app_id == "newsflow-processors"
    assert meta["topic"] == DEFAULTS.kafka.articles_topic
    assert meta["bootstrapServers"] == env["NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS"]
    assert meta["allowIdleConsumers"] == "false"
    assert int(meta["lagThreshold"]) >= DEFAULTS.processors.batch_size
    worker = one(objects, "Deployment", "newsflow-worker")["spec"]
    assert "replicas" not in worker, "the ScaledObject owns the worker's replicas"


def test_workers_enrich_and_one_ordered_process_runs_the_ordered_stage(
    rendered: dict[str, list[Obj]],
) -> None:
    """Between them the two Deployments run both stages: the autoscaled workers the enrich
    stage, exactly one process the ordered stage (news.enriched has one partition)."""
    for name, objects in rendered.items():
        worker = one(objects, "Deployment", "newsflow-worker")
        ordered = one(objects, "Deployment", "newsflow-ordered")
        for deployment, role in ((worker, "enrich"), (ordered, "ordered")):
            args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
            assert args[:3] == ["worker", "--role", role], (name, args)
            resolve(args)
        assert ordered["spec"]["replicas"] == 1, name
        assert ordered["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        assert not [o for o in every(objects, "ScaledObject")
                    if o["spec"]["scaleTargetRef"]["name"] == "newsflow-ordered"], name


def test_elasticsearch_shards_and_replicas_fit_the_nodes(objects: list[Obj]) -> None:
    es = one(objects, "Elasticsearch")
    kibana = one(objects, "Kibana")
    assert es["spec"]["version"].startswith("8.19.")
    assert kibana["spec"]["version"] == es["spec"]["version"]
    assert kibana["spec"]["elasticsearchRef"]["name"] == es["metadata"]["name"]
    data_nodes = sum(ns["count"] for ns in es["spec"]["nodeSets"]
                     if "data" in ns["config"]["node.roles"])
    masters = sum(ns["count"] for ns in es["spec"]["nodeSets"]
                  if "master" in ns["config"]["node.roles"])
    assert masters in (1, 3, 5)
    settings = env_config_map(objects)
    replicas = int(settings["NEWSFLOW_ELASTICSEARCH__REPLICAS"])
    shards = int(settings["NEWSFLOW_ELASTICSEARCH__SHARDS"])
    assert replicas <= data_nodes - 1, "a replica never sits on its primary's node"
    assert shards >= 1


# ------------------------------------------------------------------------- pod hygiene


def test_pods_are_hardened_and_probed(objects: list[Obj]) -> None:
    job = [kibana_import(objects)]
    for deployment, container in newsflow_containers(objects) + job:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["capabilities"]["drop"] == ["ALL"], name
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{name}: a read-only root needs a writable /tmp"
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        assert "memory" in resources["limits"], name
        if deployment["kind"] == "Job":
            continue  # one-shot: nothing to probe
        for probe in ("livenessProbe", "readinessProbe"):
            assert probe in container, f"{name} has no {probe}"


def test_probes_use_the_ports_newsflow_serves(objects: list[Obj]) -> None:
    worker = one(objects, "Deployment", "newsflow-worker")["spec"]["template"]["spec"]
    container = worker["containers"][0]
    env = container_env(objects, container)
    # Faust's web server and the metrics listen on the pod's address (settings web_host).
    assert env["NEWSFLOW_PROCESSORS__WEB_HOST"] == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["web"] == DEFAULTS.processors.web_port
    assert "NEWSFLOW_PROCESSORS__WEB_PORT" not in env
    metrics_port = int(container["args"][container["args"].index("--metrics-port") + 1])
    assert ports["metrics"] == metrics_port
    assert container["livenessProbe"]["httpGet"] == {"path": "/", "port": "web"}
    for probe in ("startupProbe", "readinessProbe"):  # the worker's own readiness
        assert container[probe]["httpGet"] == {"path": "/readyz", "port": "metrics"}, probe
    api = one(objects, "Deployment", "newsflow-api")["spec"]["template"]["spec"]["containers"][0]
    env = container_env(objects, api)
    assert int(env["NEWSFLOW_API__PORT"]) == DEFAULTS.api.port == 8088
    assert env["NEWSFLOW_API__HOST"] == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports["http"] == DEFAULTS.api.port
    assert api["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    poller = one(objects, "Deployment", "newsflow-poller")["spec"]["template"]["spec"]
    container = poller["containers"][0]
    metrics_port = int(container["args"][container["args"].index("--metrics-port") + 1])
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"] == metrics_port


def test_pdbs_and_service_select_the_pods(objects: list[Obj]) -> None:
    pdbs = every(objects, "PodDisruptionBudget")
    for deployment in every(objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
        covering = [p for p in pdbs
                    if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, f"{deployment['metadata']['name']}: one PDB"
        assert covering[0]["spec"].get("maxUnavailable") == 1
    service = one(objects, "Service", "newsflow-api")
    api = one(objects, "Deployment", "newsflow-api")["spec"]["template"]
    assert service["spec"]["selector"].items() <= api["metadata"]["labels"].items()
    port_names = {p["name"] for p in api["spec"]["containers"][0]["ports"]}
    assert all(p["targetPort"] in port_names for p in service["spec"]["ports"])


def test_everything_is_in_the_newsflow_namespace(objects: list[Obj]) -> None:
    assert one(objects, "Namespace")["metadata"]["name"] == "newsflow"
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "newsflow", obj["metadata"]["name"]


def test_overlays_scale_in_order(rendered: dict[str, list[Obj]]) -> None:
    small, base, large = rendered["overlays/small"], rendered["base"], rendered["overlays/large"]
    by_size = [articles_topic(o)["spec"]["partitions"] for o in (small, base, large)]
    assert by_size == sorted(by_size) and len(set(by_size)) == 3
    assert [broker_count(o) for o in (small, base, large)] == [1, 3, 6]
    most = [one(o, "ScaledObject")["spec"]["maxReplicaCount"] for o in (small, base, large)]
    assert most == sorted(most) and all(m <= p for m, p in zip(most, by_size, strict=True))


# ------------------------------------------------------------------ Kibana saved objects


def test_kibana_import_job_runs_the_real_command_against_eck_kibana(
    objects: list[Obj], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    job, container = kibana_import(objects)
    kibana = one(objects, "Kibana")["metadata"]["name"]
    es = one(objects, "Elasticsearch")["metadata"]["name"]
    assert container["image"] == IMAGE and "command" not in container
    command = resolve(container["args"])
    assert command.name == "import" and container["args"][:2] == ["kibana", "import"]

    env = container_env(objects, container)
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(name)
    for key, value in env.items():
        assert key.startswith("NEWSFLOW_"), key
        monkeypatch.setenv(key, value if isinstance(value, str) else "from-a-secret")
    settings = load_settings().kibana
    assert settings.url == f"https://{kibana}-kb-http:5601"
    assert settings.username == "elastic"
    assert env["NEWSFLOW_KIBANA__PASSWORD"] == {
        "secretKeyRef": {"name": f"{es}-es-elastic-user", "key": "elastic"}}
    pod = job["spec"]["template"]["spec"]
    assert settings.ca_certs is not None
    assert mounted_secret(pod, container, str(settings.ca_certs)) == (
        f"{kibana}-kb-http-certs-public", "ca.crt")
    # The image has the saved objects where the Job looks for them.
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = re.search(r"^COPY deploy/kibana (\S+)$", dockerfile, re.MULTILINE)
    assert copied, "the Dockerfile copies deploy/kibana into the image"
    assert settings.objects_file == Path(copied.group(1)) / "newsflow.ndjson"
    assert (ROOT / "deploy" / "kibana" / "newsflow.ndjson").is_file()


def test_kibana_import_job_retries_and_ends(objects: list[Obj]) -> None:
    job, _ = kibana_import(objects)
    spec = job["spec"]
    # Kibana comes up minutes after the first apply: the Job must retry for that long...
    assert spec["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    assert spec["backoffLimit"] >= 8
    # Kubernetes waits 10 s, 20 s, 40 s, ... (at most 6 min) before each retry: the retries
    # span "about 45 minutes" (deploy/k8s/README.md), inside the Job's deadline.
    backoff_s = sum(min(10 * 2**n, 360) for n in range(spec["backoffLimit"]))
    assert 40 * 60 <= backoff_s < spec["activeDeadlineSeconds"], backoff_s
    # ...and end, and go away so that the next apply runs the (idempotent) import again
    # ("10 minutes after it ended", deploy/k8s/README.md).
    assert spec["activeDeadlineSeconds"] > 0
    assert 0 < spec["ttlSecondsAfterFinished"] <= 600

