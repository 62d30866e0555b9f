"""Entities and topic tags with evidence: the pure enrichment core (phrases, gazetteer, entities
and their helpers, taxonomy, rule tagger, learned tag model, topic tagger), spaCy loading
(nlp.py) and the Enricher that puts them together (enrichment.py; records.py for JSON lines).
"""
