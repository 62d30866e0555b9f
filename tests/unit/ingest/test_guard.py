from __future__ import annotations

import ipaddress

import pytest

from ingest.guard import AllowList, address_category, refusal


@pytest.mark.parametrize(("address", "category"), [
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
    ("127.0.0.1", "loopback"),
    ("127.45.6.7", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("100.64.1.1", "shared (carrier-grade NAT)"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.1", "private"),  # documentation range: not routable
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:10.0.0.1", "private"),
    ("2002:a00:1::", "private"),  # 6to4 wrapping 10.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 wrapping 169.254.169.254
])
def test_address_category(address: str, category: str | None) -> None:
    assert address_category(ipaddress.ip_address(address)) == category


def ips(*values: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address(v) for v in values]


@pytest.mark.parametrize(("allow", "host", "addresses", "allow_private", "refused"), [
    ([], "news.example", ["93.184.216.34"], False, False),
    ([], "news.example", ["10.0.0.5"], False, True),
    ([], "news.example", ["93.184.216.34", "127.0.0.1"], False, True),  # any bad one refuses
    ([], "news.example", ["10.0.0.5"], True, False),  # the feed entry allows it
    (["127.0.0.1"], "127.0.0.1", ["127.0.0.1"], False, False),
    (["127.0.0.1"], "127.0.0.2", ["127.0.0.2"], False, True),
    (["127.0.0.0/8"], "127.9.9.9", ["127.9.9.9"], False, False),
    (["10.0.0.0/8"], "intranet", ["10.20.30.40"], False, False),
    (["intranet"], "intranet", ["10.20.30.40"], False, False),
    (["INTRANET."], "intranet", ["10.20.30.40"], False, False),
    ([".corp.example"], "feeds.corp.example", ["10.1.1.1"], False, False),
    ([".corp.example"], "corp.example.evil", ["10.1.1.1"], False, True),
    (["::1"], "localhost", ["::1"], False, False),
    (["127.0.0.1"], "x", ["::ffff:127.0.0.1"], False, False),
])
def test_refusal(allow: list[str], host: str, addresses: list[str], allow_private: bool,
                 refused: bool) -> None:
    reason = refusal(host, ips(*addresses), AllowList.parse(allow), allow_private)
    assert (reason is not None) == refused
    if refused:
        assert reason is not None and reason.startswith(f"refused: {host} resolves to")
