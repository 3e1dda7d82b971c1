"""The processor: an event becomes one typed row, or a ContractViolation (dead-lettered)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from analytics_testkit import activation, at, sale_recorded

from analytics.domain.events import COLUMNS, NIL, event_row
from gamekeys_platform.contracts import ContractViolation
from gamekeys_platform.events import Event


def test_an_activation_fills_the_columns_the_reports_read():
    game = uuid.uuid4()
    event = activation(
        game, "blocked", at("2026-03-01T23:59:59.250000"), region="BR", reason="FRAUD_DETECTED"
    )
    row = event_row(event, "activations.events")
    assert set(row) == set(COLUMNS)
    assert row["event_id"] == event.id
    assert row["type"] == "activation.blocked"
    assert row["subject"] == event.data["activationId"]
    assert row["game_id"] == game
    assert row["country"] == "BR" and row["ip_country"] == "BR"
    assert row["outcome"] == "blocked" and row["reason"] == "FRAUD_DETECTED"
    assert row["occurred_at"] == at("2026-03-01T23:59:59.250000")
    assert row["occurred_at_us"] % 1_000_000 == 250_000
    assert row["retailer_id"] == NIL and row["amount"] is None


def test_a_sale_carries_its_keys_and_its_money_as_a_decimal():
    retailer, keys = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    row = event_row(sale_recorded(retailer, keys, "19.99", at("2026-03-02T10:00:00")), "distribution.events")
    assert row["retailer_id"] == retailer
    assert row["key_ids"] == keys and row["key_id"] == NIL  # two keys: no single key id
    assert row["amount"] == Decimal("19.99") and row["currency"] == "EUR"
    assert row["quantity"] == 2 and row["order_id"] == "order-1"


def test_fields_no_contract_knows_never_reach_the_payload():
    event = activation(uuid.uuid4(), "activated", at("2026-03-01T12:00:00"))
    leaky = Event(**{**event.__dict__, "data": {**event.data, "plaintextKey": "ABCD-EFGH-JKMN-PQR7"}})
    payload = json.loads(event_row(leaky, "activations.events")["payload"])
    assert "plaintextKey" not in payload["data"]
    assert payload["id"] == str(event.id) and payload["data"]["gameId"] == event.data["gameId"]


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
        event_row(event, "activations.events")
