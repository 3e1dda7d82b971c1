"""What is known of an address, and which addresses may be known at all."""

from __future__ import annotations

import bisect
import ipaddress
import socket
from dataclasses import dataclass

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names of the sources, as they appear in IpInfo, metrics and the region verdict's details.
SAMPLE = "sample"  # the shipped documentation-range sample (development and tests)
OPERATOR = "operator"  # the operator's CSV of ranges
MAXMIND_COUNTRY = "maxmind-country"  # a mounted GeoIP2 / GeoLite2 Country (or City) database
MAXMIND_ANONYMOUS_IP = "maxmind-anonymous-ip"  # a mounted GeoIP2 Anonymous IP database
MAXMIND_ASN = "maxmind-asn"  # a mounted GeoLite2 ASN database, with the operator's hosting ASNs
REGISTRY = "registry"  # the regional internet registries' delegations (package iptocc)
HOSTING_RANGES = "hosting-ranges"  # providers' published ranges, VPN and Tor exits (package iporigin)
RESERVED = "reserved"  # not globally routable: private, loopback, documentation, ...


@dataclass(frozen=True)
class IpInfo:
    """``country`` is an ISO 3166-1 alpha-2 code or "" (unknown); ``country_source`` names the
    source that said it (``reserved`` for an address no source may place), ``network_source``
    the one that flagged the address as VPN or datacenter."""

    country: str = ""
    vpn: bool = False
    datacenter: bool = False
    country_source: str = ""
    network_source: str = ""


# Not globally routable unicast (IANA's special-purpose registries, RFC 6890 and later): such
# an address can have no country and no network. Kept as integer intervals, so the check on the
# request path is one bisect instead of ipaddress's scan of its network lists.
_IPV4_SPECIAL = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
]  # fmt: skip
# IPv6 global unicast is allocated from 2000::/3 only; inside it, these are special.
_IPV6_GLOBAL = ipaddress.ip_network("2000::/3")
_IPV6_SPECIAL = ["2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20"]


def _intervals(cidrs: list[str]) -> tuple[list[int], list[int]]:
    networks = sorted(ipaddress.ip_network(cidr) for cidr in cidrs)
    return [int(n.network_address) for n in networks], [int(n.broadcast_address) for n in networks]


_V4_STARTS, _V4_ENDS = _intervals(_IPV4_SPECIAL)
_V6_STARTS, _V6_ENDS = _intervals(_IPV6_SPECIAL)
_V6_GLOBAL_FIRST, _V6_GLOBAL_LAST = int(_IPV6_GLOBAL.network_address), int(_IPV6_GLOBAL.broadcast_address)


def parse(ip: str) -> IpAddress | None:
    """The address (an IPv4-mapped IPv6 address as the IPv4 address it carries), or None.
    inet_pton is the strict parser (dotted quad only, no zone ids) and several times faster than
    ``ipaddress.ip_address`` on text."""
    text = ip.strip() if isinstance(ip, str) else str(ip)
    try:
        return ipaddress.IPv4Address(int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"))
    except OSError:
        pass
    try:
        address = ipaddress.IPv6Address(int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big"))
    except OSError:
        return None
    return address.ipv4_mapped or address


def is_routable(address: IpAddress) -> bool:
    """Globally routable unicast: only such an address can have a country or a network."""
    value = int(address)
    if address.version == 4:
        starts, ends = _V4_STARTS, _V4_ENDS
    else:
        if not _V6_GLOBAL_FIRST <= value <= _V6_GLOBAL_LAST:
            return False
        starts, ends = _V6_STARTS, _V6_ENDS
    index = bisect.bisect_right(starts, value) - 1
    return index < 0 or value > ends[index]
