"""The plain-Python domain: key format (checked against key-manager's codec), regions, lockout
policy, client IP, fraud decisions and RedemptionResult building."""

from __future__ import annotations

import pytest

from activation_gateway.domain import keyformat
from activation_gateway.domain.addresses import client_ip, parse_networks
from activation_gateway.domain.lockout import (
    LockoutRule,
    RuleState,
    counts_as_failed_attempt,
    parse_rules,
    verdict,
)
from activation_gateway.domain.redemption import (
    FraudAction,
    Status,
    UnavailablePolicy,
    fraud_decision,
    fraud_refusal,
    key_state_refusal,
    redemption_result,
)
from activation_gateway.domain.regions import evaluate_region
from gamekeys_platform.geoip import IpIntelligence, IpRanges
from key_manager.domain import codec  # tests only: the format's owner


def test_format_agrees_with_key_managers_codec():
    assert keyformat.ALPHABET == codec.ALPHABET
    assert keyformat.WEIGHTS == codec.WEIGHTS
    for raw in codec.generate_keys(300):
        key = raw.decode()
        assert keyformat.normalize(key) == key
        dashed = "-".join(key[i : i + 4] for i in range(0, 16, 4)).lower()
        assert keyformat.normalize(f"  {dashed} ") == codec.normalize(dashed).decode()
        # Every single substitution is refused by both.
        for position in (0, 7, 15):
            for replacement in keyformat.ALPHABET:
                if replacement != key[position]:
                    typo = key[:position] + replacement + key[position + 1 :]
                    with pytest.raises(keyformat.InvalidKeyFormat):
                        keyformat.normalize(typo)
        swapped = key[1] + key[0] + key[2:]
        if swapped != key:
            with pytest.raises(keyformat.InvalidKeyFormat):
                keyformat.normalize(swapped)


@pytest.mark.parametrize(
    "text", ["", "ABCD", "0" * 16, "IIII-LLLL-OOOO-1111", "X" * 65, "ABCD-EFGH-JKMN-PQR"]
)
def test_malformed_keys_never_repeat_the_input(text):
    with pytest.raises(keyformat.InvalidKeyFormat) as caught:
        keyformat.normalize(text)
    assert text not in str(caught.value) or not text


def test_fingerprint_is_opaque_and_normalised():
    fp = keyformat.fingerprint("abcd-efgh-jkmn-pqrs")
    assert fp == keyformat.fingerprint("ABCDEFGHJKMNPQRS") and "ABCD" not in fp and len(fp) == 32


ALLOW_DE = [{"type": "allow", "countries": ["DE", "AT"]}]


def test_regions():
    assert evaluate_region([], user_region="RU").allowed
    assert evaluate_region(ALLOW_DE, user_region="de", ip_country="AT").allowed
    wrong = evaluate_region(ALLOW_DE, user_region="RU")
    assert (wrong.code, wrong.reason) == ("REGION_RESTRICTED", "user_region")
    assert wrong.details["allowedCountries"] == ["AT", "DE"]
    by_ip = evaluate_region(ALLOW_DE, user_region="DE", ip_country="RU", ip_country_source="registry")
    assert (by_ip.code, by_ip.details["ipCountry"]) == ("REGION_RESTRICTED", "RU")
    assert by_ip.details["ipCountrySource"] == "registry"
    vpn = evaluate_region(
        ALLOW_DE, user_region="DE", ip_country="US", ip_is_vpn=True, network_source="maxmind-anonymous-ip"
    )
    assert (vpn.code, vpn.details["network"]) == ("VPN_DETECTED", "vpn")
    assert vpn.details["networkSource"] == "maxmind-anonymous-ip"
    ok = evaluate_region(ALLOW_DE, user_region="DE", ip_country="AT", ip_country_source="maxmind-country")
    assert ok.allowed and ok.details["ipCountrySource"] == "maxmind-country"
    assert evaluate_region(ALLOW_DE, user_region="DE", ip_is_datacenter=True).code == "VPN_DETECTED"
    # Unlocked keys do not care about VPNs; deny lists lock too.
    assert evaluate_region(None, user_region="DE", ip_is_vpn=True).allowed
    deny = [{"type": "deny", "countries": ["RU"]}]
    assert evaluate_region(deny, user_region="DE").allowed
    assert evaluate_region(deny, user_region="RU").code == "REGION_RESTRICTED"
    assert evaluate_region(deny, user_region="DE", ip_is_vpn=True).code == "VPN_DETECTED"


