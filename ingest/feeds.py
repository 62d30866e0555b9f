"""The feed list: YAML (the native format) and OPML, read, written and edited.

YAML format (see ingest/README.md)::

    defaults:                 # optional; applied to every feed that does not say otherwise
      labels: [wire]
      min_interval: 2m
    feeds:
      - https://example.com/rss            # a bare URL is a feed with no options
      - url: https://example.org/atom.xml
        name: Example Org
        language: en                       # declared language (else the feed's, else detected)
        labels: [defence, europe]
        min_interval: 60                   # seconds, or "90s", "5m", "1h"
        max_interval: 1h
        allow_private: false               # let this feed reach private/loopback addresses
        enabled: true

A top-level list (just the ``feeds:`` part) is accepted too. Unknown keys are errors, so a
misspelt option is not silently ignored. OPML: every ``outline`` with an ``xmlUrl``; its
``text``/``title`` is the name, ``category`` and enclosing outlines' texts become labels.
"""

from __future__ import annotations

import functools
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from ingest.defuse import defuse_xml
from newsflow.errors import ConfigError

__all__ = [
    "FeedSpec",
    "dump_feed_list",
    "export_opml",
    "feed_id",
    "host_of",
    "load_feed_list",
    "merge_specs",
    "parse_duration",
    "parse_feed_list",
    "parse_opml",
    "save_feed_list",
]

_KEYS = {"url", "name", "language", "labels", "min_interval", "max_interval", "allow_private",
         "enabled"}


def feed_id(url: str) -> str:
    """Stable short id for a feed URL: the name of its state file and its partition key."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


@dataclass(frozen=True)
class FeedSpec:
    url: str
    name: str = ""
    language: str | None = None
    labels: tuple[str, ...] = ()
    min_interval_s: float | None = None
    max_interval_s: float | None = None
    allow_private: bool = False
    enabled: bool = True

    # Computed once per spec (a SHA-256 and a URL split): the poller asks for them several
    # times per poll. cached_property writes to the instance __dict__ directly, which a
    # frozen dataclass allows; equality, hashing and the fields are unchanged.
    @functools.cached_property
    def id(self) -> str:
        return feed_id(self.url)

    @functools.cached_property
    def host(self) -> str:
        return host_of(self.url)

    def to_yaml_item(self) -> dict[str, Any] | str:
        item: dict[str, Any] = {"url": self.url}
        if self.name:
            item["name"] = self.name
        if self.language:
            item["language"] = self.language
        if self.labels:
            item["labels"] = list(self.labels)
        if self.min_interval_s is not None:
            item["min_interval"] = _num(self.min_interval_s)
        if self.max_interval_s is not None:
            item["max_interval"] = _num(self.max_interval_s)
        if self.allow_private:
            item["allow_private"] = True
        if not self.enabled:
            item["enabled"] = False
        return item if len(item) > 1 else self.url


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any, what: str) -> float:
    """Seconds from 60, 60.5, "90s", "5m", "1h" or "1d"."""
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(f"{what}: expected a duration like 60, 90s, 5m or 1h, got {value!r}")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{what}: must be positive, got {value!r}")
    return seconds


def _check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{where}: 'url' must be a non-empty string")
    cleaned: str = url.strip()
    parts = urlsplit(cleaned)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: {cleaned!r} is not an http(s) URL")
    return cleaned


def _labels(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ConfigError(f"{where}: 'labels' must be a list of strings")
    return tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))


def _spec(item: Any, defaults: Mapping[str, Any], where: str) -> FeedSpec:
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: expected a URL or a mapping with 'url', got {item!r}")
    unknown = set(item) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {sorted(unknown)}; "
                          f"known: {sorted(_KEYS)}")
    merged = {**defaults, **item}
    url = _check_url(item.get("url"), where)
    min_iv = merged.get("min_interval")
    max_iv = merged.get("max_interval")
    spec = FeedSpec(
        url=url,
        name=str(merged.get("name") or ""),
        language=str(merged["language"]) if merged.get("language") else None,
        labels=_labels(merged.get("labels"), where),
        min_interval_s=None if min_iv is None else parse_duration(min_iv, f"{where} min_interval"),
        max_interval_s=None if max_iv is None else parse_duration(max_iv, f"{where} max_interval"),
        allow_private=bool(merged.get("allow_private", False)),
        enabled=bool(merged.get("enabled", True)),
    )
    if (spec.min_interval_s and spec.max_interval_s
            and spec.min_interval_s > spec.max_interval_s):
        raise ConfigError(f"{where}: min_interval is larger than max_interval")
    return spec


def _unique(specs: Iterable[FeedSpec], source: str) -> list[FeedSpec]:
    seen: dict[str, FeedSpec] = {}
    for spec in specs:
        if spec.url in seen:
            raise ConfigError(f"{source}: feed {spec.url} is listed twice")
        seen[spec.url] = spec
    return list(seen.values())


def parse_feed_list(text: str, source: str = "feed list") -> list[FeedSpec]:
    """The YAML feed list (see the module docstring) to FeedSpecs, or ConfigError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if data is None:
        return []
    defaults: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        unknown = set(data) - {"feeds", "defaults", "version"}
        if unknown:
            raise ConfigError(f"{source}: unknown top-level key(s) {sorted(unknown)}; "
                              "expected 'feeds' and optionally 'defaults'")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping) or "url" in defaults or set(defaults) - _KEYS:
            raise ConfigError(f"{source}: 'defaults' must map feed options (not url) to values")
        data = data.get("feeds") or []
    if not isinstance(data, list):
        raise ConfigError(f"{source}: expected a list of feeds (or a mapping with 'feeds')")
    specs = [_spec(item, defaults, f"{source} feed #{n + 1}") for n, item in enumerate(data)]
    return _unique(specs, source)


