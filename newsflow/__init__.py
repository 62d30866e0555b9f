"""newsflow: feeds -> Kafka -> Faust enrichment -> Elasticsearch and per-tag Kafka streams.

This package is the shared kernel (article schema, settings, errors, logging) and the CLI.
It never imports ingest/ or processors/; only newsflow.cli reaches into them.
"""

from newsflow.article import SCHEMA_VERSION, Article, Entity, Evidence, Tag, article_id
from newsflow.errors import NewsflowError
from newsflow.settings import Settings, load_settings

__all__ = [
    "SCHEMA_VERSION",
    "Article",
    "Entity",
    "Evidence",
    "NewsflowError",
    "Settings",
    "Tag",
    "__version__",
    "article_id",
    "load_settings",
]

__version__ = "0.1.0"
