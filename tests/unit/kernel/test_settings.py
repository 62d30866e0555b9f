from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.errors import ConfigError
from newsflow.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("NEWSFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no ./newsflow.yaml


def test_defaults_point_at_the_local_stack_off_standard_ports() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.elasticsearch.url == "http://127.0.0.1:19200"


def test_priority_is_defaults_file_env_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "kafka:\n  bootstrap_servers: file:1\n  articles_topic: from-file\n"
        "elasticsearch:\n  alias: file-alias\n"
    )
    monkeypatch.setenv("NEWSFLOW_KAFKA__ARTICLES_TOPIC", "from-env")
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH__ALIAS", "env-alias")
    settings = load_settings(config, overrides={"elasticsearch": {"alias": "flag-alias"}})
    assert settings.kafka.bootstrap_servers == "file:1"  # file beats default
    assert settings.kafka.articles_topic == "from-env"  # env beats file
    assert settings.elasticsearch.alias == "flag-alias"  # flags beat env


def test_allow_hosts_short_env_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_ALLOW_HOSTS", "127.0.0.1, feeds.internal,10.0.0.0/8")
    assert load_settings().poller.allow_hosts == ["127.0.0.1", "feeds.internal", "10.0.0.0/8"]


def test_secrets_do_not_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH__PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.elasticsearch.password is not None
    assert settings.elasticsearch.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kafka: [1, 2", "not valid YAML"),
        ("- just\n- a list\n", "mapping at the top"),
        ("kafka:\n  no_such_key: 1\n", "no_such_key"),
        ("kafka:\n  articles_partitions: many\n", "articles_partitions"),
        ("processors:\n  role: indexer\n", "role"),
    ],
)
def test_bad_files_say_what_to_fix(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_kafka_client_config_carries_sasl_only_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = load_settings().kafka.client_config()
    assert plain == {"bootstrap_servers": ["127.0.0.1:19092"], "security_protocol": "PLAINTEXT"}
    monkeypatch.setenv("NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS", "a:9092, b:9092")
    monkeypatch.setenv("NEWSFLOW_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSFLOW_KAFKA__SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("NEWSFLOW_KAFKA__SASL_USERNAME", "newsflow")
    monkeypatch.setenv("NEWSFLOW_KAFKA__SASL_PASSWORD", "s3cret")
    kafka = load_settings().kafka
    assert kafka.client_config() == {
        "bootstrap_servers": ["a:9092", "b:9092"], "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN", "sasl_plain_username": "newsflow",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(kafka)


def test_kafka_producer_config_is_the_client_config_with_the_shared_producer_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSFLOW_KAFKA__MAX_MESSAGE_BYTES", str(4_000_000))
    monkeypatch.setenv("NEWSFLOW_KAFKA__PRODUCER_BATCH_BYTES", str(300_000))
    kafka = load_settings().kafka
    assert kafka.producer_config() == {
        **kafka.client_config(), "acks": "all", "enable_idempotence": True,
        "max_request_size": 4_000_000, "batch_size": 300_000,
    }


def test_tag_model_none_or_empty_means_rules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsflow.settings import ProcessorSettings

    assert ProcessorSettings().tag_model is not None
    assert ProcessorSettings().tag_model.is_file()  # type: ignore[union-attr]
    assert ProcessorSettings(tag_model="none").tag_model is None
    monkeypatch.setenv("NEWSFLOW_PROCESSORS__TAG_MODEL", "")
    assert load_settings().processors.tag_model is None
