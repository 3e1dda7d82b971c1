import time
import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import select

from antifraud.consumers import HANDLED_EVENTS, make_handler
from antifraud.db.tables import assessments
from antifraud.worker import VELOCITY_CONSUMER, build_loops
from gamekeys_platform.events import Event
from gamekeys_platform.testing import consumer_in_own_group
from gamekeys_platform.workers import Deferred


def event(event_type, data, source="activation-gateway"):
    return Event(type=event_type, source=source, subject=str(uuid.uuid4()), data=data)


def test_failed_activations_on_the_topic_feed_enumeration(af, analyze, request_body, random_ip):
    handle = make_handler(af.velocity)
    ip = random_ip("198.51.100")
    for _ in range(5):
        failure = event(
            "activation.failed",
            {
                "userId": str(uuid.uuid4()),
                "ipAddress": ip,
                "reason": "KEY_NOT_FOUND",
                "keyFingerprint": uuid.uuid4().hex,
            },
        )
        handle(None, failure)
        handle(None, failure)  # a redelivery adds nothing
    score = analyze(request_body(context={"ipAddress": ip}))
    assert "key-enumeration" in [h["id"] for h in score["rulesHit"]]
    assert score["recommendedAction"] == "BLOCK"


def test_sales_and_activations_from_keys_events(af, analyze, request_body):
    handle = make_handler(af.velocity)
    key_id, user, batch = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    sold_at = (datetime.now(UTC) - timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    handle(None, event("key.sold", {"orderId": "o", "keyIds": [key_id], "soldAt": sold_at}, "key-manager"))
    for _ in range(4):
        handle(
            None,
            event(
                "key.activated", {"keyId": str(uuid.uuid4()), "userId": user, "batchId": batch}, "key-manager"
            ),
        )
    score = analyze(
        request_body(keyId=key_id, userId=user, context={"retailerId": str(uuid.uuid4()), "batchId": batch})
    )
    hit = {h["id"] for h in score["rulesHit"]}
    assert {"instant-resale-activation", "key-hoarding"} <= hit
    unrelated = event("batch.generated", {"batchId": batch}, "key-manager")
    handle(None, unrelated)  # ignored, no error


def test_an_activation_counts_once_from_key_activated_alone(af, analyze, request_body):
    """key-manager emits key.activated for every activation; activation-gateway's
    activation.succeeded of the same activation is not consumed, and a redelivery adds nothing."""
    assert "activation.succeeded" not in HANDLED_EVENTS
    handle = make_handler(af.velocity)
    user, batch = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(3):
        activation = {
            "keyId": str(uuid.uuid4()),
            "userId": user,
            "batchId": batch,
            "activationId": str(uuid.uuid4()),
        }
        activated = event("key.activated", activation, "key-manager")
        handle(None, activated)
        handle(None, activated)
    score = analyze(request_body(userId=user, context={"batchId": batch}))
    with af.db.transaction() as session:
        features = session.execute(
            select(assessments.c.features).where(assessments.c.id == uuid.UUID(score["assessmentId"]))
        ).scalar_one()
    assert features["user_batch_keys_24h"] == 4  # the three activated and the one analyzed


def test_returned_and_revoked_keys_of_a_retailer_count_against_its_other_keys(af, analyze, request_body):
    """A wave of returns (chargebacks) at one retailer plus an instant resale activation of another
    of its keys is a review; the same activation at a retailer without returns is not."""
    handle = make_handler(af.velocity)
    retailer, quiet = str(uuid.uuid4()), str(uuid.uuid4())
    returned = {"retailerId": retailer, "orderId": "o-1", "keyIds": [str(uuid.uuid4()) for _ in range(15)]}
    handle(None, event("key.returned", {**returned, "quantity": 15, "status": "revoked"}, "key-manager"))
    handle(None, event("key.returned", {**returned, "quantity": 15, "status": "revoked"}, "key-manager"))
    for _ in range(5):
        revoked = {"keyId": str(uuid.uuid4()), "retailerId": retailer, "status": "revoked"}
        handle(None, event("key.revoked", revoked, "key-manager"))
    handle(None, event("key.revoked", {"keyId": str(uuid.uuid4()), "retailerId": None}, "key-manager"))

    def activation(retailer_id):
        sold = (datetime.now(UTC) - timedelta(seconds=10)).isoformat()
        return analyze(request_body(context={"retailerId": retailer_id, "soldAt": sold}))

    flagged, calm = activation(retailer), activation(quiet)
    assert {h["id"] for h in flagged["rulesHit"]} == {"retailer-chargeback-wave", "instant-resale-activation"}
    assert flagged["recommendedAction"] == "REVIEW"
    assert calm["recommendedAction"] == "ALLOW"
    with af.db.transaction() as session:
        features = session.execute(
            select(assessments.c.features).where(assessments.c.id == uuid.UUID(flagged["assessmentId"]))
        ).scalar_one()
    assert features["retailer_revoked_keys_24h"] == 20


def test_worker_consumer_through_the_broker(af, settings, kafka_servers, analyze, request_body, random_ip):
    """activations.events and keys.events through the real broker into the velocity store, with the
    worker's own loops (each Kafka loop wrapped in Deferred)."""

    activations, keys = (
        f"test.af.{uuid.uuid4().hex[:8]}.{name}" for name in ("activations.events", "keys.events")
    )
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(t, 3, 1) for t in (activations, keys, f"{activations}.dlq", f"{keys}.dlq")])
    admin.close()
    test_settings = settings.model_copy(
        update={"activations_events_topic": activations, "keys_events_topic": keys}
    )
    worker_af = type(af).from_settings(test_settings)
    worker_af.velocity.prefix = af.velocity.prefix  # the test's own counters
    loops = build_loops(worker_af)
    assert [type(loop).__name__ for loop in loops] == ["Deferred", "Deferred", "PeriodicTask"]
    consumer_loop = loops[1]
    assert isinstance(consumer_loop, Deferred)

    ip = random_ip("198.51.100")
    failures = [
        event(
            "activation.failed",
            {"ipAddress": ip, "reason": "INVALID_KEY_FORMAT", "keyFingerprint": uuid.uuid4().hex},
        )
        for _ in range(5)
    ]
    producer = KafkaProducer(bootstrap_servers=kafka_servers, acks="all")
    for e in failures:
        producer.send(activations, key=e.subject.encode(), value=e.to_json()).get(timeout=10)
    producer.send(keys, key=b"x", value=b"not json").get(timeout=10)  # dead-lettered, not fatal
    producer.close()

    consumer = consumer_loop.build()
    consumer.consumer.close()  # rebuilt with a group of its own, so earlier runs' offsets don't matter

    consumer = consumer_in_own_group(
        worker_af.db,
        kafka_servers,
        name=VELOCITY_CONSUMER,
        topics=[activations, keys],
        handler=make_handler(worker_af.velocity),
        event_types=HANDLED_EVENTS,
    )
    settled, deadline = 0, time.monotonic() + 45
    try:
        while settled < len(failures) + 1 and time.monotonic() < deadline:
            settled += consumer.poll_once(timeout_ms=500)
    finally:
        consumer.consumer.close()
        consumer.dead_letter_producer.close()
        worker_af.db.dispose()
    assert settled == len(failures) + 1
    score = analyze(request_body(context={"ipAddress": ip}))
    assert "key-enumeration" in [h["id"] for h in score["rulesHit"]]
