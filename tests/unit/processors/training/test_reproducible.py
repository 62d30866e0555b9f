"""`newsflow tagger train` rebuilds the shipped model from the labels: same coefficients,
thresholds and version. Fails when the labels, the taxonomy (its rules are features) or the
training code change without a retrain. Needs the shared pool file and the spaCy model
(about 30 s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newsflow.settings import ProcessorSettings
from processors.enrich.enrichment import Enricher
from processors.enrich.tagmodel import DEFAULT_TAG_MODEL, TagModel
from processors.training.corpus import default_pool_path
from processors.training.pipeline import train_model

POOL = default_pool_path()


@pytest.mark.skipif(not POOL.is_file(), reason="shared/eval/topics-pool.jsonl not available")
def test_training_from_the_labels_reproduces_the_shipped_model(tmp_path: Path) -> None:
    settings = ProcessorSettings()
    enricher = Enricher(settings.spacy_model, settings.taxonomy_file, tag_model=None)
    out = tmp_path / "tagmodel.npz"
    rebuilt = train_model(enricher, POOL, out, progress=lambda _: None)
    shipped = TagModel.load(DEFAULT_TAG_MODEL)
    assert rebuilt.tags == shipped.tags
    assert rebuilt.meta["taxonomy_version"] == shipped.meta["taxonomy_version"]
    assert rebuilt.meta["labels_digest"] == shipped.meta["labels_digest"]
    np.testing.assert_allclose(rebuilt.thresholds, shipped.thresholds, atol=1e-6)
    np.testing.assert_allclose(rebuilt.coef, shipped.coef, atol=1e-5)
    assert rebuilt.version == shipped.version, "retrain: .venv/bin/newsflow tagger train"
    assert out.read_bytes() == DEFAULT_TAG_MODEL.read_bytes()
