"""Event contracts: every type of ARCHITECTURE.md §4 has one, producing is strict, consuming is
lenient about what it does not know and refuses what breaks the contract, the documentation is
generated from them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError
from sample_service import events as sample_events

from gamekeys_platform import contracts
from gamekeys_platform.contracts import ContractViolation, EventHandlers, docs, keys
from gamekeys_platform.contracts.base import EventData, Text
from gamekeys_platform.events import Event

DOCS = Path(__file__).resolve().parents[3] / "docs"

# ARCHITECTURE.md §4, the types each topic carries at least.
SECTION_4 = {
    "developer-portal": """developer.registered developer.verified team.member_added team.member_removed
        team.member_role_changed game.created game.submitted game.approved game.rejected game.published
        game.unpublished pricing.updated submission.created submission.decided payout.requested
        payout.failed apikey.created apikey.revoked ledger.entry_posted""",
    "game-builds": """build.upload_started build.uploaded build.scanned build.ready build.failed
        build.rejected media.ready""",
    "key-manager": """batch.generated batch.failed batch.revoked key.allocated key.sold key.activated
        key.revoked key.expired""",
    "activation-gateway": """activation.succeeded activation.failed activation.blocked
        activation.pending_review activation.disputed""",
    "antifraud": """fraud.assessed fraud.case_opened fraud.case_decided fraud.rules_updated
        fraud.block_added""",
    "distribution": """retailer.added retailer.updated allocation.created sale.recorded sale.returned
        sale.charged_back stock.revoked""",
    "payment-service": "revenue.credited revenue.reversed payout.completed payout.failed",
}


@pytest.mark.parametrize("source", sorted(SECTION_4))
def test_every_event_type_of_the_architecture_has_a_contract(source):
    missing = [t for t in SECTION_4[source].split() if contracts.contract_for(source, t) is None]
    assert missing == []


def activated(**changes) -> keys.KeyActivated:
    fields = {
        "key_id": uuid.uuid4(),
        "batch_id": uuid.uuid4(),
        "game_id": uuid.uuid4(),
        "developer_id": uuid.uuid4(),
        "key_type": "retail",
        "previous_status": "sold",
        "user_id": "player-1",
        "activation_id": str(uuid.uuid4()),
        "region": "DE",
        "retailer_id": None,
        "allocation_id": None,
        "activated_at": datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    }
    return keys.KeyActivated(**{**fields, **changes})


def test_a_producer_cannot_emit_a_field_the_contract_lacks_or_omit_one_it_requires():
    with pytest.raises(ValidationError, match="ip_address"):
        activated(ip_address="203.0.113.9")
    fields = activated().model_dump()
    del fields["region"]
    with pytest.raises(ValidationError, match="region"):
        keys.KeyActivated(**fields)
    with pytest.raises(ValidationError, match="key_id"):
        activated(key_id="not-a-uuid")


def test_data_goes_out_camel_case_with_the_wire_formats_and_comes_back_the_same():
    event = activated()
    data = event.to_data()
    assert data["keyId"] == str(event.key_id)
    assert data["activatedAt"] == "2026-12-01T12:00:00.000Z"
    assert "key_id" not in data
    assert keys.KeyActivated.load(data) == event
    assert event.subject == str(event.key_id)


def test_a_consumer_ignores_fields_it_does_not_know_and_refuses_a_missing_one():
    data = {**activated().to_data(), "addedLater": {"any": "thing"}}
    assert keys.KeyActivated.load(data).region == "DE"
    del data["userId"]
    with pytest.raises(ContractViolation, match=r"key\.activated v1: userId: Field required"):
        keys.KeyActivated.load(data)
    with pytest.raises(ContractViolation, match="not an object"):
        keys.KeyActivated.load(["keyId"])


def test_a_bulk_sale_names_one_batch_per_key_and_loads_without_batches_from_before():
    batch, key_ids = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    fields = {"retailer_id": None, "order_id": "order-1", "key_ids": key_ids, "quantity": 2, "sold_at": None}
    data = keys.KeySold(**fields, batch_ids=[batch, batch]).to_data()
    assert data["batchIds"] == [str(batch), str(batch)]
    del data["batchIds"]  # written before the field existed
    assert keys.KeySold.load(data).batch_ids is None
    with pytest.raises(ValidationError, match="one batch for each of keyIds"):
        keys.KeySold(**fields, batch_ids=[batch])
    with pytest.raises(ContractViolation, match="one batch for each of keyIds"):
        keys.KeyReturned.load(
            {"retailerId": str(uuid.uuid4()), "orderId": "order-1", "keyIds": [str(k) for k in key_ids],
             "batchIds": [], "quantity": 2, "status": "revoked", "reason": "refund"}
        )  # fmt: skip


def test_money_is_a_decimal_string_never_a_float():
    from gamekeys_platform.contracts.base import Money

    assert Money(amount="19.90", currency="EUR").model_dump(mode="json") == {
        "amount": "19.90",
        "currency": "EUR",
    }
    with pytest.raises(ValidationError, match="not a number"):
        Money(amount=19.9, currency="EUR")
    with pytest.raises(ValidationError, match="currency"):
        Money(amount="1", currency="euro")


class WidgetMovedV2(EventData):
    """A toy contract at version 2: version 1 called ``place`` what is now ``location``."""

    SOURCE: ClassVar[str] = "contract-tests"
    TYPE: ClassVar[str] = "widget.moved"
    SUBJECT: ClassVar[str] = "widget_id"
    SCHEMA_VERSION: ClassVar[int] = 2
    UPGRADES: ClassVar = {1: lambda data: {**data, "location": data.get("place")}}

    widget_id: uuid.UUID
    location: Text


def test_the_previous_version_is_upgraded_and_an_unknown_one_refused():
    widget = uuid.uuid4()
    assert WidgetMovedV2.load({"widgetId": str(widget), "place": "shelf"}, 1).location == "shelf"
    assert WidgetMovedV2.load({"widgetId": str(widget), "location": "box"}, 2).location == "box"
    with pytest.raises(ContractViolation, match="schemaVersion 3 is not accepted"):
        WidgetMovedV2.load({"widgetId": str(widget), "location": "box"}, 3)


def test_handlers_get_typed_data_and_name_the_types_they_handle():
    seen = []
    handlers = EventHandlers({keys.KeyActivated: lambda session, data, event: seen.append((data, event))})
    assert handlers.event_types == {"key.activated"}
    data = activated()
    event = Event(type="key.activated", source="key-manager", subject=data.subject, data=data.to_data())
    handlers(None, event)
    assert seen == [(data, event)]
    # The same type name from another producer is not this handler's.
    handlers(None, Event(type="key.activated", source="elsewhere", subject="x", data={}))
    assert len(seen) == 1
    broken = Event(type="key.activated", source="key-manager", subject="x", data={"keyId": "nope"})
    with pytest.raises(ContractViolation, match="keyId"):
        handlers(None, broken)


def test_runs_of_a_together_type_go_to_its_handler_as_one_list_in_order():
    calls = []
    handlers = EventHandlers(
        {sample_events.WidgetStep: lambda session, data, event: calls.append(("step", data.step))},
        together={
            sample_events.WidgetCounted: lambda session, run: calls.append(
                ("counted", [d.n for d, _e in run])
            )
        },
    )
    assert handlers.event_types == {"widget.step", "widget.counted"}

    def event(data) -> Event:
        return data.to_event()

    counted = [event(sample_events.WidgetCounted(widget="w", n=n)) for n in range(5)]
    steps = [event(sample_events.WidgetStep(widget="w", step=n)) for n in range(2)]
    handlers.handle_all(
        None, [counted[0], counted[1], steps[0], counted[2], steps[1], counted[3], counted[4]]
    )
    assert calls == [("counted", [0, 1]), ("step", 0), ("counted", [2]), ("step", 1), ("counted", [3, 4])]
    calls.clear()
    handlers(None, counted[0])  # one event alone is a run of one
    assert calls == [("counted", [0])]
    with pytest.raises(ValueError, match=r"widget\.step"):
        EventHandlers({sample_events.WidgetStep: print}, together={sample_events.WidgetStep: print})


def test_an_event_without_a_contract_is_a_violation():
    with pytest.raises(ContractViolation, match=r"no contract for key\.teleported"):
        contracts.load(Event(type="key.teleported", source="key-manager", subject="k", data={}))


def test_docs_and_json_schemas_are_generated_from_the_contracts():
    assert docs.main([str(DOCS), "--check"]) == 0, "docs/events.md is stale: run `make docs`"


def test_each_json_schema_describes_the_whole_event():
    schema = docs.event_schema(keys.KeyActivated)
    assert schema["properties"]["type"] == {"const": "key.activated"}
    data = schema["properties"]["data"]
    assert {"keyId", "userId", "activatedAt"} <= set(data["required"])
    assert "additionalProperties" not in data  # readers accept fields added later
