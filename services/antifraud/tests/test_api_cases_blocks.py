import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, TopicPartition

from antifraud.app import create_app
from antifraud.db.tables import blocks
from gamekeys_platform.outbox import OutboxRelay, kafka_producer

API = "/api/v1/antifraud"


def review_case(analyze, request_body, random_ip):
    body = request_body(context={"ipAddress": random_ip("192.0.2"), "keyRegions": ["US"]})
    score = analyze(body)
    assert score["recommendedAction"] == "REVIEW"
    return body, score


def test_case_list_and_decision_emits_case_decided(
    client, analyze, request_body, random_ip, support_auth, events_of
):
    body, score = review_case(analyze, request_body, random_ip)
    case_id = score["caseId"]
    listed = client.get(f"{API}/cases?status=open&limit=100", headers=support_auth).get_json()
    assert case_id in [c["caseId"] for c in listed["items"]]
    response = client.post(
        f"{API}/cases/{case_id}/decision",
        json={"decision": "reject", "note": "stolen key"},
        headers=support_auth,
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected"
    data = events_of("fraud.case_decided", case_id)[0]["data"]
    assert data == {
        **data,
        "caseId": case_id,
        "assessmentId": score["assessmentId"],
        "keyId": body["keyId"],
        "userId": body["userId"],
        "activationId": body["activationId"],
        "decision": "reject",
        "note": "stolen key",
    }
    again = client.post(f"{API}/cases/{case_id}/decision", json={"decision": "approve"}, headers=support_auth)
    assert again.status_code == 409
    assert len(events_of("fraud.case_decided", case_id)) == 1
    closed = client.get(f"{API}/cases?status=rejected&limit=100", headers=support_auth).get_json()
    assert case_id in [c["caseId"] for c in closed["items"]]


def test_case_decision_roles_and_bad_input(
    client, analyze, request_body, random_ip, user_auth, admin_auth, events_of
):
    _, score = review_case(analyze, request_body, random_ip)
    url = f"{API}/cases/{score['caseId']}/decision"
    assert client.post(url, json={"decision": "approve"}).status_code == 401
    assert client.post(url, json={"decision": "approve"}, headers=user_auth).status_code == 403
    assert client.get(f"{API}/cases", headers=user_auth).status_code == 403
    bad = client.post(url, json={"decision": "maybe"}, headers=admin_auth)
    assert bad.status_code == 422 and "decision" in bad.get_json()["error"]["details"]["fields"]["json"]
    assert (
        client.post(
            f"{API}/cases/{uuid.uuid4()}/decision", json={"decision": "approve"}, headers=admin_auth
        ).status_code
        == 404
    )
    assert events_of("fraud.case_decided", score["caseId"]) == []
    assert client.post(url, json={"decision": "approve"}, headers=admin_auth).status_code == 200


def test_case_decided_reaches_kafka(
    client, analyze, request_body, random_ip, support_auth, af, settings, kafka_servers
):
    _, score = review_case(analyze, request_body, random_ip)
    client.post(f"{API}/cases/{score['caseId']}/decision", json={"decision": "approve"}, headers=support_auth)
    relay = OutboxRelay(
        af.db, kafka_producer(kafka_servers, client_id="af-test-relay"), service_name="antifraud"
    )
    while relay.relay_once():
        pass
    relay.producer.close(timeout=5)
    consumer = KafkaConsumer(bootstrap_servers=kafka_servers, auto_offset_reset="earliest")
    topic = settings.antifraud_events_topic
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or [0]])
    consumer.seek_to_beginning()
    found: list[dict] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(e["type"] == "fraud.case_decided" for e in found):
        for records in consumer.poll(timeout_ms=500).values():
            found += [json.loads(r.value) for r in records if r.key == score["caseId"].encode()]
    consumer.close()
    decided = [e for e in found if e["type"] == "fraud.case_decided"]
    assert decided and decided[0]["data"]["decision"] == "approve" and decided[0]["source"] == "antifraud"


