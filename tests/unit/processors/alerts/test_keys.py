"""processors.alerts.keys: the keys an article counts on, and the entity profile keys."""

from __future__ import annotations

from processors.alerts.keys import article_keys, entity_profile_keys, profile_parent


def test_each_tag_and_each_tag_entity_pair_once_in_order() -> None:
    assert article_keys(["sanctions", "military-aid", "sanctions"], ["Iran", "", "Iran", "EU"]) \
        == ("sanctions", "sanctions|Iran", "sanctions|EU",
            "military-aid", "military-aid|Iran", "military-aid|EU")
    assert article_keys([], ["Iran"]) == ()
    assert article_keys(["sanctions"], []) == ("sanctions",)


def test_entity_profile_keys_and_parents() -> None:
    assert entity_profile_keys(["sanctions"], ["Iran", "EU", "Iran"]) == ("*|Iran", "*|EU")
    assert entity_profile_keys([], ["Iran"]) == ()
    assert profile_parent("sanctions|Iran") == "*|Iran"
    for key in ("sanctions", "watch:oil", "*|Iran", "sanctions|"):
        assert profile_parent(key) is None
