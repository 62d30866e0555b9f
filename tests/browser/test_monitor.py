"""The monitor page (`newsflow api` at /) in Debian's Chromium, against the real local Kafka
and Elasticsearch: it loads cleanly, tag streams are live and resume after a dropped
connection without duplicates or gaps, search filters and highlights, a backend that is down
shows a banner, and it is usable from the keyboard and in a narrow window."""

from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import OUTPUT, ApiServer, Console, open_page
from tests.browser.pagedata import enriched, index_articles
from tests.integration.processors_support import (
    NEWSFLOW,
    Names,
    Worker,
    make_article,
    produce_articles,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

TAG = "military-cooperation"
def later_routes_missing(api: ApiServer) -> tuple[str, ...]:
    missing = []
    if not api.route_exists("/alerts/recent?size=1"):
        missing.append("/alerts/")
    if not api.route_exists("/stories?size=1"):
        missing.append("/stories")
    return tuple(missing)


def follow_tag(page: Page, tag: str) -> None:
    page.locator("#follow-tag-input").fill(tag)
    page.locator("#follow-tag-input").press("Enter")
    expect(stream_panel(page, tag)).to_have_attribute("data-state", "live")


def stream_panel(page: Page, name: str, kind: str = "tag") -> Locator:
    return page.locator(f'.stream[data-kind="{kind}"][data-name="{name}"]')


def shown_ids(page: Page, name: str) -> list[str]:
    ids: list[str] = stream_panel(page, name).locator("li.article").evaluate_all(
        "items => items.map(li => li.dataset.id)")
    return ids


def test_page_loads_with_every_part_and_no_console_errors(
    api: ApiServer, names: Names, page: Page, console: Console,
) -> None:
    index_articles(names, [
        enriched(1, "Navies of India and France hold joint patrol", tags=(TAG,),
                 entities=(("India", "GPE"),), minutes_ago=30),
        enriched(2, "Bakery wins national bread award", source="food.example", minutes_ago=90),
    ])
    open_page(page, api)
    expect(page).to_have_title("newsflow monitor")
    for name in ("api", "elasticsearch", "kafka"):
        expect(page.locator(f"#health-{name}")).to_have_attribute("data-state", "ok")
    expect(page.locator("#banners .banner")).to_have_count(0)
    expect(page.locator("body")).to_have_attribute("data-tags", "loaded")
    assert page.locator(f'#tag-options option[value="{TAG}"]').count() == 1
    # The latest articles, newest first, before anything is searched.
    expect(page.locator("#search-results li.hit")).to_have_count(2)
    expect(page.locator("#search-summary")).to_have_text("2 articles, newest first")
    # Every part says what it has, or why it has nothing.
    expect(page.locator("#streams-empty")).to_be_visible()
    expect(page.locator("#alerts-empty")).not_to_have_text("Loading alerts…")
    expect(page.locator("#stories-empty")).not_to_have_text("Loading stories…")
    alerts_text = page.locator("#alerts-empty").inner_text()
    stories_text = page.locator("#stories-empty").inner_text()
    missing = later_routes_missing(api)
    if "/alerts/" in missing:
        assert alerts_text == "Alerts are not available on this server yet."
    if "/stories" in missing:
        assert stories_text == "Stories are not available on this server yet."
    page.wait_for_timeout(1000)  # late errors (a stream, a timer) would show by now
    assert console.errors(allow_paths=missing) == []


def test_search_filters_and_highlights_mentions_safely(
    api: ApiServer, names: Names, page: Page, console: Console,
) -> None:
    coop = enriched(1, "Navies of India and France hold joint patrol", tags=(TAG,),
                    summary="The joint patrol in the Indian Ocean is the third this year.",
                    entities=(("India", "GPE"), ("France", "GPE")), minutes_ago=10)
    other = enriched(2, "Bakery wins national bread award", source="food.example",
                     minutes_ago=20)
    # Markup in an article is text, never HTML: it must show as the characters it is.
    hostile = enriched(3, '<img src=x onerror="window.__xss=1">Sanctions <b>notice</b> '
                       '<script>window.__xss=2</script>', tags=("sanctions",),
                       summary="New sanctions <iframe src=javascript:alert(1)>", minutes_ago=5)
    index_articles(names, [coop, other, hostile])
    open_page(page, api)

    page.locator("#search-q").fill("joint patrol")
    page.locator("#search-tag").fill(TAG)
    page.locator("#search-q").press("Enter")
    hits = page.locator("#search-results li.hit")
    expect(hits).to_have_count(1)
    expect(page.locator("#search-summary")).to_have_text("1 article match")
    hit = hits.first
    assert hit.get_attribute("data-id") == coop.id
    assert hit.locator(".title mark").all_inner_texts() == ["joint", "patrol"]
    expect(hit.locator(".title")).to_have_text(coop.title)
    assert hit.locator(".snippet mark").all_inner_texts() == ["joint", "patrol"]
    assert page.url.endswith(f"?q=joint+patrol&tag={TAG}")  # a search can be bookmarked

    # Entity filter (case-insensitive), then source filter, without words.
    page.locator("#search-q").fill("")
    page.locator("#search-tag").fill("")
    page.locator("#search-entity").fill("india")
    page.locator("#search-form button[type=submit]").click()
    expect(hits).to_have_count(1)
    assert hits.first.get_attribute("data-id") == coop.id
    page.locator("#search-entity").fill("")
    page.locator("#search-source").fill("food.example")
    page.locator("#search-source").press("Enter")
    expect(hits).to_have_count(1)
    assert hits.first.get_attribute("data-id") == other.id

    # Nothing matches: a clear empty state, not an empty box.
    page.locator("#search-source").fill("")
    page.locator("#search-q").fill("zeppelin")
    page.locator("#search-q").press("Enter")
    expect(hits).to_have_count(0)
    expect(page.locator("#search-summary")).to_have_text(
        "No articles match. Try fewer words or filters.")

    # The hostile article: highlighted, and still only text.
    page.locator("#search-q").fill("sanctions")
    page.locator("#search-q").press("Enter")
    expect(hits).to_have_count(1)
    title = hits.first.locator(".title")
    expect(title).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(title).to_contain_text("<script>window.__xss=2</script>")
    assert title.locator("mark").all_inner_texts() == ["Sanctions"]
    assert hits.first.locator("img, script, iframe, b").count() == 0
    assert page.evaluate("window.__xss") is None
    page.locator("#search-results").scroll_into_view_if_needed()
    assert console.errors(allow_paths=later_routes_missing(api)) == []


def test_tag_stream_shows_new_articles_live(
    api: ApiServer, names: Names, page: Page, console: Console,
) -> None:
    open_page(page, api)
    follow_tag(page, TAG)
    panel = stream_panel(page, TAG)
    expect(panel.locator(".empty")).to_be_visible()
    article = enriched(1, "India and Japan begin joint naval drills", tags=(TAG,),
                       entities=(("India", "GPE"), ("Japan", "GPE")))
    started = time.monotonic()
    produce_articles(names.tag_topic(TAG), [article])
    item = panel.locator(f'li.article[data-id="{article.id}"]')
    expect(item).to_be_visible(timeout=10000)
    took = time.monotonic() - started
    expect(item.locator(".title")).to_have_text(article.title)
    expect(item.locator(".chip")).to_have_text([TAG])
    expect(panel.locator(".count")).to_have_text("1 article")
    assert took < 10, f"the article took {took:.1f} s to show"
    assert console.errors(allow_paths=later_routes_missing(api)) == []


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a folder of feeds."""
    folder = tmp_path / "feeds"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


# Wire copy written for this test; the real tagger gives it military-cooperation.
POLLED = {
    "link": "https://wire.example.com/world/2026/12/03/baltic-joint-naval-exercise",
    "title": "Poland and Lithuania hold joint naval exercise in the Baltic Sea",
    "description": "Polish and Lithuanian warships began a joint naval exercise in the Baltic "
                   "Sea on Wednesday, the defence ministries in Warsaw and Vilnius said, the "
                   "latest sign of deepening military cooperation between the two allies.",
}


def test_an_article_polled_from_a_local_feed_appears_on_its_tag_stream_within_seconds(
    api: ApiServer, names: Names, page: Page, console: Console, tmp_path: Path,
    feed_server: tuple[str, Path],
) -> None:
    base, folder = feed_server
    env = names.env(tmp_path, NEWSFLOW_POLLER__STATE_DIR=str(tmp_path / "poller-state"),
                    NEWSFLOW_POLLER__GROUP_ID=f"it-{names.run}-poller",
                    NEWSFLOW_POLLER__ASSIGNMENT_TOPIC=f"it-{names.run}.assignment",
                    NEWSFLOW_POLLER__MIN_HOST_GAP_S="0", NEWSFLOW_ALLOW_HOSTS="127.0.0.1")
    worker = Worker(env, tmp_path / "worker.log")
    try:
        open_page(page, api)
        follow_tag(page, TAG)
        worker.wait_ready()
        published = format_datetime(datetime.now(UTC) - timedelta(minutes=5))
        (folder / "wire.xml").write_text(
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            "<title>Wire</title><link>https://wire.example.com/</link><description>test"
            f"</description><item><title>{POLLED['title']}</title><link>{POLLED['link']}"
            f"</link><guid>{POLLED['link']}</guid><pubDate>{published}</pubDate>"
            f"<description>{POLLED['description']}</description></item></channel></rss>",
            encoding="utf-8")
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {base}/wire.xml\n    name: Wire\n")
        polled = subprocess.run([*NEWSFLOW, "poll", "--feeds", str(feeds), "--once", "--json"],
                                env=env, capture_output=True, text=True, timeout=120)
        assert polled.returncode == 0, polled.stderr
        assert json.loads(polled.stdout.strip().splitlines()[-1])["new_articles"] == 1
        started = time.monotonic()  # the article is on Kafka: now the worker and the page
        item = stream_panel(page, TAG).locator("li.article")
        expect(item).to_have_count(1, timeout=30000)
        took = time.monotonic() - started
        expect(item.locator(".title")).to_have_text(POLLED["title"])
        expect(item.locator(".meta .source")).to_have_text("wire.example.com")
        expect(item.locator(".chip", has_text=TAG)).to_have_count(1)
        print(f"polled article shown on its tag stream {took:.1f} s after the poll")
        assert took < 15, f"the article took {took:.1f} s to show"
        assert console.errors(allow_paths=later_routes_missing(api)) == []
    finally:
        assert worker.stop() == 0, worker.output()[-3000:]


def test_a_dropped_connection_resumes_without_duplicates_or_gaps(
    api: ApiServer, names: Names, page: Page, console: Console,
) -> None:
    open_page(page, api)
    follow_tag(page, "sanctions")
    panel = stream_panel(page, "sanctions")
    topic = names.tag_topic("sanctions")
    before = [enriched(10 + n, f"Sanctions notice {n}", tags=("sanctions",)) for n in range(5)]
    produce_articles(topic, before)
    expect(panel.locator("li.article")).to_have_count(5)

    api.kill()  # the connection drops; EventSource keeps the last event's id
    # EventSource retries by itself; once it gives up the page retries with the position.
    expect(panel).to_have_attribute("data-state", re.compile("^(reconnecting|error)$"))
    during = [enriched(20 + n, f"Sanctions while away {n}", tags=("sanctions",))
              for n in range(5)]
    produce_articles(topic, during)  # published while the page is cut off
    page.wait_for_timeout(3000)  # a reconnect attempt or two fails meanwhile
    api.start()  # same port

    expect(panel.locator("li.article")).to_have_count(10, timeout=30000)
    expect(panel).to_have_attribute("data-state", "live")
    expected = [a.id for a in reversed(before + during)]  # newest first, each exactly once
    assert shown_ids(page, "sanctions") == expected
    assert panel.get_attribute("data-received") == "10"
    assert panel.get_attribute("data-duplicates") == "0"
    assert panel.get_attribute("data-last-event-id") == "0:10"
    # And it stays live: the next article arrives as usual.
    after = enriched(30, "Sanctions after the reconnect", tags=("sanctions",))
    produce_articles(topic, [after])
    expect(panel.locator(f'li.article[data-id="{after.id}"]')).to_be_visible(timeout=10000)

    # A reloaded page follows the same stream again and shows what it had, once each.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(panel).to_have_attribute("data-state", "live")
    expect(panel.locator("li.article")).to_have_count(11)
    assert shown_ids(page, "sanctions") == [after.id, *expected]
    assert panel.get_attribute("data-duplicates") == "0"
    assert console.page_errors == []


@pytest.fixture(params=["elasticsearch", "kafka"])
def dead_backend_api(request: pytest.FixtureRequest, names: Names,
                     tmp_path: Path) -> Iterator[tuple[str, ApiServer]]:
    """`newsflow api` pointed at an Elasticsearch or a Kafka that is not there (the shared
    stack keeps running for the other tests)."""
    down = request.param
    dead = {"elasticsearch": {"NEWSFLOW_ELASTICSEARCH__URL": "http://127.0.0.1:1"},
            "kafka": {"NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"}}[down]
    api = ApiServer(names.env(tmp_path, **dead), tmp_path / "api.log").start()
    yield down, api
    api.kill()  # not under test here; a graceful stop would wait for Kafka's 30 s timeouts


def test_a_backend_down_shows_a_banner_not_a_blank_page(
    dead_backend_api: tuple[str, ApiServer], page: Page, console: Console,
) -> None:
    down, api = dead_backend_api
    open_page(page, api)
    banner = page.locator(f"#banners .banner-{down}")
    expect(banner).to_be_visible()
    expect(page.locator(f"#health-{down}")).to_have_attribute("data-state", "down")
    other = "kafka" if down == "elasticsearch" else "elasticsearch"
    expect(page.locator(f"#health-{other}")).to_have_attribute("data-state", "ok")
    expect(page.locator("h1")).to_be_visible()
    summary = page.locator("#search-summary")
    page.locator("#follow-tag-input").fill(TAG)
    page.locator("#follow-tag-input").press("Enter")
    panel = stream_panel(page, TAG)
    if down == "elasticsearch":
        expect(banner).to_contain_text("Elasticsearch is unreachable")
        expect(summary).to_have_attribute("data-state", "error")
        expect(summary).to_contain_text("Elasticsearch is unreachable")
        # The tag list could not load, but a tag can still be typed and followed.
        expect(panel).to_have_attribute("data-state", "live")
    else:
        expect(banner).to_contain_text("Kafka is unreachable")
        expect(summary).to_have_attribute("data-state", "empty")
        expect(summary).to_have_text("No articles indexed yet.")  # nor a worker to index
        page.wait_for_timeout(1000)
        assert panel.get_attribute("data-state") in ("connecting", "reconnecting", "error")
    assert console.page_errors == []


def test_keyboard_reachable_and_readable_in_a_narrow_window(
    api: ApiServer, names: Names, page: Page, console: Console,
) -> None:
    index_articles(names, [
        enriched(1, "Navies of India and France hold joint patrol", tags=(TAG,),
                 entities=(("India", "GPE"),), minutes_ago=3),
    ])
    open_page(page, api)
    # Tab from the top reaches every control, in reading order, with a visible focus.
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id || document.activeElement.tagName")
        reached.append(focused)
    wanted = ["follow-tag-input", "follow-watch-input", "search-q", "search-tag",
              "search-entity", "search-source", "search-since", "stories-newest"]
    positions = [reached.index(name) for name in wanted]
    assert positions == sorted(positions), reached

    # Follow a stream, search and stop following, keys only.
    page.locator("#follow-tag-input").focus()
    page.keyboard.type(TAG)
    page.keyboard.press("Enter")
    panel = stream_panel(page, TAG)
    expect(panel).to_have_attribute("data-state", "live")
    page.locator("#search-q").focus()
    page.keyboard.type("patrol")
    page.keyboard.press("Enter")
    expect(page.locator("#search-results li.hit")).to_have_count(1)
    expect(page.locator("#search-results .title mark")).to_have_text(["patrol"])
    page.screenshot(path=str(OUTPUT / "keyboard-1280x800.png"))
    panel.locator("button.close").focus()
    page.keyboard.press("Enter")
    expect(panel).to_have_count(0)
    expect(page.locator("#follow-tag-input")).to_be_focused()

    # Narrow: one column, nothing wider than the window.
    page.locator("#follow-tag-input").fill(TAG)
    page.locator("#follow-tag-input").press("Enter")
    page.set_viewport_size({"width": 390, "height": 800})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    lefts = [page.locator(f"#{section}").bounding_box()["x"]  # type: ignore[index]
             for section in ("alerts", "streams", "search", "stories")]
    assert max(lefts) - min(lefts) < 1, lefts
    page.screenshot(path=str(OUTPUT / "narrow-390.png"), full_page=True)
    assert console.errors(allow_paths=later_routes_missing(api)) == []


def test_watch_streams_degrade_and_streams_are_capped(
    api: ApiServer, page: Page, console: Console,
) -> None:
    watches_exist = api.route_exists("/streams/watch/anything?max=1&timeout=0.1")
    open_page(page, api)
    page.locator("#follow-watch-input").fill("baltic shipping")
    page.locator("#follow-watch-input").press("Enter")
    panel = stream_panel(page, "baltic shipping", kind="watch")
    if watches_exist:  # no such watch: said so and not retried (or an empty live stream)
        expect(panel).to_have_attribute("data-state", re.compile("^(failed|live)$"))
    else:
        expect(panel).to_have_attribute("data-state", "unavailable")
        expect(panel.locator(".stream-note")).to_have_text(
            "Watch streams are not available on this server yet.")
    # Streams are capped: each holds one of the browser's few connections to the server.
    for tag in ("sanctions", "drone-warfare", "cyber-operations"):
        follow_tag(page, tag)
    page.locator("#follow-tag-input").fill("military-aid")
    page.locator("#follow-tag-input").press("Enter")
    expect(page.locator("#follow-limit")).to_contain_text("At most 4 streams at once")
    expect(page.locator(".stream")).to_have_count(4)
    stream_panel(page, "sanctions").locator("button.close").click()
    expect(page.locator("#follow-limit")).to_be_hidden()
    follow_tag(page, "military-aid")
    # The search still answers with every stream open.
    page.locator("#search-q").fill("anything")
    page.locator("#search-q").press("Enter")
    expect(page.locator("#search-summary")).to_have_attribute("data-state", "empty")
    assert console.page_errors == []


def test_markup_in_a_streamed_article_stays_text(
    api: ApiServer, names: Names, page: Page, console: Console,
) -> None:
    open_page(page, api)
    follow_tag(page, TAG)
    hostile = make_article(1, '<img src=x onerror="window.__xss=1">Drills <b>begin</b>',
                           url="javascript:alert(1)//x")
    produce_articles(names.tag_topic(TAG), [hostile])
    item = stream_panel(page, TAG).locator(f'li.article[data-id="{hostile.id}"]')
    expect(item).to_be_visible()
    expect(item.locator(".title")).to_have_text(hostile.title)
    assert item.locator("img, b, a").count() == 0  # no markup, no javascript: link
    assert page.evaluate("window.__xss") is None
    assert console.page_errors == []
