"""The Elasticsearch adapter: template and alias, bulk indexing, reads for search and stats.

One class, built from ElasticsearchSettings, used as a context manager. Its methods return
what Elasticsearch acknowledged; whole-request failures become our errors:

- unreachable, timed out, 429 or 5xx -> SearchUnavailableError (retry later);
- 401/403 -> ConfigError (credentials: nothing to retry);
- anything else the server refuses -> SearchUnavailableError for bulk (the batch is held and
  retried, loudly, rather than lost) and NewsflowError for reads.

Per-document results of a bulk request are sorted into indexed, rejected (permanent: mapping,
parsing, size) and retryable (429/5xx for that item). The client's own retries are off: the
caller owns the backoff and says what it is waiting for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

from newsflow.errors import ConfigError, NewsflowError, SearchUnavailableError
from newsflow.settings import ElasticsearchSettings
from processors.store.documents import (
    backing_index,
    index_pattern,
    index_template,
    mapping_additions,
    mapping_field_paths,
)
from processors.store.ports import BulkOutcome, IndexRequest, ItemFailure

__all__ = [
    "ArticleIndex",
    "ensure_plain_index",
    "es_client",
    "search_or_empty",
    "tls_options",
    "translate_error",
]

logger = logging.getLogger(__name__)


def _retry_after(exc: ApiError) -> float | None:
    try:
        value = exc.meta.headers.get("retry-after")
        return float(value) if value else None
    except (AttributeError, TypeError, ValueError):
        return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.meta.status} {exc.message}"
    if isinstance(exc, TransportError):
        # str() is only "Connection error"; the message names host and cause.
        return f"{type(exc).__name__}: {exc.message}"[:300]
    return f"{type(exc).__name__}: {exc}"


def _unavailable(exc: Exception, what: str) -> SearchUnavailableError:
    retry_after = _retry_after(exc) if isinstance(exc, ApiError) else None
    return SearchUnavailableError(f"{what}: {_describe(exc)}", retry_after=retry_after)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, ApiError):
        return exc.meta.status == 429 or exc.meta.status >= 500
    # elastic_transport.ConnectionError, ConnectionTimeout, SerializationError...
    return isinstance(exc, TransportError)


def translate_error(exc: Exception, what: str) -> NewsflowError:
    """An Elasticsearch client error as newsflow's (unavailable, config, or other)."""
    return _translate(exc, what)


def _translate(exc: Exception, what: str) -> NewsflowError:
    if _is_transient(exc):
        return _unavailable(exc, what)
    if isinstance(exc, ApiError) and exc.meta.status in (401, 403):
        return ConfigError(f"{what}: Elasticsearch refused the credentials ({_describe(exc)})")
    return NewsflowError(f"{what}: {_describe(exc)}")


def tls_options(settings: ElasticsearchSettings) -> dict[str, Any]:
    """The client's TLS arguments (only what is set: it refuses TLS options on http URLs)."""
    options: dict[str, Any] = {"verify_certs": settings.verify_certs}
    if settings.ca_certs is not None:
        if not settings.ca_certs.exists():
            raise ConfigError(f"elasticsearch.ca_certs: no such file {settings.ca_certs}")
        options["ca_certs"] = str(settings.ca_certs)
    if not settings.verify_certs:
        options["ssl_show_warn"] = False  # warned once below, not on every request
        logger.warning("elasticsearch certificate verification is off (verify_certs=false)")
    return options


def es_client(settings: ElasticsearchSettings) -> Elasticsearch:
    """A client as every newsflow adapter builds it: credentials, TLS, no retries of its
    own (the caller retries with backoff and logs what it waits for)."""
    return Elasticsearch(
        settings.url,
        basic_auth=(
            (settings.username, settings.password.get_secret_value())
            if settings.username and settings.password
            else None
        ),
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        request_timeout=settings.request_timeout_s,
        max_retries=0,
        retry_on_timeout=False,
        **tls_options(settings),
    )


