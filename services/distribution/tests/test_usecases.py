"""distribution's use cases called directly (no HTTP), on the test database, with a fake
key-manager: a plain object with ``KeyManager``'s methods, so each answer of key-manager (a
refusal, an outage) is one line to arrange. The integration tests against the real key-manager
stay the contract tests of the client."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from distribution.db import repository as repo
from distribution.db import tables
from distribution.key_manager_client import KeyManager
from distribution.usecases import allocations, retailers, sales
from gamekeys_platform.errors import ApiError
from gamekeys_platform.refusals import Refusal


class FakeKeyManager:
    """key-manager in memory: free keys per game, allocations, sold and activated keys."""

    def __init__(self, free: int = 10) -> None:
        self.free = free
        self.down = False
        self.keys: dict[uuid.UUID, list[uuid.UUID]] = {}  # allocation → its keys
        self.owner: dict[uuid.UUID, uuid.UUID] = {}  # key → retailer
        self.sold: set[uuid.UUID] = set()
        self.activated: set[uuid.UUID] = set()
        self.calls: list[str] = []

    def _reachable(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise ApiError("SERVICE_UNAVAILABLE", "key-manager is unavailable")

    def allocate(self, *, allocation_id, retailer_id, game_id, key_type, quantity) -> dict:
        self._reachable("allocate")
        if allocation_id not in self.keys:
            if quantity > self.free:
                raise Refusal("INSUFFICIENT_KEY_ALLOCATION", "not enough free keys", {"available": self.free})
            self.free -= quantity
            self.keys[allocation_id] = [uuid.uuid4() for _ in range(quantity)]
            self.owner.update({key: retailer_id for key in self.keys[allocation_id]})
        return {"allocationId": str(allocation_id), "quantity": quantity}

    def allocation_keys(self, allocation_id, *, limit, cursor) -> dict:
        self._reachable("allocation_keys")
        return {"items": [], "nextCursor": None}

    def keys_of_retailer(self, retailer_id, key_ids) -> set[uuid.UUID]:
        self._reachable("keys_of_retailer")
        return {key for key in key_ids if self.owner.get(key) == retailer_id}

    def release_allocation(self, allocation_id, *, reason, revoke) -> dict | None:
        self._reachable("release_allocation")
        if allocation_id not in self.keys:
            return None
        unsold = [key for key in self.keys[allocation_id] if key not in self.sold]
        self.keys[allocation_id] = [key for key in self.keys[allocation_id] if key in self.sold]
        return {"released": len(unsold)}

    def sell(self, *, retailer_id, order_id, key_ids, sold_at) -> dict:
        self._reachable("sell")
        revoked = [str(key) for key in key_ids if self.owner.get(key) != retailer_id]
        if revoked:
            raise Refusal("KEY_REVOKED", "some keys were revoked", {"keyIds": revoked})
        self.sold.update(key_ids)
        return {"sold": len(key_ids)}

    def return_keys(self, *, retailer_id, order_id, key_ids, reason, return_id) -> dict:
        self._reachable("return_keys")
        activated = [str(key) for key in key_ids if key in self.activated]
        if activated:
            raise Refusal("KEY_ALREADY_ACTIVATED", "some keys are activated", {"keyIds": activated})
        return {"returned": len(key_ids)}


@pytest.fixture()
def key_manager() -> FakeKeyManager:
    fake: KeyManager = FakeKeyManager()  # a Protocol: any object with its methods will do
    return fake


@pytest.fixture()
def ctx(dist, key_manager):
    """The service's context with the fake in place of the key-manager client."""
    return dataclasses.replace(dist, key_manager=key_manager)


GAME = uuid.uuid4()
SOLD_AT = datetime.now(UTC)


def add_retailer(ctx, **overrides):
    fields = {
        "name": "Unit Shop",
        "contact_info": {"email": "unit@shop.example"},
        "commission_rate": Decimal("0.1"),
        "allowed_game_ids": [GAME],
        "allowed_regions": [],
        **overrides,
    }
    with ctx.db.transaction() as session:
        return retailers.add_retailer(ctx, session, actor="admin:test", **fields)


def allocate(ctx, retailer, quantity=4, *, key=None):
    with ctx.db.transaction() as session:
        return allocations.allocate(
            ctx,
            session,
            actor="admin:test",
            idempotency_key=key or str(uuid.uuid4()),
            retailer_id=retailer.id,
            game_id=GAME,
            key_type="retail",
            quantity=quantity,
            price_amount=Decimal("19.99"),
            price_currency="USD",
            restrictions=[],
        )


def deliver(ctx, retailer, allocation, key_manager) -> list[uuid.UUID]:
    """What GET /retailer/keys leaves behind: the allocation's keys known as delivered."""
    keys = key_manager.keys[allocation.id]
    with ctx.db.transaction() as session:
        repo.remember_delivered_keys(session, retailer.id, [(key, allocation.id) for key in keys])
    return keys


def attempt(ctx, allocation_id):
    with ctx.db.transaction() as session:
        return session.execute(
            select(tables.allocation_attempts).where(tables.allocation_attempts.c.id == allocation_id)
        ).first()


