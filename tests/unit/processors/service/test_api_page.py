"""The monitor page's routes (no servers: nothing here reaches Elasticsearch or Kafka): served
at / and /static/ with its security headers, outside the OpenAPI description, shipped as
package data, and written so that article text is never parsed as HTML."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path

import httpx

from newsflow.settings import Settings
from processors.service.api import WEB_DIR, create_app

ROOT = Path(__file__).resolve().parents[4]


def get_all(paths: list[str]) -> dict[str, httpx.Response]:
    """GET each path from the app in-process (no server, no backend reached)."""
    async def run() -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with httpx.AsyncClient(transport=transport, base_url="http://page") as http:
            return {path: await http.get(path) for path in paths}

    return asyncio.run(run())


SCRIPTS = ("app.js", "api.js", "dom.js", "live.js", "timeline.js")


def test_the_page_and_its_files_are_served_with_their_headers() -> None:
    replies = get_all(["/", *(f"/static/{name}" for name in SCRIPTS), "/static/style.css",
                       "/static/favicon.svg", "/static/nope.js", "/static/%2e%2e/api.py"])
    page = replies["/"]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp
    for name in SCRIPTS:
        script = replies[f"/static/{name}"]
        assert script.status_code == 200, name
        assert script.headers["content-type"].split(";")[0] in (
            "text/javascript", "application/javascript")
        assert script.headers["content-security-policy"] == csp
    assert replies["/static/style.css"].headers["content-type"].startswith("text/css")
    assert replies["/static/favicon.svg"].status_code == 200
    assert replies["/static/nope.js"].status_code == 404
    assert replies["/static/%2e%2e/api.py"].status_code == 404


def test_the_page_routes_stay_out_of_the_openapi_description() -> None:
    paths = set(create_app(Settings()).openapi()["paths"])
    assert paths == {"/search", "/articles/{article_id}", "/tags", "/stats", "/streams/{tag}",
                     "/healthz", "/metrics", "/stories", "/stories/{story_id}",
                     "/alerts/recent", "/alerts/stream", "/streams/watch/{name}"}


def test_every_file_the_page_loads_exists_and_is_local() -> None:
    html = (WEB_DIR / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="/static/([^"]+)"', html))
    for module in WEB_DIR.glob("*.js"):
        referenced |= set(re.findall(r'from "\./([^"]+)"', module.read_text()))
    assert referenced, "the page references no files"
    for name in referenced:
        assert (WEB_DIR / name).is_file(), name
    # No CDN, no other origin: everything comes from this server.
    for path in WEB_DIR.iterdir():
        assert not re.search(r"(?:src|href|from)\s*=?\s*[\"']https?://", path.read_text()), path


def test_no_text_is_ever_parsed_as_html() -> None:
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|"
                       r"createContextualFragment|DOMParser|\beval\(|new Function")
    for module in WEB_DIR.glob("*.js"):
        code = re.sub(r"//.*", "", module.read_text())
        assert not sinks.search(code), f"{module.name}: {sinks.search(code)}"


def test_the_page_is_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["processors.service"]
    shipped = {p.name for pattern in patterns
               for p in (ROOT / "processors" / "service").glob(pattern)}
    assert {p.name for p in WEB_DIR.iterdir()} <= shipped
