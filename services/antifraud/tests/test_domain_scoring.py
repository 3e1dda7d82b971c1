from datetime import UTC, datetime, timedelta

import pytest

from antifraud.domain.features import assemble, default_features
from antifraud.domain.rules import DEFAULT_RULES, Rule, compile_rule_set
from antifraud.domain.scoring import BLOCKED_REASON, DEGRADED_REASON, Thresholds, decide, recommend
from gamekeys_platform.geoip import IpInfo

DEFAULTS = compile_rule_set(DEFAULT_RULES, 0)
TH = Thresholds()


def features(**values):
    result = default_features()
    result.update(values)
    return result


SCENARIOS = {
    "block-listed": {"user_blocked": True, "any_blocked": True},
    "key-enumeration": {"ip_invalid_keys_1h": 6},
    "subnet-key-enumeration": {"subnet_invalid_keys_1h": 30},
    "brute-force": {"user_failures_1h": 5},
    "device-farm": {"device_distinct_users_24h": 4},
    "region-mismatch": {"key_regions": ["RU"], "key_region_locked": True, "ip_country": "DE"},
    "vpn-region-locked": {
        "key_regions": ["RU"],
        "key_region_locked": True,
        "ip_country": "RU",
        "ip_is_vpn": True,
    },
    "key-hoarding": {"batch_id": "b", "user_batch_keys_24h": 5},
    "instant-resale-activation": {"retailer_id": "r", "seconds_since_sale": 10},
    "many-countries": {"user_distinct_countries_24h": 3},
    "new-account-burst": {"account_age_days": 0, "user_distinct_keys_1h": 3},
}


@pytest.mark.parametrize("rule_id", list(SCENARIOS))
def test_each_default_rule_fires_on_its_scenario_alone(rule_id):
    decision = decide(features(**SCENARIOS[rule_id]), DEFAULTS, TH)
    assert [hit["id"] for hit in decision.rules_hit] == [rule_id]


def test_normal_traffic_is_low_allow():
    normal = features(
        user_attempts_1m=1,
        user_attempts_1h=2,
        user_distinct_keys_24h=2,
        device_distinct_users_24h=1,
        ip_distinct_users_24h=2,
        key_regions=["DE"],
        key_region_locked=True,
        ip_country="DE",
        retailer_id="r",
        seconds_since_sale=86_400,
        account_age_days=400,
    )
    decision = decide(normal, DEFAULTS, TH)
    assert (decision.score, decision.risk_level, decision.action, decision.reasons) == (0, "LOW", "ALLOW", [])


def test_score_sums_weights_with_a_reason_per_rule_and_caps_at_100():
    decision = decide(features(user_failures_1h=9, device_distinct_users_24h=5), DEFAULTS, TH)
    assert decision.score == 100 and decision.risk_level == "CRITICAL"
    assert decision.reasons == [
        "Burst of attempts or failures from one user, IP, subnet or device",
        "One device or IP used by many accounts",
    ]


def test_review_rules_never_add_up_to_a_block():
    """Subnet enumeration and brute force, both REVIEW: a fresh player from a busy /24."""
    decision = decide(features(subnet_invalid_keys_1h=30, user_failures_1h=5), DEFAULTS, TH)
    assert (decision.score, decision.risk_level, decision.action) == (100, "CRITICAL", "REVIEW")
    assert decision.active_rule_ids == ["subnet-key-enumeration", "brute-force"]


def rules(*specs):
    return compile_rule_set(
        [Rule(f"r{i}", "", "true", weight=w, action=action) for i, (w, action) in enumerate(specs)], 1
    )


