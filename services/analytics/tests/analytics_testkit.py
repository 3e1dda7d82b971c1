"""Events as the producers emit them, built through their contracts, and publishing and draining
them through the broker, for the analytics tests."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from confluent_kafka import Consumer, TopicPartition
from kafka import KafkaProducer

from analytics.aggregates import Aggregator
from analytics.ingest import ClickHouseSink, Ingestor
from gamekeys_platform.contracts import activations, antifraud, distribution, keys
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.events import Event

_ACTIVATION_BY_STATUS = {
    "activated": activations.ActivationSucceeded,
    "failed": activations.ActivationFailed,
    "blocked": activations.ActivationBlocked,
    "pending_review": activations.ActivationPendingReview,
    "disputed": activations.ActivationDisputed,
}


def activation(
    game_id: uuid.UUID,
    status: str,
    at: datetime,
    *,
    region: str | None = "DE",
    activation_id: uuid.UUID | None = None,
    developer_id: uuid.UUID | None = None,
    reason: str | None = None,
    key_type: str = "retail",
    key_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
) -> Event:
    activation_id = activation_id or uuid.uuid4()
    data = _ACTIVATION_BY_STATUS[status](
        activation_id=activation_id,
        transaction_id=activation_id,
        user_id=f"player-{uuid.uuid4().hex[:6]}",
        status=status,
        key_id=key_id or uuid.uuid4(),
        game_id=game_id,
        batch_id=batch_id or uuid.uuid4(),
        developer_id=developer_id or uuid.uuid4(),
        key_type=key_type,
        key_fingerprint=None,
        region=region,
        ip_address="198.51.100.7",
        ip_country=region,
        device_fingerprint="device-1",
        platform="windows",
        reason=reason,
        assessment_id=None,
        case_id=None,
        review_reason="antifraud_review" if status == "pending_review" else None,
        occurred_at=at,
        activated_at=at if status == "activated" else None,
    )
    event = data.to_event()
    return Event(type=event.type, source=event.source, subject=event.subject, data=event.data, time=at)


def batch_generated(game_id: uuid.UUID, developer_id: uuid.UUID, quantity: int, at: datetime) -> Event:
    return keys.BatchGenerated(
        batch_id=uuid.uuid4(),
        game_id=game_id,
        developer_id=developer_id,
        key_type="retail",
        quantity=quantity,
        regional_restrictions=[],
        expires_at=None,
        synchronous=True,
        generated_at=at,
        created_by="user-1",
    ).to_event()


def _money(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def sale_recorded(
    retailer_id: uuid.UUID, key_ids: list[uuid.UUID], gross: str, at: datetime, *, games=None
) -> Event:
    """``games``: (game id, keys of it) pairs, as distribution names them."""
    return distribution.SaleRecorded(
        sale_id=uuid.uuid4(),
        retailer_id=retailer_id,
        order_id="order-1",
        key_ids=key_ids,
        quantity=len(key_ids),
        unit_price=_money(gross),
        gross=_money(gross),
        commission=_money("0.00"),
        net=_money(gross),
        sold_at=at,
        games=None if games is None else [distribution.GameUnits(game_id=g, quantity=n) for g, n in games],
    ).to_event()


def sale_charged_back(retailer_id: uuid.UUID, key_ids: list[uuid.UUID], moment: datetime) -> Event:
    return distribution.SaleChargedBack(
        chargeback_id=uuid.uuid4(),
        sale_id=uuid.uuid4(),
        retailer_id=retailer_id,
        order_id="order-1",
        key_ids=key_ids,
        quantity=len(key_ids),
        amount=_money("9.99"),
        revoked_key_ids=key_ids,
        disputed_key_ids=[],
        reason="fraud",
        charged_back_at=moment,
    ).to_event()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def at_time(event: Event, moment: datetime) -> Event:
    return Event(type=event.type, source=event.source, subject=event.subject, data=event.data, time=moment)


def batch_of(
    batch_id: uuid.UUID, game_id: uuid.UUID, developer_id: uuid.UUID, quantity: int, moment: datetime
) -> Event:
    return keys.BatchGenerated(
        batch_id=batch_id,
        game_id=game_id,
        developer_id=developer_id,
        key_type="retail",
        quantity=quantity,
        regional_restrictions=[],
        expires_at=None,
        synchronous=True,
        generated_at=moment,
        created_by="user-1",
    ).to_event()


def key_allocated(
    allocation_id, retailer_id, game_id, quantity: int, moment: datetime, *, batches=None
) -> Event:
    """``batches``: (batch id, keys taken from it) pairs, as key-manager names them today."""
    return keys.KeyAllocated(
        allocation_id=allocation_id,
        retailer_id=retailer_id,
        game_id=game_id,
        key_type="retail",
        quantity=quantity,
        allocated_at=moment,
        batches=None if batches is None else [keys.BatchShare(batch_id=b, quantity=n) for b, n in batches],
    ).to_event()


def key_sold(retailer_id, order_id: str, key_ids: list, moment: datetime, *, batch_ids=None) -> Event:
    return keys.KeySold(
        retailer_id=retailer_id,
        order_id=order_id,
        key_ids=key_ids,
        batch_ids=batch_ids,
        quantity=len(key_ids),
        sold_at=moment,
    ).to_event()


def key_activated(
    key_id, batch_id, game_id, developer_id, moment: datetime, *, retailer_id=None, allocation_id=None
):
    return keys.KeyActivated(
        key_id=key_id,
        batch_id=batch_id,
        game_id=game_id,
        developer_id=developer_id,
        key_type="retail",
        previous_status="sold",
        user_id="player-1",
        activation_id=str(uuid.uuid4()),
        region="DE",
        retailer_id=retailer_id,
        allocation_id=allocation_id,
        activated_at=moment,
    ).to_event()


def key_revoked(key_id, batch_id, game_id, developer_id, moment: datetime, *, retailer_id=None) -> Event:
    return _key_status_changed(
        keys.KeyRevoked, "revoked", "leak", key_id, batch_id, game_id, developer_id, moment, retailer_id
    )


def key_expired(key_id, batch_id, game_id, developer_id, moment: datetime, *, retailer_id=None) -> Event:
    return _key_status_changed(
        keys.KeyExpired, "expired", None, key_id, batch_id, game_id, developer_id, moment, retailer_id
    )


def _key_status_changed(
    contract, status, reason, key_id, batch_id, game_id, developer_id, moment, retailer_id
) -> Event:
    """An allocated key's revocation or expiry."""
    return contract(
        key_id=key_id,
        batch_id=batch_id,
        game_id=game_id,
        developer_id=developer_id,
        key_type="retail",
        previous_status="allocated",
        status=status,
        reason=reason,
        changed_by="user-1",
        changed_at=moment,
        retailer_id=retailer_id,
    ).to_event()


