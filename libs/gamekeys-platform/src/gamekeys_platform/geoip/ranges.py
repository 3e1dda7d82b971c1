"""An operator's CIDR ranges, from a CSV: ``cidr,country,kind`` a line (``#`` comments),
``kind`` empty, ``datacenter`` or ``vpn``; the most specific range wins.

Operators list here what no packaged or MaxMind data knows (a VPN provider's exits they caught,
a hosting range, a country correction). Ranges that are not globally routable (private,
loopback, documentation, ...) are refused: such addresses always answer unknown. The one
exception is ``SAMPLE_RANGES``, made-up data in documentation ranges for development and tests,
loaded with ``allow_reserved`` so it can never collide with a real address. Lookup is one dict
probe per prefix length in use.
"""

from __future__ import annotations

import csv
import ipaddress
from pathlib import Path

from gamekeys_platform.geoip.info import IpAddress, IpInfo, is_routable

SAMPLE_RANGES = Path(__file__).resolve().parents[1] / "data" / "ip_ranges.csv"
_KINDS = ("", "datacenter", "vpn")


class IpRanges:
    def __init__(
        self, rows: list[tuple[str, str, str]], *, source: str = "operator", allow_reserved: bool = False
    ) -> None:
        self.source = source
        # {version: {prefix length: {network as int: info}}}
        self._tables: dict[int, dict[int, dict[int, IpInfo]]] = {4: {}, 6: {}}
        for cidr, country, kind in rows:
            try:
                network = ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR range") from None
            if not allow_reserved and not is_routable(network.network_address):
                raise ValueError(f"{cidr}: not a globally routable range (such addresses answer unknown)")
            kind = kind.strip().lower()
            if kind not in _KINDS:
                raise ValueError(f"{cidr}: kind must be empty, datacenter or vpn")
            country = country.strip().upper()
            if country and (len(country) != 2 or not country.isalpha()):
                raise ValueError(f"{cidr}: country must be an ISO 3166-1 alpha-2 code")
            info = IpInfo(
                country,
                kind == "vpn",
                kind == "datacenter",
                country_source=source if country else "",
                network_source=source if kind else "",
            )
            by_length = self._tables[network.version].setdefault(network.prefixlen, {})
            by_length[int(network.network_address)] = info
        self._lengths = {version: sorted(table, reverse=True) for version, table in self._tables.items()}

    @classmethod
    def from_file(cls, path: Path, *, source: str = "operator", allow_reserved: bool = False) -> IpRanges:
        rows: list[tuple[str, str, str]] = []
        with open(path, newline="") as handle:
            lines = (line for line in handle if line.strip() and not line.lstrip().startswith("#"))
            for number, row in enumerate(csv.reader(lines), start=1):
                if len(row) < 2:
                    raise ValueError(f"{path.name} row {number}: expected cidr,country[,kind]")
                rows.append((row[0], row[1], row[2] if len(row) > 2 else ""))
        try:
            return cls(rows, source=source, allow_reserved=allow_reserved)
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None

    @classmethod
    def sample(cls) -> IpRanges:
        return cls.from_file(SAMPLE_RANGES, source="sample", allow_reserved=True)

    def find(self, address: IpAddress) -> IpInfo | None:
        """The most specific range's answer for a parsed address, or None."""
        bits = 32 if address.version == 4 else 128
        value = int(address)
        tables = self._tables[address.version]
        for length in self._lengths[address.version]:
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            hit = tables[length].get(value & mask)
            if hit is not None:
                return hit
        return None

    def lookup(self, ip: str) -> IpInfo:
        """This file's answer alone for an address as text (unknown when none, or malformed)."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return IpInfo()
        return self.find(address) or IpInfo()