def test_block_activity_then_blocked_entities_score_critical(
    client, analyze, request_body, support_auth, events_of
):
    body = request_body()
    first = analyze(body)
    response = client.post(
        f"{API}/activities/{first['assessmentId']}/block",
        json={"entities": ["device"], "reason": "device farm"},
        headers=support_auth,
    )
    assert response.status_code == 201
    block = response.get_json()["items"][0]
    assert block["entityType"] == "device" and block["value"] == body["deviceFingerprint"] and block["active"]
    assert events_of("fraud.block_added", block["blockId"])[0]["data"]["entityType"] == "device"
    again = analyze(request_body(deviceFingerprint=body["deviceFingerprint"]))
    assert (again["score"], again["riskLevel"], again["recommendedAction"]) == (100, "CRITICAL", "BLOCK")
    assert "block-listed" in [h["id"] for h in again["rulesHit"]]
    assert (
        client.post(f"{API}/activities/{uuid.uuid4()}/block", json={}, headers=support_auth).status_code
        == 404
    )


def test_block_expiry_and_lift(client, analyze, request_body, random_ip, admin_auth, events_of):
    ip = random_ip("10")
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    response = client.post(
        f"{API}/blocks",
        json={"entityType": "ip", "value": ip, "reason": "abuse", "expiresAt": expires_at.isoformat()},
        headers=admin_auth,
    )
    assert response.status_code == 201
    block_id = response.get_json()["blockId"]
    assert analyze(request_body(context={"ipAddress": ip}))["recommendedAction"] == "BLOCK"
    listed = client.get(f"{API}/blocks?entityType=ip&value={ip}", headers=admin_auth).get_json()
    assert [b["blockId"] for b in listed["items"]] == [block_id]
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.1)  # the block runs out
    assert analyze(request_body(context={"ipAddress": ip}))["recommendedAction"] == "ALLOW"
    assert client.get(f"{API}/blocks?entityType=ip&value={ip}", headers=admin_auth).get_json()["items"] == []
    user = str(uuid.uuid4())
    permanent = client.post(
        f"{API}/blocks", json={"entityType": "user", "value": user, "reason": "fraud"}, headers=admin_auth
    )
    assert analyze(request_body(userId=user))["recommendedAction"] == "BLOCK"
    lifted = client.post(
        f"{API}/blocks/{permanent.get_json()['blockId']}/lift", json={"reason": "appeal"}, headers=admin_auth
    )
    assert lifted.status_code == 200 and lifted.get_json()["active"] is False
    [event] = events_of("fraud.block_lifted", lifted.get_json()["blockId"])
    assert event["data"]["entityType"] == "user" and event["data"]["value"] == user
    assert event["data"]["reason"] == "appeal" and event["data"]["liftedAt"].endswith("Z")
    assert analyze(request_body(userId=user))["recommendedAction"] == "ALLOW"


def test_block_bad_input(client, admin_auth, user_auth, count_rows):
    before = count_rows(blocks)
    for body in (
        {"entityType": "planet", "value": "x", "reason": "r"},
        {"entityType": "user", "value": "not-a-uuid", "reason": "r"},
        {"entityType": "ip", "value": "0", "reason": "r"},
        {"entityType": "ip", "value": "10.0.0.0/8", "reason": "r"},
        {"entityType": "device", "value": "dev\u0000ice", "reason": "r"},
        {"entityType": "ip", "value": "1.2.3.4", "reason": "r", "expiresAt": "2001-01-01T00:00:00Z"},
        {"entityType": "ip", "value": "1.2.3.4"},
    ):
        assert client.post(f"{API}/blocks", json=body, headers=admin_auth).status_code == 422, body
    assert (
        client.post(
            f"{API}/blocks", json={"entityType": "ip", "value": "1.2.3.4", "reason": "r"}, headers=user_auth
        ).status_code
        == 403
    )
    assert count_rows(blocks) == before


def test_statistics_and_suspicious_activity(client, analyze, request_body, support_auth, user_auth):
    user = str(uuid.uuid4())
    for _ in range(5):
        analyze(userId=user, context={"keyOutcome": "revoked"})
    stats = client.get(f"{API}/statistics", headers=support_auth).get_json()
    assert stats["totalAssessments"] >= 5
    assert set(stats["byRiskLevel"]) == {"LOW", "MEDIUM", "HIGH", "CRITICAL"}
    assert 0 <= stats["blockRate"] <= 1 and "brute-force" in [r["ruleId"] for r in stats["topRules"]]
    activity = client.get(f"{API}/users/{user}/suspicious-activity", headers=support_auth).get_json()
    assert activity["assessments"] == 5 and activity["nonAllowed"] == 1
    assert activity["patterns"][0]["pattern"] == "brute-force" and activity["patterns"][0]["occurrences"] == 1
    assert client.get(f"{API}/users/{user}/suspicious-activity", headers=user_auth).status_code == 403
    bad = client.get(
        f"{API}/statistics?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", headers=support_auth
    )
    assert bad.status_code == 422


