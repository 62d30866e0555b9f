"""`newsflow feeds`: the feed registry (add, remove, list, OPML) and feed health."""

from __future__ import annotations

from pathlib import Path

import click

from newsflow.cli.context import CliContext, pass_cli

__all__ = ["command"]

_FEEDS_OPTION = click.option(
    "--feeds", "feeds_file", type=click.Path(path_type=Path, dir_okay=False),
    help="Feed list, YAML or OPML (default: settings poller.feeds_file).")


def _feeds_path(cli_ctx: CliContext, feeds_file: Path | None) -> Path:
    return feeds_file or cli_ctx.settings().poller.feeds_file


@click.group(name="feeds")
def command() -> None:
    """The feed list (YAML or OPML) and the health of each feed.

    A running `newsflow poll` re-reads the list when the file changes.
    """


@command.command()
@click.argument("url")
@click.option("--name", default="", help="Display name.")
@click.option("--language", help="Declared language (e.g. en), else the feed's, else detected.")
@click.option("--label", "labels", multiple=True, help="Label (repeatable).")
@click.option("--min-interval", help="Shortest polling interval (60, 90s, 5m, 1h).")
@click.option("--max-interval", help="Longest polling interval.")
@click.option("--allow-private", is_flag=True,
              help="Let this feed reach private/loopback addresses (SSRF guard exemption).")
@_FEEDS_OPTION
@pass_cli
def add(cli_ctx: CliContext, url: str, name: str, language: str | None, labels: tuple[str, ...],
        min_interval: str | None, max_interval: str | None, allow_private: bool,
        feeds_file: Path | None) -> None:
    """Add a feed to the list."""
    from ingest.feeds import parse_feed_list
    from ingest.registry import add_feed

    item: dict[str, object] = {"url": url, "name": name, "labels": list(labels),
                               "allow_private": allow_private}
    if language:
        item["language"] = language
    if min_interval:
        item["min_interval"] = min_interval
    if max_interval:
        item["max_interval"] = max_interval
    import yaml

    spec = parse_feed_list(yaml.safe_dump([item]), "feeds add")[0]
    path = _feeds_path(cli_ctx, feeds_file)
    if add_feed(path, spec):
        click.echo(f"added {spec.url} to {path}")
    else:
        click.echo(f"{spec.url} is already in {path}")


@command.command()
@click.argument("url")
@_FEEDS_OPTION
@pass_cli
def remove(cli_ctx: CliContext, url: str, feeds_file: Path | None) -> None:
    """Remove a feed from the list (its state stays, for a later re-add)."""
    from ingest.registry import remove_feed
    from newsflow.errors import ConfigError

    path = _feeds_path(cli_ctx, feeds_file)
    if not remove_feed(path, url):
        raise ConfigError(f"{url} is not in {path}")
    click.echo(f"removed {url} from {path}")


@command.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@_FEEDS_OPTION
@pass_cli
def list_(cli_ctx: CliContext, as_json: bool, feeds_file: Path | None) -> None:
    """List the feeds and their options."""
    from ingest.registry import list_feeds

    for spec in list_feeds(_feeds_path(cli_ctx, feeds_file)):
        if as_json:
            cli_ctx.emit_json({
                "url": spec.url, "name": spec.name, "language": spec.language,
                "labels": list(spec.labels), "min_interval_s": spec.min_interval_s,
                "max_interval_s": spec.max_interval_s, "allow_private": spec.allow_private,
                "enabled": spec.enabled,
            })
        else:
            extras = [f"labels={','.join(spec.labels)}" if spec.labels else "",
                      f"lang={spec.language}" if spec.language else "",
                      "allow_private" if spec.allow_private else "",
                      "disabled" if not spec.enabled else ""]
            click.echo("  ".join(p for p in [spec.url, spec.name, *extras] if p))


@command.command(name="import-opml")
@click.argument("opml_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_FEEDS_OPTION
@pass_cli
def import_opml_(cli_ctx: CliContext, opml_file: Path, feeds_file: Path | None) -> None:
    """Add the feeds of an OPML file to the list."""
    from ingest.registry import import_opml

    path = _feeds_path(cli_ctx, feeds_file)
    added, known = import_opml(path, opml_file)
    click.echo(f"imported {added} feeds into {path} ({known} already listed)")


@command.command(name="export-opml")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file (default: stdout).")
@_FEEDS_OPTION
@pass_cli
def export_opml_(cli_ctx: CliContext, output: Path | None, feeds_file: Path | None) -> None:
    """Write the feed list as OPML."""
    from ingest.registry import export_feeds

    text = export_feeds(_feeds_path(cli_ctx, feeds_file))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


@command.command()
@click.argument("url")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False))
@_FEEDS_OPTION
@pass_cli
def enable(cli_ctx: CliContext, url: str, state_dir: Path | None,
           feeds_file: Path | None) -> None:
    """Re-enable a feed the poller disabled after repeated failures."""
    from ingest.registry import enable_feed
    from newsflow.errors import ConfigError

    path = _feeds_path(cli_ctx, feeds_file)
    if not enable_feed(path, state_dir or cli_ctx.settings().poller.state_dir, url):
        raise ConfigError(f"{url} is not in {path}")
    click.echo(f"enabled {url}")


@command.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False))
@_FEEDS_OPTION
@pass_cli
def health(cli_ctx: CliContext, as_json: bool, state_dir: Path | None,
           feeds_file: Path | None) -> None:
    """Per feed: status, last success, last error and reason, items, next poll."""
    from ingest.registry import feed_health

    rows = feed_health(_feeds_path(cli_ctx, feeds_file),
                       state_dir or cli_ctx.settings().poller.state_dir)
    if as_json:
        for row in rows:
            cli_ctx.emit_json(row.as_dict())
        return
    header = ("STATUS", "ITEMS", "NEW24H", "LAST SUCCESS", "NEXT POLL", "URL")
    click.echo(f"{header[0]:<9}{header[1]:>7}{header[2]:>8}  {header[3]:<21}{header[4]:<21}"
               f"{header[5]}")
    for row in rows:
        click.echo(f"{row.status:<9}{row.items_seen:>7}{row.new_24h:>8}  "
                   f"{row.last_success or '-':<21}{row.next_poll or '-':<21}{row.url}")
        if row.reason and row.status != "ok":
            click.echo(f"         reason: {row.reason}")
