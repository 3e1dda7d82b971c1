"""SQL of the distribution service (SQLAlchemy Core). Functions take the caller's session and
never commit: the view's transaction (``@transactional`` / ``@idempotent``) does."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Row, Uuid, and_, bindparam, delete, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from distribution.db.tables import (
    activations,
    allocation_attempts,
    allocations,
    chargebacks,
    key_fetches,
    retailer_keys,
    retailers,
    returns,
    sale_keys,
    sales,
    stock_revocations,
)
from distribution.domain.money import SaleLine
from gamekeys_platform.pagination import Page, keyset_page

RETAILER_CURSOR = (datetime, uuid.UUID)
ALLOCATION_CURSOR = (datetime, uuid.UUID)


def lock(session: Session, name: str) -> None:
    """A transaction-scoped advisory lock: concurrent requests on ``name`` run one after another."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": name})


# Retailers


def insert_retailer(session: Session, **values) -> Row:
    return session.execute(insert(retailers).values(**values).returning(retailers)).one()


def get_retailer(session: Session, retailer_id: uuid.UUID, *, for_update: bool = False) -> Row | None:
    query = select(retailers).where(retailers.c.id == retailer_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


def get_retailer_by_client_id(session: Session, client_id: str) -> Row | None:
    return session.execute(select(retailers).where(retailers.c.client_id == client_id)).first()


def update_retailer(session: Session, retailer_id: uuid.UUID, **values) -> Row:
    return session.execute(
        update(retailers)
        .where(retailers.c.id == retailer_id)
        .values(**values, updated_at=func.now())
        .returning(retailers)
    ).one()


def page_retailers(session: Session, *, status: str | None, after, limit: int) -> Page:
    query = select(retailers)
    if status:
        query = query.where(retailers.c.status == status)
    return keyset_page(session, query, [retailers.c.created_at, retailers.c.id], after, limit)


# Allocations


def insert_allocation(session: Session, **values) -> Row:
    return session.execute(insert(allocations).values(**values).returning(allocations)).one()


def get_allocation(session: Session, allocation_id: uuid.UUID) -> Row | None:
    return session.execute(select(allocations).where(allocations.c.id == allocation_id)).first()


def retailer_allocations_after(
    session: Session,
    retailer_id: uuid.UUID,
    *,
    after: tuple | None,
    inclusive: bool,
    only: uuid.UUID | None,
    limit: int,
) -> list[Row]:
    """The retailer's allocations in creation order, after (or from) position ``after``."""
    query = select(allocations).where(allocations.c.retailer_id == retailer_id)
    if only is not None:
        query = query.where(allocations.c.id == only)
    if after is not None:
        position = tuple_(allocations.c.created_at, allocations.c.id)
        query = query.where(position >= tuple_(*after) if inclusive else position > tuple_(*after))
    query = query.order_by(allocations.c.created_at, allocations.c.id).limit(limit)
    return session.execute(query).all()


def page_allocations_with_counts(session: Session, retailer_id: uuid.UUID, *, after, limit: int) -> Page:
    sold = (
        select(func.count())
        .where(sale_keys.c.allocation_id == allocations.c.id)
        .correlate(allocations)
        .scalar_subquery()
    )
    returned = (
        select(func.count())
        .where(sale_keys.c.allocation_id == allocations.c.id, sale_keys.c.status == "returned")
        .correlate(allocations)
        .scalar_subquery()
    )
    activated = (
        select(func.count())
        .where(activations.c.allocation_id == allocations.c.id)
        .correlate(allocations)
        .scalar_subquery()
    )
    delivered = (
        select(func.count())
        .where(retailer_keys.c.allocation_id == allocations.c.id)
        .correlate(allocations)
        .scalar_subquery()
    )
    query = select(
        allocations,
        sold.label("sold"),
        returned.label("returned"),
        activated.label("activated"),
        delivered.label("delivered"),
    ).where(allocations.c.retailer_id == retailer_id)
    return keyset_page(session, query, [allocations.c.created_at, allocations.c.id], after, limit)


def get_allocation_for_update(session: Session, allocation_id: uuid.UUID) -> Row | None:
    return session.execute(
        select(allocations).where(allocations.c.id == allocation_id).with_for_update(key_share=True)
    ).first()


def delivered_unsold(session: Session, allocation_id: uuid.UUID) -> int:
    """Keys of the allocation the retailer has received and not sold (it knows them in clear)."""
    return session.execute(
        select(func.count())
        .select_from(retailer_keys)
        .outerjoin(sale_keys, sale_keys.c.key_id == retailer_keys.c.key_id)
        .where(retailer_keys.c.allocation_id == allocation_id, sale_keys.c.key_id.is_(None))
    ).scalar_one()


def record_release(session: Session, allocation_id: uuid.UUID, released: int) -> Row:
    return session.execute(
        update(allocations)
        .where(allocations.c.id == allocation_id)
        .values(released_keys=allocations.c.released_keys + released, released_at=func.now())
        .returning(allocations)
    ).one()


# Allocation attempts (see tables.allocation_attempts)


def claim_allocation_attempt(
    session: Session, allocation_id: uuid.UUID, *, retailer_id: uuid.UUID, requested_by: str
) -> bool:
    """Note (or refresh) an attempt before asking key-manager. False when reconciliation has
    released this allocation already."""
    row = session.execute(
        pg_insert(allocation_attempts)
        .values(id=allocation_id, retailer_id=retailer_id, requested_by=requested_by)
        .on_conflict_do_update(
            index_elements=[allocation_attempts.c.id],
            set_={"attempted_at": func.now()},
            where=allocation_attempts.c.released_at.is_(None),
        )
        .returning(allocation_attempts.c.id)
    ).first()
    return row is not None


def forget_allocation_attempt(session: Session, allocation_id: uuid.UUID) -> None:
    session.execute(
        delete(allocation_attempts).where(
            allocation_attempts.c.id == allocation_id, allocation_attempts.c.released_at.is_(None)
        )
    )


def finish_allocation_attempt(session: Session, allocation_id: uuid.UUID) -> bool:
    """The allocation is being recorded: its attempt goes. False when reconciliation released it
    meanwhile (waits for a reconciliation holding the row)."""
    return (
        session.execute(
            delete(allocation_attempts)
            .where(allocation_attempts.c.id == allocation_id, allocation_attempts.c.released_at.is_(None))
            .returning(allocation_attempts.c.id)
        ).first()
        is not None
    )


def orphaned_attempts(session: Session, *, older_than_seconds: float, limit: int) -> list[Row]:
    """Attempts nobody has touched for ``older_than_seconds``, locked (others skip them)."""
    return session.execute(
        select(allocation_attempts)
        .where(
            allocation_attempts.c.released_at.is_(None),
            allocation_attempts.c.attempted_at
            < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than_seconds),
            ~select(allocations.c.id).where(allocations.c.id == allocation_attempts.c.id).exists(),
        )
        .order_by(allocation_attempts.c.attempted_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def mark_attempt_released(session: Session, allocation_id: uuid.UUID, released: int) -> None:
    session.execute(
        update(allocation_attempts)
        .where(allocation_attempts.c.id == allocation_id)
        .values(released_at=func.now(), released_keys=released)
    )


def set_low_stock_signalled(session: Session, allocation_id: uuid.UUID, threshold: int) -> None:
    session.execute(
        update(allocations).where(allocations.c.id == allocation_id).values(low_stock_signalled=threshold)
    )


def sold_per_allocation(session: Session, allocation_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = session.execute(
        select(sale_keys.c.allocation_id, func.count())
        .where(sale_keys.c.allocation_id.in_(list(allocation_ids)))
        .group_by(sale_keys.c.allocation_id)
    ).all()
    return dict(rows)


def games_of_allocations(session: Session, allocation_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    rows = session.execute(
        select(allocations.c.id, allocations.c.game_id).where(allocations.c.id.in_(list(allocation_ids)))
    ).all()
    return dict(rows)


def allocations_for_update(session: Session, allocation_ids: Iterable[uuid.UUID]) -> list[Row]:
    """Locked for an update of their counters (FOR NO KEY UPDATE): a plain FOR UPDATE would wait
    for the KEY SHARE lock another sale's sale_keys rows hold on the same allocation, and two
    concurrent sales from one allocation would deadlock."""
    return session.execute(
        select(allocations)
        .where(allocations.c.id.in_(sorted(set(allocation_ids))))
        .order_by(allocations.c.id)
        .with_for_update(key_share=True)
    ).all()


# Keys delivered to retailers


def remember_delivered_keys(
    session: Session, retailer_id: uuid.UUID, pairs: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> None:
    """Record (key id, allocation id) pairs the retailer has been given."""
    if not pairs:
        return
    # Two array parameters instead of a multi-row VALUES: a page of 1,000 keys would otherwise be
    # 3,000 bind parameters compiled afresh on every fetch (~50 ms of CPU).
    session.execute(
        _REMEMBER_DELIVERED,
        {
            "key_ids": [k for k, _ in pairs],
            "allocation_ids": [a for _, a in pairs],
            "retailer_id": retailer_id,
        },
    )


_delivered = (
    func.unnest(bindparam("key_ids", type_=ARRAY(Uuid)), bindparam("allocation_ids", type_=ARRAY(Uuid)))
    .table_valued("key_id", "allocation_id")
    .render_derived()
)
_REMEMBER_DELIVERED = (
    pg_insert(retailer_keys)
    .from_select(
        ["key_id", "allocation_id", "retailer_id"],
        select(_delivered.c.key_id, _delivered.c.allocation_id, bindparam("retailer_id", type_=Uuid)),
    )
    .on_conflict_do_nothing()
)


def delivered_keys(session: Session, retailer_id: uuid.UUID, key_ids: Iterable[uuid.UUID]) -> dict:
    rows = session.execute(
        select(retailer_keys.c.key_id, retailer_keys.c.allocation_id).where(
            retailer_keys.c.key_id.in_(list(key_ids)), retailer_keys.c.retailer_id == retailer_id
        )
    ).all()
    return dict(rows)


def audit_fetch(session: Session, **values) -> None:
    session.execute(insert(key_fetches).values(**values))


# Sales and returns


def get_sale(session: Session, retailer_id: uuid.UUID, order_id: str) -> Row | None:
    return session.execute(
        select(sales).where(sales.c.retailer_id == retailer_id, sales.c.order_id == order_id)
    ).first()


def insert_sale(session: Session, values: dict, keys: dict[uuid.UUID, uuid.UUID]) -> None:
    session.execute(insert(sales).values(**values))
    session.execute(
        insert(sale_keys).values(
            [
                {
                    "key_id": k,
                    "sale_id": values["id"],
                    "allocation_id": a,
                    "retailer_id": values["retailer_id"],
                }
                for k, a in keys.items()
            ]
        )
    )


def keys_of_sale(session: Session, sale_id: uuid.UUID) -> list[Row]:
    return session.execute(
        select(sale_keys).where(sale_keys.c.sale_id == sale_id).order_by(sale_keys.c.key_id)
    ).all()


def sold_keys_of_retailer(
    session: Session, retailer_id: uuid.UUID, key_ids: Iterable[uuid.UUID]
) -> list[Row]:
    return session.execute(
        select(sale_keys).where(sale_keys.c.retailer_id == retailer_id, sale_keys.c.key_id.in_(list(key_ids)))
    ).all()


def record_return(session: Session, values: dict, key_ids: Sequence[uuid.UUID]) -> None:
    session.execute(insert(returns).values(**values))
    session.execute(
        update(sale_keys)
        .where(sale_keys.c.key_id.in_(list(key_ids)))
        .values(status="returned", return_id=values["id"])
    )


def record_chargeback(
    session: Session, values: dict, *, revoked: Sequence[uuid.UUID], disputed: Sequence[uuid.UUID]
) -> Row:
    row = session.execute(insert(chargebacks).values(**values).returning(chargebacks)).one()
    for outcome, key_ids in (("revoked", revoked), ("disputed", disputed)):
        if key_ids:
            session.execute(
                update(sale_keys)
                .where(sale_keys.c.key_id.in_(list(key_ids)))
                .values(status="charged_back", chargeback_id=values["id"], chargeback_outcome=outcome)
            )
    return row


def _keys_of_sale_in(status: str):
    return (
        select(func.count())
        .where(sale_keys.c.sale_id == sales.c.id, sale_keys.c.status == status)
        .correlate(sales)
        .scalar_subquery()
    )


def sale_lines(session: Session, retailer_id: uuid.UUID, start: datetime, end: datetime) -> list[SaleLine]:
    """Sales with ``start <= sold_at < end`` and how many of their keys came back (returned)
    or were charged back."""
    rows = session.execute(
        select(
            sales.c.currency,
            sales.c.unit_price,
            sales.c.commission_rate,
            sales.c.units,
            _keys_of_sale_in("returned"),
            _keys_of_sale_in("charged_back"),
        ).where(sales.c.retailer_id == retailer_id, sales.c.sold_at >= start, sales.c.sold_at < end)
    ).all()
    return [SaleLine(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


# Activations (from keys.events)


def record_activation(
    session: Session,
    *,
    key_id: uuid.UUID,
    retailer_id: uuid.UUID,
    allocation_id: uuid.UUID | None,
    activated_at: datetime,
    source_event: str,
) -> None:
    session.execute(
        pg_insert(activations)
        .values(
            key_id=key_id,
            retailer_id=retailer_id,
            allocation_id=allocation_id,
            activated_at=activated_at,
            source_event=source_event,
        )
        .on_conflict_do_nothing()
    )


def analytics_page(session: Session, *, after, limit: int) -> Page:
    allocated = (
        select(func.coalesce(func.sum(allocations.c.quantity), 0))
        .where(allocations.c.retailer_id == retailers.c.id)
        .correlate(retailers)
        .scalar_subquery()
    )
    sold = (
        select(func.count())
        .where(sale_keys.c.retailer_id == retailers.c.id)
        .correlate(retailers)
        .scalar_subquery()
    )
    returned = (
        select(func.count())
        .where(and_(sale_keys.c.retailer_id == retailers.c.id, sale_keys.c.status == "returned"))
        .correlate(retailers)
        .scalar_subquery()
    )
    activated = (
        select(func.count())
        .where(activations.c.retailer_id == retailers.c.id)
        .correlate(retailers)
        .scalar_subquery()
    )
    charged_back = (
        select(func.count())
        .where(and_(sale_keys.c.retailer_id == retailers.c.id, sale_keys.c.status == "charged_back"))
        .correlate(retailers)
        .scalar_subquery()
    )
    query = select(
        retailers.c.id,
        retailers.c.name,
        retailers.c.status,
        retailers.c.created_at,
        allocated.label("allocated"),
        sold.label("sold"),
        returned.label("returned"),
        activated.label("activated"),
        charged_back.label("charged_back"),
    )
    return keyset_page(session, query, [retailers.c.created_at, retailers.c.id], after, limit)


# Leak response: revocations of a retailer's unsold stock (see tables.stock_revocations)


def claim_revocation(session: Session, **values) -> bool:
    """Record a revocation before key-manager is asked; False when its id exists (a retry, or a
    duplicate that waited for the first to commit)."""
    created = session.execute(
        pg_insert(stock_revocations)
        .values(revoked_keys=0, report={}, **values)
        .on_conflict_do_nothing()
        .returning(stock_revocations.c.id)
    ).first()
    return created is not None


def get_revocation(session: Session, revocation_id: uuid.UUID) -> Row | None:
    return session.execute(select(stock_revocations).where(stock_revocations.c.id == revocation_id)).first()


def store_revocation_report(
    session: Session, revocation_id: uuid.UUID, *, revoked_keys: int, report: dict
) -> Row:
    return session.execute(
        update(stock_revocations)
        .where(stock_revocations.c.id == revocation_id)
        .values(revoked_keys=revoked_keys, report=report)
        .returning(stock_revocations)
    ).one()


# Provenance: what distribution knows of one key


def key_channel(session: Session, key_id: uuid.UUID, allocation_id: uuid.UUID | None):
    """(allocation, retailer, delivery, sale, return, chargeback) of the key, rows or None; None
    altogether when no allocation here holds the key."""
    delivered = session.execute(select(retailer_keys).where(retailer_keys.c.key_id == key_id)).first()
    sold_key = session.execute(select(sale_keys).where(sale_keys.c.key_id == key_id)).first()
    allocation_id = (
        (sold_key.allocation_id if sold_key else None)
        or (delivered.allocation_id if delivered else None)
        or allocation_id
    )
    if allocation_id is None:
        return None
    allocation = session.execute(select(allocations).where(allocations.c.id == allocation_id)).first()
    if allocation is None:
        return None
    retailer = session.execute(select(retailers).where(retailers.c.id == allocation.retailer_id)).one()
    sale = returned = charged_back = None
    if sold_key is not None:
        sale = session.execute(select(sales).where(sales.c.id == sold_key.sale_id)).one()
        if sold_key.return_id is not None:
            returned = session.execute(select(returns).where(returns.c.id == sold_key.return_id)).first()
        if sold_key.chargeback_id is not None:
            charged_back = session.execute(
                select(chargebacks, sale_keys.c.chargeback_outcome.label("outcome"))
                .select_from(chargebacks.join(sale_keys, sale_keys.c.chargeback_id == chargebacks.c.id))
                .where(sale_keys.c.key_id == key_id)
            ).one()
    return allocation, retailer, delivered, sale, returned, charged_back
