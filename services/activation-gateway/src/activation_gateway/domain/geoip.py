"""IP -> country and VPN / datacenter flags from an offline CSV of CIDR ranges (no network).

The same ``cidr,country,kind`` format as antifraud's data (``kind``: empty, ``datacenter`` or
``vpn``; the most specific range wins), so one export serves both services.
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "ip_ranges.csv"


@dataclass(frozen=True)
class IpInfo:
    country: str = ""
    vpn: bool = False
    datacenter: bool = False


class IpRanges:
    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self._tables: dict[int, dict[int, dict[int, IpInfo]]] = {4: {}, 6: {}}
        for cidr, country, kind in rows:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
            kind = kind.strip().lower()
            if kind not in ("", "vpn", "datacenter"):
                raise ValueError(f"{cidr}: kind must be empty, datacenter or vpn")
            info = IpInfo(country.strip().upper(), kind == "vpn", kind == "datacenter")
            self._tables[network.version].setdefault(network.prefixlen, {})[int(network.network_address)] = (
                info
            )
        self._lengths = {version: sorted(table, reverse=True) for version, table in self._tables.items()}

    @classmethod
    def from_file(cls, path: Path | None = None) -> IpRanges:
        path = path or SHIPPED
        with open(path, newline="") as handle:
            lines = (line for line in handle if line.strip() and not line.lstrip().startswith("#"))
            rows = [(r[0], r[1] if len(r) > 1 else "", r[2] if len(r) > 2 else "") for r in csv.reader(lines)]
        return cls(rows)

    def lookup(self, ip: str) -> IpInfo:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return IpInfo()
        bits = 32 if address.version == 4 else 128
        value = int(address)
        for length in self._lengths[address.version]:
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            hit = self._tables[address.version][length].get(value & mask)
            if hit is not None:
                return hit
        return IpInfo()


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
