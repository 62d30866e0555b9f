"""deploy/local/stack.sh runs alone (make test, CI) and through `newsflow stack`, which passes
every stack setting in the environment: the script's own defaults must be the settings'
defaults, or the two ways of starting the stack would start different servers."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from newsflow.settings import Settings, StackSettings

STACK_SH = Path(__file__).resolve().parents[3] / "deploy" / "local" / "stack.sh"
_DEFAULT = re.compile(r'\$\{NEWSFLOW_STACK__(?P<key>\w+):?-(?P<default>[^}]*)\}')
_ASSIGNMENT = re.compile(r'^(?P<name>\w+)="(?P<value>[^"$]*)"$', re.MULTILINE)


def script_defaults(text: str) -> dict[str, str]:
    """NEWSFLOW_STACK__X -> the default the script falls back to (one level of $VAR)."""
    plain = {m["name"]: m["value"] for m in _ASSIGNMENT.finditer(text)}
    out: dict[str, str] = {}
    for match in _DEFAULT.finditer(text):
        default = match["default"]
        if default.startswith("$"):
            default = plain[default[1:]]
        out.setdefault(match["key"].lower(), default)
    return out


def test_the_script_falls_back_to_the_settings_defaults() -> None:
    defaults = script_defaults(STACK_SH.read_text())
    settings = StackSettings()
    assert set(defaults) == set(StackSettings.model_fields)
    for key, value in defaults.items():
        assert value == str(getattr(settings, key)), key


def test_the_reader_sees_both_forms_of_default() -> None:
    text = 'D="-x"\nA="${NEWSFLOW_STACK__A:-1}"\nB="${NEWSFLOW_STACK__B-$D}"\n'
    assert script_defaults(text) == {"a": "1", "b": "-x"}


def _script_jvm_options(env_value: str | None) -> str:
    """JVM_OPTIONS as stack.sh sets it, from its settings block run alone."""
    text = STACK_SH.read_text()
    block = text[text.index("STACK_HOME="):text.index("ES_USER=")]
    env = {k: v for k, v in os.environ.items() if k != "NEWSFLOW_STACK__JVM_OPTIONS"}
    if env_value is not None:
        env["NEWSFLOW_STACK__JVM_OPTIONS"] = env_value
    out = subprocess.run(["bash", "-c", block + 'printf "%s" "$JVM_OPTIONS"'], env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout


def test_empty_jvm_options_give_the_jvm_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/local/README.md: `NEWSFLOW_STACK__JVM_OPTIONS=""` gives the JVM's default. The
    script keeps an empty value (it does not fall back on empty), and the settings pass it
    on as empty."""
    assert _script_jvm_options(None) == StackSettings().jvm_options
    assert _script_jvm_options("") == ""
    assert _script_jvm_options("-Xss2m") == "-Xss2m"
    monkeypatch.setenv("NEWSFLOW_STACK__JVM_OPTIONS", "")
    assert Settings().stack.jvm_options == ""
