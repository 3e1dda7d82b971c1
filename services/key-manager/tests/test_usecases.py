"""The use cases called directly, without HTTP or Flask, each in a transaction of the real
database as a view or the worker would open it: what they change, what they refuse (plain
exceptions: a Refusal in §3's vocabulary, the domain's exception as its cause) and the
guarantees that do not depend on the API (exactly once, the allocation turn)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select, text

from gamekeys_platform.refusals import Refusal
from key_manager.db import batches as batches_repo
from key_manager.db.allocations import allocation_turn
from key_manager.db.tables import key_transitions, keys
from key_manager.domain.batches import PlanRefused
from key_manager.domain.states import KeyStatus, TransitionRefused
from key_manager.usecases import batches as batch_usecases
from key_manager.usecases import keys as key_usecases
from key_manager.usecases import sales
from key_manager.usecases.batches import BatchOrder
from key_manager.usecases.keys import KeyRef

ACTOR = {"actor": "unit-test", "request_id": None}


def generate(km, studio, quantity=3, key_type="retail") -> list[uuid.UUID]:
    """Keys generated through the use case, committed: their ids."""
    with km.db.transaction() as session:
        generated = batch_usecases.generate_now(
            km,
            session,
            BatchOrder(game_id=studio.game_id, key_type=key_type, quantity=quantity),
            developer_id=studio.developer_id,
            actor="unit-test",
        )
    return [key_id for key_id, _ in generated.keys]


def count(km, statement) -> int:
    with km.db.transaction() as session:
        return session.execute(statement).scalar_one()


def events(km, event_type: str, subject) -> int:
    outbox = km.db.tables.outbox
    return count(
        km,
        select(func.count()).where(outbox.c.message_key == str(subject), outbox.c.event_type == event_type),
    )


def transitions(km, key_id) -> int:
    return count(km, select(func.count()).where(key_transitions.c.key_id == key_id))


def status(km, key_id) -> str:
    return count(km, select(keys.c.status).where(keys.c.id == key_id))


def activate(km, key_id, n=0, **overrides):
    with km.db.transaction() as session:
        return key_usecases.activate(
            km,
            session,
            KeyRef(key_id=key_id),
            **{
                "user_id": f"player-{n}",
                "activation_id": f"act-{n}",
                "region": "de",
                "hold_id": None,
                **ACTOR,
                **overrides,
            },
        )


def test_concurrent_activations_of_one_key_through_the_use_case_activate_it_once(km, studio):
    (key_id,) = generate(km, studio, 1)
    callers = 20
    barrier = threading.Barrier(callers)

    def attempt(n):
        barrier.wait()
        try:
            activate(km, key_id, n)
            return "activated"
        except Refusal as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=callers) as pool:
        outcomes = Counter(pool.map(attempt, range(callers)))
    assert outcomes == {"activated": 1, "KEY_ALREADY_ACTIVATED": callers - 1}, outcomes
    assert transitions(km, key_id) == 1
    assert events(km, "key.activated", key_id) == 1


def test_an_activation_repeated_with_its_activation_id_answers_the_key_and_changes_nothing(km, studio):
    (key_id,) = generate(km, studio, 1)
    first = activate(km, key_id)
    again = activate(km, key_id)
    assert (again.id, again.game_id, again.activated_at) == (first.id, first.game_id, first.activated_at)
    assert transitions(km, key_id) == 1
    assert events(km, "key.activated", key_id) == 1
    with pytest.raises(Refusal) as refused:
        activate(km, key_id, 1)
    assert refused.value.code == "KEY_ALREADY_ACTIVATED"


def test_a_refused_transition_raises_a_plain_refusal_and_writes_nothing(km, studio):
    (key_id,) = generate(km, studio, 1)
    with pytest.raises(Refusal) as refused, km.db.transaction() as session:
        key = session.execute(select(keys).where(keys.c.id == key_id).with_for_update()).first()
        key_usecases.change_status(
            km, session, key, KeyStatus.SOLD, reason=None, operation="status_change", **ACTOR
        )
    assert refused.value.code == "CONFLICT"
    assert refused.value.details == {"currentStatus": "generated", "requestedStatus": "sold"}
    assert isinstance(refused.value.__cause__, TransitionRefused)
    assert status(km, key_id) == "generated"
    assert transitions(km, key_id) == 0


def test_a_status_change_records_history_and_its_event(km, studio):
    (key_id,) = generate(km, studio, 1)
    with km.db.transaction() as session:
        key = session.execute(select(keys).where(keys.c.id == key_id).with_for_update()).first()
        changed = key_usecases.change_status(
            km, session, key, KeyStatus.REVOKED, reason="leaked", operation="revoke", **ACTOR
        )
    assert changed.status == "revoked"
    assert transitions(km, key_id) == 1
    assert events(km, "key.revoked", key_id) == 1


def test_a_held_key_activates_only_with_its_hold_and_a_release_puts_it_back(km, studio):
    (key_id,) = generate(km, studio, 1)
    ref = KeyRef(key_id=key_id)
    with km.db.transaction() as session:
        held = key_usecases.hold(km, session, ref, hold_id="case-1", reason="review", **ACTOR)
    assert (held.status, held.hold_id) == ("pending_review", "case-1")
    with pytest.raises(Refusal) as refused:
        activate(km, key_id)
    assert refused.value.code == "CONFLICT"
    with km.db.transaction() as session:
        released = key_usecases.release(km, session, ref, hold_id="case-1", reason=None, **ACTOR)
    assert released.status == "generated"
    assert status(km, key_id) == "generated"
    with pytest.raises(Refusal) as refused, km.db.transaction() as session:
        key_usecases.release(km, session, ref, hold_id="case-1", reason=None, **ACTOR)
    assert refused.value.code == "CONFLICT"


def test_a_plan_the_domain_refuses_is_a_validation_refusal(km, studio):
    with pytest.raises(Refusal) as refused, km.db.transaction() as session:
        batch_usecases.generate_now(
            km,
            session,
            BatchOrder(game_id=studio.game_id, key_type="retail", quantity=5_000),
            developer_id=studio.developer_id,
            actor="unit-test",
        )
    assert refused.value.code == "VALIDATION_ERROR"
    assert list(refused.value.details["fields"]["json"]) == ["quantity"]
    assert isinstance(refused.value.__cause__, PlanRefused)


def test_allocate_takes_the_turn_of_its_game_and_key_type(km, studio):
    generate(km, studio, 5)
    arguments = {
        "retailer_id": uuid.uuid4(),
        "game_id": studio.game_id,
        "key_type": "retail",
        "quantity": 2,
        **ACTOR,
    }
    with km.db.transaction() as holder:
        holder.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:turn, 0))"),
            {"turn": allocation_turn(studio.game_id, "retail")},
        )
        with pytest.raises(sqlalchemy.exc.OperationalError), km.db.transaction() as waiting:
            waiting.execute(text("SET LOCAL lock_timeout = '300ms'"))
            sales.allocate(km, waiting, allocation_id=uuid.uuid4(), **arguments)
    with km.db.transaction() as session:
        result = sales.allocate(km, session, allocation_id=uuid.uuid4(), **arguments)
    assert result.created and result.allocation.quantity == 2


def test_allocation_all_or_nothing_and_idempotent_by_its_id(km, studio):
    generate(km, studio, 3)
    allocation_id, retailer_id = uuid.uuid4(), uuid.uuid4()
    arguments = {"retailer_id": retailer_id, "game_id": studio.game_id, "key_type": "retail", **ACTOR}
    with pytest.raises(Refusal) as refused, km.db.transaction() as session:
        sales.allocate(km, session, allocation_id=allocation_id, quantity=4, **arguments)
    assert (refused.value.code, refused.value.details) == (
        "INSUFFICIENT_KEY_ALLOCATION",
        {"requested": 4, "available": 3},
    )
    with km.db.transaction() as session:
        assert sales.allocate(km, session, allocation_id=allocation_id, quantity=3, **arguments).created
    with km.db.transaction() as session:
        assert not sales.allocate(km, session, allocation_id=allocation_id, quantity=3, **arguments).created
    with pytest.raises(Refusal) as refused, km.db.transaction() as session:
        sales.allocate(km, session, allocation_id=allocation_id, quantity=2, **arguments)
    assert refused.value.code == "IDEMPOTENCY_CONFLICT"
    assert events(km, "key.allocated", allocation_id) == 1


def test_sales_and_returns_only_of_the_retailers_own_keys(km, studio):
    generate(km, studio, 2)
    retailer_id = uuid.uuid4()
    with km.db.transaction() as session:
        allocation = sales.allocate(
            km,
            session,
            allocation_id=uuid.uuid4(),
            retailer_id=retailer_id,
            game_id=studio.game_id,
            key_type="retail",
            quantity=2,
            **ACTOR,
        ).allocation
    with km.db.transaction() as session:
        key_ids = list(
            session.execute(select(keys.c.id).where(keys.c.allocation_id == allocation.id)).scalars()
        )
    sale = {"order_id": "order-1", "key_ids": key_ids, "sold_at": None, **ACTOR}
    with pytest.raises(Refusal) as refused, km.db.transaction() as session:
        sales.sell(km, session, retailer_id=uuid.uuid4(), **sale)
    assert refused.value.code == "RETAILER_NOT_AUTHORIZED"
    with km.db.transaction() as session:
        assert sales.sell(km, session, retailer_id=retailer_id, **sale) == sorted(key_ids)
    with km.db.transaction() as session:  # the same order again changes nothing
        assert sales.sell(km, session, retailer_id=retailer_id, **sale) == sorted(key_ids)
    assert [status(km, key_id) for key_id in key_ids] == ["sold", "sold"]
    activate(km, key_ids[0])
    with pytest.raises(Refusal) as refused, km.db.transaction() as session:
        sales.return_keys(
            km,
            session,
            retailer_id=retailer_id,
            order_id="order-1",
            key_ids=key_ids,
            reason="refund",
            **ACTOR,
        )
    assert refused.value.code == "KEY_ALREADY_ACTIVATED"
    assert isinstance(refused.value.__cause__, TransitionRefused)
    assert status(km, key_ids[1]) == "sold"


def test_a_completed_batch_cannot_be_cancelled_but_can_be_revoked(km, studio):
    (key_id,) = generate(km, studio, 1)
    with km.db.transaction() as session:
        batch_id = session.execute(select(keys.c.batch_id).where(keys.c.id == key_id)).scalar_one()
    with pytest.raises(Refusal) as refused, km.db.transaction() as session:
        batch = batches_repo.get_batch(session, batch_id, for_update=True)
        batch_usecases.cancel_batch(km, session, batch, reason=None, actor="unit-test")
    assert (refused.value.code, refused.value.details) == ("CONFLICT", {"status": "completed"})
    with km.db.transaction() as session:
        batch = batches_repo.get_batch(session, batch_id, for_update=True)
        assert batch_usecases.revoke_batch(km, session, batch, reason="leak", **ACTOR) == 1
    assert status(km, key_id) == "revoked"
    assert events(km, "batch.revoked", batch_id) == 1
