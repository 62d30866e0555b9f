"""`newsflow api`: the HTTP API (search, articles, tags, stats, SSE tag streams)."""

from __future__ import annotations

import json
import signal
from types import FrameType

import click

from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]


@click.command(name="api")
@click.option("--host", help="Address to listen on (default: api.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: api.port, 8088).")
@click.option("--openapi", "print_openapi", is_flag=True,
              help="Print the OpenAPI description (JSON) and exit.")
@pass_cli
def command(cli_ctx: CliContext, host: str | None, port: int | None,
            print_openapi: bool) -> None:
    """Serve the HTTP API: GET /search, /articles/{id}, /tags, /stats, /streams/{tag}
    (Server-Sent Events, resumable with Last-Event-ID), /healthz, /metrics; the OpenAPI
    description at /openapi.json and interactive docs at /docs; the monitor page at /.
    Stops on Ctrl-C/SIGTERM.
    """
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = cli_ctx.settings({"api": overrides} if overrides else None)

    from processors.service.api import create_app

    app = create_app(settings)
    if print_openapi:
        click.echo(json.dumps(app.openapi(), indent=2))
        return
    import uvicorn

    def exit_ok(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the handler it found:
    # a requested stop is a normal exit (0), as for `newsflow worker`.
    signal.signal(signal.SIGTERM, exit_ok)
    # log_config=None keeps newsflow's logging set-up.
    uvicorn.run(app, host=settings.api.host, port=settings.api.port, log_config=None,
                access_log=False)
