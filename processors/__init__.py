"""Kafka -> enrichment -> Elasticsearch and tag streams, in folders by job (README.md):

    enrich/    entities and topic tags: the pure core, spaCy loading, the Enricher
    store/     Elasticsearch: documents and queries (pure), the index adapter, dead letters,
               retag
    streams/   tag streams: routing (pure), the one producer interface and its producers,
               subscribing, Server-Sent Events
    training/  the learned tag model's corpus, fit and evaluation
    service/   the app level on top: the Faust app, topics, agent, the batch handler and its
               steps, worker, HTTP API, metrics

The layering is checked by import-linter (pyproject.toml, [tool.importlinter]).
"""
