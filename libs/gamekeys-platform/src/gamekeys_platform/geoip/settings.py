"""The IP data's configuration, shared by the services that read it (activation-gateway,
antifraud): one set of GEOIP_* variables, so one mount of MaxMind's databases serves both."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from gamekeys_platform.geoip import maxmind
from gamekeys_platform.settings import PlatformSettings


def parse_asns(text: str) -> frozenset[int]:
    """``"16509, AS14061"`` -> {16509, 14061} (ValueError names the bad entry)."""
    asns = set()
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            number = entry[2:] if entry.upper().startswith("AS") else entry
            if not number.isdigit() or not 0 < int(number) < 2**32:
                raise ValueError(f"{entry!r} is not an AS number")
            asns.add(int(number))
    return frozenset(asns)


class GeoipSettings(PlatformSettings):
    # Development and tests only: the shipped sample of documentation ranges with made-up
    # countries and kinds (gamekeys_platform/data/ip_ranges.csv); refused in production.
    geoip_sample_ranges: bool = False
    # MaxMind databases mounted by ops (kept fresh by geoipupdate), each optional: Country (or
    # City / Enterprise) for the country, Anonymous IP for VPN / proxy / Tor / hosting, ASN
    # with GEOIP_HOSTING_ASNS for hosting networks.
    geoip_maxmind_country_file: Path | None = None
    geoip_maxmind_anonymous_ip_file: Path | None = None
    geoip_maxmind_asn_file: Path | None = None
    # AS numbers whose addresses count as datacenter when the ASN database answers them.
    geoip_hosting_asns: str = ""
    # How often a look-up checks whether a MaxMind file was replaced (then reloads it).
    geoip_reload_seconds: float = Field(default=60.0, gt=0, le=86_400)
    # Past these ages the data is reported stale (/readyz details, geoip_data_* metrics): the
    # packaged data follows its pins (bumped on dependency updates), MaxMind's ships weekly.
    geoip_max_age_days: int = Field(default=120, ge=1, le=3650)
    geoip_maxmind_max_age_days: int = Field(default=14, ge=1, le=3650)

    @model_validator(mode="after")
    def _valid_geoip(self):
        if self.geoip_sample_ranges and self.environment == "production":
            raise ValueError("GEOIP_SAMPLE_RANGES is made-up test data and cannot be used in production")
        parse_asns(self.geoip_hosting_asns)
        for variable, path, kinds in (
            ("GEOIP_MAXMIND_COUNTRY_FILE", self.geoip_maxmind_country_file, maxmind.COUNTRY),
            ("GEOIP_MAXMIND_ANONYMOUS_IP_FILE", self.geoip_maxmind_anonymous_ip_file, maxmind.ANONYMOUS_IP),
            ("GEOIP_MAXMIND_ASN_FILE", self.geoip_maxmind_asn_file, maxmind.ASN),
        ):
            if path is not None:
                try:
                    maxmind.open_checked(path, kinds).close()
                except ValueError as exc:
                    raise ValueError(f"{variable}: {exc}") from None
        return self
