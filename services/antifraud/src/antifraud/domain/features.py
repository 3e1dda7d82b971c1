"""The feature dict rules are written against: every name, its CEL type, default and meaning.

Plain Python: ``assemble`` turns what the request says, what the IP data says, what the
block list says and what the velocity store counted into one flat dict. Rules may only name
features listed here (``FEATURES``), so a typo in a rule is refused when the rule set is saved,
not discovered as a rule that silently never fires. The README table is generated from here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gamekeys_platform.geoip import IpInfo

# Velocity windows and the sources counted over them.
WINDOWS: dict[str, int] = {"1m": 60, "1h": 3_600, "24h": 86_400}
DIMENSIONS: dict[str, str] = {
    "user": "the user",
    "ip": "the IP address",
    "subnet": "the /24 subnet (IPv6: /64)",
    "device": "the device fingerprint",
}
COUNTERS: dict[str, str] = {
    "attempts": "activation attempts (analyze calls and activations seen on activations.events)",
    "failures": "failed activations (bad, unknown, expired, revoked or already used keys)",
    "distinct_keys": "distinct keys tried",
    "invalid_keys": "distinct invalid or never-issued keys tried (key-space enumeration)",
}
# Refusals that say nothing about the player: not counted as their failures (a key of a studio
# the platform suspended is refused to everyone who holds one, honest buyers first).
NOT_THE_PLAYERS_FAILURES = frozenset({"PUBLISHER_SUSPENDED"})
# Reasons of a failed activation that mean "this key does not exist": enumeration evidence.
INVALID_KEY_OUTCOMES = frozenset({"not_found", "invalid_format", "KEY_NOT_FOUND", "INVALID_KEY_FORMAT"})
FAILED_KEY_OUTCOMES = INVALID_KEY_OUTCOMES | frozenset(
    {
        "expired",
        "revoked",
        "already_activated",
        "KEY_EXPIRED",
        "KEY_REVOKED",
        "KEY_ALREADY_ACTIVATED",
        "REGION_RESTRICTED",
    }
)


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # "string", "int", "bool", "list"
    default: Any
    description: str


def _features() -> dict[str, Feature]:
    found: list[Feature] = [
        Feature("user_id", "string", "", "the user activating the key"),
        Feature("key_id", "string", "", "the key being activated (empty when the key was not found)"),
        Feature("activation_id", "string", "", "the caller's activation / transaction id"),
        Feature("game_id", "string", "", "the key's game"),
        Feature("batch_id", "string", "", "the key's batch"),
        Feature("retailer_id", "string", "", "the retailer that sold the key (empty if none)"),
        Feature("key_type", "string", "", "retail, promotional, developer, gift or subscription"),
        Feature("key_outcome", "string", "valid", "what the key lookup found: valid, not_found, ..."),
        Feature("key_regions", "list", [], "countries the key may be activated in (empty: anywhere)"),
        Feature("key_region_locked", "bool", False, "the key is restricted to some countries"),
        Feature("ip", "string", "", "the client IP address"),
        Feature("ip_subnet", "string", "", "the /24 (IPv6 /64) of the IP"),
        Feature("ip_country", "string", "", "country of the IP (gamekeys_platform.geoip; '' unknown)"),
        Feature("ip_is_datacenter", "bool", False, "the IP is in a datacenter / hosting / CDN range"),
        Feature("ip_is_vpn", "bool", False, "the IP is a known VPN, proxy or Tor exit"),
        Feature("user_region", "string", "", "the region the user claims (ISO country code)"),
        Feature("device_fingerprint", "string", "", "the device fingerprint"),
        Feature("platform", "string", "", "the client platform"),
    ]
    for dimension, who in DIMENSIONS.items():
        for counter, what in COUNTERS.items():
            for window in WINDOWS:
                found.append(
                    Feature(f"{dimension}_{counter}_{window}", "int", 0, f"{what} by {who}, {window}")
                )
    found += [
        Feature(
            "key_enumeration_1h", "int", 0, "max distinct invalid keys over user, IP, subnet, device: 1 h"
        ),
        Feature("key_enumeration_24h", "int", 0, "the same over 24 h"),
        Feature("device_distinct_users_24h", "int", 0, "distinct users seen on the device, 24 h"),
        Feature("ip_distinct_users_24h", "int", 0, "distinct users seen from the IP, 24 h"),
        Feature(
            "device_distinct_subnets_24h",
            "int",
            0,
            "distinct /24 (IPv6 /64) networks the device came from, 24 h",
        ),
        Feature("user_distinct_ips_24h", "int", 0, "distinct IPs the user came from, 24 h"),
        Feature("user_distinct_countries_24h", "int", 0, "distinct IP countries of the user, 24 h"),
        Feature("user_batch_keys_24h", "int", 0, "distinct keys of this key's batch the user tried, 24 h"),
        Feature(
            "retailer_revoked_keys_24h",
            "int",
            0,
            "keys of the selling retailer returned or revoked in 24 h (chargeback / refund waves)",
        ),
        Feature(
            "account_disputed_activations_90d",
            "int",
            0,
            "the user's activations disputed in 90 days (their keys charged back or refunded)",
        ),
        Feature(
            "subnet_disputed_activations_90d",
            "int",
            0,
            "disputed activations from the /24 (IPv6 /64) network, 90 days",
        ),
        Feature("device_disputed_activations_90d", "int", 0, "disputed activations from the device, 90 days"),
        Feature("retailer_sold_keys_30d", "int", 0, "keys the selling retailer sold in 30 days"),
        Feature(
            "retailer_charged_back_keys_30d", "int", 0, "keys of the selling retailer charged back, 30 days"
        ),
        Feature(
            "retailer_chargeback_percent_30d",
            "int",
            0,
            "charged-back keys as a whole percentage of the selling retailer's keys sold, 30 days",
        ),
        Feature(
            "order_distinct_countries_10m",
            "int",
            0,
            "distinct IP countries the keys of this key's order were redeemed from in 10 minutes (resale)",
        ),
        Feature("seconds_since_sale", "int", -1, "seconds from the key's sale to now (-1 unknown)"),
        Feature("account_age_days", "int", -1, "age of the user's account in days (-1 unknown)"),
        Feature("session_attempts", "int", 0, "behaviorMetrics.attemptsInSession"),
        Feature("session_failures", "int", 0, "behaviorMetrics.failedAttemptsInSession"),
        Feature("session_seconds", "int", -1, "behaviorMetrics.sessionDurationSeconds (-1 unknown)"),
        Feature("user_blocked", "bool", False, "the user is on the block list"),
        Feature("ip_blocked", "bool", False, "the IP is on the block list"),
        Feature("device_blocked", "bool", False, "the device is on the block list"),
        Feature("any_blocked", "bool", False, "user, IP or device is on the block list"),
        Feature("velocity_degraded", "bool", False, "the velocity store was unavailable: counters are 0"),
    ]
    return {feature.name: feature for feature in found}


FEATURES: dict[str, Feature] = _features()
VELOCITY_FEATURES = [
    f"{dimension}_{counter}_{window}"
    for dimension in DIMENSIONS
    for counter in COUNTERS
    for window in WINDOWS
]


def default_features() -> dict[str, Any]:
    return {
        name: (list(f.default) if isinstance(f.default, list) else f.default) for name, f in FEATURES.items()
    }


def subnet_of(ip: str) -> str:
    """``203.0.113.7`` -> ``203.0.113.0/24``; IPv6 -> its /64; '' for something that is no IP."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def assemble(
    *,
    request: dict[str, Any],
    geo: IpInfo,
    blocked: set[str],
    velocity: dict[str, int] | None,
    sold_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """The feature dict of one analysis. ``request`` uses the snake_case names of the feature
    dict for the request's own fields; ``velocity`` is None when the store was unavailable."""
    features = default_features()
    for name in (
        "user_id",
        "key_id",
        "activation_id",
        "game_id",
        "batch_id",
        "retailer_id",
        "key_type",
        "key_outcome",
        "ip",
        "user_region",
        "device_fingerprint",
        "platform",
    ):
        value = request.get(name)
        if value is not None:
            features[name] = str(value)
    features["user_region"] = features["user_region"].upper()
    regions = sorted({str(country).upper() for country in request.get("key_regions") or []})
    features["key_regions"] = regions
    features["key_region_locked"] = bool(regions)
    features["ip_subnet"] = subnet_of(features["ip"])
    features["ip_country"] = geo.country
    features["ip_is_datacenter"] = geo.datacenter
    features["ip_is_vpn"] = geo.vpn

    if velocity is None:
        features["velocity_degraded"] = True
    else:
        for name, value in velocity.items():
            if name in FEATURES:
                features[name] = int(value)
        for window in ("1h", "24h"):
            features[f"key_enumeration_{window}"] = max(
                features[f"{dimension}_invalid_keys_{window}"] for dimension in DIMENSIONS
            )

    sold = request.get("sold_at") or sold_at
    if sold is not None:
        features["seconds_since_sale"] = max(0, int((now - sold).total_seconds()))
    created = request.get("account_created_at")
    if created is not None:
        features["account_age_days"] = max(0, int((now - created).total_seconds() // 86_400))
    elif request.get("account_age_days") is not None:
        features["account_age_days"] = int(request["account_age_days"])
    metrics = request.get("behavior") or {}
    if metrics.get("attemptsInSession") is not None:
        features["session_attempts"] = int(metrics["attemptsInSession"])
    if metrics.get("failedAttemptsInSession") is not None:
        features["session_failures"] = int(metrics["failedAttemptsInSession"])
    if metrics.get("sessionDurationSeconds") is not None:
        features["session_seconds"] = int(metrics["sessionDurationSeconds"])

    for entity in ("user", "ip", "device"):
        features[f"{entity}_blocked"] = entity in blocked
    features["any_blocked"] = bool(blocked)
    return features