def dump_feed_list(specs: Iterable[FeedSpec]) -> str:
    return yaml.safe_dump({"feeds": [s.to_yaml_item() for s in specs]}, sort_keys=False,
                          allow_unicode=True)


def parse_opml(text: str | bytes, source: str = "OPML") -> list[FeedSpec]:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    safe, _ = defuse_xml(raw)
    try:
        root = ET.fromstring(safe)
    except ET.ParseError as exc:
        raise ConfigError(f"{source} is not valid OPML/XML: {exc}") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ConfigError(f"{source}: not an OPML document (no <opml><body>)")
    specs: list[FeedSpec] = []

    def walk(node: ET.Element, parents: tuple[str, ...]) -> None:
        for outline in node.findall("outline"):
            attrs = {k.lower(): v for k, v in outline.attrib.items()}
            label = (attrs.get("text") or attrs.get("title") or "").strip()
            url = attrs.get("xmlurl")
            if url:
                categories = [
                    part.strip()
                    for cat in (attrs.get("category") or "").split(",")
                    for part in cat.strip().strip("/").split("/")
                    if part.strip()
                ]
                specs.append(FeedSpec(
                    url=_check_url(url, f"{source} outline {label or url!r}"),
                    name=label,
                    language=attrs.get("language") or None,
                    labels=tuple(dict.fromkeys([*parents, *categories])),
                ))
            walk(outline, (*parents, label) if label and not url else parents)

    walk(body, ())
    return _unique(specs, source)


def export_opml(specs: Iterable[FeedSpec], title: str = "newsflow feeds") -> str:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for spec in specs:
        attrs = {"type": "rss", "text": spec.name or spec.url, "xmlUrl": spec.url}
        if spec.labels:
            attrs["category"] = ",".join(spec.labels)
        if spec.language:
            attrs["language"] = spec.language
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _is_opml(path: Path, head: str) -> bool:
    return path.suffix.lower() in (".opml", ".xml") or head.lstrip().startswith(("<?xml", "<opml"))


def load_feed_list(path: Path) -> list[FeedSpec]:
    """Read a YAML or OPML feed list (chosen by suffix, else by content)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"feed list not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read feed list {path}: {exc}") from exc
    if _is_opml(path, text[:200]):
        return parse_opml(text, str(path))
    return parse_feed_list(text, str(path))


def save_feed_list(path: Path, specs: Iterable[FeedSpec]) -> None:
    """Write the list back in the file's own format (atomically; comments are not kept)."""
    specs = list(specs)
    is_opml = path.exists() and _is_opml(path, path.read_text(encoding="utf-8")[:200])
    if is_opml or path.suffix.lower() == ".opml":
        text = export_opml(specs)
    else:
        text = dump_feed_list(specs)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def merge_specs(existing: list[FeedSpec], new: Iterable[FeedSpec]) -> tuple[list[FeedSpec], int]:
    """existing + the new feeds whose URL is not listed yet; returns (list, how many added)."""
    merged = list(existing)
    urls = {s.url for s in existing}
    for spec in new:
        if spec.url not in urls:
            urls.add(spec.url)
            merged.append(spec)
    return merged, len(merged) - len(existing)