def batch_revoked(batch_id, game_id, developer_id, revoked_keys: int, moment: datetime) -> Event:
    event = keys.BatchRevoked(
        batch_id=batch_id, game_id=game_id, developer_id=developer_id, revoked_keys=revoked_keys,
        reason="leak", revoked_by="user-1",
    )  # fmt: skip
    return at_time(event.to_event(), moment)


def allocation_released(allocation_id, retailer_id, game_id, released: int, moment: datetime) -> Event:
    """key-manager's: ``released`` unsold keys of the allocation revoked."""
    event = keys.AllocationReleased(
        allocation_id=allocation_id, retailer_id=retailer_id, game_id=game_id, key_type="retail",
        released=released, status="revoked", reason="retailer closed", released_by="user-1",
    )  # fmt: skip
    return at_time(event.to_event(), moment)


def key_returned(retailer_id, order_id: str, key_ids: list, moment: datetime, *, batch_ids=None) -> Event:
    event = keys.KeyReturned(
        retailer_id=retailer_id,
        order_id=order_id,
        key_ids=key_ids,
        batch_ids=batch_ids,
        quantity=len(key_ids),
        status="revoked",
        reason="customer",
    ).to_event()
    return at_time(event, moment)


def assessed(action: str, rules: list[str], moment: datetime, *, shadow=(), key_id=None, assessment_id=None):
    event = antifraud.FraudAssessed(
        assessment_id=assessment_id or uuid.uuid4(),
        key_id=key_id,
        user_id="player-1",
        activation_id=None,
        game_id=None,
        score={"ALLOW": 5, "REVIEW": 50, "BLOCK": 90}[action],
        risk_level={"ALLOW": "LOW", "REVIEW": "MEDIUM", "BLOCK": "HIGH"}[action],
        recommended_action=action,
        rules_hit=rules,
        shadow_rules_hit=list(shadow),
        rule_set_version=1,
    ).to_event()
    return at_time(event, moment)


