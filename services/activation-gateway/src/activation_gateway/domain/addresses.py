"""Which address a request comes from: the peer, or X-Forwarded-For through trusted proxies.
(What that address is — country, VPN, datacenter — is ``gamekeys_platform.geoip``.)"""

from __future__ import annotations

import ipaddress


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` -> networks (ValueError names the bad entry)."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy, in which case the
    right-most X-Forwarded-For entry that is not itself a trusted proxy (what a client writes
    into the header itself, further left, is never believed)."""
    peer = peer or ""
    if not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    for entry in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            address = ipaddress.ip_address(entry)
        except ValueError:
            return peer  # a malformed hop: do not guess
        if not _is_trusted(str(address), trusted):
            return str(address)
    return peer


def _is_trusted(ip: str, trusted: tuple) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address.version == network.version and address in network for network in trusted)
