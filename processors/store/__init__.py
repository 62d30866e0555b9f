"""The Elasticsearch side: documents and queries (pure), the bulk request and its outcome
(ports.py), the index adapter (index.py), dead-letter records, and `newsflow retag`.
"""
