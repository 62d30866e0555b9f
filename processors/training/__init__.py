"""The learned tag model's training: labelled corpus, features, fit, evaluation (README.md)."""
