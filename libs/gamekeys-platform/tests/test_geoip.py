"""IP intelligence: the packaged data on real public addresses, the non-routable rule, the
operator's CSV and the shipped sample, and MaxMind databases (written here with mmdb_writer,
read with maxminddb) including their reload when geoipupdate replaces a file."""

from __future__ import annotations

import ipaddress
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from prometheus_client import REGISTRY as METRICS

from gamekeys_platform.geoip import IpInfo, IpIntelligence, IpRanges
from gamekeys_platform.geoip.info import is_routable
from gamekeys_platform.geoip.maxmind import ANONYMOUS_IP, ASN, COUNTRY, MaxmindDatabase, open_checked
from gamekeys_platform.geoip.settings import GeoipSettings, parse_asns
from gamekeys_platform.settings import ConfigError, load_settings

# Addresses whose registry country has been stable for many years: Yandex's public DNS and
# portal (RU), heise.de and TU Berlin (DE), the RIPE NCC (NL), Google Public DNS (US), APNIC's
# research block (JP).
REAL = [
    ("77.88.8.8", "RU"),
    ("87.250.250.242", "RU"),
    ("2a02:6b8::2:242", "RU"),
    ("193.99.144.80", "DE"),
    ("130.149.1.1", "DE"),
    ("193.0.6.139", "NL"),
    ("2001:67c:2e8:22::c100:68b", "NL"),
    ("8.8.8.8", "US"),
    ("2001:4860:4860::8888", "US"),
    ("1.0.16.1", "JP"),
    ("::ffff:77.88.8.8", "RU"),  # IPv4-mapped: the IPv4 address it carries
]

NOT_ROUTABLE = [
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "100.64.0.1", "169.254.1.1", "0.0.0.0",  # noqa: S104
    "192.0.2.1", "198.51.100.7", "203.0.113.5", "198.18.0.1", "224.0.0.1", "255.255.255.255",
    "::1", "fe80::1", "fc00::1", "2001:db8::1", "ff02::1", "::ffff:10.0.0.1",
]  # fmt: skip


@pytest.fixture(scope="module")
def packaged() -> IpIntelligence:
    return IpIntelligence(service="test-geoip")


@pytest.mark.parametrize(("ip", "country"), REAL)
def test_real_public_addresses_have_their_registry_country(packaged, ip, country):
    info = packaged.lookup(ip)
    assert (info.country, info.country_source) == (country, "registry")


@pytest.mark.parametrize("ip", NOT_ROUTABLE)
def test_private_loopback_and_documentation_addresses_answer_unknown(packaged, ip):
    assert packaged.lookup(ip) == IpInfo(country_source="reserved")


def test_the_routable_check_agrees_with_the_standard_library_on_ipv4():
    rng = random.Random(25)
    # Outside 192.0.0.0/24 and 192.88.99.0/24, which Python versions classify differently.
    for value in (rng.getrandbits(32) for _ in range(50_000)):
        address = ipaddress.IPv4Address(value)
        if value >> 8 not in (0xC00000, 0xC05863):
            assert is_routable(address) == (address.is_global and not address.is_multicast), address


@pytest.mark.parametrize("ip", ["not an address", "", "300.1.1.1", "1.2.3", "::g"])
def test_malformed_addresses_answer_unknown(packaged, ip):
    assert packaged.lookup(ip) == IpInfo()


def test_published_hosting_ranges_flag_datacenters(packaged):
    hetzner = packaged.lookup("46.4.0.1")  # Hetzner Online, Germany
    assert hetzner.datacenter and not hetzner.vpn and hetzner.network_source == "hosting-ranges"
    assert hetzner.country == "DE"
    home = packaged.lookup("77.88.8.8")
    assert not home.datacenter and not home.vpn and home.network_source == ""


def test_each_lookup_is_counted_by_its_sources():
    resolver = IpIntelligence(service="test-geoip-count")

    def count(country_source: str, network_source: str) -> float:
        labels = {
            "service": "test-geoip-count",
            "country_source": country_source,
            "network_source": network_source,
        }
        return METRICS.get_sample_value("geoip_lookups_total", labels) or 0.0

    before = count("registry", "none"), count("reserved", "none"), count("none", "none")
    resolver.lookup("77.88.8.8")
    resolver.lookup("10.0.0.1")
    resolver.lookup("nonsense")
    assert (count("registry", "none"), count("reserved", "none"), count("none", "none")) == tuple(
        value + 1 for value in before
    )


def test_packaged_data_dates_are_exposed(packaged):
    status = packaged.data_status()
    for source in ("registry", "hosting-ranges"):
        entry = status["sources"][source]
        built = datetime.strptime(entry["builtAt"], "%Y-%m-%dT%H:%M:%SZ")
        assert datetime(2025, 1, 1) < built < datetime.now() + timedelta(days=1)
        assert entry["maxAgeDays"] == 120
    later = packaged.data_status(now=datetime.now(UTC) + timedelta(days=400))
    assert later["stale"] and all(entry["stale"] for entry in later["sources"].values())
    built = METRICS.get_sample_value(
        "geoip_data_built_timestamp_seconds", {"service": "test-geoip", "source": "registry"}
    )
    assert built and built > datetime(2025, 1, 1, tzinfo=UTC).timestamp()


