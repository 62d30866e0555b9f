"""`newsflow subscribe` against the real Kafka: a group resumes without gaps or repeats
while articles keep arriving; without a group it starts at new articles, --from-beginning or
--since; several tags at once."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.article import Article, utc_now
from tests.integration.processors_support import (
    NEWSFLOW,
    Names,
    make_article,
    produce_articles,
    wait_for,
)

pytestmark = pytest.mark.integration

TAG = "military-aid"


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    yield n
    n.cleanup()


def articles(start: int, count: int) -> list[Article]:
    return [make_article(n, f"Aid package {n}") for n in range(start, start + count)]


class Subscriber:
    """A `newsflow subscribe ... --json` subprocess whose stdout lines are collected."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._err = log.open("a")
        self.proc = subprocess.Popen([*NEWSFLOW, "subscribe", *args, "--json"], env=env,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True)
        self.ids: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.ids.append(json.loads(line)["id"])

    def wait_subscribed(self) -> None:
        wait_for(lambda: "subscribed topics=" in self.log.read_text()
                 or self.proc.poll() is not None, 30, "subscriber ready")
        assert self.proc.poll() is None, self.log.read_text()

    def finish(self, timeout_s: float = 60) -> list[str]:
        code = self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout=10)
        self._err.close()
        assert code == 0, self.log.read_text()
        return self.ids

    def terminate(self) -> list[str]:
        self.proc.terminate()
        return self.finish()


def test_group_resumes_after_restarts_while_articles_keep_arriving(
    names: Names, tmp_path: Path,
) -> None:
    env = names.env(tmp_path)
    topic = names.tag_topic(TAG)
    everything = articles(0, 40)
    produce_articles(topic, everything[:5])

    def keep_producing() -> None:
        for article in everything[5:]:
            produce_articles(topic, [article])
            time.sleep(0.15)

    producer = threading.Thread(target=keep_producing)
    producer.start()
    group = f"it-{names.run}-reader"
    try:
        # 1: stops by itself after 8 articles
        first = Subscriber(env, tmp_path / "s1.log", TAG, "--group", group,
                           "--from-beginning", "--max", "8").finish()
        # 2: stopped with SIGTERM in the middle of the stream
        second_sub = Subscriber(env, tmp_path / "s2.log", TAG, "--group", group)
        wait_for(lambda: len(second_sub.ids) >= 6, 60, "the second run to print some")
        second = second_sub.terminate()
    finally:
        producer.join()
    # 3: drains the rest, stops after 4 quiet seconds
    third = Subscriber(env, tmp_path / "s3.log", TAG, "--group", group,
                       "--timeout", "4").finish()

    assert len(first) == 8
    delivered = first + second + third
    assert delivered == [a.id for a in everything]  # every article once, in order


def test_without_group_starts_at_new_articles_or_from_beginning(
    names: Names, tmp_path: Path,
) -> None:
    env = names.env(tmp_path)
    topic = names.tag_topic(TAG)
    old, new = articles(100, 3), articles(200, 2)
    produce_articles(topic, old)

    live = Subscriber(env, tmp_path / "live.log", TAG, "--timeout", "4")
    live.wait_subscribed()
    produce_articles(topic, new)
    assert live.finish() == [a.id for a in new]

    replay = Subscriber(env, tmp_path / "replay.log", TAG, "--from-beginning",
                        "--timeout", "3").finish()
    assert replay == [a.id for a in old + new]


def test_since_and_several_tags(names: Names, tmp_path: Path) -> None:
    env = names.env(tmp_path)
    produce_articles(names.tag_topic(TAG), articles(300, 2))
    time.sleep(1.5)
    since = utc_now()
    time.sleep(0.5)
    recent_aid = articles(310, 2)
    recent_sanctions = [make_article(320, "Sanctions on shipping firms")]
    produce_articles(names.tag_topic(TAG), recent_aid)
    produce_articles(names.tag_topic("sanctions"), recent_sanctions)

    got = Subscriber(env, tmp_path / "since.log", TAG, "sanctions", "--since",
                     since.isoformat(), "--timeout", "3").finish()
    assert sorted(got) == sorted(a.id for a in recent_aid + recent_sanctions)


def test_collapse_delivers_each_storys_first_article_on_the_tag(
    names: Names, tmp_path: Path,
) -> None:
    env = names.env(tmp_path)
    opener, follow_up, copy, pre_stories = articles(400, 4)
    on_topic = [
        # The story's first article on this tag: delivered.
        opener.model_copy(update={"story_id": opener.id, "story_new_tags": [TAG]}),
        # Later in the same story, the tag already open: skipped.
        follow_up.model_copy(update={"story_id": opener.id, "story_new_tags": []}),
        # A syndicated copy opens nothing: skipped.
        copy.model_copy(update={"story_id": opener.id, "dup_of": opener.id,
                                "story_new_tags": []}),
        # Indexed before stories existed (no story fields): its own story, delivered.
        pre_stories,
    ]
    produce_articles(names.tag_topic(TAG), on_topic)
    collapsed = Subscriber(env, tmp_path / "collapse.log", TAG, "--collapse",
                           "--from-beginning", "--timeout", "3").finish()
    assert collapsed == [opener.id, pre_stories.id]
    everything = Subscriber(env, tmp_path / "all.log", TAG, "--from-beginning",
                            "--timeout", "3").finish()
    assert everything == [a.id for a in on_topic]


def test_bad_tag_is_a_usage_error(names: Names, tmp_path: Path) -> None:
    result = subprocess.run([*NEWSFLOW, "subscribe", "Not A Tag", "--timeout", "1"],
                            env=names.env(tmp_path), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "kebab-case" in result.stderr
