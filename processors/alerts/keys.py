"""The keys an article counts on. Pure.

Every tag is a key (``"sanctions"``), and so is every tag x entity pair
(``"sanctions|Iran"``). Keys are plain strings: watches will add ``"watch:<name>"`` keys
later, and the detector treats every key alike.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["KEY_SEPARATOR", "article_keys"]

KEY_SEPARATOR = "|"


def article_keys(tags: Iterable[str], entities: Iterable[str]) -> tuple[str, ...]:
    """The tag keys and tag|entity keys of one article, each once, in input order (tags
    first-seen order, each followed by its entity pairs). Empty names are skipped."""
    unique_tags = [t for t in dict.fromkeys(tags) if t]
    unique_entities = [e for e in dict.fromkeys(entities) if e]
    keys: list[str] = []
    for tag in unique_tags:
        keys.append(tag)
        keys.extend(f"{tag}{KEY_SEPARATOR}{entity}" for entity in unique_entities)
    return tuple(keys)
