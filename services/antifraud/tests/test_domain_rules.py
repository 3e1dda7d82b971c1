import pytest

from antifraud.domain.features import FEATURES, default_features
from antifraud.domain.rules import DEFAULT_RULES, Rule, RuleSetInvalid, compile_rule_set


def test_default_rules_compile_and_stay_quiet_on_default_features():
    rule_set = compile_rule_set(DEFAULT_RULES, 0)
    assert len(rule_set.compiled) == len(DEFAULT_RULES)
    features = default_features()
    assert [c.rule.id for c in rule_set.compiled if c.program.execute(features)] == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("user_attempts_1m >", "does not compile"),
        ("no_such_feature > 3", "unknown feature(s): no_such_feature"),
        ("user_attempts_1m + 1", "must evaluate to a bool"),
        ("ip_country > 3", "fails on the default features"),
    ],
)
def test_a_faulty_rule_is_refused_by_id(expression, message):
    rules = [DEFAULT_RULES[0], Rule("bad-one", "x", expression, weight=10)]
    with pytest.raises(RuleSetInvalid) as caught:
        compile_rule_set(rules, 1)
    assert caught.value.errors[0]["ruleId"] == "bad-one"
    assert message in caught.value.errors[0]["error"]


def test_every_faulty_rule_is_reported_and_duplicates_too():
    rules = [Rule("a", "", "nope"), Rule("b", "", "true"), Rule("b", "", "true"), Rule("c", "", "x >")]
    with pytest.raises(RuleSetInvalid) as caught:
        compile_rule_set(rules, 1)
    assert [(e["ruleId"], e["error"].split(":")[0]) for e in caught.value.errors] == [
        ("a", "unknown feature(s)"),
        ("b", "duplicate rule id"),
        ("c", "does not compile"),
    ]


def test_macro_variables_are_not_features_and_disabled_rules_are_not_compiled_in():
    rules = [
        Rule("macro", "", "key_regions.exists(c, c == ip_country)"),
        Rule("off", "", "true", enabled=False),
    ]
    rule_set = compile_rule_set(rules, 3)
    assert [c.rule.id for c in rule_set.compiled] == ["macro"]
    assert rule_set.version == 3


def test_bad_shape_is_refused():
    for rule in (
        Rule("UPPER", "", "true"),
        Rule("w", "", "true", weight=101),
        Rule("m", "", "true", mode="x"),
    ):
        with pytest.raises(RuleSetInvalid):
            compile_rule_set([rule], 1)


def test_feature_catalogue_is_complete():
    for dimension in ("user", "ip", "subnet", "device"):
        for counter in ("attempts", "failures", "distinct_keys", "invalid_keys"):
            for window in ("1m", "1h", "24h"):
                assert f"{dimension}_{counter}_{window}" in FEATURES
    for name in ("user_id", "ip", "ip_country", "user_region", "device_fingerprint", "game_id", "key_type"):
        assert name in FEATURES
