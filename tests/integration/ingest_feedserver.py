"""A real HTTP server on a loopback address for the ingest tests, with scripted routes.

Each route is a function of the request returning a Reply; every request is recorded
(path, arrival time, headers) so tests can check what the poller sent and when.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer

BOOTSTRAP = "127.0.0.1:19092"


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line


@dataclass
class Seen:
    path: str
    at: float
    headers: dict[str, str]
    client: tuple[str, int]


Route = Callable[[Seen], Reply]


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                seen = Seen(self.path, time.time(), {k.lower(): v for k, v in self.headers.items()},
                            self.client_address)
                with server._lock:
                    server.requests.append(seen)
                route = server.routes.get(self.path.split("?", 1)[0])
                reply = route(seen) if route else Reply(404, b"not found")
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if isinstance(reply.body, bytes):
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                    else:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for chunk in reply.body:
                            if chunk:
                                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                                self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def rss(items: Iterable[tuple[str, str]], title: str = "Test feed") -> bytes:
    """A small RSS 2.0 document from (link, title) pairs."""
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             f"<title>{title}</title><link>https://news.test/</link><language>en</language>"]
    for n, (link, item_title) in enumerate(items):
        parts.append(f"<item><title>{item_title}</title><link>{link}</link>"
                     f"<description>Story {n}: {item_title}.</description>"
                     f"<pubDate>{formatdate(1_780_000_000 + n * 60, usegmt=True)}</pubDate></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


class ConditionalFeed:
    """A route serving a changing document with an ETag, answering 304 when unchanged."""

    def __init__(self, body: bytes) -> None:
        self.set(body)

    def set(self, body: bytes) -> None:
        self.body = body
        self.etag = f'"{uuid.uuid4().hex[:12]}"'

    def __call__(self, req: Seen) -> Reply:
        if req.headers.get("if-none-match") == self.etag:
            return Reply(304, b"", {"ETag": self.etag})
        return Reply(200, self.body, {"ETag": self.etag, "Content-Type": "application/rss+xml"})


def unique_topic(prefix: str = "test.ingest") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def topic_keys(topic: str, idle_ms: int = 3000) -> list[str]:
    """Every message key on the topic, from the beginning (reads until idle)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=idle_ms)
    try:
        return [msg.key.decode() for msg in consumer]
    finally:
        consumer.close()


def delete_topics(*topics: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        admin.delete_topics(list(topics))
    except Exception:  # already gone or never created
        pass
    finally:
        admin.close()


@pytest.fixture
def kafka_topic() -> Iterator[str]:
    topic = unique_topic()
    yield topic
    delete_topics(topic)
