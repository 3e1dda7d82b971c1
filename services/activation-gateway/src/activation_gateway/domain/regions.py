"""Step 4 of a redemption: may the key be activated from here?

A key's ``regionalRestrictions`` are ``[{"type": "allow" | "deny", "countries": [...]}]``: a
country is permitted when it is in an allow list (if there is any) and in no deny list. The
player's claimed region must be permitted; a key with any restriction ("region-locked") is
refused from a VPN or datacenter address (whose country says nothing); and the country of the
IP, when known, must be permitted too. The details say which IP data source named the country
(``ipCountrySource``) and which flagged the network (``networkSource``), so a refusal can be
explained and a wrong answer traced to its data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RegionPolicy:
    allowed: frozenset[str] = frozenset()
    denied: frozenset[str] = frozenset()

    @classmethod
    def from_restrictions(cls, restrictions: Iterable[dict[str, Any]] | None) -> RegionPolicy:
        allowed: set[str] = set()
        denied: set[str] = set()
        for restriction in restrictions or ():
            countries = {str(c).upper() for c in restriction.get("countries") or ()}
            (allowed if restriction.get("type") == "allow" else denied).update(countries)
        return cls(frozenset(allowed), frozenset(denied))

    @property
    def locked(self) -> bool:
        return bool(self.allowed or self.denied)

    def permits(self, country: str) -> bool:
        country = country.upper()
        return (not self.allowed or country in self.allowed) and country not in self.denied


@dataclass(frozen=True)
class RegionVerdict:
    allowed: bool
    code: str | None = None  # REGION_RESTRICTED or VPN_DETECTED
    reason: str | None = None  # user_region, ip_country, anonymous_ip
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        if self.reason == "user_region":
            return f"this key cannot be activated in {self.details.get('userRegion')}"
        if self.reason == "ip_country":
            return "this key cannot be activated from your network's country"
        if self.reason == "anonymous_ip":
            return "region-locked keys cannot be activated through a VPN, proxy or datacenter network"
        return "allowed"


def evaluate_region(
    restrictions: Iterable[dict[str, Any]] | None,
    *,
    user_region: str,
    ip_country: str = "",
    ip_is_vpn: bool = False,
    ip_is_datacenter: bool = False,
    ip_country_source: str = "",
    network_source: str = "",
) -> RegionVerdict:
    policy = RegionPolicy.from_restrictions(restrictions)
    if not policy.locked:
        return RegionVerdict(True)
    base = {
        "userRegion": user_region.upper(),
        "allowedCountries": sorted(policy.allowed),
        "deniedCountries": sorted(policy.denied),
        "ipCountry": ip_country.upper() or None,
        "ipCountrySource": ip_country_source or None,
    }
    if not policy.permits(user_region):
        return RegionVerdict(False, "REGION_RESTRICTED", "user_region", {**base, "reason": "user_region"})
    if ip_is_vpn or ip_is_datacenter:
        kind = "vpn" if ip_is_vpn else "datacenter"
        return RegionVerdict(
            False,
            "VPN_DETECTED",
            "anonymous_ip",
            {**base, "reason": "anonymous_ip", "network": kind, "networkSource": network_source or None},
        )
    if ip_country and not policy.permits(ip_country):
        return RegionVerdict(
            False,
            "REGION_RESTRICTED",
            "ip_country",
            {**base, "reason": "ip_country"},
        )
    return RegionVerdict(True, details=base)