# --- the operator's CSV and the shipped sample -------------------------------------------------


def test_most_specific_range_wins():
    ranges = IpRanges([("77.88.8.0/24", "RU", ""), ("77.88.8.128/25", "RU", "vpn"), ("77.0.0.0/8", "", "")])
    assert ranges.lookup("77.88.8.5") == IpInfo("RU", country_source="operator")
    assert ranges.lookup("77.88.8.200") == IpInfo(
        "RU", vpn=True, country_source="operator", network_source="operator"
    )
    assert ranges.lookup("8.8.8.8") == IpInfo()
    assert ranges.lookup("not an address") == IpInfo()


def test_operator_ranges_come_before_the_packaged_data(tmp_path: Path):
    csv = tmp_path / "ranges.csv"
    csv.write_text("# corrections\n77.88.8.0/24,FI,\n193.99.144.0/24,,vpn\n")
    resolver = IpIntelligence(operator=IpRanges.from_file(csv))
    assert resolver.lookup("77.88.8.8") == IpInfo("FI", country_source="operator")
    caught = resolver.lookup("193.99.144.80")  # the operator's VPN flag, the registry's country
    assert caught == IpInfo("DE", vpn=True, country_source="registry", network_source="operator")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (("77.88.8.0/24", "XX1", ""), "ISO"),
        (("77.88.8.0/24", "DE", "tor"), "kind"),
        (("10.0.0.0/8", "DE", ""), "globally routable"),
        (("2001:db8::/32", "", "vpn"), "globally routable"),
        (("77.88.8.0/33", "DE", ""), "CIDR"),
    ],
)
def test_malformed_rows_are_refused(row, problem):
    with pytest.raises(ValueError, match=problem):
        IpRanges([row])


def test_the_shipped_sample_answers_documentation_ranges_only_when_enabled():
    sample = IpIntelligence(sample=IpRanges.sample())
    assert sample.lookup("198.18.1.1").datacenter
    assert sample.lookup("203.0.113.200") == IpInfo(
        "RU", vpn=True, country_source="sample", network_source="sample"
    )
    assert sample.lookup("2001:db8::1").country == "FR"
    assert sample.lookup("10.1.1.1") == IpInfo(country_source="reserved")  # in the sample, no country
    assert sample.lookup("77.88.8.8").country == "RU"  # real addresses still answer from real data
    assert IpIntelligence().lookup("203.0.113.200") == IpInfo(country_source="reserved")


# --- MaxMind databases ------------------------------------------------------------------------


def write_mmdb(path: Path, database_type: str, networks: dict[str, dict]) -> Path:
    """A MaxMind DB of ``database_type`` with one record per CIDR, written beside ``path`` and
    renamed over it, the way geoipupdate replaces a database."""
    writer = MMDBWriter(ip_version=6, database_type=database_type, ipv4_compatible=True)
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    partial = path.with_suffix(".partial")
    writer.to_db_file(str(partial))
    os.replace(partial, path)
    return path


@pytest.fixture
def databases(tmp_path: Path) -> dict[str, Path]:
    return {
        "country": write_mmdb(
            tmp_path / "GeoLite2-Country.mmdb",
            "GeoLite2-Country",
            {
                "193.99.144.0/24": {"country": {"iso_code": "AT"}, "registered_country": {"iso_code": "DE"}},
                "87.250.250.0/24": {"registered_country": {"iso_code": "RU"}},
            },
        ),
        "anonymous": write_mmdb(
            tmp_path / "GeoIP2-Anonymous-IP.mmdb",
            "GeoIP2-Anonymous-IP",
            {
                "193.99.144.0/25": {"is_anonymous": True, "is_anonymous_vpn": True},
                "130.149.0.0/16": {"is_anonymous": True, "is_hosting_provider": True},
            },
        ),
        "asn": write_mmdb(
            tmp_path / "GeoLite2-ASN.mmdb",
            "GeoLite2-ASN",
            {"1.0.16.0/24": {"autonomous_system_number": 64500, "autonomous_system_organization": "HOSTER"}},
        ),
    }


