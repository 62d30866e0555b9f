"""Offsets in the analysed text -> offsets in the record's fields."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow.article import Article
from processors.enrich.offsets import FieldLocator, article_locator

NOW = datetime(2026, 3, 10, tzinfo=UTC)


def make(title: str, summary: str = "", content: str = "") -> Article:
    return Article(id="a", url="", canonical_url="", feed_url="", source="", title=title,
                   summary=summary, content=content, published_at=NOW, seen_at=NOW)


def locate_all(article: Article, word: str) -> list[tuple[str, str]]:
    text = article.text_for_analysis()
    where = article_locator(article, text)
    out = []
    start = text.find(word)
    while start >= 0:
        found = where(start, start + len(word))
        assert found is not None
        field, s, e = found
        out.append((field, getattr(article, field)[s:e]))
        start = text.find(word, start + 1)
    return out


def test_each_field_with_its_own_leading_whitespace() -> None:
    article = make("  Oslo talks ", "\n Delegates met in Oslo.", "Oslo again.  ")
    assert locate_all(article, "Oslo") == [
        ("title", "Oslo"), ("summary", "Oslo"), ("content", "Oslo")]


def test_content_repeating_the_summary_is_not_located_twice() -> None:
    article = make("Title", "Oslo summit opens.", "Oslo summit opens.")
    assert locate_all(article, "Oslo") == [("summary", "Oslo")]


def test_a_field_of_which_only_the_tail_was_analysed() -> None:
    # e.g. content whose first paragraph repeats the summary, left out of the analysed text
    text = "Title\n\nLead about Oslo.\n\nThen Bergen."
    where = FieldLocator(text, [("title", "Title"), ("summary", "Lead about Oslo."),
                                ("content", "Lead about Oslo.\n\nThen Bergen.")])
    start = text.index("Bergen")
    field, s, e = where(start, start + 6) or ("", 0, 0)
    assert (field, "Lead about Oslo.\n\nThen Bergen."[s:e]) == ("content", "Bergen")


def test_a_span_across_fields_is_not_located_but_field_at_clamps_it() -> None:
    text = "Title\n\nBody."
    where = FieldLocator(text, [("title", "Title"), ("text", "Body.")])
    assert where(0, len(text)) is None
    assert where.field_at(0, len(text)) == ("title", 0, 5)
