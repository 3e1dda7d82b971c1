"""IP look-up cost (issue 25): what ``gamekeys_platform.geoip`` adds to a redemption, which asks
it twice (activation-gateway's region check, then antifraud's features). In-process, no platform
needed; prints figures, asserts nothing.

Addresses are random globally routable IPv4 and IPv6 addresses (fixed seed), so the packaged
data is searched over its whole range rather than one hot entry. Configurations: the packaged
data alone (what a deployment with no configuration runs), plus an operator CSV, plus MaxMind
Country + Anonymous IP databases (written here with mmdb_writer, the size of a small extract).
Each source is also timed alone, to show where the time goes.
"""

from __future__ import annotations

import ipaddress
import random
import statistics
import tempfile
import time
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

from gamekeys_platform.geoip import IpIntelligence, IpRanges, packaged
from gamekeys_platform.geoip.info import is_routable, parse
from gamekeys_platform.geoip.maxmind import ANONYMOUS_IP, COUNTRY, MaxmindDatabase

ADDRESSES = 20_000
ROUNDS = 5


def addresses(count: int, seed: int = 25) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        if rng.random() < 0.7:
            address = ipaddress.IPv4Address(rng.getrandbits(32))
        else:  # inside 2000::/3, where the allocated IPv6 space is
            address = ipaddress.IPv6Address((1 << 125) | rng.getrandbits(125))
        if is_routable(address):
            out.append(str(address))
    return out


def per_call_us(function, items: list) -> float:
    """Median over ROUNDS of the mean time per call, in microseconds."""
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for item in items:
            function(item)
        samples.append((time.perf_counter() - start) / len(items) * 1e6)
    return statistics.median(samples)


def write_mmdb(path: Path, database_type: str, records: dict[str, dict]) -> Path:
    writer = MMDBWriter(ip_version=6, database_type=database_type, ipv4_compatible=True)
    for cidr, record in records.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


def main() -> None:
    ips = addresses(ADDRESSES)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="geoip-bench-") as folder:
        folder = Path(folder)
        # 2,000 operator ranges and ~4,000 MaxMind networks, /16s and /24s across the space.
        operator_rows = [
            (f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.0.0/16", "DE", "") for _ in range(2000)
        ]
        operator_rows = [
            row for row in operator_rows if is_routable(ipaddress.ip_network(row[0]).network_address)
        ]
        csv = folder / "ranges.csv"
        csv.write_text("".join(f"{cidr},{country},{kind}\n" for cidr, country, kind in operator_rows))
        country_records = {
            f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.0.0/16": {"country": {"iso_code": "FR"}}
            for _ in range(3000)
        }
        anonymous_records = {
            f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24": {
                "is_anonymous_vpn": True
            }
            for _ in range(1000)
        }
        country_db = write_mmdb(folder / "Country.mmdb", "GeoLite2-Country", country_records)
        anonymous_db = write_mmdb(folder / "Anonymous.mmdb", "GeoIP2-Anonymous-IP", anonymous_records)

        configurations = {
            "packaged data only (the default)": IpIntelligence(service="bench"),
            "+ operator CSV (2,000 ranges)": IpIntelligence(
                service="bench", operator=IpRanges.from_file(csv)
            ),
            "+ MaxMind Country + Anonymous IP": IpIntelligence(
                service="bench",
                operator=IpRanges.from_file(csv),
                maxmind_country=MaxmindDatabase(country_db, COUNTRY),
                maxmind_anonymous_ip=MaxmindDatabase(anonymous_db, ANONYMOUS_IP),
            ),
        }
        parsed = [ipaddress.ip_address(ip) for ip in ips]
        operator = IpRanges.from_file(csv)
        country = MaxmindDatabase(country_db, COUNTRY)
        alone = {
            "parse the address (inet_pton)": parse,
            "registry country (iptocc)": packaged.registry_country,
            "hosting / VPN / Tor ranges (iporigin)": packaged.hosting_kind,
            "operator CSV (2,000 ranges)": operator.find,
            "MaxMind Country (maxminddb)": country.get,
        }

        print(f"{len(ips):,} random public addresses (70% IPv4), median of {ROUNDS} rounds")
        print(f"\n{'configuration':<40} {'µs / look-up':>13} {'µs / redemption (2 look-ups)':>30}")
        for name, resolver in configurations.items():
            cost = per_call_us(resolver.lookup, ips)
            print(f"{name:<40} {cost:>13.2f} {2 * cost:>30.2f}")
        print(f"\n{'one source alone':<40} {'µs / call':>13}")
        for name, function in alone.items():
            items = ips if name.startswith(("parse", "registry")) else parsed
            print(f"{name:<40} {per_call_us(function, items):>13.2f}")
        resolver = configurations["packaged data only (the default)"]
        for family, subset in (
            ("IPv4", [ip for ip in ips if ":" not in ip]),
            ("IPv6", [ip for ip in ips if ":" in ip]),
        ):
            answers = [resolver.lookup(ip) for ip in subset]
            known = sum(1 for info in answers if info.country) / len(subset)
            flagged = sum(1 for info in answers if info.network_source) / len(subset)
            print(
                f"packaged data, {family}: country known for {known:.1%}, "
                f"{flagged:.1%} flagged hosting / VPN / Tor"
            )
        print("(random IPv6 addresses fall mostly in space the registries have not delegated yet)")
        for source, status in resolver.data_status()["sources"].items():
            print(f"  {source}: {status['data']}, built {status['builtAt']} ({status['ageDays']} days old)")


if __name__ == "__main__":
    main()
