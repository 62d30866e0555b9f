"""elasticsearch.ca_certs / verify_certs against the real Elasticsearch behind TLS.

The local Elasticsearch speaks plain HTTP, so the test puts a TLS terminator in front of it
(a thread per connection, bytes copied both ways) with a certificate signed by a CA made
for the test with the openssl command, as ECK signs its HTTP certificate with its own CA.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newsflow.errors import SearchUnavailableError
from newsflow.settings import ElasticsearchSettings
from processors.store.index import ArticleIndex
from tests.integration.processors_support import ES_URL

pytestmark = pytest.mark.integration


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make the test CA")
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=newsflow test CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "tls.key", "-out", "tls.csr", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "tls.crt", cwd=d)
    return Pki(d / "ca.crt", d / "tls.crt", d / "tls.key")


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def tls_es(pki: Pki) -> Iterator[str]:
    """https://localhost:PORT in front of the real Elasticsearch."""
    upstream = urlsplit(ES_URL)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert, pki.key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve_one(raw: socket.socket) -> None:
        try:
            client = context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()  # the client refused our certificate: that is a test case
            return
        backend = socket.create_connection((upstream.hostname, upstream.port or 80))
        back = threading.Thread(target=_pump, args=(backend, client), daemon=True)
        back.start()
        _pump(client, backend)
        back.join(timeout=30)
        client.close()
        backend.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(raw,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"https://localhost:{port}"
    stop.set()
    listener.close()


def test_the_configured_ca_is_trusted(tls_es: str, pki: Pki) -> None:
    settings = ElasticsearchSettings(url=tls_es, ca_certs=pki.ca, request_timeout_s=10)
    with ArticleIndex(settings) as index:
        assert index.health()["status"] in ("green", "yellow")


def test_without_the_ca_the_certificate_is_refused(tls_es: str) -> None:
    settings = ElasticsearchSettings(url=tls_es, request_timeout_s=10)
    with ArticleIndex(settings) as index, pytest.raises(
        SearchUnavailableError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"
    ):
        index.health()


def test_verification_turned_off_connects_anyway(tls_es: str) -> None:
    settings = ElasticsearchSettings(url=tls_es, verify_certs=False, request_timeout_s=10)
    with ArticleIndex(settings) as index:
        assert index.health()["status"] in ("green", "yellow")
