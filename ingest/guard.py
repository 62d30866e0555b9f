"""The SSRF guard's rules: which addresses a feed may reach. Pure; fetch.py applies it.

A feed may only reach globally routable addresses, unless it is allowed: by the feed entry
(``allow_private: true``) or by the allowlist (settings ``poller.allow_hosts`` or
``NEWSFLOW_ALLOW_HOSTS``: host names, addresses or CIDR ranges). The check runs on the
addresses DNS returned, for the first request and for every redirect hop, and the fetcher
then connects to the checked address (so a second DNS answer cannot swap it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["AllowList", "IPAddress", "address_category", "refusal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def _embedded_v4(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address, else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def address_category(address: IPAddress) -> str | None:
    """None for a public address, else why it is not: loopback, private, link-local, ..."""
    address = _embedded_v4(address)
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.version == 4 and address in _CGNAT:
        return "shared (carrier-grade NAT)"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-global"
    return None


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Entries: host names ("feeds.local", ".corp.example" for a domain and its
        subdomains), addresses ("127.0.0.1", "::1") or CIDR ranges ("10.0.0.0/8")."""
        hosts: set[str] = set()
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if host in self.hosts:
            return True
        return any(h.startswith(".") and (host.endswith(h) or host == h[1:]) for h in self.hosts)

    def allows_address(self, address: IPAddress) -> bool:
        candidates = {address, _embedded_v4(address)}
        return any(
            a in net for a in candidates for net in self.networks if a.version == net.version
        )


def refusal(
    host: str, addresses: Iterable[IPAddress], allow: AllowList, allow_private: bool = False
) -> str | None:
    """None when the host may be fetched at all of its addresses, else the reason why not.

    Every address must pass: a name that resolves to one public and one private address is
    refused (the connection could land on either).
    """
    if allow_private or allow.allows_host(host):
        return None
    for address in addresses:
        category = address_category(address)
        if category is not None and not allow.allows_address(address):
            return (f"refused: {host} resolves to {category} address {address} "
                    "(allow it with allow_private on the feed or NEWSFLOW_ALLOW_HOSTS)")
    return None