def test_lockout_rules_and_verdict():
    rules = parse_rules("user:10/3600, ip:30/3600,device:20/60")
    assert rules[0] == LockoutRule("user", 10, 3600) and rules[2].name == "redeem-fail-device-60"
    for bad in ("", "user:0/60", "nobody:1/1", "user:ten/60"):
        with pytest.raises(ValueError):
            parse_rules(bad)
    free = RuleState(rules[0], "u", False, 3, 0)
    assert not verdict([free]).locked
    locked = verdict([free, RuleState(rules[1], "ip", True, 0, 12.2), RuleState(rules[2], "d", True, 0, 3)])
    assert locked.locked and locked.retry_after_seconds == 13 and locked.dimensions == ("device", "ip")
    assert counts_as_failed_attempt("KEY_NOT_FOUND") and not counts_as_failed_attempt("REGION_RESTRICTED")


def test_client_ip_believes_only_trusted_proxies():
    trusted = parse_networks("127.0.0.1, 10.0.0.0/8")
    assert client_ip("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9"  # untrusted peer
    assert client_ip("127.0.0.1", "1.2.3.4", trusted) == "1.2.3.4"
    assert client_ip("127.0.0.1", "6.6.6.6, 1.2.3.4", trusted) == "1.2.3.4"  # spoofed left part ignored
    assert client_ip("127.0.0.1", "1.2.3.4, 10.1.1.1", trusted) == "1.2.3.4"  # two trusted hops
    assert client_ip("127.0.0.1", "garbage", trusted) == "127.0.0.1"
    assert client_ip("127.0.0.1", None, trusted) == "127.0.0.1"
    with pytest.raises(ValueError):
        parse_networks("not-an-ip")


def test_ip_data_sample_and_real_addresses():
    geoip = IpIntelligence(sample=IpRanges.sample())
    assert geoip.lookup("203.0.113.5").country == "RU" and not geoip.lookup("203.0.113.5").vpn
    assert geoip.lookup("203.0.113.200").vpn
    assert geoip.lookup("198.18.1.1").datacenter
    assert geoip.lookup("2001:db8::1").country == "FR"
    assert geoip.lookup("nonsense").country == ""
    assert geoip.lookup("192.0.2.1").country == "DE"
    assert geoip.lookup("77.88.8.8").country_source == "registry"
    assert IpIntelligence().lookup("192.0.2.1").country == ""  # documentation range: unknown


def test_key_state_refusals():
    assert key_state_refusal({"keyId": "k", "status": "sold", "expired": False}) is None
    assert key_state_refusal({"keyId": "k", "status": "activated"}).code == "KEY_ALREADY_ACTIVATED"
    assert key_state_refusal({"keyId": "k", "status": "revoked"}).code == "KEY_REVOKED"
    assert key_state_refusal({"keyId": "k", "status": "generated", "expired": True}).code == "KEY_EXPIRED"
    assert key_state_refusal({"keyId": "k", "status": "pending_review"}).code == "CONFLICT"


def test_fraud_decisions():
    allow = fraud_decision({"recommendedAction": "ALLOW", "score": 0, "rulesHit": []}, UnavailablePolicy.HOLD)
    assert allow.action is FraudAction.ALLOW
    review = fraud_decision({"recommendedAction": "REVIEW", "caseId": "c"}, UnavailablePolicy.HOLD)
    assert (review.action, review.review_reason, review.case_id) == (
        FraudAction.REVIEW,
        "antifraud_review",
        "c",
    )
    block = fraud_decision({"recommendedAction": "BLOCK", "rulesHit": [{"id": "key-enumeration"}]}, "hold")
    assert fraud_refusal(block).code == "FRAUD_DETECTED"
    listed = fraud_decision({"recommendedAction": "BLOCK", "rulesHit": [{"id": "block-listed"}]}, "hold")
    assert listed.action is FraudAction.ACCOUNT_BLOCKED and fraud_refusal(listed).code == "ACCOUNT_BLOCKED"
    shadow = fraud_decision(
        {"recommendedAction": "BLOCK", "rulesHit": [{"id": "block-listed", "shadow": True}]}, "hold"
    )
    assert shadow.action is FraudAction.BLOCK
    down = fraud_decision(None, UnavailablePolicy.HOLD)
    assert (down.action, down.review_reason) == (FraudAction.REVIEW, "antifraud_unavailable")
    assert fraud_decision(None, UnavailablePolicy.REJECT) is None


def test_redemption_result():
    ok = redemption_result(Status.ACTIVATED, "t", game_id="g", key_id="k")
    assert ok == {
        "success": True,
        "status": "activated",
        "transactionId": "t",
        "gameId": "g",
        "keyId": "k",
        "error": None,
    }
    failed = redemption_result(Status.FAILED, "t", error={"code": "KEY_NOT_FOUND"})
    assert failed["success"] is False and failed["error"]["code"] == "KEY_NOT_FOUND"
