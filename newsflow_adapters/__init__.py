"""Adapters that both stages share: the Kafka admin client that creates topics (topics.py).

Outside the kernel (``newsflow/``), which must not import a Kafka library, and outside
``ingest/`` and ``processors/``, which never import each other. It imports the kernel only.
One implementation for both sides rather than a copy in each: creating a topic with our
partition count, replication and configs is the same job wherever it happens.
"""
