"""IP -> country and datacenter / VPN flags, from an offline CSV of CIDR ranges (no network).

Format: ``cidr,country,kind`` per line (``#`` comments), ``kind`` empty, ``datacenter`` or
``vpn``. The most specific range wins. Lookup is one dict probe per prefix length in use.
"""

from __future__ import annotations

import csv
import ipaddress
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "ip_ranges.csv"
_KINDS = ("", "datacenter", "vpn")


class IpRanges:
    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        # {version: {prefixlen: {network int: (country, kind)}}}
        self._tables: dict[int, dict[int, dict[int, tuple[str, str]]]] = {4: {}, 6: {}}
        for cidr, country, kind in rows:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
            kind = kind.strip().lower()
            if kind not in _KINDS:
                raise ValueError(f"{cidr}: kind must be empty, datacenter or vpn")
            country = country.strip().upper()
            if country and (len(country) != 2 or not country.isalpha()):
                raise ValueError(f"{cidr}: country must be an ISO 3166-1 alpha-2 code")
            by_length = self._tables[network.version].setdefault(network.prefixlen, {})
            by_length[int(network.network_address)] = (country, kind)
        self._lengths = {v: sorted(t, reverse=True) for v, t in self._tables.items()}

    @classmethod
    def from_file(cls, path: Path | None = None) -> IpRanges:
        path = path or SHIPPED
        rows: list[tuple[str, str, str]] = []
        with open(path, newline="") as handle:
            lines = (line for line in handle if line.strip() and not line.lstrip().startswith("#"))
            for number, row in enumerate(csv.reader(lines), start=1):
                if len(row) < 2:
                    raise ValueError(f"{path.name} row {number}: expected cidr,country[,kind]")
                rows.append((row[0], row[1], row[2] if len(row) > 2 else ""))
        return cls(rows)

    def lookup(self, ip: str) -> dict[str, Any]:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return {"country": "", "datacenter": False, "vpn": False}
        bits = 32 if address.version == 4 else 128
        value = int(address)
        tables = self._tables[address.version]
        for length in self._lengths[address.version]:
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            hit = tables[length].get(value & mask)
            if hit is not None:
                country, kind = hit
                return {"country": country, "datacenter": kind == "datacenter", "vpn": kind == "vpn"}
        return {"country": "", "datacenter": False, "vpn": False}
