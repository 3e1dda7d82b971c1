"""The finance consumer through the real broker: distribution's and the Payment Service's
topics feed the ledger once however often a record is delivered, and an event finance cannot
post (a sale without its games, an amount finer than its currency, a game nobody knows) goes to
the dead-letter topic with the reason, posting nothing."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

from dp_testkit import expect, retailer_sale, store_revenue
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from developer_portal.usecases.finance import finance_events
from developer_portal.worker import FINANCE_CONSUMER
from gamekeys_platform.contracts import payments
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.testing import consumer_in_own_group, settle_all


def _topics(kafka_servers) -> tuple[str, str]:
    prefix = f"test.dp.{uuid.uuid4().hex[:8]}"
    topics = (f"{prefix}.distribution.events", f"{prefix}.payments.events")
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(t, 3, 1) for t in topics] + [NewTopic(f"{t}.dlq", 1, 1) for t in topics])
    admin.close()
    return topics


def test_sales_and_store_revenue_through_the_broker_post_once_and_bad_ones_are_dead_lettered(
    portal, app, db, kafka_servers
):
    distribution_topic, payments_topic = _topics(kafka_servers)
    admin, _developer = portal.studio()
    game = portal.game(admin)
    sale = retailer_sale(game, quantity=2, unit_price="10.00")
    revenue = store_revenue(game, "20.00")
    no_games = retailer_sale(game)
    no_games.data.pop("games")
    too_fine = store_revenue(game, "20.00")
    too_fine.data["gross"]["amount"] = "20.001"
    unknown_game = payments.RevenueCredited(
        revenue_id=uuid.uuid4(),
        developer_id=uuid.uuid4(),
        game_id=uuid.uuid4(),
        order_id="x",
        gross=Money(amount=Decimal("5.00"), currency="USD"),
        occurred_at=revenue.time,
    ).to_event()
    records = [
        (distribution_topic, sale),
        (distribution_topic, sale),  # delivered twice
        (distribution_topic, no_games),
        (payments_topic, revenue),
        (payments_topic, too_fine),
        (payments_topic, unknown_game),
    ]
    producer = KafkaProducer(bootstrap_servers=kafka_servers, acks="all")
    for topic, event in records:
        producer.send(topic, key=event.subject.encode(), value=event.to_json()).get(timeout=10)
    producer.close()

    consumer = consumer_in_own_group(
        db,
        kafka_servers,
        name=FINANCE_CONSUMER,
        topics=[distribution_topic, payments_topic],
        handler=finance_events(app.extensions["developer_portal"]),
    )
    assert settle_all(consumer, len(records)) == len(records)

    balance = expect(admin.get("/finance/balance"), 200)["balances"]
    # 20.00 gross less 15 % commission, 70 % of 17.00 = 11.90; the store sale's 70 % of 20.00
    assert [(b["currency"], b["pending"]) for b in balance] == [("USD", "25.90")]
    reasons = _dead_letters(kafka_servers, [f"{distribution_topic}.dlq", f"{payments_topic}.dlq"], 3)
    assert set(reasons) == {no_games.id, too_fine.id, unknown_game.id}
    assert "without games" in reasons[no_games.id]
    assert "more decimal places" in reasons[too_fine.id]
    assert "not a game of this platform" in reasons[unknown_game.id]


def _dead_letters(kafka_servers, topics: list[str], count: int) -> dict[uuid.UUID, str]:
    reader = KafkaConsumer(
        *topics, bootstrap_servers=kafka_servers, auto_offset_reset="earliest", consumer_timeout_ms=20_000
    )
    found: dict[uuid.UUID, str] = {}
    for record in reader:
        headers = dict(record.headers)
        found[uuid.UUID(json.loads(record.value)["id"])] = headers["error"].decode()
        if len(found) == count:
            break
    reader.close()
    return found
