"""processors.alerts.config: overrides are checked, presets are valid."""

from __future__ import annotations

import pytest

from newsflow.errors import ConfigError
from processors.alerts.config import (
    ARTICLE_DEFAULTS,
    COUNT_DEFAULTS,
    DetectorConfig,
    config_overrides,
)


def test_overrides_apply_and_round_trip() -> None:
    config = ARTICLE_DEFAULTS.replace({"p_max": 1e-6, "half_lives_h": [6, 48], "min_count": 4})
    assert config.p_max == 1e-6 and config.half_lives_h == (6, 48) and config.min_count == 4
    assert DetectorConfig().replace(config.to_dict()) == config
    assert COUNT_DEFAULTS.dispersion and not COUNT_DEFAULTS.shared_profile


@pytest.mark.parametrize(("overrides", "message"), [
    ({"p_maxx": 1}, "unknown parameters"),
    ({"p_max": 0}, "p_max"),
    ({"p_max": "small"}, "number"),
    ({"min_count": 2.5}, "integer"),
    ({"weekend": 1}, "true or false"),
    ({"min_ratio": 0.5}, "min_ratio"),
    ({"half_lives_h": []}, "half_lives_h"),
    ({"half_lives_h": 12}, "list"),
    ({"window_min": -5}, "window_min"),
])
def test_bad_overrides_say_what_is_wrong(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ARTICLE_DEFAULTS.replace(overrides)


def test_config_json() -> None:
    assert config_overrides('{"p_max": 1e-5}') == {"p_max": 1e-5}
    for text in ("{", "[1]", '"x"'):
        with pytest.raises(ConfigError):
            config_overrides(text)
