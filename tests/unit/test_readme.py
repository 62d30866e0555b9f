"""The README is the newcomer's contract: two commands, and a CLI reference that names every
command the CLI really has (and none it lacks)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from newsflow.cli import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _command_paths(group: click.Group, prefix: str = "newsflow") -> set[str]:
    paths = set()
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        paths.add(path)
        if isinstance(command, click.Group):
            paths |= _command_paths(command, path)
    return paths


def test_two_commands_and_ci_uses_the_test_one() -> None:
    assert "make demo" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.MULTILINE)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.MULTILINE)
    assert re.search(r"^test:", makefile, re.MULTILINE)


def test_cli_reference_names_every_top_level_command() -> None:
    reference = README.split("## CLI reference", 1)[1].split("\n## ", 1)[0]
    for path in sorted(p for p in _command_paths(cli) if p.count(" ") == 1):
        assert f"`{path}" in reference, f"README's CLI reference does not mention `{path}`"
    mentioned = set(re.findall(r"`newsflow ([a-z][a-z-]*)", reference))
    unknown = mentioned - set(cli.commands)
    assert not unknown, f"README names unknown commands: {unknown}"


def test_every_command_has_help() -> None:
    for path in _command_paths(cli):
        group: click.Command = cli
        for name in path.split()[1:]:
            assert isinstance(group, click.Group)
            group = group.commands[name]
        assert (group.help or "").strip(), f"`{path}` has no help text"
