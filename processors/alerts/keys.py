"""The keys an article counts on. Pure.

Every tag is a key (``"sanctions"``), and so is every tag x entity pair
(``"sanctions|Iran"``). Keys are plain strings: watches will add ``"watch:<name>"`` keys
later, and the detector treats every key alike.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["KEY_SEPARATOR", "PROFILE_PREFIX", "article_keys", "entity_profile_keys",
           "profile_parent"]

KEY_SEPARATOR = "|"
# Internal keys that only carry an entity's time-of-day profile (every story naming it):
# never tested, never alerted on. "*" is no valid tag (tags are kebab-case).
PROFILE_PREFIX = "*" + KEY_SEPARATOR


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


def entity_profile_keys(tags: Iterable[str], entities: Iterable[str]) -> tuple[str, ...]:
    """The internal profile keys of an article: one per entity (none without a tag, as such
    an article has no keys)."""
    if not any(tags):
        return ()
    return tuple(PROFILE_PREFIX + e for e in dict.fromkeys(entities) if e)


def profile_parent(key: str) -> str | None:
    """The profile key a key's own profile is shrunk towards: "tag|entity" -> the entity's;
    a tag key, a watch key or a count series has none (the shared profile)."""
    tag, separator, entity = key.partition(KEY_SEPARATOR)
    if not separator or not entity or tag == "*":
        return None
    return PROFILE_PREFIX + entity
