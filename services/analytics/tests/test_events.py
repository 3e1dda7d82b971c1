"""The processor: a record becomes one typed row, or a MalformedEvent / ContractViolation
(dead-lettered)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from analytics_testkit import activation, at, key_allocated, key_sold, sale_recorded

from analytics.domain.events import COLUMNS, NIL, event_row
from gamekeys_platform.contracts import ContractViolation, activations
from gamekeys_platform.events import Event, MalformedEvent


def test_an_activation_fills_the_columns_the_reports_read():
    game = uuid.uuid4()
    event = activation(
        game, "blocked", at("2026-03-01T23:59:59.250000"), region="BR", reason="FRAUD_DETECTED"
    )
    row = event_row(event.to_json(), "activations.events")
    assert row._fields == COLUMNS
    assert row.event_id == event.id
    assert row.type == "activation.blocked"
    assert row.subject == event.data["activationId"]
    assert row.game_id == game
    assert row.country == "BR" and row.ip_country == "BR"
    assert row.outcome == "blocked" and row.reason == "FRAUD_DETECTED"
    assert row.occurred_at == int(at("2026-03-01T23:59:59").timestamp())  # DateTime: whole seconds
    assert row.occurred_at_us == int(at("2026-03-01T23:59:59").timestamp()) * 1_000_000 + 250_000
    assert row.retailer_id == NIL and row.amount is None


def test_every_column_holds_its_own_field():
    """Every column of three kinds of event by name, so no two columns can swap values."""
    moment, stamped = at("2026-03-01T10:00:00.5"), at("2026-03-02T00:00:00")
    game, studio, key, batch = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    attempt = activation(
        game,
        "failed",
        moment,
        region="FR",
        developer_id=studio,
        reason="REGION_RESTRICTED",
        key_type="press",
        key_id=key,
        batch_id=batch,
    )
    allocation, retailer = uuid.uuid4(), uuid.uuid4()
    allocated = key_allocated(allocation, retailer, game, 7, moment, batches=[(batch, 7)])
    sale = sale_recorded(retailer, [key], "19.99", moment)
    rows = [
        event_row(e.to_json(), "topic", ingested_at=stamped)._asdict() for e in (attempt, allocated, sale)
    ]
    seconds, micros = int(moment.timestamp()), int(moment.timestamp()) * 1_000_000 + 500_000
    common = {
        "time": int(attempt.time.timestamp()),
        "occurred_at": seconds,
        "occurred_at_us": micros,
        "ingested_at": int(stamped.timestamp()),
        "schema_version": 1,
        "topic": "topic",
    }
    nothing = {
        "developer_id": NIL,
        "game_id": NIL,
        "key_id": NIL,
        "key_ids": [],
        "key_batch_ids": [],
        "batch_id": NIL,
        "retailer_id": NIL,
        "allocation_id": NIL,
        "activation_id": "",
        "order_id": "",
        "user_id": "",
        "key_type": "",
        "country": "",
        "ip_country": "",
        "outcome": "",
        "reason": "",
        "quantity": None,
        "amount": None,
        "currency": "",
    }
    expected = [
        {
            **nothing,
            "developer_id": studio,
            "game_id": game,
            "key_id": key,
            "batch_id": batch,
            "activation_id": attempt.subject,
            "user_id": attempt.data["userId"],
            "key_type": "press",
            "country": "FR",
            "ip_country": "FR",
            "outcome": "failed",
            "reason": "REGION_RESTRICTED",
        },
        {
            **nothing,
            "game_id": game,
            "key_batch_ids": [batch],
            "retailer_id": retailer,
            "allocation_id": allocation,
            "key_type": "retail",
            "quantity": 7,
        },
        {
            **nothing,
            "key_id": key,
            "key_ids": [key],
            "retailer_id": retailer,
            "order_id": "order-1",
            "quantity": 1,
            "amount": Decimal("19.99"),
            "currency": "EUR",
        },
    ]
    for row, event, columns in zip(rows, (attempt, allocated, sale), expected, strict=True):
        envelope = {
            "event_id": event.id,
            "type": event.type,
            "source": event.source,
            "subject": event.subject,
            "trace_id": event.trace_id or "",
            "payload": row["payload"],
        }
        assert row == {**common, **envelope, **columns, "time": int(event.time.timestamp())}
        assert json.loads(row["payload"])["id"] == str(event.id)


def test_a_sale_carries_its_keys_and_its_money_as_a_decimal():
    retailer, keys = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    event = sale_recorded(retailer, keys, "19.99", at("2026-03-02T10:00:00"))
    row = event_row(event.to_json(), "distribution.events")
    assert row.retailer_id == retailer
    assert row.key_ids == keys and row.key_id == NIL  # two keys: no single key id
    assert row.amount == Decimal("19.99") and row.currency == "EUR"
    assert row.quantity == 2 and row.order_id == "order-1"
    assert row.occurred_at == int(at("2026-03-02T10:00:00").timestamp())


def test_key_events_name_their_keys_batches_when_the_producer_did():
    batch, other, keys = uuid.uuid4(), uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    moment = at("2026-03-02T10:00:00")
    sold = event_row(
        key_sold(None, "order-1", keys, moment, batch_ids=[batch, other]).to_json(), "keys.events"
    )
    assert sold.key_ids == keys and sold.key_batch_ids == [batch, other]
    allocated = key_allocated(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 5, moment, batches=[(batch, 2), (other, 3)]
    )
    assert event_row(allocated.to_json(), "keys.events").key_batch_ids == [batch, other]
    before = event_row(key_sold(None, "order-1", keys, moment).to_json(), "keys.events")  # written before
    assert (
        before.key_batch_ids == []
        and event_row(activation(batch, "activated", moment).to_json(), "t").key_batch_ids == []
    )


def test_fields_no_contract_knows_never_reach_the_payload():
    event = activation(uuid.uuid4(), "activated", at("2026-03-01T12:00:00"))
    record = json.loads(event.to_json())
    record["data"]["plaintextKey"] = "ABCD-EFGH-JKMN-PQR7"
    record["debugKey"] = "ABCD-EFGH-JKMN-PQR7"
    payload = json.loads(event_row(json.dumps(record).encode(), "activations.events").payload)
    assert "plaintextKey" not in payload["data"] and "debugKey" not in payload
    assert payload["id"] == str(event.id) and payload["data"]["gameId"] == event.data["gameId"]


def test_a_record_the_contract_reads_leniently_gives_the_same_row():
    """A field the contract does not know, the schema version as text, a time without its
    milliseconds: the record is read the reference way (``contracts.load``), to the same row."""
    event = sale_recorded(uuid.uuid4(), [uuid.uuid4()], "19.99", at("2026-03-02T10:00:00"))
    exact = event_row(event.to_json(), "distribution.events")
    record = json.loads(event.to_json())
    record["data"]["couponCode"] = "SPRING"
    record["schemaVersion"] = "1"
    record["time"] = record["time"].replace(".000Z", "Z")
    lenient = event_row(json.dumps(record).encode(), "distribution.events")
    assert lenient._replace(payload="", ingested_at=0) == exact._replace(payload="", ingested_at=0)
    assert json.loads(lenient.payload)["data"] == json.loads(exact.payload)["data"]
    assert "couponCode" not in lenient.payload


def test_the_payload_is_the_record_as_its_producer_wrote_it():
    event = activation(uuid.uuid4(), "activated", at("2026-03-01T12:00:00"))
    assert json.loads(event_row(event.to_json(), "activations.events").payload) == json.loads(event.to_json())


@pytest.mark.parametrize(
    "event",
    [
        Event(type="activation.exploded", source="activation-gateway", subject="x", data={}),
        Event(type="activation.succeeded", source="activation-gateway", subject="x", data={"gameId": "nope"}),
        Event(type="key.activated", source="distribution", subject="x", data={}),  # not its producer's type
    ],
    ids=["unknown type", "breaks its contract", "wrong source"],
)
def test_events_without_a_valid_contract_are_refused(event):
    with pytest.raises(ContractViolation):
        event_row(event.to_json(), "activations.events")


def test_a_contract_violation_says_which_field():
    data = activation(uuid.uuid4(), "activated", at("2026-03-01T12:00:00")).data
    event = Event(
        type=activations.ActivationSucceeded.TYPE,
        source=activations.ActivationSucceeded.SOURCE,
        subject="x",
        data={**data, "gameId": "nope"},
    )
    with pytest.raises(ContractViolation, match=r"activation.succeeded v1: gameId: .*UUID"):
        event_row(event.to_json(), "activations.events")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"id": "x", "type": "activation.succeeded"}', "not an event envelope"),
    ],
    ids=["not JSON", "not an object", "not an envelope"],
)
def test_records_that_are_not_envelopes_are_refused(record, reason):
    with pytest.raises(MalformedEvent, match=reason):
        event_row(record, "activations.events")
