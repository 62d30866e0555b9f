"""Render deploy/k8s with kustomize and validate every object, without a cluster.

- Built-in kinds (Deployment, Service, ...): the Kubernetes OpenAPI schemas that the PyPI
  package kubernetes-validate ships, in their strict form (unknown fields are errors, as with
  ``kubectl apply``'s default server-side field validation).
- Custom resources (Strimzi Kafka/KafkaNodePool/KafkaTopic, ECK Elasticsearch/Kibana, KEDA
  ScaledObject): the openAPIV3Schema of the operators' own CRDs (fetched by fetch.sh from
  Maven Central and the Go module proxy), turned into JSON Schema the way the API server reads
  it: ``nullable``, ``x-kubernetes-int-or-string``, and unknown fields rejected unless the
  schema says ``x-kubernetes-preserve-unknown-fields``. Their ``metadata`` is checked against
  Kubernetes' ObjectMeta, and pod templates the CRDs leave open (ECK's ``podTemplate``)
  against Kubernetes' PodTemplateSpec.

Used by tests/unit/deploy/test_k8s.py; by hand:
    python deploy/k8s/tools/validate.py [deploy/k8s/overlays/small ...]
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
K8S_DIR = HERE.parent
FETCH = HERE / "fetch.sh"
# The oldest Kubernetes the manifests are meant for (the operators' own floors are close).
KUBERNETES_VERSION = "1.31"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_POD_TEMPLATE = "io.k8s.api.core.v1.PodTemplateSpec"


class ToolAbsent(Exception):
    """A tool fetch.sh needs (go, mvn, Java >= 21) is not on this machine."""


def fetch(item: str, timeout_s: float = 900) -> Path:
    """Path of a fetched item (kustomize binary or a directory of CRD YAML files)."""
    proc = subprocess.run(["bash", str(FETCH), item], capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"fetch.sh {item} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    status, name, rest = proc.stdout.strip().splitlines()[-1].split(" ", 2)
    if status == "absent":
        raise ToolAbsent(f"{name}: {rest}")
    return Path(rest)


def render(kustomize: Path, directory: Path) -> list[dict[str, Any]]:
    proc = subprocess.run([str(kustomize), "build", str(directory)], capture_output=True,
                          text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"kustomize build {directory} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


# ------------------------------------------------------------------ CRD schema -> JSON Schema

_DROP = {"description", "example", "externalDocs", "nullable"}


def crd_to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """One openAPIV3Schema node as JSON Schema, read as the API server reads it."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key.startswith("x-kubernetes-"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: crd_to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = crd_to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [crd_to_json_schema(sub) for sub in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        node.get("type") == "object"
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        # The API server drops (and kubectl's strict field validation rejects) fields a
        # structural schema does not name: a misspelt key is an error here.
        out["additionalProperties"] = False
    return out


@dataclass
class CrdSchemas:
    """JSON Schemas of custom resources, by (apiVersion, kind)."""

    schemas: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_crd_file(self, path: Path) -> None:
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served", True):
                    continue
                key = (f"{group}/{version['name']}", kind)
                self.schemas[key] = crd_to_json_schema(version["schema"]["openAPIV3Schema"])
                self.sources[key] = path.name

    def add_dir(self, directory: Path) -> None:
        for path in sorted(directory.glob("*.yaml")):
            self.add_crd_file(path)


# ---------------------------------------------------------------------------- validation


def _k8s_definitions(version: str) -> dict[str, Any]:
    folder = f"v{version}.0-local-strict"
    path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / folder
    return json.loads((path / "_definitions.json").read_text(encoding="utf-8"))["$defs"]


def _name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('name')}"


def _errors(validator: jsonschema.protocols.Validator, instance: Any, where: str) -> Iterator[str]:
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        yield f"{where}: {path}: {error.message}"


class Validator:
    def __init__(self, crds: CrdSchemas, version: str = KUBERNETES_VERSION) -> None:
        self.crds = crds
        self.version = version
        defs = _k8s_definitions(version)
        self._meta = jsonschema.Draft202012Validator(
            {"$defs": defs, "$ref": f"#/$defs/{_META}"})
        self._pod_template = jsonschema.Draft202012Validator(
            {"$defs": defs, "$ref": f"#/$defs/{_POD_TEMPLATE}"})
        self._cr: dict[tuple[str, str], jsonschema.Draft202012Validator] = {}

    def errors(self, obj: dict[str, Any]) -> list[str]:
        """Every schema violation of one object ([] when it is valid)."""
        where = _name(obj)
        key = (obj.get("apiVersion", ""), obj.get("kind", ""))
        if key in self.crds.schemas:
            return list(self._custom_resource_errors(obj, key, where))
        try:
            kubernetes_validate.validate(obj, self.version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(root)"
            return [f"{where}: {path}: {exc.message}"]
        except kubernetes_validate.SchemaNotFoundError as exc:
            return [f"{where}: no schema: {exc.message}"]
        return []

    def _custom_resource_errors(
        self, obj: dict[str, Any], key: tuple[str, str], where: str
    ) -> Iterator[str]:
        validator = self._cr.get(key)
        if validator is None:
            validator = jsonschema.Draft202012Validator(self.crds.schemas[key])
            self._cr[key] = validator
        yield from _errors(validator, obj, where)
        yield from _errors(self._meta, obj.get("metadata"), f"{where} metadata")
        for path, template in _open_pod_templates(obj):
            yield from _errors(self._pod_template, template, f"{where} {path}")


def _open_pod_templates(obj: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """ECK's podTemplate fields: PodTemplateSpecs its CRDs do not describe."""
    spec = obj.get("spec") or {}
    if "podTemplate" in spec:
        yield "spec.podTemplate", spec["podTemplate"]
    for n, node_set in enumerate(spec.get("nodeSets") or []):
        if "podTemplate" in node_set:
            yield f"spec.nodeSets.{n}.podTemplate", node_set["podTemplate"]


def load_crds(items: Iterable[str] = ("strimzi", "eck", "keda")) -> CrdSchemas:
    crds = CrdSchemas()
    for item in items:
        crds.add_dir(fetch(item))
    return crds


def main(argv: list[str]) -> int:
    dirs = [Path(a) for a in argv] or [K8S_DIR / "overlays" / "small",
                                       K8S_DIR / "overlays" / "large"]
    kustomize = fetch("kustomize")
    validator = Validator(load_crds())
    failed = 0
    for directory in dirs:
        objects = render(kustomize, directory)
        problems = [e for obj in copy.deepcopy(objects) for e in validator.errors(obj)]
        for problem in problems:
            print(f"{directory}: {problem}")
        print(f"{directory}: {len(objects)} objects, {len(problems)} problems")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
