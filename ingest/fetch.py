"""HTTP adapter: one conditional GET of a feed, within limits, behind the SSRF guard.

- Validators: If-None-Match / If-Modified-Since; a 304 returns no body (nothing to parse).
- Redirects are followed here, at most ``max_redirects``, so that the guard checks the
  address of every hop; each request connects to the address that was checked (the URL is
  pinned to it, with the Host header and TLS SNI keeping the name), so DNS cannot answer
  differently between the check and the connection.
- Limits: connect/read timeouts per request, a total timeout over all hops, and a body cap
  applied while streaming, to the bytes on the wire and to the decompressed bytes (gzip and
  deflate are decoded here, chunk by chunk, so a compression bomb is cut at the cap too).
- Errors: FeedError/RefusedError (permanent) for what retrying cannot fix (4xx, refused
  address, body over the cap, too many redirects), FeedUnavailableError (transient) for what
  may pass (connection errors, 5xx, 429/503 with Retry-After), FeedTimeoutError for
  timeouts. The HTTP status and the Retry-After ride as attributes (``status``,
  ``retry_after``); the message is the feed's health reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import resource
import socket
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import aiohttp
import yarl

from ingest.guard import AllowList, IPAddress, refusal
from newsflow.errors import FeedError, FeedTimeoutError, FeedUnavailableError, RefusedError
from newsflow.settings import PollerSettings

__all__ = ["FetchResult", "Fetcher", "Resolver", "parse_retry_after", "raise_open_files_limit"]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 65_536
# A server may ask us to wait; we honour it up to a day (longer is a misconfiguration).
MAX_RETRY_AFTER_S = 86_400.0


@dataclass
class FetchResult:
    url: str  # the final URL, after redirects
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    etag: str | None = None
    last_modified: str | None = None
    redirects: list[str] = field(default_factory=list)
    permanent_redirect: str | None = None  # where a 301/308 chain ended, when it did
    wire_bytes: int = 0
    elapsed_s: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER_S)


async def _system_resolver(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FeedUnavailableError(f"DNS lookup of {host} failed: {exc.strerror}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FeedUnavailableError(f"DNS lookup of {host} returned no address")
    return addresses


class _Decoder:
    """Content-Encoding decoding with a hard cap on the output."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []
        encoding = encoding.strip().lower()
        if encoding in ("", "identity", "none"):
            self._z: zlib._Decompress | None = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = None  # zlib or raw: decided on the first chunk
        else:
            raise FeedError(f"unsupported Content-Encoding {encoding!r}")
        self._encoding = encoding

    def _append(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise RefusedError(f"body larger than the {self.cap} bytes cap (aborted)")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._encoding == "deflate" and self._z is None:
            # "deflate" is zlib-wrapped by the RFC, raw deflate by some servers.
            wbits = zlib.MAX_WBITS if chunk[:1] and (chunk[0] & 0x0F) == 8 else -zlib.MAX_WBITS
            self._z = zlib.decompressobj(wbits)
        if self._z is None:
            self._append(chunk)
            return
        data = chunk
        try:
            while data:
                out = self._z.decompress(data, self.cap - self.size + 1)
                self._append(out)
                data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise FeedError(f"corrupt {self._encoding} body: {exc}") from exc

    def finish(self) -> bytes:
        if self._z is not None:
            try:
                self._append(self._z.flush())
            except zlib.error as exc:
                raise FeedError(f"corrupt {self._encoding} body: {exc}") from exc
        return b"".join(self.parts)


def raise_open_files_limit() -> None:
    """Raise this process's soft limit of open files to its hard limit (where permitted).

    A Fetcher keeps an idle keep-alive connection to every host it asked in the last
    ``min_host_gap_s + 10`` seconds: with thousands of hosts that is more sockets than a
    default soft limit of 1,024 allows. Called as a Fetcher starts, whoever runs it (the
    poller, a benchmark).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # not permitted: keep the soft one
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class Fetcher:
    """Async feed fetcher. ``async with Fetcher(settings) as f: await f.fetch(url)``.

    aiohttp's client: an unchanged poll's request costs ~0.2 ms of CPU in it against ~1.2
    in httpx's (bench/poller/clients.py). Its pool is keyed by address, so keeping idle
    connections costs nothing per request (httpcore's pool walks all of its connections on
    each request, which is why the httpx fetcher kept only 16); they are closed once idle
    for the host gap plus 10 s, so the poller holds at most one idle socket per host polled
    in that time (and raises the process's open-file limit to its maximum as it starts).
    """

    def __init__(
        self,
        settings: PollerSettings,
        *,
        allow: AllowList | None = None,
        resolver: Resolver | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self._settings = settings
        self._allow = allow if allow is not None else AllowList.parse(settings.allow_hosts)
        self._resolve = resolver or _system_resolver
        self._trace_configs = list(trace_configs)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        s = self._settings
        raise_open_files_limit()
        connector = aiohttp.TCPConnector(
            limit=max(4, s.concurrency * 2), limit_per_host=0,
            keepalive_timeout=s.min_host_gap_s + 10.0,
            use_dns_cache=False,  # every URL it sees is an address the guard checked
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # connect: waiting for a pool slot and connecting; sock_connect: the TCP (and
            # TLS) connection alone; sock_read: between two reads. The total is fetch()'s.
            timeout=aiohttp.ClientTimeout(total=None, connect=s.total_timeout_s,
                                          sock_connect=s.connect_timeout_s,
                                          sock_read=s.read_timeout_s),
            auto_decompress=False,  # decoded here, under the cap (_Decoder)
            cookie_jar=aiohttp.DummyCookieJar(),  # feeds get no cookies back
            trust_env=False,  # a proxy from the environment would bypass the pinning
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            trace_configs=self._trace_configs or None,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        allow_private: bool = False,
    ) -> FetchResult:
        """GET ``url`` (conditionally when validators are given) and return the result."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._settings.total_timeout_s):
                result = await self._follow(url, etag, last_modified, allow_private)
        except TimeoutError as exc:
            # The per-fetch deadline: a server that drips a byte every few seconds never
            # trips the read timeout, but it does not get past this.
            raise FeedTimeoutError(
                f"total timeout: no complete response within {self._settings.total_timeout_s:g} s",
                url=url,
            ) from exc
        result.elapsed_s = time.monotonic() - started
        return result

    async def _follow(
        self, url: str, etag: str | None, last_modified: str | None, allow_private: bool
    ) -> FetchResult:
        hops: list[str] = []
        permanent = True
        current = url
        while True:
            response = await self._request(current, etag, last_modified, allow_private)
            try:
                location = response.headers.get("location")
                if response.status in _REDIRECTS and location:
                    nxt = urljoin(current, location.strip())
                    if len(hops) >= self._settings.max_redirects:
                        raise FeedError(
                            f"too many redirects (more than {self._settings.max_redirects})",
                            url=url,
                        )
                    permanent = permanent and response.status in (301, 308)
                    hops.append(nxt)
                    log.debug("redirect url=%s status=%s to=%s", current, response.status,
                              nxt)
                    current = nxt
                    continue
                result = await self._finish(current, response)
            finally:
                response.release()
            result.redirects = hops
            if hops and permanent:
                result.permanent_redirect = current
            return result

    async def _request(
        self, url: str, etag: str | None, last_modified: str | None, allow_private: bool
    ) -> aiohttp.ClientResponse:
        assert self._session is not None, "use Fetcher as an async context manager"
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise FeedError(f"not an http(s) URL: {url}", url=url)
        host = parts.hostname.lower()
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise FeedError(f"bad port in {url}", url=url) from exc
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = await self._resolve(host, port)
        reason = refusal(host, addresses, self._allow, allow_private)
        if reason:
            raise RefusedError(reason, url=url)
        address = addresses[0]
        pinned_host = f"[{address}]" if address.version == 6 else str(address)
        pinned = urlunsplit((scheme, f"{pinned_host}:{port}", parts.path or "/", parts.query, ""))
        default_port = port == (443 if scheme == "https" else 80)
        headers = {
            "Host": host if default_port else f"{host}:{port}",
            "User-Agent": self._settings.user_agent,
            "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                      "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
            "Accept-Encoding": "gzip, deflate",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if parts.username:  # credentials in the feed URL (never logged)
            userpass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(userpass.encode()).decode()
        try:
            # The name, not the address, for TLS: SNI and the certificate's check.
            return await self._session.get(
                # As written: the feed's path and query are not re-quoted on the way.
                yarl.URL(pinned, encoded=True), headers=headers, allow_redirects=False,
                server_hostname=host if scheme == "https" else None)
        except aiohttp.ConnectionTimeoutError as exc:
            raise FeedTimeoutError(f"connect timeout to {host} ({address})", url=url) from exc
        except aiohttp.SocketTimeoutError as exc:
            raise FeedTimeoutError(f"read timeout from {host}", url=url) from exc
        except aiohttp.ServerTimeoutError as exc:
            raise FeedTimeoutError(f"timeout talking to {host}: {type(exc).__name__}",
                                   url=url) from exc
        except aiohttp.ClientConnectorError as exc:
            raise FeedUnavailableError(f"cannot connect to {host} ({address}): {exc.os_error}",
                                       url=url) from exc
        except aiohttp.ClientError as exc:
            raise FeedUnavailableError(f"HTTP error from {host}: {type(exc).__name__}: {exc}",
                                       url=url) from exc

    async def _finish(self, url: str, response: aiohttp.ClientResponse) -> FetchResult:
        status = response.status
        headers = {k.lower(): v for k, v in response.headers.items()}
        result = FetchResult(url=url, status=status, headers=headers,
                             etag=headers.get("etag"), last_modified=headers.get("last-modified"))
        if status == 304:
            # No body follows a 304; reading it to its end hands the connection back to the
            # pool for the host's next poll (test_unchanged_polls_keep_their_connection_alive).
            await response.read()
            return result
        if status in (429, 503):
            wait = parse_retry_after(headers.get("retry-after"), time.time())
            raise FeedUnavailableError(
                f"HTTP {status}" + (f", Retry-After {wait:g} s" if wait is not None else ""),
                url=url, status=status, retry_after=wait,
            )
        if status == 408 or status >= 500:
            raise FeedUnavailableError(f"HTTP {status}", url=url, status=status)
        if status >= 400:
            raise FeedError(f"HTTP {status}" + (" (gone)" if status == 410 else ""), url=url,
                            status=status)
        if not 200 <= status < 300:
            raise FeedError(f"unexpected HTTP {status}", url=url, status=status)
        result.body, result.wire_bytes = await self._read_body(response, url)
        return result

    async def _read_body(self, response: aiohttp.ClientResponse, url: str
                         ) -> tuple[bytes, int]:
        cap = self._settings.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise RefusedError(
                f"body larger than the {cap} bytes cap (Content-Length {declared}, not read)"
            )
        decoder = _Decoder(response.headers.get("content-encoding", ""), cap)
        wire = 0
        try:
            async for chunk in response.content.iter_chunked(_CHUNK):
                wire += len(chunk)
                if wire > cap:
                    raise RefusedError(f"body larger than the {cap} bytes cap (aborted)")
                decoder.feed(chunk)
        except aiohttp.ServerTimeoutError as exc:
            raise FeedTimeoutError("read timeout while receiving the body", url=url) from exc
        except aiohttp.ClientError as exc:
            raise FeedUnavailableError(f"body interrupted: {type(exc).__name__}: {exc}",
                                       url=url) from exc
        return decoder.finish(), wire

