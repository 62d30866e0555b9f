"""Stories: syndication collapse and online story clustering, the pure core (README.md).

``engine.StoryEngine`` is the one object the worker and ``newsflow cluster`` use:
``assign(StoryInput) -> Assignment``, ``snapshot() -> bytes``, ``StoryEngine.restore(bytes)``.
Its parts, one job each: ``shingles`` (normalisation, wire furniture, word shingles),
``background`` (document frequencies: shipped table + the stream), ``vectors`` (hashed sparse
vectors, capped centroids), ``features`` (one article's vectors and fingerprint), ``copies``
(exact keys, MinHash LSH, fuzzy titles), ``clusters`` (stories, their index and scoring),
``model`` (inputs and answers), ``records`` (JSON lines), ``evaluate`` (dev set, topic-wise
cross-validation).
"""
