import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import select

from antifraud.consumers import make_handler
from antifraud.db.tables import assessments
from antifraud.velocity import Observation
from antifraud.worker import VELOCITY_CONSUMER, build_loops
from gamekeys_platform.contracts import activations, keys
from gamekeys_platform.events import Event
from gamekeys_platform.testing import consumer_in_own_group, settle_all
from gamekeys_platform.workers import Deferred


def failed_activation(**fields) -> Event:
    """An activation.failed as activation-gateway writes it, with ``fields`` changed."""
    unknown = dict.fromkeys(
        (
            "key_id", "game_id", "batch_id", "developer_id", "key_type", "key_fingerprint", "region",
            "ip_country", "device_fingerprint", "platform", "reason", "assessment_id", "case_id",
            "review_reason",
        )
    )  # fmt: skip
    activation_id = uuid.uuid4()
    data = {
        **unknown,
        "activation_id": activation_id,
        "transaction_id": activation_id,
        "user_id": str(uuid.uuid4()),
        "status": "failed",
        "ip_address": "203.0.113.1",
        "occurred_at": datetime.now(UTC),
    }
    return activations.ActivationFailed(**{**data, **fields}).to_event()


def key_activated(**fields) -> Event:
    data = {
        "key_id": uuid.uuid4(),
        "batch_id": uuid.uuid4(),
        "game_id": uuid.uuid4(),
        "developer_id": uuid.uuid4(),
        "key_type": "retail",
        "previous_status": "sold",
        "user_id": str(uuid.uuid4()),
        "activation_id": str(uuid.uuid4()),
        "region": "DE",
        "retailer_id": None,
        "allocation_id": None,
        "activated_at": datetime.now(UTC),
    }
    return keys.KeyActivated(**{**data, **fields}).to_event()


def key_revoked(key_id, retailer_id) -> Event:
    return keys.KeyRevoked(
        key_id=key_id,
        batch_id=uuid.uuid4(),
        game_id=uuid.uuid4(),
        developer_id=uuid.uuid4(),
        key_type="retail",
        previous_status="sold",
        status="revoked",
        reason=None,
        changed_by="support-1",
        changed_at=datetime.now(UTC),
        retailer_id=retailer_id,
    ).to_event()


def test_failed_activations_on_the_topic_feed_enumeration(af, analyze, request_body, random_ip):
    handle = make_handler(af.velocity)
    ip = random_ip("198.51.100")
    for _ in range(5):
        failure = failed_activation(ip_address=ip, reason="KEY_NOT_FOUND", key_fingerprint=uuid.uuid4().hex)
        handle(None, failure)
        handle(None, failure)  # a redelivery adds nothing
    score = analyze(request_body(context={"ipAddress": ip}))
    assert "key-enumeration" in [h["id"] for h in score["rulesHit"]]
    assert score["recommendedAction"] == "BLOCK"


def test_sales_and_activations_from_keys_events(af, analyze, request_body):
    handle = make_handler(af.velocity)
    key_id, user, batch = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    sold_at = datetime.now(UTC) - timedelta(seconds=20)
    sale = keys.KeySold(retailer_id=uuid.uuid4(), order_id="o", key_ids=[key_id], quantity=1, sold_at=sold_at)
    handle(None, sale.to_event())
    for _ in range(4):
        handle(None, key_activated(user_id=user, batch_id=batch))
    score = analyze(
        request_body(keyId=key_id, userId=user, context={"retailerId": str(uuid.uuid4()), "batchId": batch})
    )
    hit = {h["id"] for h in score["rulesHit"]}
    assert {"instant-resale-activation", "key-hoarding"} <= hit
    unrelated = Event(type="batch.generated", source="key-manager", subject=batch, data={"batchId": batch})
    handle(None, unrelated)  # ignored, no error


def test_an_activation_counts_once_from_key_activated_alone(af, analyze, request_body):
    """key-manager emits key.activated for every activation; activation-gateway's
    activation.succeeded of the same activation is not consumed, and a redelivery adds nothing."""
    handle = make_handler(af.velocity)
    assert "activation.succeeded" not in handle.event_types
    user, batch = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(3):
        activated = key_activated(user_id=user, batch_id=batch)
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
    returned = keys.KeyReturned(
        retailer_id=retailer,
        order_id="o-1",
        key_ids=[uuid.uuid4() for _ in range(15)],
        quantity=15,
        status="revoked",
        reason="chargeback",
    )
    handle(None, returned.to_event())
    handle(None, returned.to_event())
    for _ in range(5):
        handle(None, key_revoked(uuid.uuid4(), retailer))
    handle(None, key_revoked(uuid.uuid4(), None))

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
        failed_activation(ip_address=ip, reason="INVALID_KEY_FORMAT", key_fingerprint=uuid.uuid4().hex)
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
    )
    try:
        settled = settle_all(consumer, len(failures) + 1, timeout=45)
    finally:
        worker_af.db.dispose()
    assert settled == len(failures) + 1
    score = analyze(request_body(context={"ipAddress": ip}))
    assert "key-enumeration" in [h["id"] for h in score["rulesHit"]]


def test_a_suspended_publisher_s_refusal_is_not_counted_against_the_player(af):
    handle = make_handler(af.velocity)
    user, revoked_user = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(3):
        handle(None, failed_activation(user_id=user, reason="PUBLISHER_SUSPENDED"))
        handle(None, failed_activation(user_id=revoked_user, reason="KEY_REVOKED"))

    def counts(user_id):
        attempt = Observation(attempt_id=str(uuid.uuid4()), user_id=user_id, ip="203.0.113.7", key_id="k")
        return af.velocity.observe(attempt).features

    suspended = counts(user)
    assert suspended["user_attempts_1h"] == 4 and suspended["user_failures_1h"] == 0
    assert counts(revoked_user)["user_failures_1h"] == 3
