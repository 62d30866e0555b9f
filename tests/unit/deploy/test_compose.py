"""docker-compose.yml cannot run here (no Docker engine): check what can be checked.

Every newsflow service must run a real `newsflow` subcommand with options it accepts, every
long-running service needs a healthcheck, and dependencies must name existing services."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from newsflow.cli import cli
from newsflow.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
NEWSFLOW_SERVICES = {
    name: svc for name, svc in SERVICES.items() if svc.get("image", "").startswith("newsflow:")
}


def resolve(args: list[str]) -> click.Command:
    """Walk `newsflow ARGS` down the click tree; fail on an unknown command or option."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="newsflow")
    remaining = list(args)
    while isinstance(command, click.Group) and remaining:
        name = remaining.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"`newsflow {' '.join(args)}`: no command {name!r}"
        command = sub
    # Parsing the rest checks options and arguments without running anything.
    command.make_context(command.name, remaining, resilient_parsing=False)
    return command


def test_the_newsflow_services_exist() -> None:
    assert {"poller", "worker", "ordered"} <= set(NEWSFLOW_SERVICES)
    assert {"kafka", "elasticsearch", "kibana"} <= set(SERVICES)


def test_the_workers_enrich_and_one_process_runs_the_ordered_stage() -> None:
    # The layout Kubernetes runs (deploy/k8s/base): every role is covered exactly once.
    roles: dict[str, str] = {}
    for name, service in NEWSFLOW_SERVICES.items():
        command = service["command"]
        if command[0] == "worker":
            roles[name] = command[command.index("--role") + 1] if "--role" in command \
                else "all"
    assert sorted(roles.values()) == ["enrich", "ordered"], roles


@pytest.mark.parametrize("name", sorted(NEWSFLOW_SERVICES))
def test_each_newsflow_service_runs_a_real_subcommand(name: str) -> None:
    command = NEWSFLOW_SERVICES[name]["command"]
    assert isinstance(command, list) and command, f"{name}: command must be an exec-form list"
    resolved = resolve(command)
    assert not isinstance(resolved, click.Group), f"{name}: {command} names a group, not a command"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_name_existing_services(name: str) -> None:
    depends = SERVICES[name].get("depends_on", {})
    for dependency in depends:
        assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_long_running_services_have_healthchecks(name: str) -> None:
    service = SERVICES[name]
    one_shot = service.get("restart") == "no"
    if not one_shot and name != "poller":
        assert "healthcheck" in service, f"{name} has no healthcheck"
    for dependency, condition in (service.get("depends_on") or {}).items():
        if condition.get("condition") == "service_healthy":
            assert "healthcheck" in SERVICES[dependency], (
                f"{name} waits for {dependency} to be healthy, but it has no healthcheck"
            )


@pytest.mark.parametrize("name", sorted(NEWSFLOW_SERVICES))
def test_each_newsflow_service_environment_builds_valid_settings(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ./newsflow.yaml
    for key in [k for k in os.environ if k.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(key)
    for key, value in (NEWSFLOW_SERVICES[name].get("environment") or {}).items():
        monkeypatch.setenv(key, str(value))
    load_settings()  # extra="forbid": a misspelt key is a ConfigError


def test_worker_healthcheck_asks_faust_web_server_where_it_listens() -> None:
    worker = SERVICES["worker"]
    port = worker["environment"].get("NEWSFLOW_PROCESSORS__WEB_PORT",
                                     Settings().processors.web_port)
    assert f"localhost:{port}/" in " ".join(worker["healthcheck"]["test"])


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"
            else:
                assert (ROOT / source).exists(), f"{name} mounts missing path {source}"


def test_api_is_published_and_health_checked_where_it_listens() -> None:
    api = SERVICES["api"]
    args = api["command"]
    port = args[args.index("--port") + 1]
    # README.md: the API is at http://localhost:8088 on the host.
    assert "127.0.0.1:8088:" + port in api["ports"]
    assert f"localhost:{port}/healthz" in " ".join(api["healthcheck"]["test"])