def count(ctx, table) -> int:
    with ctx.db.transaction() as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def sell(ctx, retailer, keys, order_id=None):
    with ctx.db.transaction() as session:
        return sales.record_sale(
            ctx,
            session,
            retailer,
            order_id=order_id or f"order-{uuid.uuid4().hex[:8]}",
            key_ids=list(keys),
            price_amount=Decimal("10.00"),
            currency="EUR",
            sold_at=SOLD_AT,
        )


# --- allocations ----------------------------------------------------------------------------


def test_an_allocation_is_recorded_once_key_manager_reserved_the_keys(ctx, key_manager, events_of):
    retailer, _ = add_retailer(ctx)
    row = allocate(ctx, retailer, 4)
    assert (row.retailer_id, row.quantity, key_manager.free) == (retailer.id, 4, 6)
    assert attempt(ctx, row.id) is None  # the attempt note went with the recording
    assert [e["data"]["quantity"] for e in events_of("allocation.created", row.id)] == [4]


def test_key_manager_refusing_an_allocation_records_nothing_and_leaves_no_attempt(ctx, key_manager, counts):
    retailer, _ = add_retailer(ctx)
    before = counts()
    key = str(uuid.uuid4())
    with pytest.raises(Refusal) as refused:
        allocate(ctx, retailer, 11, key=key)
    assert refused.value.code == "INSUFFICIENT_KEY_ALLOCATION"
    assert refused.value.details == {"available": 10}
    # key-manager reserved nothing: no note is left for the reconciler.
    assert attempt(ctx, allocations.allocation_id_for("admin:test", key)) is None
    assert counts() == before


def test_key_manager_unreachable_leaves_the_attempt_for_the_reconciler_and_a_retry_completes(
    ctx, key_manager, counts
):
    retailer, _ = add_retailer(ctx)
    before, key = counts(), str(uuid.uuid4())
    allocation_id = allocations.allocation_id_for("admin:test", key)
    key_manager.down = True
    with pytest.raises(ApiError) as failed:
        allocate(ctx, retailer, 3, key=key)
    assert failed.value.status == 503
    assert counts() == before
    # key-manager may have reserved the keys before its answer was lost: the note stays.
    assert attempt(ctx, allocation_id) is not None
    key_manager.down = False
    row = allocate(ctx, retailer, 3, key=key)  # the same request again: the same allocation
    assert row.id == allocation_id and attempt(ctx, allocation_id) is None


def test_a_retry_after_the_reconciler_released_the_attempt_is_refused(ctx, key_manager, counts):
    retailer, _ = add_retailer(ctx)
    key = str(uuid.uuid4())
    allocation_id = allocations.allocation_id_for("admin:test", key)
    key_manager.down = True
    with pytest.raises(ApiError):
        allocate(ctx, retailer, 2, key=key)
    with ctx.db.transaction() as session:  # what the reconciler does to an orphan
        repo.mark_attempt_released(session, allocation_id, 0)
    key_manager.down = False
    before = counts()
    with pytest.raises(Refusal) as refused:
        allocate(ctx, retailer, 2, key=key)
    assert (refused.value.code, refused.value.details["reason"]) == ("CONFLICT", "ALLOCATION_RELEASED")
    assert key_manager.calls == ["allocate"]  # never asked again
    assert counts() == before


def test_an_unauthorized_allocation_never_reaches_key_manager(ctx, key_manager):
    retailer, _ = add_retailer(ctx, allowed_game_ids=[uuid.uuid4()])
    with pytest.raises(Refusal) as refused:
        allocate(ctx, retailer, 1)
    assert refused.value.details["reason"] == "GAME_NOT_ALLOWED"
    assert key_manager.calls == []


def test_release_takes_back_unsold_keys_and_delivered_ones_only_by_revoking(ctx, key_manager, events_of):
    retailer, _ = add_retailer(ctx)
    row = allocate(ctx, retailer, 4)
    keys = deliver(ctx, retailer, row, key_manager)
    sell(ctx, retailer, keys[:1])

    def release(revoke):
        with ctx.db.transaction() as session:
            return allocations.release(
                ctx, session, row.id, actor="admin:test", reason="contract ended", revoke=revoke
            )

    with pytest.raises(Refusal) as refused:
        release(False)
    assert refused.value.details == {"reason": "KEYS_DELIVERED", "deliveredUnsold": 3}
    result = release(True)
    assert (result.released, result.status, result.allocation.released_keys) == (3, "revoked", 3)
    assert release(True).released == 0  # a repeat takes back nothing more, and says nothing
    assert [e["data"]["released"] for e in events_of("allocation.released", row.id)] == [3]


# --- sales and returns ----------------------------------------------------------------------


