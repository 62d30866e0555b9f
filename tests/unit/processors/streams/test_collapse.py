"""What `newsflow subscribe TAG --collapse` delivers: a story's first article on the tag."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow.article import Article
from processors.streams.routing import opens_story

AT = datetime(2026, 12, 3, tzinfo=UTC)


def article(**story: object) -> Article:
    return Article(id="a", url="https://x.example/a", canonical_url="https://x.example/a",
                   feed_url="https://x.example/f", source="x.example", title="t",
                   published_at=AT, seen_at=AT, **story)  # type: ignore[arg-type]


def test_the_first_article_of_its_story_on_a_tag_opens_it_and_others_do_not() -> None:
    first = article(story_id="a", story_new_tags=["sanctions", "energy"])
    later = article(story_id="s0", story_new_tags=["energy"])
    copy = article(story_id="s0", dup_of="a0", story_new_tags=[])
    assert opens_story(first, "sanctions") and opens_story(first, "energy")
    assert not opens_story(later, "sanctions") and opens_story(later, "energy")
    assert not opens_story(copy, "energy")


def test_an_article_from_before_stories_is_delivered() -> None:
    assert opens_story(article(), "sanctions")
