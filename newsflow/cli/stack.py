"""`newsflow stack up|down|status|fetch|reset`: the local Kafka + Elasticsearch.

The work is done by deploy/local/stack.sh; this command passes it the stack settings as
environment variables, so that ports and folders come from the same config as everything
else.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click

from newsflow.cli.context import CliContext, pass_cli
from newsflow.errors import ConfigError, StackError

__all__ = ["command", "stack_script"]


def stack_script() -> Path:
    script = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.sh"
    if not script.is_file():
        raise ConfigError(
            f"{script} not found: `newsflow stack` needs a source checkout of newsflow "
            "(the container image runs against external Kafka and Elasticsearch instead)"
        )
    return script


def _run(
    cli_ctx: CliContext, *args: str, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    stack = cli_ctx.settings().stack
    env = dict(os.environ)
    env.update({
        "NEWSFLOW_STACK__HOME": str(stack.home),
        "NEWSFLOW_STACK__KAFKA_PORT": str(stack.kafka_port),
        "NEWSFLOW_STACK__KAFKA_CONTROLLER_PORT": str(stack.kafka_controller_port),
        "NEWSFLOW_STACK__ES_PORT": str(stack.es_port),
        "NEWSFLOW_STACK__ES_TRANSPORT_PORT": str(stack.es_transport_port),
        "NEWSFLOW_STACK__KAFKA_HEAP": stack.kafka_heap,
        "NEWSFLOW_STACK__ES_HEAP": stack.es_heap,
        "NEWSFLOW_STACK__JVM_OPTIONS": stack.jvm_options,
        "NEWSFLOW_STACK__START_TIMEOUT_S": str(stack.start_timeout_s),
    })
    return subprocess.run(
        ["bash", str(stack_script()), *args], env=env, text=True, check=False,
        stdout=subprocess.PIPE if capture else None,
    )


@click.group(name="stack")
def command() -> None:
    """Run the local Kafka (KRaft) and Elasticsearch from Maven Central on 127.0.0.1.

    Downloads are cached under the stack home (default /var/tmp/newsflow/cache); ports
    default to 19092 (Kafka) and 19200 (Elasticsearch), off the standard ones.
    """


def _check(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise StackError(f"stack {what} failed (see the lines above)")


@command.command()
@pass_cli
def up(cli_ctx: CliContext) -> None:
    """Fetch if needed, start both servers and wait until healthy (harmless when up)."""
    _check(_run(cli_ctx, "up"), "up")


@command.command()
@pass_cli
def down(cli_ctx: CliContext) -> None:
    """Stop exactly the processes `up` started, and wait for them to exit."""
    _check(_run(cli_ctx, "down"), "down")


@command.command()
@pass_cli
def fetch(cli_ctx: CliContext) -> None:
    """Download Kafka and Elasticsearch into the cache without starting them."""
    _check(_run(cli_ctx, "fetch"), "fetch")


@command.command()
@pass_cli
def reset(cli_ctx: CliContext) -> None:
    """Stop the stack and delete its data (the download cache is kept)."""
    _check(_run(cli_ctx, "reset"), "reset")


@command.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_cli
def status(cli_ctx: CliContext, as_json: bool) -> None:
    """Report both servers. Exit 0 when both are healthy, 1 otherwise."""
    result = _run(cli_ctx, "status", "--json", capture=True)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise StackError(f"stack status printed no JSON: {result.stdout!r}") from exc
    if as_json:
        CliContext.emit_json(report)
    else:
        for name in ("kafka", "elasticsearch"):
            part = report[name]
            state = "healthy" if part["healthy"] else "running" if part["running"] else "stopped"
            pid = part["pid"] if part["pid"] is not None else "-"
            click.echo(f"{name:<14} {state:<8} {part['address']:<18} pid {pid}")
    if result.returncode != 0:
        raise SystemExit(1)