def test_a_sale_is_recorded_once_and_signals_low_stock(ctx, key_manager, events_of):
    retailer, _ = add_retailer(ctx)
    row = allocate(ctx, retailer, 4)
    keys = deliver(ctx, retailer, row, key_manager)
    first = sell(ctx, retailer, keys, order_id="order-unit-1")
    assert (first.recorded_before, first.sale.units, sorted(first.key_ids)) == (False, 4, sorted(keys))
    again = sell(ctx, retailer, reversed(keys), order_id="order-unit-1")
    assert again.recorded_before and again.sale.id == first.sale.id
    assert key_manager.calls.count("sell") == 1
    assert len(events_of("sale.recorded", first.sale.id)) == 1
    assert [e["data"]["thresholdPercent"] for e in events_of("allocation.low_stock", row.id)] == [0]


def test_a_sale_key_manager_refuses_writes_nothing(ctx, key_manager, counts):
    retailer, _ = add_retailer(ctx)
    row = allocate(ctx, retailer, 2)
    keys = deliver(ctx, retailer, row, key_manager)
    key_manager.owner[keys[0]] = uuid.uuid4()  # revoked meanwhile: key-manager refuses the sale
    before = counts()
    with ctx.db.transaction() as session:
        with pytest.raises(Refusal) as refused:
            sales.record_sale(
                ctx,
                session,
                retailer,
                order_id="order-refused",
                key_ids=keys,
                price_amount=Decimal("10.00"),
                currency="EUR",
                sold_at=datetime.now(UTC),
            )
        assert refused.value.code == "KEY_REVOKED"
        # Nothing was written before key-manager's answer, even in the caller's transaction.
        assert repo.get_sale(session, retailer.id, "order-refused") is None
    assert counts() == before


def test_keys_not_fetched_or_not_the_retailers_cannot_be_sold(ctx, key_manager, counts):
    retailer, _ = add_retailer(ctx)
    row = allocate(ctx, retailer, 2)
    own = key_manager.keys[row.id]
    before = counts()
    with pytest.raises(Refusal) as refused:
        sell(ctx, retailer, own)
    assert (refused.value.code, refused.value.details["reason"]) == ("CONFLICT", "KEY_NOT_DELIVERED")
    with pytest.raises(Refusal) as refused:
        sell(ctx, retailer, [uuid.uuid4()])
    assert refused.value.code == "KEY_NOT_FOUND"
    assert "sell" not in key_manager.calls
    assert counts() == before


def test_a_return_of_an_activated_key_changes_nothing_and_a_return_repeats(
    ctx, key_manager, counts, events_of
):
    retailer, _ = add_retailer(ctx)
    row = allocate(ctx, retailer, 3)
    keys = deliver(ctx, retailer, row, key_manager)
    sale = sell(ctx, retailer, keys)

    def give_back(key_ids):
        with ctx.db.transaction() as session:
            return sales.return_keys(
                ctx, session, retailer, order_id=sale.sale.order_id, key_ids=key_ids, reason="refund"
            )

    key_manager.activated.add(keys[0])
    before = counts()
    with pytest.raises(Refusal) as refused:
        give_back(keys[:2])
    assert refused.value.code == "KEY_ALREADY_ACTIVATED"
    assert counts() == before
    first = give_back(keys[1:])
    assert give_back(list(reversed(keys[1:]))) == first  # the same return again
    assert key_manager.calls.count("return_keys") == 2  # the refused one and the first
    assert len(events_of("sale.returned", sale.sale.id)) == 1


# --- retailers ------------------------------------------------------------------------------


def test_credentials_are_kept_hashed_and_rotation_replaces_the_secret(ctx, events_of):
    retailer, secret = add_retailer(ctx)
    assert secret not in str(retailer._mapping.values())
    assert ctx.hasher.verify(retailer.secret_hash, secret)
    with ctx.db.transaction() as session:
        rotated, new_secret = retailers.rotate_credentials(ctx, session, retailer.id, actor="admin:test")
    assert rotated.client_id == retailer.client_id and new_secret != secret
    assert rotated.credentials_version == retailer.credentials_version + 1
    assert ctx.hasher.verify(rotated.secret_hash, new_secret)
    updates = events_of("retailer.updated", retailer.id)
    assert [e["data"]["changedFields"] for e in updates] == [["apiCredentials"]]
    assert secret not in str(updates) and new_secret not in str(updates)


def test_an_update_writes_only_what_changes(ctx, events_of):
    retailer, _ = add_retailer(ctx)
    with ctx.db.transaction() as session:
        same = retailers.update_retailer(
            ctx, session, retailer.id, {"name": retailer.name, "status": "active"}, actor="admin:test"
        )
    assert same.updated_at == retailer.updated_at and events_of("retailer.updated", retailer.id) == []
    with ctx.db.transaction() as session:
        suspended = retailers.update_retailer(
            ctx,
            session,
            retailer.id,
            {"status": "suspended", "allowedRegions": ["de", "AT", "de"]},
            actor="admin:test",
            reason="audit",
        )
    assert (suspended.status, list(suspended.allowed_regions)) == ("suspended", ["AT", "DE"])
    [event] = events_of("retailer.updated", retailer.id)
    assert event["data"]["changedFields"] == ["allowedRegions", "status"]
    with pytest.raises(Refusal) as refused, ctx.db.transaction() as session:
        retailers.update_retailer(ctx, session, uuid.uuid4(), {"name": "x"}, actor="admin:test")
    assert refused.value.code == "NOT_FOUND"
