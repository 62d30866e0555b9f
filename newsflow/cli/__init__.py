"""The `newsflow` command: the composition root.

Each command lives in its own module, parses its flags, calls one function of ingest/ or
processors/ (imported inside the command, so that `newsflow --help` stays fast), and renders
text or --json. Errors: one line on stderr and exit 1 (2 for usage); --verbose adds the
traceback.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import click

from newsflow.cli.context import CliContext
from newsflow.errors import ConfigError, NewsflowError
from newsflow.logs import setup_logging

__all__ = ["cli", "main"]

# Exit codes that scripts can rely on: 0 success, 1 error, 2 usage (click's own), 130
# interrupted.
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              envvar="NEWSFLOW_CONFIG", help="YAML settings file (default: ./newsflow.yaml).")
@click.option("-v", "--verbose", count=True, help="More logging; tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.version_option(package_name="newsflow")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, verbose: int, quiet: bool) -> None:
    """newsflow: poll news feeds into Kafka, enrich and tag them with Faust agents, index
    them in Elasticsearch and stream each topic tag on its own Kafka topic.

    Settings come from defaults (the local stack), then the YAML file, then NEWSFLOW_*
    environment variables, then flags.
    """
    setup_logging(verbose=verbose, quiet=quiet)
    ctx.obj = CliContext(config_file=config_file, verbose=verbose)


# One module per command, each exposing `command`. Imported here, but each module keeps
# its heavy imports (Faust, spaCy, clients) inside its functions.
_COMMAND_MODULES = (
    "stack",
    "poll",
    "feeds",
    "enrich",
    "cluster",
    "worker",
    "search",
    "subscribe",
    "watch",
    "stories",
    "alerts",
    "stats",
    "retag",
    "tagger",
    "api",
    "kibana",
)


def _register() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"newsflow.cli.{name}")
        cli.add_command(module.command)


_register()


def main(argv: list[str] | None = None) -> Any:
    verbose = "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv)
    try:
        return cli.main(args=argv, prog_name="newsflow", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except ConfigError as exc:
        click.echo(f"newsflow: configuration error: {exc}", err=True)
        if verbose:
            traceback.print_exc()
        sys.exit(EXIT_ERROR)
    except NewsflowError as exc:
        click.echo(f"newsflow: {exc}", err=True)
        if verbose:
            traceback.print_exc()
        sys.exit(EXIT_ERROR)