def ensure_plain_index(client: Elasticsearch, index: str, mappings: Mapping[str, Any]) -> None:
    """Create a single-shard index with ``mappings`` unless it exists (the stories, their
    snapshots, the alerts); idempotent, and a creation race is not an error."""
    try:
        if not client.indices.exists(index=index):
            client.indices.create(
                index=index, mappings=dict(mappings),
                settings={"number_of_shards": 1, "number_of_replicas": 0})
    except ApiError as exc:
        if exc.meta.status == 400 and exc.error == "resource_already_exists_exception":
            return  # another process created it between the check and the create
        raise _translate(exc, f"creating index {index}") from exc
    except Exception as exc:
        raise _translate(exc, f"creating index {index}") from exc


def search_or_empty(client: Elasticsearch, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Hits of ``body`` on ``index``; no hits (not an error) before the index exists."""
    try:
        reply = dict(client.options(ignore_status=404).search(index=index, **body))
    except Exception as exc:
        raise _translate(exc, f"searching {index}") from exc
    if "hits" not in reply:
        return {"hits": {"hits": [], "total": {"value": 0, "relation": "eq"}}}
    return reply


class ArticleIndex:
    """Articles in Elasticsearch: the alias over monthly backing indices."""

    def __init__(
        self, settings: ElasticsearchSettings, client: Elasticsearch | None = None
    ) -> None:
        self.settings = settings
        self.alias = settings.alias
        self._client = client or es_client(settings)
        self._known_indices: set[str] = set()

    def __enter__(self) -> ArticleIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # -- set-up ---------------------------------------------------------------------------

    def template_body(self) -> dict[str, Any]:
        s = self.settings
        return index_template(
            self.alias,
            analyzer=s.text_analyzer,
            shards=s.shards,
            replicas=s.replicas,
            refresh_interval=s.refresh_interval,
        )

    def ensure_ready(self, now: datetime) -> str:
        """Put the index template and make sure the alias exists (by creating this month's
        backing index). Idempotent. Returns the backing index ensured."""
        body = self.template_body()
        try:
            self._client.indices.put_index_template(name=self.settings.template_name, **body)
        except Exception as exc:
            raise _translate(exc, f"putting index template {self.settings.template_name}") from exc
        index = backing_index(self.alias, now)
        self.ensure_index(index)
        self._add_new_fields()
        logger.info(
            "index template ready template=%s pattern=%s alias=%s index=%s",
            self.settings.template_name,
            index_pattern(self.alias),
            self.alias,
            index,
        )
        return index

    def _add_new_fields(self) -> None:
        """Backing indices created before a field was added to mapping v1 (the strict
        mapping would reject documents carrying it) get it in place; idempotent."""
        pattern = index_pattern(self.alias)
        try:
            self._client.indices.put_mapping(
                index=pattern, properties=mapping_additions(), allow_no_indices=True
            )
        except Exception as exc:
            raise _translate(exc, f"adding new fields to {pattern}") from exc

    def ensure_index(self, index: str) -> None:
        """Create a backing index (the template adds mappings and alias) unless known."""
        if index in self._known_indices:
            return
        try:
            self._client.indices.create(index=index)
            logger.info("backing index created index=%s alias=%s", index, self.alias)
        except ApiError as exc:
            if exc.meta.status != 400 or "resource_already_exists" not in str(exc.message):
                raise _translate(exc, f"creating index {index}") from exc
        except Exception as exc:
            raise _translate(exc, f"creating index {index}") from exc
        self._known_indices.add(index)

    # -- writes ---------------------------------------------------------------------------

    def bulk_index(self, requests: Sequence[IndexRequest]) -> BulkOutcome:
        """Index (create or replace) documents by id. Raises SearchUnavailableError when the
        request as a whole failed; per-document failures are in the outcome."""
        if not requests:
            return BulkOutcome()
        for index in {r.index for r in requests}:
            self.ensure_index(index)
        operations: list[Mapping[str, Any]] = []
        for request in requests:
            operations.append({"index": {"_index": request.index, "_id": request.doc_id}})
            operations.append(request.document)
        try:
            response = self._client.bulk(operations=operations)
        except ApiError as exc:
            if exc.meta.status == 413:
                return self._split(requests)
            if exc.meta.status in (401, 403):
                raise _translate(exc, "bulk request") from exc
            # 429/5xx, or a 4xx for the request as a whole: hold the batch and retry.
            raise _unavailable(exc, "bulk request") from exc
        except Exception as exc:
            raise _unavailable(exc, "bulk request") from exc
        return self._outcome(requests, response.body)

    def _split(self, requests: Sequence[IndexRequest]) -> BulkOutcome:
        if len(requests) == 1:
            only = requests[0]
            return BulkOutcome(
                rejected=[
                    ItemFailure(
                        only.doc_id,
                        413,
                        "request_entity_too_large",
                        "the document alone is larger than http.max_content_length",
                    )
                ]
            )
        half = len(requests) // 2
        logger.warning("bulk request too large, splitting documents=%d", len(requests))
        outcome = self.bulk_index(requests[:half])
        outcome.merge(self.bulk_index(requests[half:]))
        return outcome

    @staticmethod
    def _outcome(requests: Sequence[IndexRequest], response: Mapping[str, Any]) -> BulkOutcome:
        outcome = BulkOutcome()
        items = response.get("items", [])
        if len(items) != len(requests):
            raise SearchUnavailableError(
                f"bulk response has {len(items)} items for {len(requests)} documents"
            )
        for request, item in zip(requests, items, strict=True):
            result = next(iter(item.values()))
            status = int(result.get("status", 0))
            if 200 <= status < 300:
                outcome.indexed.append(request.doc_id)
                continue
            error = result.get("error") or {}
            if isinstance(error, str):
                error = {"type": "error", "reason": error}
            failure = ItemFailure(
                request.doc_id,
                status,
                str(error.get("type", "unknown")),
                str(error.get("reason", "")),
            )
            if status == 429 or status >= 500:
                outcome.retryable.append(failure)
            else:
                outcome.rejected.append(failure)
        return outcome

    def refresh(self) -> None:
        try:
            self._client.indices.refresh(index=self.alias)
        except Exception as exc:
            raise _translate(exc, f"refreshing {self.alias}") from exc

    # -- reads ----------------------------------------------------------------------------

    def search(self, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return dict(self._client.search(index=self.alias, **body))
        except Exception as exc:
            raise _translate(exc, f"searching {self.alias}") from exc

    def count(self, query: Mapping[str, Any] | None = None) -> int:
        try:
            response = (
                self._client.count(index=self.alias, query=query)
                if query
                else self._client.count(index=self.alias)
            )
        except Exception as exc:
            raise _translate(exc, f"counting {self.alias}") from exc
        return int(response["count"])

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The stored source of one article, or None. Searches by id over the alias (a GET
        needs the concrete backing index)."""
        response = self.search({"query": {"ids": {"values": [doc_id]}}, "size": 1})
        hits = response["hits"]["hits"]
        return dict(hits[0]["_source"]) if hits else None

    def locate(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """Which backing index each of ``doc_ids`` lives in (absent ids are left out)."""
        if not doc_ids:
            return {}
        response = self.search(
            {"query": {"ids": {"values": list(doc_ids)}}, "size": len(doc_ids), "_source": False}
        )
        return {hit["_id"]: hit["_index"] for hit in response["hits"]["hits"]}

    def scan(
        self, query: Mapping[str, Any], *, batch_size: int = 500
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every matching document as (backing index, source), through a scroll."""
        try:
            for hit in helpers.scan(
                self._client,
                index=self.alias,
                query={"query": query},
                size=batch_size,
                scroll="2m",
                preserve_order=False,
            ):
                yield hit["_index"], dict(hit["_source"])
        except NewsflowError:
            raise
        except Exception as exc:
            raise _translate(exc, f"scanning {self.alias}") from exc

    def mapping_fields(self) -> set[str]:
        """Every field path the alias's mapping declares (for checks such as Kibana's)."""
        try:
            response = self._client.indices.get_mapping(index=self.alias)
        except Exception as exc:
            raise _translate(exc, f"reading the mapping of {self.alias}") from exc
        fields: set[str] = set()
        for index_body in response.values():
            fields |= mapping_field_paths(index_body["mappings"])
        return fields

    def health(self) -> dict[str, Any]:
        # GET / is refused by the integ-test distribution; cluster health works everywhere.
        try:
            return dict(self._client.cluster.health())
        except Exception as exc:
            raise _translate(exc, "cluster health") from exc

