"""REVIEW → the key is held, 202 pending_review; support's decision in antifraud
(fraud.case_decided) completes or rejects it. Antifraud unavailable → held, re-assessed later."""

from __future__ import annotations

import time
import uuid

from activation_gateway.consumers import CASES_CONSUMER, case_decision_handler
from activation_gateway.usecases.reviews import reassess_holds
from gamekeys_platform.events import Event
from gamekeys_platform.outbox import OutboxRelay, kafka_producer
from gamekeys_platform.testing import consumer_in_own_group

REVIEW = {"fingerprint": "dev-review", "platform": "review-me"}


def key_status(km_app, game, key_id) -> str:
    return (
        km_app.test_client().get(f"/api/v1/keys/{key_id}", headers=game.developer_auth).get_json()["status"]
    )


def pending(redeem, auth, key):
    response = redeem(key["key"], auth, deviceInfo={**REVIEW, "fingerprint": f"dev-{uuid.uuid4().hex}"})
    body = response.get_json()
    assert response.status_code == 202, body
    assert body["status"] == "pending_review" and body["success"] is False and body["transactionId"]
    return body


def test_review_approved_through_kafka_completes(
    game, user, redeem, rows, events_of, km_app, af, af_admin, gw, settings, kafka_servers
):
    user_id, auth = user()
    key = game.key()
    body = pending(redeem, auth, key)
    [row] = rows(id=uuid.UUID(body["transactionId"]))
    assert row["status"] == "pending_review" and row["case_id"] and row["review_reason"] == "antifraud_review"
    assert events_of("activation.pending_review", row["id"])[0]["data"]["caseId"] == str(row["case_id"])
    assert key_status(km_app, game, key["id"]) == "pending_review"
    # Nobody else can take the held key; the same player asking again sees their review.
    _, other = user()
    taken = redeem(key["key"], other)
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "CONFLICT"
    again = redeem(key["key"], auth)
    assert again.status_code == 202 and again.get_json()["transactionId"] == body["transactionId"]

    decided = af_admin("POST", f"/cases/{row['case_id']}/decision", {"decision": "approve", "note": "ok"})
    assert decided.status_code == 200, decided.get_json()
    relay = OutboxRelay(
        af.db, kafka_producer(kafka_servers, client_id="ag-test-af-relay"), service_name="antifraud"
    )
    while relay.relay_once():
        pass
    relay.producer.close(timeout=5)
    consumer = consumer_in_own_group(
        gw.db,
        kafka_servers,
        name=CASES_CONSUMER,
        topics=[settings.antifraud_events_topic],
        handler=case_decision_handler(gw),
    )
    deadline = time.monotonic() + 40
    try:
        while time.monotonic() < deadline and rows(id=row["id"])[0]["status"] == "pending_review":
            consumer.poll_once(timeout_ms=500)
    finally:
        consumer.consumer.close()
        consumer.dead_letter_producer.close()
    [done] = rows(id=row["id"])
    assert done["status"] == "activated" and done["completed_at"] is not None
    [event] = events_of("activation.succeeded", row["id"])
    assert event["data"]["userId"] == user_id and event["data"]["caseId"] == str(row["case_id"])
    assert key_status(km_app, game, key["id"]) == "activated"


def apply(gw, af, event_type: str, subject) -> None:
    """Hand antifraud's outbox event to our consumer's handler, as the consumer would."""
    outbox = af.db.tables.outbox
    with af.db.transaction() as session:
        payload = (
            session.execute(
                outbox.select().where(outbox.c.event_type == event_type, outbox.c.message_key == str(subject))
            )
            .one()
            .payload
        )
    with gw.db.transaction() as session:
        case_decision_handler(gw)(session, Event.from_dict(payload))


def test_review_rejected_releases_the_key(game, user, redeem, rows, events_of, km_app, af, af_admin, gw):
    _, auth = user()
    key = game.key()
    body = pending(redeem, auth, key)
    [row] = rows(id=uuid.UUID(body["transactionId"]))
    assert af_admin("POST", f"/cases/{row['case_id']}/decision", {"decision": "reject"}).status_code == 200
    apply(gw, af, "fraud.case_decided", row["case_id"])
    apply(gw, af, "fraud.case_decided", row["case_id"])  # a redelivery changes nothing
    [done] = rows(id=row["id"])
    assert done["status"] == "rejected" and done["error_code"] == "FRAUD_DETECTED"
    [event] = events_of("activation.failed", row["id"])
    assert event["data"]["reason"] == "FRAUD_DETECTED"
    assert key_status(km_app, game, key["id"]) == "generated"  # released, back where it was
    _, other = user()
    assert redeem(key["key"], other).status_code == 200


def test_antifraud_down_holds_for_review_then_reassesses(game, user, redeem, rows, km_app, gw, events_of):
    _, auth = user()
    key = game.key()
    client = gw.antifraud.client
    real_url = client.base_url
    client.base_url = "http://127.0.0.1:1"  # nothing listens there
    try:
        response = redeem(key["key"], auth)
    finally:
        client.base_url = real_url
        client.breaker.record_success()
    body = response.get_json()
    assert response.status_code == 202 and body["status"] == "pending_review", body
    [row] = rows(id=uuid.UUID(body["transactionId"]))
    assert row["review_reason"] == "antifraud_unavailable" and row["case_id"] is None
    assert key_status(km_app, game, key["id"]) == "pending_review"
    time.sleep(1.1)  # reassess_after_seconds=1 in the tests
    counts = reassess_holds(gw)
    assert counts["activated"] >= 1
    assert rows(id=row["id"])[0]["status"] == "activated"
    assert events_of("activation.succeeded", row["id"])
    assert key_status(km_app, game, key["id"]) == "activated"
