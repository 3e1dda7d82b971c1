"""What is known of an address, and which addresses may be known at all."""

from __future__ import annotations

import ipaddress
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


def parse(ip: str) -> IpAddress | None:
    """The address (an IPv4-mapped IPv6 address as the IPv4 address it carries), or None."""
    try:
        address = ipaddress.ip_address(ip.strip() if isinstance(ip, str) else ip)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_routable(address: IpAddress) -> bool:
    """Globally routable unicast: only such an address can have a country or a network."""
    return address.is_global and not address.is_multicast
