"""The snapshot format: plain JSON, checked on the way in. Pure.

A snapshot is the detector's whole state as one JSON document (no pickle: a snapshot read
from a compacted topic or an index must not be able to run code). These helpers turn the
untyped JSON values back into the types the state classes hold, and say what is wrong
(ConfigError: a snapshot that does not fit is a configuration problem, not a crash).
"""

from __future__ import annotations

import math
from typing import Any

from newsflow.errors import ConfigError

__all__ = ["FORMAT", "as_float", "as_float_list", "as_int", "as_mapping", "as_optional_float",
           "as_str", "snapshot_error"]

# 2: per-key expected-profile sums and the clock's shape (a /1 snapshot is refused)
FORMAT = "newsflow-alerts-state/2"


def snapshot_error(what: str) -> ConfigError:
    return ConfigError(f"alert detector snapshot: {what}")


def as_mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise snapshot_error(f"{what} must be an object")
    return value


def as_float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise snapshot_error(f"{what} must be a number")
    out = float(value)
    if math.isnan(out):
        raise snapshot_error(f"{what} is not a number")
    return out


def as_optional_float(value: Any, what: str) -> float | None:
    return None if value is None else as_float(value, what)


def as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise snapshot_error(f"{what} must be an integer")
    return value


def as_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise snapshot_error(f"{what} must be a string")
    return value


def as_float_list(value: Any, what: str, length: int | None = None) -> list[float]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        size = f" of {length}" if length is not None else ""
        raise snapshot_error(f"{what} must be a list{size} numbers")
    return [as_float(v, what) for v in value]
