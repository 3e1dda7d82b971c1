"""The data that ships as Python packages, so a deployment with no extra configuration knows the
country of any public address and the best-known hosting, VPN and Tor ranges. Nothing here
touches the network: each package embeds its data set, refreshed by upgrading its pin.

- ``iptocc``: country from the five regional internet registries' delegation files, rebuilt
  nightly by its maintainer (the country the block is registered to, which agrees with
  commercial geolocation for the large majority of addresses). A Rust lookup, ~0.1 µs.
- ``iporigin``: hosting providers' own published ranges (AWS, Google Cloud, Azure, Oracle,
  DigitalOcean, ...), community lists for Hetzner, OVH and others, consumer VPN exits whose
  lists are public (Mullvad, ProtonVPN, Apple Private Relay) and Tor exits; released monthly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution

import iporigin
import iporigin.core
import iptocc

from gamekeys_platform.geoip.info import IpAddress

# iporigin's kinds: a person reaching us through an anonymiser, or a machine in a data centre.
_VPN_KINDS = iporigin.ANONYMIZER_KINDS
_DATACENTER_KINDS = iporigin.DATACENTER_KINDS - iporigin.ANONYMIZER_KINDS


def registry_country(text: str) -> str:
    """The registry country of an address as text (the string is what the Rust side parses)."""
    return iptocc.country_code(text) or ""


def hosting_kind(address: IpAddress) -> tuple[bool, bool]:
    """(vpn, datacenter) from the published ranges. The table's own search, since the caller
    has already parsed the address and ruled out non-routable ones (``classify`` would do both
    again, at several times the cost)."""
    found = iporigin.core.dataset().find(int(address), address.version)
    if found is None:
        return False, False
    kind = found[1]
    return kind in _VPN_KINDS, kind in _DATACENTER_KINDS


@cache  # the installed package cannot change under a running process
def registry_built_at() -> datetime | None:
    """When the installed iptocc wheel (and so its embedded registry data) was built: the
    timestamp of the software bill of materials the wheel carries; None if it has none."""
    try:
        text = distribution("iptocc").read_text("sboms/iptocc-py.cyclonedx.json")
        stamp = json.loads(text or "{}").get("metadata", {}).get("timestamp", "")
        # Nanosecond fractions do not parse before Python 3.12: the date to the second is enough.
        return datetime.fromisoformat(stamp[:19]).replace(tzinfo=UTC) if stamp else None
    except (PackageNotFoundError, ValueError, AttributeError):
        return None


@cache
def hosting_ranges_built_at() -> datetime:
    return datetime.fromtimestamp(iporigin.dataset_info()["built_at"], UTC)


def package_version(name: str) -> str:
    try:
        return distribution(name).version
    except PackageNotFoundError:
        return ""
