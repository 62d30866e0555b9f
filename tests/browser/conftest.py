"""Fixtures for the monitor page's browser tests: Debian's Chromium driven by Playwright (never
Playwright's own browser download), `newsflow api` as a subprocess against the real local
Kafka and Elasticsearch with names unique to the test, and a screenshot of every test under
test-output/browser/."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.browser.pagedata import create_index
from tests.integration.processors_support import NEWSFLOW, Names, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "browser"
# Debian's package (make test installs it with apt when missing); NEWSFLOW_CHROMIUM
# points elsewhere.
CHROMIUM = os.environ.get("NEWSFLOW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


# Routes of later servers (alerts, stories, watches): until they exist their 404 is expected.
LATER_ROUTES = ("/alerts/", "/stories", "/streams/watch/")


def open_page(page: Page, api: ApiServer) -> None:
    page.goto(api.base + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


class ApiServer:
    """`newsflow api` on a fixed free port; can be killed and started again on that port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ApiServer:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen([*NEWSFLOW, "api", "--port", str(self.port)],
                                         env=self.env, stdout=subprocess.DEVNULL, stderr=log)

        def answers() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, f"newsflow api exited:\n{self.output()}"
            try:  # 200 or 503 (a backend down): either way the API is up
                return httpx.get(f"{self.base}/healthz", timeout=5).status_code in (200, 503)
            except httpx.HTTPError:
                return False

        wait_for(answers, 60, "the API to answer")
        return self

    def kill(self) -> None:
        """Gone without goodbye: every open connection drops."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            return None

    def output(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""

    def route_exists(self, path: str) -> bool:
        """False while `path` answers FastAPI's own 404 (the route is not on this server)."""
        reply = httpx.get(f"{self.base}{path}", timeout=30)
        return not (reply.status_code == 404 and reply.json().get("detail") == "Not Found")


@dataclass
class Console:
    """What the page said: console messages and uncaught errors."""

    messages: list[ConsoleMessage] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def errors(self, *, allow_paths: tuple[str, ...] = ()) -> list[str]:
        """Console errors, less failed loads of the given URL paths (routes a later server
        adds: their 404 is expected until then)."""
        found = []
        for message in self.messages:
            if message.type != "error":
                continue
            url = message.location.get("url", "") if message.location else ""
            path = re.sub(r"^https?://[^/]+", "", url)
            if allow_paths and "Failed to load resource" in message.text and any(
                path.startswith(p) for p in allow_paths
            ):
                continue
            found.append(f"{message.text} ({url})")
        return found + [f"uncaught: {e}" for e in self.page_errors]


# Per module, not per session: while Playwright's sync API is open, its event loop counts as
# running in this thread, and any later test's asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium "
                    "(apt-get install -y chromium); or set NEWSFLOW_CHROMIUM")
    # Debian's Chromium, never a browser Playwright downloads; root needs --no-sandbox.
    browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                         args=["--no-sandbox", "--disable-gpu"])
    yield browser
    browser.close()


@pytest.fixture
def names() -> Iterator[Names]:
    names = Names()
    yield names
    names.cleanup()


@pytest.fixture
def api_env(names: Names, tmp_path: Path) -> dict[str, str]:
    return names.env(tmp_path)


@pytest.fixture
def api(api_env: dict[str, str], names: Names, tmp_path: Path) -> Iterator[ApiServer]:
    """`newsflow api` on the test's own topics and index (created empty, as a worker's first
    start does: before that, search answers 502 index_not_found)."""
    create_index(names)
    server = ApiServer(api_env, tmp_path / "api.log").start()
    yield server
    server.stop()


def _screenshot_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page at 1280x800 (nothing remembered from other tests); its screenshot is
    saved under test-output/browser/ when the test ends, passed or failed."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.on("console", lambda message: console.messages.append(message))
    page.on("pageerror", lambda error: console.page_errors.append(str(error)))
    try:
        yield page
    finally:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        try:
            if page.url != "about:blank":  # a test that skipped before opening the page
                page.screenshot(path=str(OUTPUT / f"{_screenshot_name(request)}.png"))
        finally:
            context.close()
