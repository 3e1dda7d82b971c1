import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from antifraud.app import create_app
from antifraud.db.tables import assessments
from antifraud.domain.features import default_features
from antifraud.domain.rules import DEFAULT_RULES

RULES = "/api/v1/antifraud/rules"


def rule(id_, expression, **fields):
    return {"id": id_, "description": id_, "expression": expression, **fields}


@pytest.fixture()
def restore_defaults(client, admin_auth, af):
    yield
    response = client.put(RULES, json={"rules": [r.to_dict() for r in DEFAULT_RULES]}, headers=admin_auth)
    assert response.status_code == 200
    af.rules.invalidate()


def test_get_rules_shows_the_set_in_force(client, support_auth):
    body = client.get(RULES, headers=support_auth).get_json()
    ids = [r["id"] for r in body["rules"]]
    assert {"block-listed", "key-enumeration", "brute-force", "device-farm", "region-mismatch"} <= set(ids)
    assert {"vpn-region-locked", "key-hoarding", "instant-resale-activation"} <= set(ids)
    assert all(
        {"id", "description", "expression", "weight", "action", "mode", "enabled"} <= r.keys()
        for r in body["rules"]
    )


def test_invalid_rule_is_422_naming_it_and_the_old_set_stays(client, admin_auth, count_rows, events_of):
    before = client.get(RULES, headers=admin_auth).get_json()
    updates = len(events_of("fraud.rules_updated"))
    for bad, message in (
        (rule("typo-rule", "user_attemps_1m > 3"), "unknown feature(s): user_attemps_1m"),
        (rule("broken-rule", "user_attempts_1m >"), "does not compile"),
    ):
        response = client.put(RULES, json={"rules": [rule("ok", "true"), bad]}, headers=admin_auth)
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["rules"][0]["ruleId"] == bad["id"]
        assert message in error["details"]["rules"][0]["error"]
        assert bad["id"] in error["message"]
    schema_error = client.put(RULES, json={"rules": [rule("w", "true", weight=500)]}, headers=admin_auth)
    assert schema_error.status_code == 422
    assert client.get(RULES, headers=admin_auth).get_json() == before
    assert len(events_of("fraud.rules_updated")) == updates


def test_rules_need_admin_to_change_and_reviewer_to_read(client, support_auth, user_auth, service_auth):
    body = {"rules": [rule("x", "true")]}
    assert client.put(RULES, json=body).status_code == 401
    assert client.put(RULES, json=body, headers=support_auth).status_code == 403
    assert client.put(RULES, json=body, headers=service_auth).status_code == 403
    assert client.get(RULES, headers=user_auth).status_code == 403
    assert client.post(f"{RULES}/backtest", json={}, headers=support_auth).status_code == 403


def test_new_version_reaches_a_second_instance_within_5s(
    client, admin_auth, settings, service_auth, request_body, events_of, restore_defaults
):
    other = create_app(settings)
    try:
        other_client = other.test_client()
        old = other_client.post(
            "/api/v1/antifraud/analyze", json=request_body(), headers=service_auth
        ).get_json()
        response = client.put(
            RULES,
            json={"rules": [rule("everyone", "user_id != ''", weight=50, action="REVIEW")]},
            headers=admin_auth,
        )
        assert response.status_code == 200
        version = response.get_json()["version"]
        assert version > old["ruleSetVersion"]
        started = time.monotonic()
        while time.monotonic() - started < 5:
            score = other_client.post(
                "/api/v1/antifraud/analyze", json=request_body(), headers=service_auth
            ).get_json()
            if score["ruleSetVersion"] == version:
                break
            time.sleep(0.1)
        assert score["ruleSetVersion"] == version, (
            "the second instance did not pick up the new version in 5 s"
        )
        assert [h["id"] for h in score["rulesHit"]] == ["everyone"] and score["recommendedAction"] == "REVIEW"
        event = events_of("fraud.rules_updated")[-1]["data"]
        assert event["version"] == version and event["ruleIds"] == ["everyone"]
    finally:
        other.extensions["antifraud"].db.dispose()


def test_checking_the_rule_version_needs_no_second_connection(settings, service_auth, request_body):
    """Every request re-checks the version (poll interval 0) with one pooled connection in all:
    the check reads through the request's own, where asking the pool for another would wait
    for the connection the request itself holds."""
    single = create_app(
        settings.model_copy(update={"database_pool_size": 1, "antifraud_rules_poll_seconds": 0})
    )
    try:
        client = single.test_client()
        for _ in range(3):
            response = client.post("/api/v1/antifraud/analyze", json=request_body(), headers=service_auth)
            assert response.status_code == 200, response.get_json()
    finally:
        single.extensions["antifraud"].db.dispose()


def test_shadow_rule_is_recorded_but_never_changes_the_action(
    client, admin_auth, analyze, af, restore_defaults
):
    rules = [
        rule("shadow-block", "user_id != ''", weight=100, action="BLOCK", mode="shadow"),
        rule("active-small", "user_id != ''", weight=10),
    ]
    assert client.put(RULES, json={"rules": rules}, headers=admin_auth).status_code == 200
    score = analyze()
    assert score["recommendedAction"] == "ALLOW" and score["score"] == 10
    assert score["reasons"] == ["active-small"]
    assert {(h["id"], h["shadow"]) for h in score["rulesHit"]} == {
        ("shadow-block", True),
        ("active-small", False),
    }


def test_backtest_on_a_known_period(client, admin_auth, af):
    period_start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = []
    for i, (failures, action) in enumerate(
        [(0, "ALLOW"), (6, "ALLOW"), (7, "REVIEW"), (0, "REVIEW"), (1, "ALLOW")]
    ):
        features = default_features()
        features["user_failures_1h"] = failures
        rows.append(
            {
                "id": uuid.uuid4(),
                "created_at": period_start.replace(hour=i),
                "user_id": uuid.uuid4(),
                "ip": "10.0.0.1",
                "device_fingerprint": "d",
                "score": 0,
                "risk_level": "LOW",
                "action": action,
                "reasons": [],
                "rules_hit": [],
                "features": features,
                "rule_set_version": 0,
            }
        )
    with af.db.transaction() as session:
        session.execute(insert(assessments), rows)
    proposed = {
        "rules": [rule("fail5", "user_failures_1h >= 5", weight=50, action="REVIEW")],
        "from": "2020-01-01T00:00:00Z",
        "to": "2020-01-02T00:00:00Z",
        "maxExamples": 5,
    }
    result = client.post(f"{RULES}/backtest", json=proposed, headers=admin_auth).get_json()
    assert result["evaluated"] == 5 and result["truncated"] is False
    assert (result["changed"], result["stricter"], result["looser"]) == (2, 1, 1)
    assert result["transitions"] == {"ALLOW->REVIEW": 1, "REVIEW->ALLOW": 1}
    assert {e["assessmentId"] for e in result["examples"]} == {str(rows[1]["id"]), str(rows[3]["id"])}
    bad = client.post(
        f"{RULES}/backtest", json={**proposed, "rules": [rule("x", "nope")]}, headers=admin_auth
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["rules"][0]["ruleId"] == "x"
