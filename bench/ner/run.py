"""NER quality on CoNLL-2003 (every mention counted) and the entity pipeline's speed.

Run from the repo root:
    .venv/bin/python -m bench.ner.run [--model M] [--ablation] [--feed-cpu] [--json]

Exports the news-domain documents of the shared development split (../shared/eval/ner,
eng.testa) with its scorer, runs the product's entity pipeline on each document text (the
Enricher: spaCy NER through load_ner_pipeline + processors.enrich.entities normalisation),
writes one prediction line per *mention* of every entity, and scores it with the shared scorer
(``eval --domain news --map spacy``). Prints typed F1 overall and per type, articles/s and
CPU ms per document (one process, model load excluded) and the core count.

--ablation  also scores the raw NER spans and the pipeline with each article-level step of
            processors.enrich.entities.EntityOptions switched off (NER is run once for these).
--feed-cpu  also measures CPU ms per feed-sized article (1,500 bench/e2e/wire.py items of
            ~65 words, one process), the figure bench/RESULTS.md tracks for the worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

EVAL_DIR = REPO.parent / "shared" / "eval" / "ner"
TYPES = ("LOC", "MISC", "ORG", "PER")


def _scorer(eval_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(eval_dir / "conll_score.py"), *args],
        check=True, capture_output=True, text=True,
    )
    return done.stdout


def export_docs(eval_dir: Path, split: str, out: Path) -> list[dict[str, Any]]:
    _scorer(eval_dir, "export", "--domain", "news", "--text", str(out), str(eval_dir / split))
    with out.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def score(eval_dir: Path, split: str, predictions: list[dict[str, Any]], work: Path) -> Any:
    path = work / "pred.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for row in predictions:
            fh.write(json.dumps(row) + "\n")
    return json.loads(_scorer(eval_dir, "eval", "--domain", "news", "--map", "spacy", "--json",
                              str(eval_dir / split), str(path)))


def entity_rows(doc_id: str, entities: list[Any]) -> list[dict[str, Any]]:
    """One prediction per mention (field "text": offsets into the document text)."""
    return [{"doc_id": doc_id, "start": m.start, "end": m.end, "label": e.label}
            for e in entities for m in e.mentions]


def summary(name: str, result: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": name, "f1": result["exact"]["f1"],
                           "precision": result["exact"]["precision"],
                           "recall": result["exact"]["recall"]}
    for t in TYPES:
        row[t] = result["per_type"][t]["f1"]
    return row


class EntityPipeline:
    """What ``Enricher.entities_for`` runs (the NER pipeline the worker loads, then
    processors.enrich.entities), without the taxonomy and tag model the Enricher also loads."""

    def __init__(self, model: str) -> None:
        from processors.enrich.gazetteer import load_gazetteer
        from processors.enrich.nlp import PIPE_BATCH_SIZE, load_ner_pipeline

        self.nlp = load_ner_pipeline(model)
        self.gazetteer = load_gazetteer()
        self.batch_size = PIPE_BATCH_SIZE

    def entities_for(self, texts: list[str]) -> list[list[Any]]:
        from processors.enrich.entities import extract_entities, mentions_from_doc

        docs = self.nlp.pipe(texts, batch_size=self.batch_size)
        return [extract_entities(text, mentions_from_doc(doc), self.gazetteer)
                for text, doc in zip(texts, docs, strict=True)]


def feed_cpu_ms(enricher: Any, count: int = 1500) -> float:
    from bench.e2e.wire import make_items

    texts = [f"{i.title}\n\n{i.summary}" for i in make_items(count, run="ner-bench")]
    enricher.entities_for(texts[:50])  # warm
    started = time.process_time()
    for i in range(0, len(texts), 100):  # a worker batch at a time
        enricher.entities_for(texts[i : i + 100])
    return (time.process_time() - started) * 1000 / len(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="spaCy package or path (default: settings)")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--split", default="eng.testa")
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--feed-cpu", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from newsflow.settings import load_settings
    from processors.enrich.entities import EntityOptions, extract_entities, mentions_from_doc

    settings = load_settings().processors
    model = args.model or settings.spacy_model
    enricher = EntityPipeline(model)
    with tempfile.TemporaryDirectory(prefix="ner-bench-") as tmp:
        work = Path(tmp)
        docs = export_docs(args.eval_dir, args.split, work / "docs.jsonl")
        texts = [d["text"] for d in docs]
        enricher.entities_for(texts[:5])  # warm-up, not timed
        wall, cpu = time.perf_counter(), time.process_time()
        found = enricher.entities_for(texts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows = [r for d, ents in zip(docs, found, strict=True)
                for r in entity_rows(d["doc_id"], ents)]
        result = score(args.eval_dir, args.split, rows, work)
        variants = [summary("pipeline", result)]
        if args.ablation:
            nlp_docs = list(enricher.nlp.pipe(texts))
            raw = [{"doc_id": d["doc_id"], "start": e.start_char, "end": e.end_char,
                    "label": e.label_} for d, doc in zip(docs, nlp_docs, strict=True)
                   for e in doc.ents]
            variants.append(summary("raw NER spans", score(args.eval_dir, args.split, raw, work)))
            for step in [f.name for f in dataclasses.fields(EntityOptions)]:
                options = EntityOptions(**{step: False})
                rows = [r for d, doc in zip(docs, nlp_docs, strict=True)
                        for r in entity_rows(d["doc_id"], extract_entities(
                            d["text"], mentions_from_doc(doc), enricher.gazetteer,
                            options=options))]
                variants.append(summary(f"without {step}",
                                        score(args.eval_dir, args.split, rows, work)))
            off = EntityOptions(**{f.name: False for f in dataclasses.fields(EntityOptions)})
            rows = [r for d, doc in zip(docs, nlp_docs, strict=True)
                    for r in entity_rows(d["doc_id"], extract_entities(
                        d["text"], mentions_from_doc(doc), enricher.gazetteer, options=off))]
            variants.append(summary("without all four", score(args.eval_dir, args.split, rows,
                                                              work)))
    out: dict[str, Any] = {
        "model": model, "split": args.split, "documents": len(docs),
        "gold_mentions": result["gold_entities"], "cores": os.cpu_count(),
        "articles_per_s": round(len(docs) / wall, 1),
        "cpu_ms_per_doc": round(cpu * 1000 / len(docs), 2),
        "per_type": {t: result["per_type"][t] for t in TYPES},
        "variants": variants,
    }
    if args.feed_cpu:
        out["feed_cpu_ms_per_article"] = round(feed_cpu_ms(enricher), 3)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    e = result["exact"]
    print(f"model={model} split={args.split} docs={len(docs)} gold mentions="
          f"{out['gold_mentions']} cores={out['cores']}")
    print(f"typed F1 {e['f1']:.4f}  P {e['precision']:.4f}  R {e['recall']:.4f}")
    for t in TYPES:
        m = result["per_type"][t]
        print(f"  {t:5} F1 {m['f1']:.4f}  P {m['precision']:.4f}  R {m['recall']:.4f}"
              f"  (tp {m['tp']} fp {m['fp']} fn {m['fn']})")
    print(f"speed: {out['articles_per_s']} docs/s, {out['cpu_ms_per_doc']} CPU ms/doc "
          f"({sum(len(t.split()) for t in texts) / len(texts):.0f} words/doc, 1 process)")
    if "feed_cpu_ms_per_article" in out:
        print(f"feed-sized articles: {out['feed_cpu_ms_per_article']} CPU ms/article")
    if len(variants) > 1:
        print(f"{'variant':28} {'F1':>6} {'LOC':>6} {'MISC':>6} {'ORG':>6} {'PER':>6}")
        for v in variants:
            print(f"{v['variant']:28} {v['f1']:6.4f} {v['LOC']:6.4f} {v['MISC']:6.4f} "
                  f"{v['ORG']:6.4f} {v['PER']:6.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
