"""Regional restrictions of a batch (the seed's RegionalRestriction): allow and deny lists of
ISO 3166-1 alpha-2 countries. A country may activate a key when it is in the union of the
allow lists (or there are none) and in no deny list; deny wins over allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gamekeys_platform.countries import country_codes


@dataclass(frozen=True)
class RegionPolicy:
    allowed: frozenset[str] | None  # None: every country not denied
    denied: frozenset[str]

    @classmethod
    def from_rules(cls, rules: Iterable[Mapping[str, object]] | None) -> RegionPolicy:
        allowed: set[str] | None = None
        denied: set[str] = set()
        for rule in rules or ():
            countries = {str(country).upper() for country in rule["countries"]}  # type: ignore[union-attr]
            bad = sorted(c for c in countries if c not in country_codes())
            if bad:
                raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {', '.join(bad)}")
            if rule["type"] == "allow":
                allowed = (allowed or set()) | countries
            elif rule["type"] == "deny":
                denied |= countries
            else:
                raise ValueError("a restriction's type is allow or deny")
        return cls(frozenset(allowed) if allowed is not None else None, frozenset(denied))

    @classmethod
    def from_columns(cls, allowed: Iterable[str] | None, denied: Iterable[str] | None) -> RegionPolicy:
        return cls(frozenset(allowed) if allowed is not None else None, frozenset(denied or ()))

    def permits(self, country: str) -> bool:
        country = country.upper()
        if country in self.denied:
            return False
        return self.allowed is None or country in self.allowed

    @property
    def unrestricted(self) -> bool:
        return self.allowed is None and not self.denied

    def to_rules(self) -> list[dict[str, object]]:
        rules: list[dict[str, object]] = []
        if self.allowed is not None:
            rules.append({"type": "allow", "countries": sorted(self.allowed)})
        if self.denied:
            rules.append({"type": "deny", "countries": sorted(self.denied)})
        return rules