@pytest.mark.parametrize(
    ("fired", "expected"),
    [
        ([(50, "REVIEW"), (50, "REVIEW")], "REVIEW"),
        ([(50, "REVIEW"), (0, "BLOCK")], "BLOCK"),
        ([(45, "REVIEW"), (35, None)], "REVIEW"),  # 80 in all, but the unforced part is only 35
        ([(45, "REVIEW"), (80, None)], "BLOCK"),  # the unforced rules reach BLOCK on their own
        ([(35, None), (20, None)], "REVIEW"),
        ([(30, None)], "ALLOW"),
        ([(60, None), (40, None)], "BLOCK"),
        ([(100, "ALLOW")], "ALLOW"),  # an explicit ALLOW adds to the score, never to the action
        ([(100, "ALLOW"), (40, None)], "REVIEW"),
        ([(0, "REVIEW")], "REVIEW"),
    ],
)
def test_explicit_actions_and_weights_combine(fired, expected):
    assert recommend(fired, TH) == expected
    decision = decide(features(), rules(*fired), TH)
    assert decision.action == expected
    assert decision.score == min(100, sum(weight for weight, _ in fired))


def test_forced_action_beats_a_low_score():
    rule_set = compile_rule_set([Rule("r", "forced", "true", weight=0, action="REVIEW")], 1)
    decision = decide(features(), rule_set, TH)
    assert (decision.score, decision.risk_level, decision.action) == (0, "LOW", "REVIEW")


def test_shadow_rules_are_reported_but_never_change_anything():
    rule_set = compile_rule_set(
        [Rule("s", "shadow block", "true", weight=100, action="BLOCK", mode="shadow")], 1
    )
    decision = decide(features(), rule_set, TH)
    assert (decision.score, decision.action, decision.reasons) == (0, "ALLOW", [])
    assert decision.rules_hit == [
        {"id": "s", "weight": 100, "action": "BLOCK", "mode": "shadow", "shadow": True}
    ]


def test_blocked_entity_is_critical_block_even_without_rules():
    decision = decide(features(device_blocked=True, any_blocked=True), compile_rule_set([], 1), TH)
    assert (decision.score, decision.risk_level, decision.action) == (100, "CRITICAL", "BLOCK")
    assert decision.reasons == [BLOCKED_REASON]


def test_degraded_mode_is_said():
    assert DEGRADED_REASON in decide(features(velocity_degraded=True), DEFAULTS, TH).reasons


def test_thresholds_are_configurable_and_checked():
    th = Thresholds(medium=10, high=20, critical=30, review=15, block=25)
    assert [th.level(s) for s in (9, 10, 20, 30)] == ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
    assert [th.action(s) for s in (14, 15, 25)] == ["ALLOW", "REVIEW", "BLOCK"]
    with pytest.raises(ValueError):
        Thresholds(medium=50, high=40)


def test_assemble_derives_subnet_enumeration_sale_and_account_age():
    now = datetime(2026, 1, 2, tzinfo=UTC)
    result = assemble(
        request={
            "user_id": "u",
            "ip": "192.0.2.77",
            "key_regions": ["ru", "DE"],
            "user_region": "de",
            "sold_at": now - timedelta(seconds=42),
            "account_created_at": now - timedelta(days=3, hours=1),
        },
        geo=IpInfo(country="DE", vpn=True),
        blocked={"ip"},
        velocity={"ip_invalid_keys_1h": 4, "device_invalid_keys_1h": 7, "user_invalid_keys_24h": 9},
        sold_at=None,
        now=now,
    )
    assert result["ip_subnet"] == "192.0.2.0/24"
    assert result["key_regions"] == ["DE", "RU"] and result["key_region_locked"] is True
    assert result["user_region"] == "DE" and result["ip_is_vpn"] is True
    assert result["key_enumeration_1h"] == 7 and result["key_enumeration_24h"] == 9
    assert result["seconds_since_sale"] == 42 and result["account_age_days"] == 3
    assert result["ip_blocked"] and result["any_blocked"] and not result["user_blocked"]


def test_evaluation_is_fast():
    import time

    sample = features(user_failures_1h=2, key_regions=["DE"], key_region_locked=True, ip_country="DE")
    started = time.perf_counter()
    for _ in range(2_000):
        decide(sample, DEFAULTS, TH)
    per_call_us = (time.perf_counter() - started) / 2_000 * 1e6
    assert per_call_us < 1_000, per_call_us
