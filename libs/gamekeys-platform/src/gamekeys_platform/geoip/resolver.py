"""One answer for an address from every source configured, in order of authority.

Country: the operator's CSV, then MaxMind's Country database (when mounted), then the
registries' delegations (iptocc). VPN / datacenter: the first source that flags the address,
in the order operator CSV, MaxMind Anonymous IP, MaxMind ASN (with the hosting AS numbers),
published hosting / VPN / Tor ranges (iporigin). An address that is not globally routable
answers unknown from every source; only the development sample (documentation ranges) is
consulted before that rule, since that is what it is for.

Every look-up is counted by the sources that answered it (``geoip_lookups_total``), and each
source's data date and allowed age are gauges, so staleness can be alerted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

from gamekeys_platform.geoip import maxmind, packaged
from gamekeys_platform.geoip.info import (
    HOSTING_RANGES,
    MAXMIND_ANONYMOUS_IP,
    MAXMIND_ASN,
    MAXMIND_COUNTRY,
    REGISTRY,
    RESERVED,
    IpAddress,
    IpInfo,
    is_routable,
    parse,
)
from gamekeys_platform.geoip.ranges import IpRanges
from gamekeys_platform.geoip.settings import GeoipSettings, parse_asns

LOOKUPS = Counter(
    "geoip_lookups_total",
    "IP look-ups by the source that named the country and the one that flagged VPN/datacenter",
    ["service", "country_source", "network_source"],
)
DATA_BUILT = Gauge(
    "geoip_data_built_timestamp_seconds",
    "When each IP data source was built (Unix time)",
    ["service", "source"],
    multiprocess_mode="livemin",
)
DATA_MAX_AGE = Gauge(
    "geoip_data_max_age_seconds",
    "How old each IP data source may get before it is stale (alert on time() - built > this)",
    ["service", "source"],
    multiprocess_mode="livemax",
)
RELOADS = Counter(
    "geoip_reloads_total", "MaxMind database reloads after the file changed", ["service", "source", "outcome"]
)

RESERVED_INFO = IpInfo(country_source=RESERVED)
# Anonymous IP traits that mean "someone hides behind this address".
_ANONYMISER_TRAITS = ("is_anonymous_vpn", "is_public_proxy", "is_tor_exit_node", "is_residential_proxy")


@dataclass(frozen=True)
class _Dated:
    """A source whose data date is known, for /readyz and the gauges."""

    source: str
    max_age: timedelta
    detail: str  # the package version or the MaxMind database type


class IpIntelligence:
    def __init__(
        self,
        *,
        service: str = "",
        sample: IpRanges | None = None,
        operator: IpRanges | None = None,
        maxmind_country: maxmind.MaxmindDatabase | None = None,
        maxmind_anonymous_ip: maxmind.MaxmindDatabase | None = None,
        maxmind_asn: maxmind.MaxmindDatabase | None = None,
        hosting_asns: frozenset[int] = frozenset(),
        max_age: timedelta = timedelta(days=120),
        maxmind_max_age: timedelta = timedelta(days=14),
    ) -> None:
        self.service = service
        self._sample = sample
        self._operator = operator
        self._country = maxmind_country
        self._anonymous = maxmind_anonymous_ip
        self._asn = maxmind_asn if hosting_asns else None
        self._hosting_asns = hosting_asns
        self._counters: dict[tuple[str, str], Any] = {}
        self._databases = {
            name: database
            for name, database in (
                (MAXMIND_COUNTRY, maxmind_country),
                (MAXMIND_ANONYMOUS_IP, maxmind_anonymous_ip),
                (MAXMIND_ASN, self._asn),
            )
            if database is not None
        }
        self._dated = [
            _Dated(REGISTRY, max_age, f"iptocc {packaged.package_version('iptocc')}"),
            _Dated(HOSTING_RANGES, max_age, f"iporigin {packaged.package_version('iporigin')}"),
            *(_Dated(name, maxmind_max_age, db.database_type) for name, db in self._databases.items()),
        ]
        for dated in self._dated:
            self._publish_date(dated)

    @classmethod
    def from_settings(cls, settings: GeoipSettings, ranges_file: Path | None = None) -> IpIntelligence:
        """``ranges_file``: the operator's CSV (each service names its own variable for it)."""
        service = settings.service_name

        def database(path: Path | None, kinds: tuple[str, ...], source: str):
            if path is None:
                return None

            def reloaded(db: maxmind.MaxmindDatabase, ok: bool) -> None:
                RELOADS.labels(service, source, "ok" if ok else "failed").inc()
                if ok:
                    DATA_BUILT.labels(service, source).set(db.built_at.timestamp())

            return maxmind.MaxmindDatabase(
                path, kinds, check_seconds=settings.geoip_reload_seconds, on_reload=reloaded
            )

        return cls(
            service=service,
            sample=IpRanges.sample() if settings.geoip_sample_ranges else None,
            operator=IpRanges.from_file(ranges_file) if ranges_file is not None else None,
            maxmind_country=database(settings.geoip_maxmind_country_file, maxmind.COUNTRY, MAXMIND_COUNTRY),
            maxmind_anonymous_ip=database(
                settings.geoip_maxmind_anonymous_ip_file, maxmind.ANONYMOUS_IP, MAXMIND_ANONYMOUS_IP
            ),
            maxmind_asn=database(settings.geoip_maxmind_asn_file, maxmind.ASN, MAXMIND_ASN),
            hosting_asns=parse_asns(settings.geoip_hosting_asns),
            max_age=timedelta(days=settings.geoip_max_age_days),
            maxmind_max_age=timedelta(days=settings.geoip_maxmind_max_age_days),
        )

    def lookup(self, ip: str) -> IpInfo:
        info = self._resolve(ip)
        key = (info.country_source or "none", info.network_source or "none")
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = LOOKUPS.labels(self.service, *key)
        child.inc()
        return info

    def _resolve(self, ip: str) -> IpInfo:
        address = parse(ip)
        if address is None:
            return IpInfo()
        if self._sample is not None:
            hit = self._sample.find(address)
            if hit is not None and (hit.country_source or hit.network_source):
                return hit
        if not is_routable(address):
            return RESERVED_INFO
        operator = self._operator.find(address) if self._operator is not None else None
        if operator is not None and operator.country:
            country, country_source = operator.country, operator.country_source
        else:
            text = ip.strip()
            if address.version == 4 and ":" in text:  # IPv4-mapped: ask for the IPv4 address
                text = str(address)
            country, country_source = self._country_of(address, text)
        if operator is not None and operator.network_source:
            vpn, datacenter, network_source = operator.vpn, operator.datacenter, operator.network_source
        else:
            vpn, datacenter, network_source = self._network_of(address)
        return IpInfo(country, vpn, datacenter, country_source, network_source)

    def _country_of(self, address: IpAddress, text: str) -> tuple[str, str]:
        if self._country is not None:
            record = self._country.get(address)
            if record:
                # The country where the address is used; else the one it is registered to.
                for field in ("country", "registered_country"):
                    iso = (record.get(field) or {}).get("iso_code")
                    if iso:
                        return str(iso).upper(), MAXMIND_COUNTRY
        country = packaged.registry_country(text)
        return (country, REGISTRY) if country else ("", "")

    def _network_of(self, address: IpAddress) -> tuple[bool, bool, str]:
        if self._anonymous is not None:
            record = self._anonymous.get(address)
            if record:
                vpn = any(record.get(trait) for trait in _ANONYMISER_TRAITS)
                datacenter = bool(record.get("is_hosting_provider"))
                if vpn or datacenter:
                    return vpn, datacenter, MAXMIND_ANONYMOUS_IP
        if self._asn is not None:
            record = self._asn.get(address)
            if record and record.get("autonomous_system_number") in self._hosting_asns:
                return False, True, MAXMIND_ASN
        vpn, datacenter = packaged.hosting_kind(address)
        if vpn or datacenter:
            return vpn, datacenter, HOSTING_RANGES
        return False, False, ""

    def _built_at(self, source: str) -> datetime | None:
        if source == REGISTRY:
            return packaged.registry_built_at()
        if source == HOSTING_RANGES:
            return packaged.hosting_ranges_built_at()
        return self._databases[source].built_at

    def _publish_date(self, dated: _Dated) -> None:
        DATA_MAX_AGE.labels(self.service, dated.source).set(dated.max_age.total_seconds())
        built = self._built_at(dated.source)
        if built is not None:
            DATA_BUILT.labels(self.service, dated.source).set(built.timestamp())

    def data_status(self, now: datetime | None = None) -> dict[str, Any]:
        """Each source's data date and whether it is older than allowed (for /readyz details).
        Stale data never makes the service unready: an old answer beats no answer, and every
        replica would go unready at once; it is for an alert."""
        now = now or datetime.now(UTC)
        sources = {}
        for dated in self._dated:
            built = self._built_at(dated.source)
            age = (now - built) if built is not None else None
            sources[dated.source] = {
                "data": dated.detail,
                "builtAt": built.strftime("%Y-%m-%dT%H:%M:%SZ") if built else None,
                "ageDays": round(age.total_seconds() / 86_400, 1) if age is not None else None,
                "maxAgeDays": round(dated.max_age.total_seconds() / 86_400, 1),
                "stale": age is None or age > dated.max_age,
            }
        extra = {}
        if self._operator is not None:
            extra["operatorRanges"] = True
        if self._sample is not None:
            extra["sampleRanges"] = True
        return {"stale": any(s["stale"] for s in sources.values()), "sources": sources, **extra}
