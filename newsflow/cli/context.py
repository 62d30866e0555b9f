"""The object every command receives: settings loaded once, lazily, and output helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from newsflow.settings import Settings, load_settings

__all__ = ["CliContext", "pass_cli"]


@dataclass
class CliContext:
    config_file: Path | None = None
    verbose: int = 0
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, overrides: dict[str, Any] | None = None) -> Settings:
        """Settings with this command's flags applied (flags win over env and file)."""
        if self._settings is None or overrides:
            self._settings = load_settings(self.config_file, overrides=overrides)
        return self._settings

    @staticmethod
    def emit_json(value: Any) -> None:
        click.echo(json.dumps(value, default=str, ensure_ascii=False))


pass_cli = click.make_pass_decorator(CliContext)
