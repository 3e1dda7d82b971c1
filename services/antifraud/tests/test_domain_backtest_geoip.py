from pathlib import Path

from antifraud.domain.backtest import StoredAssessment, backtest
from antifraud.domain.features import default_features
from antifraud.domain.rules import Rule, compile_rule_set
from antifraud.domain.scoring import Thresholds
from gamekeys_platform.geoip import IpInfo, IpIntelligence, IpRanges


def stored(i, action, **values):
    features = default_features()
    features.update(values)
    return StoredAssessment(f"a{i}", features, action, 0, "LOW")


def test_backtest_counts_changes_and_directions_on_a_known_history():
    history = [
        stored(1, "ALLOW", user_failures_1h=3),  # proposed: REVIEW (stricter)
        stored(2, "ALLOW", user_failures_1h=1),  # unchanged ALLOW
        stored(3, "REVIEW", user_failures_1h=0),  # proposed: ALLOW (looser)
        stored(4, "BLOCK", user_failures_1h=9),  # proposed: BLOCK, unchanged
        stored(5, "ALLOW", user_failures_1h=4),  # stricter
    ]
    proposed = compile_rule_set(
        [
            Rule("f3", "", "user_failures_1h >= 3", weight=40),
            Rule("f9", "", "user_failures_1h >= 9", weight=60, action="BLOCK"),
            Rule("shadow", "", "true", mode="shadow", action="BLOCK"),
        ],
        -1,
    )
    result = backtest(history, proposed, Thresholds(), max_examples=1)
    assert result["evaluated"] == 5
    assert (result["changed"], result["stricter"], result["looser"]) == (3, 2, 1)
    assert result["transitions"] == {"ALLOW->REVIEW": 2, "REVIEW->ALLOW": 1}
    assert result["actionsAfter"] == {"ALLOW": 2, "REVIEW": 2, "BLOCK": 1}
    assert result["ruleHits"] == {"f3": 3, "f9": 1, "shadow": 5}
    assert result["examples"] == [
        {
            "assessmentId": "a1",
            "before": {"action": "ALLOW", "score": 0, "riskLevel": "LOW"},
            "after": {"action": "REVIEW", "score": 40, "riskLevel": "MEDIUM", "rulesHit": ["f3", "shadow"]},
        }
    ]


def test_backtest_combines_actions_as_the_live_scoring_does():
    """Two REVIEW rules firing together stay a REVIEW in a backtest as they do on /analyze."""
    proposed = compile_rule_set(
        [
            Rule("a", "", "user_failures_1h >= 1", weight=50, action="REVIEW"),
            Rule("b", "", "user_failures_1h >= 1", weight=50, action="REVIEW"),
        ],
        -1,
    )
    result = backtest([stored(1, "ALLOW", user_failures_1h=1)], proposed, Thresholds())
    assert result["transitions"] == {"ALLOW->REVIEW": 1}


def test_ip_data_features_come_from_the_sample_and_the_real_data(tmp_path: Path):
    sample = IpIntelligence(sample=IpRanges.sample())
    assert sample.lookup("192.0.2.9") == IpInfo("DE", country_source="sample")
    assert sample.lookup("203.0.113.5").vpn is False
    assert sample.lookup("203.0.113.200") == IpInfo(
        "RU", vpn=True, country_source="sample", network_source="sample"
    )
    assert sample.lookup("198.18.3.4").datacenter is True
    assert sample.lookup("2001:db8:ffff::1").datacenter is True
    assert sample.lookup("77.88.8.8").country == "RU"  # a real Russian address: the registry's data
    assert sample.lookup("not an ip").country == ""
    custom = tmp_path / "ranges.csv"
    custom.write_text("# mine\n8.8.8.0/24,us,datacenter\n")
    assert IpRanges.from_file(custom).lookup("8.8.8.8") == IpInfo(
        "US", datacenter=True, country_source="operator", network_source="operator"
    )
