"""IP -> country and datacenter / VPN flags, from an offline CSV of CIDR ranges (no network).

Format: ``cidr,country,kind`` a line (``#`` comments), ``kind`` empty, ``datacenter`` or ``vpn``;
the most specific range wins. One export serves every service that needs it (antifraud's
features, activation-gateway's region checks); ``SAMPLE_RANGES`` is documentation-range sample
data that keeps tests deterministic. Lookup is one dict probe per prefix length in use.
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RANGES = Path(__file__).resolve().parent / "data" / "ip_ranges.csv"
_KINDS = ("", "datacenter", "vpn")


@dataclass(frozen=True)
class IpInfo:
    country: str = ""
    vpn: bool = False
    datacenter: bool = False


class IpRanges:
    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        # {version: {prefix length: {network as int: info}}}
        self._tables: dict[int, dict[int, dict[int, IpInfo]]] = {4: {}, 6: {}}
        for cidr, country, kind in rows:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
            kind = kind.strip().lower()
            if kind not in _KINDS:
                raise ValueError(f"{cidr}: kind must be empty, datacenter or vpn")
            country = country.strip().upper()
            if country and (len(country) != 2 or not country.isalpha()):
                raise ValueError(f"{cidr}: country must be an ISO 3166-1 alpha-2 code")
            by_length = self._tables[network.version].setdefault(network.prefixlen, {})
            by_length[int(network.network_address)] = IpInfo(country, kind == "vpn", kind == "datacenter")
        self._lengths = {version: sorted(table, reverse=True) for version, table in self._tables.items()}

    @classmethod
    def from_file(cls, path: Path | None = None) -> IpRanges:
        path = path or SAMPLE_RANGES
        rows: list[tuple[str, str, str]] = []
        with open(path, newline="") as handle:
            lines = (line for line in handle if line.strip() and not line.lstrip().startswith("#"))
            for number, row in enumerate(csv.reader(lines), start=1):
                if len(row) < 2:
                    raise ValueError(f"{path.name} row {number}: expected cidr,country[,kind]")
                rows.append((row[0], row[1], row[2] if len(row) > 2 else ""))
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
