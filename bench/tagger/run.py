"""Tagger quality on a labelled JSON-lines set (default: ../shared/eval/topics-dev.jsonl).

Run from the repo root:  .venv/bin/python -m bench.tagger.run [--data FILE] [--errors TAG]
                         [--rules-only] [--tag-model FILE]

Each item is judged, like the labels, on its title and feed description only: the input is
an Article with ``title`` and ``summary`` set, enriched by the same Enricher the worker runs
(the rules and the shipped learned model; ``--rules-only`` scores the rules alone).
Prints per-tag precision, recall, F1, the macro-F1 over the taxonomy's tags and the core
count. ``--errors TAG`` also lists that tag's false positives and negatives (ids and titles,
to the terminal only: the data set is not ours to copy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsflow.article import Article  # noqa: E402
from newsflow.settings import load_settings  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "eval" / "topics-dev.jsonl"


def load_items(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def as_article(item: dict[str, object], now: datetime) -> Article:
    return Article(
        id=str(item["id"]),
        url=str(item.get("url") or ""),
        canonical_url=str(item.get("url") or ""),
        feed_url="",
        source="eval",
        title=str(item.get("title") or ""),
        summary=str(item.get("text") or ""),
        published_at=now,
        seen_at=now,
    )


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--taxonomy", type=Path, default=None)
    parser.add_argument("--model", default=None, help="spaCy model (default: settings)")
    parser.add_argument("--errors", metavar="TAG", action="append", default=[],
                        help="list false positives/negatives of TAG (repeatable, 'all')")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--rules-only", action="store_true",
                        help="the taxonomy's rules alone, without the learned model")
    parser.add_argument("--tag-model", type=Path, default=None,
                        help="learned model file (default: settings processors.tag_model)")
    args = parser.parse_args(argv)

    from processors.enrich.enrichment import Enricher

    settings = load_settings()
    model = args.model or settings.processors.spacy_model
    taxonomy = args.taxonomy or settings.processors.taxonomy_file
    if not args.data.is_file():
        print(f"no data set at {args.data}", file=sys.stderr)
        return 1
    items = load_items(args.data)
    tag_model = None if args.rules_only else (args.tag_model or settings.processors.tag_model)
    enricher = Enricher(model, taxonomy, tag_model=tag_model)
    now = datetime.now(UTC)
    started = time.perf_counter()
    enriched = enricher.enrich([as_article(i, now) for i in items], now)
    elapsed = time.perf_counter() - started

    tag_ids = enricher.tagger.taxonomy.tag_ids
    counts = {t: [0, 0, 0] for t in tag_ids}  # tp, fp, fn
    errors: dict[str, list[str]] = {t: [] for t in tag_ids}
    for item, article in zip(items, enriched, strict=True):
        gold = set(item.get("tags") or [])  # type: ignore[arg-type]
        predicted = set(article.tag_names)
        for t in tag_ids:
            if t in predicted and t in gold:
                counts[t][0] += 1
            elif t in predicted:
                counts[t][1] += 1
                errors[t].append(f"  FP {item['id']}: {item['title']}")
            elif t in gold:
                counts[t][2] += 1
                errors[t].append(f"  FN {item['id']}: {item['title']}")

    rows = {t: prf(*counts[t]) for t in tag_ids}
    macro = sum(f for _, _, f in rows.values()) / len(rows)
    result = {
        "data": str(args.data),
        "items": len(items),
        "taxonomy_version": enricher.taxonomy_version,
        "model": model,
        "cores": os.cpu_count(),
        "seconds": round(elapsed, 2),
        "tags": {
            t: {"tp": c[0], "fp": c[1], "fn": c[2], "precision": round(rows[t][0], 3),
                "recall": round(rows[t][1], 3), "f1": round(rows[t][2], 3)}
            for t, c in counts.items()
        },
        "macro_f1": round(macro, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"data={args.data.name} items={len(items)} taxonomy={enricher.taxonomy_version} "
              f"model={model} cores={os.cpu_count()} seconds={elapsed:.2f}")
        print(f"{'tag':24} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'rec':>6} {'f1':>6}")
        for t in tag_ids:
            tp, fp, fn = counts[t]
            p, r, f = rows[t]
            print(f"{t:24} {tp:4d} {fp:4d} {fn:4d} {p:6.3f} {r:6.3f} {f:6.3f}")
        print(f"{'macro-F1':24} {'':>4} {'':>4} {'':>4} {'':>6} {'':>6} {macro:6.3f}")
    wanted = tag_ids if "all" in args.errors else args.errors
    for t in wanted:
        print(f"\n{t}:")
        print("\n".join(errors.get(t, [])) or "  (none)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
