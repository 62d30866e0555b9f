"""httpx's transport for the fetcher, with a cheaper check of idle keep-alive connections.

httpcore's pool, before each request and after each response, asks every connection it
holds whether it expired; an idle HTTP/1.1 connection answers by asking its stream whether
the socket is readable (a readable idle socket means the server closed it). With the anyio
backend each such question builds anyio's whole socket attribute map, with a
``getpeername`` system call, to fetch the raw socket, and only then polls it: ~9 % of the
poller's event-loop samples at 50 feeds polled every second (py-spy over
``bench.poller.relist``, 2026-12-03).
The stream here keeps the raw socket from the connection's start and polls it directly:
the same answer (the same poll of the same socket) without the map. Everything else goes
to httpcore's own backend unchanged.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["LeanBackend", "LeanStream", "lean_transport"]


def _readable(sock: socket.socket) -> bool:
    """httpcore's is_socket_readable (httpcore/_utils.py), on a socket we already hold."""
    fd = sock.fileno()
    if fd < 0:  # closed: httpcore's answer for a socket it cannot poll is "readable"
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class LeanStream(httpcore.AsyncNetworkStream):
    """A network stream that answers ``is_readable`` from the socket it holds."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return LeanStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._sock is not None:
            return _readable(self._sock)
        return self._inner.get_extra_info(info)


class LeanBackend(httpcore.AsyncNetworkBackend):
    """httpcore's backend, its streams wrapped in LeanStream."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return LeanStream(await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address,
            socket_options=socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return LeanStream(await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def lean_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's default transport (no proxy from the environment), with LeanBackend.

    httpx has no public way to choose the pool's network backend: its pool's attribute is
    wrapped here. Should a future httpcore rename it, the transport stays the default one.
    """
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    pool = transport._pool
    inner = getattr(pool, "_network_backend", None)
    if isinstance(inner, httpcore.AsyncNetworkBackend):
        pool._network_backend = LeanBackend(inner)
    return transport
