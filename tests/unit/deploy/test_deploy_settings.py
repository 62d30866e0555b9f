"""Settings a deployment needs reach the clients: Faust's bind address, session timeout and
topic replication, Elasticsearch's and Kibana's CA bundles. No server is contacted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import certifi
import pytest

from newsflow.cli.kibana import import_saved_objects
from newsflow.errors import ConfigError, KibanaImportError
from newsflow.settings import ElasticsearchSettings, Settings, load_settings
from processors.service.app import build_app
from processors.store.index import ArticleIndex

CA_BUNDLE = Path(certifi.where())  # any readable PEM bundle will do


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in os.environ if k.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no ./newsflow.yaml


def test_defaults_keep_the_local_single_broker_layout() -> None:
    settings = load_settings()
    assert settings.processors.web_host == "127.0.0.1"
    assert settings.kafka.replication_factor == 1
    assert settings.processors.session_timeout_s == 60.0
    assert settings.elasticsearch.ca_certs is None and settings.elasticsearch.verify_certs


def test_faust_app_takes_bind_address_replication_and_session_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEWSFLOW_PROCESSORS__WEB_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSFLOW_KAFKA__REPLICATION_FACTOR", "3")
    monkeypatch.setenv("NEWSFLOW_PROCESSORS__SESSION_TIMEOUT_S", "9")
    monkeypatch.setenv("NEWSFLOW_PROCESSORS__DATA_DIR", str(tmp_path))
    conf = build_app(load_settings()).conf
    assert conf.web_bind == "0.0.0.0"
    assert conf.topic_replication_factor == 3
    assert conf.broker_session_timeout == 9.0
    assert conf.broker_heartbeat_interval == 3.0  # a third of the session at most


def test_the_workers_producer_is_idempotent_with_acks_all(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without idempotence aiokafka's own retries after a broker failure write a tag
    message twice (seen in the broker-kill fault test)."""
    import asyncio

    monkeypatch.setenv("NEWSFLOW_PROCESSORS__DATA_DIR", str(tmp_path))

    async def client_settings() -> tuple[bool, int]:
        client = build_app(load_settings()).producer._new_producer()  # not started
        try:
            return client._txn_manager is not None, client._sender._acks
        finally:
            await client.stop()

    idempotent, acks = asyncio.run(client_settings())
    assert idempotent and acks == -1


def test_nothing_defers_or_wraps_the_sends_the_worker_makes_with_the_producer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """processors.streams.produce sends with the app's producer, not Topic.send: correct
    only while Faust neither defers a stream's sends to its commit nor runs transactions."""
    monkeypatch.setenv("NEWSFLOW_PROCESSORS__DATA_DIR", str(tmp_path))
    conf = build_app(load_settings()).conf
    assert conf.stream_publish_on_commit is False
    assert conf.processing_guarantee.value == "at_least_once"


@pytest.mark.parametrize("value", ["0", "5", "91"])
def test_session_timeout_within_what_the_broker_and_faust_accept(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("NEWSFLOW_PROCESSORS__SESSION_TIMEOUT_S", value)
    with pytest.raises(ConfigError, match="session_timeout_s"):
        load_settings()


def test_replication_factor_is_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_KAFKA__REPLICATION_FACTOR", "0")
    with pytest.raises(ConfigError, match="replication_factor"):
        load_settings()


def _node_config(index: ArticleIndex) -> Any:
    (node,) = index._client.transport.node_pool.all()
    return node.config


def test_elasticsearch_client_trusts_the_configured_ca() -> None:
    settings = ElasticsearchSettings(url="https://newsflow-es-http:9200", ca_certs=CA_BUNDLE)
    with ArticleIndex(settings) as index:
        config = _node_config(index)
    assert (config.scheme, config.host) == ("https", "newsflow-es-http")
    assert config.ca_certs == str(CA_BUNDLE)
    assert config.verify_certs is True


def test_elasticsearch_verification_can_be_turned_off() -> None:
    settings = ElasticsearchSettings(url="https://es.internal:9200", verify_certs=False)
    with ArticleIndex(settings) as index:
        assert _node_config(index).verify_certs is False


def test_plain_http_client_has_no_tls_options() -> None:
    with ArticleIndex(Settings().elasticsearch) as index:
        config = _node_config(index)
    assert config.scheme == "http" and config.ca_certs is None


def test_a_ca_bundle_on_an_http_url_is_refused_when_settings_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH__CA_CERTS", str(CA_BUNDLE))
    with pytest.raises(ConfigError, match="ca_certs is set but url is not https"):
        load_settings()
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH__URL", "https://es.internal:9200")
    assert load_settings().elasticsearch.ca_certs == CA_BUNDLE


def test_a_missing_ca_bundle_says_which_file(tmp_path: Path) -> None:
    missing = tmp_path / "ca.crt"
    settings = ElasticsearchSettings(url="https://es.internal:9200", ca_certs=missing)
    with pytest.raises(ConfigError, match=f"no such file {missing}"):
        ArticleIndex(settings)


def test_kibana_import_with_an_unreadable_ca_bundle_fails_before_any_request(
    tmp_path: Path,
) -> None:
    ndjson = tmp_path / "objects.ndjson"
    ndjson.write_text("{}\n")
    bad = tmp_path / "ca.crt"
    bad.write_text("not a certificate\n")
    for ca in (bad, tmp_path / "missing.crt"):
        with pytest.raises(KibanaImportError, match="cannot load the CA bundle") as caught:
            import_saved_objects("https://kibana.invalid:5601", ndjson, ca_certs=ca)
        assert caught.value.url == "https://kibana.invalid:5601"
        assert caught.value.status is None and caught.value.failed == ()


def test_the_workers_producer_batches_take_the_configured_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """aiokafka keeps one open batch per partition and makes the next send wait for the
    broker once it is full: its 16 KiB default held five or six articles."""
    import asyncio

    monkeypatch.setenv("NEWSFLOW_PROCESSORS__DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSFLOW_KAFKA__PRODUCER_BATCH_BYTES", str(300_000))

    async def batch_size() -> int:
        client = build_app(load_settings()).producer._new_producer()  # not started
        try:
            return int(client._message_accumulator._batch_size)
        finally:
            await client.stop()

    assert asyncio.run(batch_size()) == 300_000
    assert load_settings().kafka.producer_batch_bytes == 300_000


@pytest.mark.parametrize("env", [
    {"NEWSFLOW_KAFKA__PRODUCER_BATCH_BYTES": "1000"},  # under 16 KiB
    {"NEWSFLOW_KAFKA__PRODUCER_BATCH_BYTES": "2000000",
     "NEWSFLOW_KAFKA__MAX_MESSAGE_BYTES": "1000000"},  # a batch the broker would refuse
])
def test_producer_batches_within_what_the_broker_takes(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="producer_batch_bytes"):
        load_settings()