def case_opened(case_id, assessment_id, reasons: list[str], moment: datetime) -> Event:
    event = antifraud.CaseOpened(
        case_id=case_id,
        assessment_id=assessment_id,
        key_id=None,
        user_id="player-1",
        activation_id=None,
        score=50,
        risk_level="MEDIUM",
        reasons=reasons,
    ).to_event()
    return at_time(event, moment)


def case_decided(case_id, assessment_id, decision: str, moment: datetime) -> Event:
    return antifraud.CaseDecided(
        case_id=case_id,
        assessment_id=assessment_id,
        key_id=None,
        user_id="player-1",
        activation_id=None,
        decision=decision,
        status="approved" if decision == "approve" else "rejected",
        note=None,
        decided_by="support-1",
        decided_at=moment,
    ).to_event()


def aggregate(db, clickhouse) -> int:
    """One aggregator pass, as the worker runs every second: the hours it wrote."""
    hours = Aggregator(db, clickhouse, interval_seconds=1.0, margin_seconds=5.0).run_once()
    assert hours is not None
    return hours


# --- ingestion through the broker ---------------------------------------------------------


def publish(servers, records: list[tuple[str, Event | bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=servers, acks="all")
    for topic, event in records:
        if isinstance(event, Event):
            producer.send(topic, key=event.subject.encode(), value=event.to_json())
        else:
            producer.send(topic, key=b"bad", value=event)
    producer.flush(timeout=15)
    producer.close()


def ingestor_for(ctx, servers, topics: dict[str, str], *, sink=None, group=None, **options) -> Ingestor:
    return Ingestor.connect(
        sink or ClickHouseSink(ctx.clickhouse),
        servers,
        group=group or new_group(),
        topics=list(topics.values()),
        **{"batch_size": 1000, "batch_seconds": 0.3, "retry_backoff_seconds": 0.2, **options},
    )


def new_group() -> str:
    return f"test.analytics.{uuid.uuid4().hex[:8]}"


def drain(ingestor: Ingestor, topics: dict[str, str], published: int, timeout: float = 60) -> None:
    """Poll until the offsets committed on ``topics`` cover the ``published`` records they hold
    (counted, not asked of the broker: the local one's end offsets lag behind its records)."""
    consumer = ingestor.consumer
    partitions = [
        TopicPartition(topic, partition)
        for topic in topics.values()
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ]
    deadline, committed = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        ingestor.poll_once(timeout_ms=200)
        if not ingestor.batch.empty or ingestor.in_flight is not None or not consumer.assignment():
            continue
        committed = committed_total(consumer, partitions)
        if committed >= published:
            assert committed == published
            return
    raise AssertionError(f"the ingestor did not catch up: {committed} of {published} committed")


def committed_total(consumer: Consumer, partitions: list[TopicPartition]) -> int:
    """The offsets the consumer's group committed on ``partitions``, added up (an offset below
    zero: nothing committed yet)."""
    return sum(max(0, tp.offset) for tp in consumer.committed(partitions, timeout=10))


class CommittedOffsets:
    """The group's committed offsets on one topic (3 partitions), read beside its running
    consumer (without joining the group)."""

    def __init__(self, servers, group: str, topic: str) -> None:
        self.partitions = [TopicPartition(topic, p) for p in range(3)]
        self.observer = Consumer({"bootstrap.servers": ",".join(servers), "group.id": group})

    def __call__(self) -> int:
        return committed_total(self.observer, self.partitions)

    def close(self) -> None:
        self.observer.close()


def wait_for(condition, timeout: float, what: str, *, every: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
