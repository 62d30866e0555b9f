"""Reading the JSON-lines files labels and items live in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from newsflow.errors import ConfigError

__all__ = ["load_jsonl"]


def load_jsonl(path: Path) -> Iterator[dict[str, object]]:
    try:
        with path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{line_no}: not JSON: {exc.msg}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