def test_blocks_and_lifts_apply_at_once_on_every_instance(
    client, analyze, request_body, admin_auth, settings, service_auth, af
):
    """Each instance scores from a snapshot of the block list; a change made through one
    instance reaches the other's very next request, not a poll interval later."""
    other = create_app(settings)
    other.extensions["antifraud"].velocity.prefix = af.velocity.prefix  # the same Redis namespace
    try:
        other_client = other.test_client()

        def action_on_other(body) -> str:
            response = other_client.post(f"{API}/analyze", json=body, headers=service_auth)
            assert response.status_code == 200, response.get_json()
            return response.get_json()["recommendedAction"]

        user = str(uuid.uuid4())
        assert action_on_other(request_body(userId=user)) == "ALLOW"  # its snapshot is loaded
        block = client.post(
            f"{API}/blocks", json={"entityType": "user", "value": user, "reason": "fraud"}, headers=admin_auth
        ).get_json()
        assert action_on_other(request_body(userId=user)) == "BLOCK"
        client.post(f"{API}/blocks/{block['blockId']}/lift", json={"reason": "appeal"}, headers=admin_auth)
        assert action_on_other(request_body(userId=user)) == "ALLOW"
    finally:
        other.extensions["antifraud"].db.dispose()


def test_block_list_without_its_version_in_redis(client, analyze, request_body, admin_auth, af):
    """Redis lost its data (a restart): the block list still applies and follows changes."""
    device = f"dev-{uuid.uuid4().hex}"
    client.post(
        f"{API}/blocks", json={"entityType": "device", "value": device, "reason": "farm"}, headers=admin_auth
    )
    assert analyze(request_body(deviceFingerprint=device))["recommendedAction"] == "BLOCK"
    af.redis.delete(f"{af.velocity.prefix}blocks:version")
    assert analyze(request_body(deviceFingerprint=device))["recommendedAction"] == "BLOCK"
    assert af.redis.get(f"{af.velocity.prefix}blocks:version")  # set again by the instance that noticed
    user = str(uuid.uuid4())
    client.post(
        f"{API}/blocks", json={"entityType": "user", "value": user, "reason": "fraud"}, headers=admin_auth
    )
    assert analyze(request_body(userId=user))["recommendedAction"] == "BLOCK"


def test_a_rolled_back_block_announces_nothing(af):
    key = f"{af.velocity.prefix}blocks:version"
    af.velocity.new_blocks_version()
    before = af.redis.get(key)
    with af.db.sessions() as session:
        af.blocks.changed(session)
        session.rollback()
    assert af.redis.get(key) == before
    with af.db.sessions() as session:
        af.blocks.changed(session)
        session.commit()
    assert af.redis.get(key) != before


def test_redis_down_still_applies_the_block_list(client, admin_auth, settings, service_auth, request_body):
    degraded = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    try:
        ip = f"10.{uuid.uuid4().int % 250}.7.9"
        client.post(
            f"{API}/blocks", json={"entityType": "ip", "value": ip, "reason": "abuse"}, headers=admin_auth
        )
        response = degraded.test_client().post(
            f"{API}/analyze", json=request_body(context={"ipAddress": ip}), headers=service_auth
        )
        score = response.get_json()
        assert response.status_code == 200 and score["degraded"] is True
        assert score["recommendedAction"] == "BLOCK" and "block-listed" in [
            h["id"] for h in score["rulesHit"]
        ]
    finally:
        degraded.extensions["antifraud"].db.dispose()


def test_the_snapshot_is_reused_until_the_block_list_changes(
    client, analyze, request_body, admin_auth, caplog
):
    """An empty block list too: a snapshot with no entry is as current as one with many."""
    with caplog.at_level(logging.INFO, logger="antifraud.blocks"):
        for _ in range(3):
            analyze(request_body())
        block = {"entityType": "user", "value": str(uuid.uuid4()), "reason": "r"}
        assert client.post(f"{API}/blocks", json=block, headers=admin_auth).status_code == 201
        for _ in range(3):
            analyze(request_body())
    loads = [r for r in caplog.records if r.getMessage() == "block list loaded"]
    assert len(loads) == 2  # this test's fresh Redis namespace had no version yet; then the block