def test_maxmind_databases_answer_before_the_packaged_data(databases):
    resolver = IpIntelligence(
        maxmind_country=MaxmindDatabase(databases["country"], COUNTRY),
        maxmind_anonymous_ip=MaxmindDatabase(databases["anonymous"], ANONYMOUS_IP),
        maxmind_asn=MaxmindDatabase(databases["asn"], ASN),
        hosting_asns=frozenset({64500}),
    )
    assert resolver.lookup("193.99.144.80") == IpInfo(
        "AT", vpn=True, country_source="maxmind-country", network_source="maxmind-anonymous-ip"
    )
    assert resolver.lookup("193.99.144.200") == IpInfo("AT", country_source="maxmind-country")
    assert resolver.lookup("87.250.250.242").country_source == "maxmind-country"  # registered_country
    hosting = resolver.lookup("130.149.1.1")
    assert (hosting.country, hosting.country_source) == ("DE", "registry")  # not in the Country DB
    assert hosting.datacenter and not hosting.vpn and hosting.network_source == "maxmind-anonymous-ip"
    assert resolver.lookup("1.0.16.1") == IpInfo(
        "JP", datacenter=True, country_source="registry", network_source="maxmind-asn"
    )
    assert resolver.lookup("10.0.0.1") == IpInfo(country_source="reserved")
    sources = resolver.data_status()["sources"]
    assert sources["maxmind-country"]["data"] == "GeoLite2-Country"
    assert sources["maxmind-country"]["maxAgeDays"] == 14 and not sources["maxmind-country"]["stale"]


def test_a_replaced_database_is_reloaded_without_a_restart(databases):
    path = databases["country"]
    reloads: list[bool] = []
    database = MaxmindDatabase(path, COUNTRY, check_seconds=0, on_reload=lambda _db, ok: reloads.append(ok))
    resolver = IpIntelligence(maxmind_country=database)
    assert resolver.lookup("193.99.144.80").country == "AT"
    write_mmdb(path, "GeoLite2-Country", {"193.99.144.0/24": {"country": {"iso_code": "CH"}}})
    assert resolver.lookup("193.99.144.80").country == "CH"
    assert reloads == [True]
    # A broken replacement is not taken: the previous database keeps answering.
    partial = path.with_suffix(".partial")
    partial.write_bytes(b"not a MaxMind database")
    os.replace(partial, path)
    assert resolver.lookup("193.99.144.80").country == "CH"
    assert reloads == [True, False]


def test_reload_is_checked_at_most_every_interval(databases):
    now = [0.0]
    database = MaxmindDatabase(databases["country"], COUNTRY, check_seconds=60, clock=lambda: now[0])
    address = ipaddress.ip_address("193.99.144.80")
    write_mmdb(databases["country"], "GeoLite2-Country", {"193.99.144.0/24": {"country": {"iso_code": "CH"}}})
    assert database.get(address)["country"]["iso_code"] == "AT"  # not checked yet
    now[0] = 61.0
    assert database.get(address)["country"]["iso_code"] == "CH"


def test_a_database_of_the_wrong_kind_is_refused(databases):
    with pytest.raises(ValueError, match="GeoLite2-ASN database, expected"):
        open_checked(databases["asn"], COUNTRY)


def test_settings_name_the_bad_geoip_variable(databases, platform_env, tmp_path):
    with pytest.raises(ConfigError, match="GEOIP_MAXMIND_COUNTRY_FILE"):
        load_settings(
            GeoipSettings, service_name="t", **platform_env, geoip_maxmind_country_file=databases["asn"]
        )
    missing = tmp_path / "absent.mmdb"
    with pytest.raises(ConfigError, match=r"GEOIP_MAXMIND_ANONYMOUS_IP_FILE.*not a readable"):
        load_settings(
            GeoipSettings, service_name="t", **platform_env, geoip_maxmind_anonymous_ip_file=missing
        )
    with pytest.raises(ConfigError, match="GEOIP_SAMPLE_RANGES"):
        load_settings(
            GeoipSettings,
            service_name="t",
            **{**platform_env, "environment": "production"},
            geoip_sample_ranges=True,
        )
    with pytest.raises(ConfigError, match="not an AS number"):
        load_settings(GeoipSettings, service_name="t", **platform_env, geoip_hosting_asns="AS15169, google")
    assert parse_asns("AS15169, 16509,") == {15169, 16509}


def test_from_settings_wires_every_source(databases, platform_env, tmp_path):
    csv = tmp_path / "ranges.csv"
    csv.write_text("87.250.250.0/24,,datacenter\n")
    settings = load_settings(
        GeoipSettings,
        service_name="test-geoip-settings",
        **platform_env,
        geoip_maxmind_country_file=databases["country"],
        geoip_maxmind_anonymous_ip_file=databases["anonymous"],
        geoip_maxmind_asn_file=databases["asn"],
        geoip_hosting_asns="AS64500",
    )
    resolver = IpIntelligence.from_settings(settings, csv)
    assert resolver.lookup("193.99.144.80").network_source == "maxmind-anonymous-ip"
    assert resolver.lookup("1.0.16.1").network_source == "maxmind-asn"
    assert resolver.lookup("87.250.250.242").network_source == "operator"
    status = resolver.data_status()
    assert set(status["sources"]) == {
        "registry",
        "hosting-ranges",
        "maxmind-country",
        "maxmind-anonymous-ip",
        "maxmind-asn",
    }
    assert status["operatorRanges"] is True
