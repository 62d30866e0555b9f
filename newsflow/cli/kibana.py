"""`newsflow kibana import`: load the data view, saved searches and dashboard into Kibana."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from newsflow.cli.context import CliContext, pass_cli
from newsflow.errors import KibanaImportError

__all__ = ["command", "import_saved_objects"]


def import_saved_objects(
    url: str, ndjson: Path, *, space: str | None = None, auth: tuple[str, str] | None = None,
    overwrite: bool = True, timeout_s: float = 60.0, ca_certs: Path | None = None,
) -> dict[str, Any]:
    """POST the ndjson to Kibana's saved-objects import API; return its JSON answer.

    ``ca_certs``: a CA bundle to trust for an https URL (else the system's).
    Raises KibanaImportError when Kibana cannot be reached, answers non-2xx, or reports
    objects that failed to import.
    """
    import ssl

    import httpx

    verify: ssl.SSLContext | bool = True
    if ca_certs is not None:
        try:
            verify = ssl.create_default_context(cafile=str(ca_certs))
        except (OSError, ssl.SSLError) as exc:
            raise KibanaImportError(f"cannot load the CA bundle {ca_certs}: {exc}",
                                    url=url) from exc
    base = url.rstrip("/") + (f"/s/{space}" if space else "")
    try:
        response = httpx.post(
            f"{base}/api/saved_objects/_import",
            params={"overwrite": "true"} if overwrite else None,
            headers={"kbn-xsrf": "true"},
            files={"file": (ndjson.name, ndjson.read_bytes(), "application/ndjson")},
            auth=auth,
            timeout=timeout_s,
            verify=verify,
        )
    except httpx.HTTPError as exc:
        raise KibanaImportError(f"cannot reach Kibana at {url}: {exc}", url=url) from exc
    if response.status_code // 100 != 2:
        raise KibanaImportError(
            f"Kibana answered {response.status_code} to the import: {response.text[:300]}",
            url=url, status=response.status_code,
        )
    answer: dict[str, Any] = response.json()
    if not answer.get("success", False):
        errors = answer.get("errors", [])
        problems = "; ".join(
            f"{err.get('type')}/{err.get('id')}: {err.get('error', {}).get('type', err)}"
            for err in errors[:10]
        )
        raise KibanaImportError(
            f"Kibana refused some objects: {problems}", url=url, status=response.status_code,
            failed=tuple(f"{err.get('type')}/{err.get('id')}" for err in errors),
        )
    return answer


@click.group(name="kibana")
def command() -> None:
    """Kibana saved objects: data views (articles, stories, alerts), a saved search per tag,
    stories and alerts searches, and a dashboard."""


@command.command(name="import")
@click.option("--url", help="Kibana's URL (default: settings kibana.url).")
@click.option("--file", "objects_file", type=click.Path(path_type=Path, dir_okay=False,
              exists=True), help="ndjson to import (default: deploy/kibana/newsflow.ndjson).")
@click.option("--space", help="Kibana space (default: the default space).")
@click.option("--json", "as_json", is_flag=True, help="Print Kibana's answer as JSON.")
@pass_cli
def import_command(cli_ctx: CliContext, url: str | None, objects_file: Path | None,
                   space: str | None, as_json: bool) -> None:
    """Import (overwrite) newsflow's saved objects through Kibana's saved-objects API."""
    settings = cli_ctx.settings().kibana
    auth = None
    if settings.username and settings.password is not None:
        auth = (settings.username, settings.password.get_secret_value())
    answer = import_saved_objects(
        url or settings.url, objects_file or settings.objects_file,
        space=space or settings.space, auth=auth, ca_certs=settings.ca_certs,
    )
    if as_json:
        CliContext.emit_json(answer)
    else:
        click.echo(f"imported {answer.get('successCount', 0)} saved objects into Kibana")
