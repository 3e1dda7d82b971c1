"""Rules as data, compiled to CEL programs once per rule-set version (ARCHITECTURE.md §5, §7).

A rule set is valid when every rule compiles, names only features of ``features.FEATURES``
(comprehension variables such as the ``c`` of ``key_regions.exists(c, ...)`` aside) and
evaluates to a bool on the default feature dict (which catches type errors such as comparing
a string with an int). ``compile_rule_set`` reports every faulty rule at once, by id.
Expressions are never given to ``eval``: CEL has no access to Python at all.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import cel

from antifraud.domain.features import FEATURES, default_features

ACTIONS = ("ALLOW", "REVIEW", "BLOCK")
MODES = ("active", "shadow")
MAX_RULES = 200
MAX_EXPRESSION_LENGTH = 2_000
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    expression: str
    weight: int = 0
    action: str | None = None
    mode: str = "active"
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Rule:
        return cls(
            id=raw["id"],
            description=raw.get("description", ""),
            expression=raw["expression"],
            weight=int(raw.get("weight", 0)),
            action=raw.get("action"),
            mode=raw.get("mode", "active"),
            enabled=bool(raw.get("enabled", True)),
        )


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    program: Any  # cel.Program


@dataclass(frozen=True)
class RuleSet:
    version: int
    rules: tuple[Rule, ...]
    compiled: tuple[CompiledRule, ...] = field(repr=False)  # enabled rules only

    @property
    def variables(self) -> frozenset[str]:
        """The features the enabled rules read: only these are handed to CEL (converting the
        whole ~90-entry dict costs more than evaluating every rule)."""
        cached = self.__dict__.get("_variables")
        if cached is None:
            cached = (
                frozenset(name for c in self.compiled for name in c.program.variables()) & FEATURES.keys()
            )
            object.__setattr__(self, "_variables", cached)
        return cached


class RuleSetInvalid(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['ruleId']}: {e['error']}" for e in errors))
        self.errors = errors


def _bound_names(expression: str) -> set[str]:
    """Variables bound by CEL macros: ``list.exists(x, ...)``, ``all``, ``map``, ``filter``..."""
    return set(re.findall(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,", expression))


def compile_rule(rule: Rule, sample: dict[str, Any] | None = None) -> CompiledRule:
    """The compiled rule, or ValueError with a message naming what is wrong."""
    if not _RULE_ID.match(rule.id):
        raise ValueError("id must be 1-64 characters of a-z, 0-9, '_', '.', '-'")
    if rule.action is not None and rule.action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)} or null")
    if rule.mode not in MODES:
        raise ValueError("mode must be active or shadow")
    if not 0 <= rule.weight <= 100:
        raise ValueError("weight must be 0-100")
    if not rule.expression.strip() or len(rule.expression) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"expression must be 1-{MAX_EXPRESSION_LENGTH} characters")
    try:
        program = cel.compile(rule.expression)
    except Exception as exc:  # the binding raises ValueError with the parser's message
        raise ValueError(f"does not compile: {_first_line(exc)}") from None
    unknown = sorted(set(program.variables()) - FEATURES.keys() - _bound_names(rule.expression))
    if unknown:
        raise ValueError(f"unknown feature(s): {', '.join(unknown)}")
    try:
        result = program.execute(cel.Context(sample if sample is not None else default_features()))
    except Exception as exc:
        raise ValueError(f"fails on the default features: {_first_line(exc)}") from None
    if not isinstance(result, bool):
        raise ValueError(f"must evaluate to a bool, got {type(result).__name__}")
    return CompiledRule(rule, program)


def compile_rule_set(rules: list[Rule], version: int) -> RuleSet:
    if len(rules) > MAX_RULES:
        raise RuleSetInvalid([{"ruleId": "*", "error": f"at most {MAX_RULES} rules"}])
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    compiled: list[CompiledRule] = []
    sample = default_features()
    for rule in rules:
        if rule.id in seen:
            errors.append({"ruleId": rule.id, "error": "duplicate rule id"})
            continue
        seen.add(rule.id)
        try:
            compiled_rule = compile_rule(rule, sample)
        except ValueError as exc:
            errors.append({"ruleId": rule.id, "error": str(exc)})
            continue
        if rule.enabled:
            compiled.append(compiled_rule)
    if errors:
        raise RuleSetInvalid(errors)
    return RuleSet(version=version, rules=tuple(rules), compiled=tuple(compiled))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


DEFAULT_RULES: list[Rule] = [
    Rule(
        "block-listed",
        "User, IP or device is on the block list",
        "user_blocked || ip_blocked || device_blocked",
        weight=100,
        action="BLOCK",
    ),
    # One user, address or device guessing keys is blocked at once; a /24 only goes to review,
    # at a much higher count: players sharing a network each mistype now and then, and a
    # subnet-wide block would refuse all of them (bench/fraud_scenarios.py, phase 2).
    Rule(
        "key-enumeration",
        "Many distinct invalid or never-issued keys from one user, IP or device (key-space enumeration)",
        "user_invalid_keys_1h >= 5 || ip_invalid_keys_1h >= 5 || device_invalid_keys_1h >= 5"
        " || user_invalid_keys_24h >= 20 || ip_invalid_keys_24h >= 20 || device_invalid_keys_24h >= 20",
        weight=80,
        action="BLOCK",
    ),
    Rule(
        "subnet-key-enumeration",
        "Many distinct invalid or never-issued keys from one /24 network",
        "subnet_invalid_keys_1h >= 30 || subnet_invalid_keys_24h >= 100",
        weight=50,
        action="REVIEW",
    ),
    Rule(
        "brute-force",
        "Burst of attempts or failures from one user, IP, subnet or device",
        "user_failures_1h >= 5 || ip_failures_1h >= 10 || device_failures_1h >= 10"
        " || subnet_failures_1h >= 30 || user_attempts_1m >= 10 || ip_attempts_1m >= 20",
        weight=50,
        action="REVIEW",
    ),
    # A shared family PC has a few accounts on one network (its address may move within a
    # carrier's NAT pool); a farm device rotates its accounts through a proxy pool, so two
    # accounts from two networks on one device already say farm (bench/fraud_scenarios.py).
    Rule(
        "device-farm",
        "One device or IP used by many accounts",
        "device_distinct_users_24h >= 4 || ip_distinct_users_24h >= 10"
        " || (device_distinct_users_24h >= 2 && device_distinct_subnets_24h >= 2)",
        weight=60,
        action="REVIEW",
    ),
    Rule(
        "region-mismatch",
        "Region-locked key activated from a country it is not sold for",
        "key_region_locked && ip_country != '' && !(ip_country in key_regions)",
        weight=45,
        action="REVIEW",
    ),
    Rule(
        "vpn-region-locked",
        "Region-locked key activated through a VPN or datacenter address",
        "key_region_locked && (ip_is_vpn || ip_is_datacenter)",
        weight=45,
        action="REVIEW",
    ),
    Rule(
        "key-hoarding",
        "One user activating many keys of the same batch",
        "batch_id != '' && user_batch_keys_24h >= 5",
        weight=40,
        action="REVIEW",
    ),
    Rule(
        "instant-resale-activation",
        "Key bought from a retailer activated within a minute of the sale",
        "retailer_id != '' && seconds_since_sale >= 0 && seconds_since_sale < 60",
        weight=35,
    ),
    # Alone it only raises the score; with an instant resale activation it reaches review.
    Rule(
        "retailer-chargeback-wave",
        "Key sold by a retailer with a wave of returned or revoked keys in the last day",
        "retailer_id != '' && retailer_revoked_keys_24h >= 20",
        weight=20,
    ),
    # What chargebacks reveal (issue 21), in shadow mode: measured before they act.
    Rule(
        "disputed-network-or-device",
        "Many disputed activations (charged back or refunded keys) from one network or device",
        "subnet_disputed_activations_90d >= 3 || device_disputed_activations_90d >= 3",
        weight=40,
        action="REVIEW",
        mode="shadow",
    ),
    Rule(
        "disputed-account",
        "An account whose activations were disputed before",
        "account_disputed_activations_90d >= 2",
        weight=40,
        action="REVIEW",
        mode="shadow",
    ),
    Rule(
        "order-resold-across-countries",
        "Keys of one order redeemed from three or more countries within minutes (resale)",
        "order_distinct_countries_10m >= 3",
        weight=40,
        action="REVIEW",
        mode="shadow",
    ),
    Rule(
        "retailer-chargeback-rate",
        "Key sold by a retailer whose chargeback rate crossed 5% of its sales in 30 days",
        "retailer_id != '' && retailer_sold_keys_30d >= 50 && retailer_chargeback_percent_30d >= 5",
        weight=30,
        mode="shadow",
    ),
    Rule(
        "many-countries",
        "One user from three or more countries in a day",
        "user_distinct_countries_24h >= 3",
        weight=30,
    ),
    Rule(
        "new-account-burst",
        "Account younger than a day trying several keys (shadow: measuring before enforcing)",
        "account_age_days >= 0 && account_age_days < 1 && user_distinct_keys_1h >= 3",
        weight=30,
        action="REVIEW",
        mode="shadow",
    ),
]
