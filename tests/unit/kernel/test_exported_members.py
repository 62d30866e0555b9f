"""Pin the kernel's public names, so that a rename is a deliberate change."""

from __future__ import annotations

import newsflow
import newsflow.article
import newsflow.errors


def test_kernel_exports() -> None:
    assert sorted(newsflow.__all__) == sorted([
        "SCHEMA_VERSION", "Article", "Entity", "Evidence", "NewsflowError", "Settings", "Tag",
        "__version__", "article_id", "load_settings",
    ])
    for name in newsflow.__all__:
        assert hasattr(newsflow, name)


def test_error_tree_branches() -> None:
    errors = newsflow.errors
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.NewsflowError)
    assert issubclass(errors.SchemaError, errors.PermanentError)
    assert issubclass(errors.RefusedError, errors.FeedError)
    assert issubclass(errors.SearchUnavailableError, errors.TransientError)
    assert issubclass(errors.FeedTimeoutError, errors.FeedUnavailableError)
    assert issubclass(errors.FeedUnavailableError, errors.TransientError)
    assert not issubclass(errors.TransientError, errors.PermanentError)
    refused = errors.KibanaImportError("refused", url="http://k", status=200,
                                       failed=("dashboard/x",))
    assert (refused.url, refused.status, refused.failed) == ("http://k", 200, ("dashboard/x",))
