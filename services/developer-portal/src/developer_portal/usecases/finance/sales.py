"""What sales, returns, store revenue, refunds and chargebacks post, from distribution.events
and the Payment Service's payments.events, the finance consumer's handler (which takes the
Payment Service's payout answers too), and the release of holds.

The consumer's handlers run in the transaction that records the event in the inbox, and each
entry names its source (the sale, return, revenue or reversal), so a redelivered or replayed
event posts nothing twice. A return or reversal that arrives before the sale it takes back is
parked and applied when the sale arrives."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from developer_portal.context import PortalState
from developer_portal.db import finance as repo
from developer_portal.db import ledger, repository
from developer_portal.domain.ledger import (
    STORE_FEES,
    STORE_SALES,
    Bucket,
    EntryKind,
    move,
    retailer_commission_account,
    retailer_sales_account,
    studio_account,
)
from developer_portal.domain.money import check_amount
from developer_portal.domain.revenue import (
    DEFAULT_TIERS,
    Credit,
    GameUnits,
    Line,
    Tier,
    credit_entry,
    order_lines,
    reversal_entry,
)
from developer_portal.usecases.finance.entries import post, post_all
from developer_portal.usecases.finance.payouts import payout_completed, payout_failed
from gamekeys_platform.contracts import ContractViolation, EventHandlers, distribution, payments
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.events import Event
from gamekeys_platform.refusals import InvalidValue

log = logging.getLogger("developer_portal.finance.sales")


def _money(money: Money, what: str, *, allow_zero: bool = False) -> Decimal:
    """An amount an event states, exact in its currency; otherwise the event is dead-lettered."""
    try:
        return check_amount(money.amount, money.currency, allow_zero=allow_zero)
    except InvalidValue as exc:
        raise ContractViolation(f"{what}: {exc}") from None


def _studio_of(session: Session, game_id: uuid.UUID) -> uuid.UUID:
    developer_id = _STUDIO_OF_GAME.get(game_id)
    if developer_id is None:
        game = repository.get_game(session, game_id)
        if game is None:
            raise ContractViolation(f"game {game_id} is not a game of this platform")
        developer_id = _STUDIO_OF_GAME.setdefault(game_id, game.developer_id)
    return developer_id


# A game never changes studio, so who owns it is read once per process (a few bytes a game).
_STUDIO_OF_GAME: dict[uuid.UUID, uuid.UUID] = {}


def tiers_of(session: Session, developer_id: uuid.UUID) -> tuple[Tier, ...]:
    return repo.get_tiers(session, developer_id) or DEFAULT_TIERS


@dataclass(frozen=True)
class _Crediting:
    """A sale to credit, with what its entry records."""

    credit: Credit
    kind: EntryKind
    occurred_at: datetime
    memo: dict[str, Any]


def _credit_all(portal: PortalState, session: Session, sales: list[_Crediting]) -> None:
    """Credit the sales, in order, with a few statements for them all: each game's counter is
    locked once and carried from sale to sale in memory. A sale credited before (under another
    event id, or twice in the batch) is skipped; the reversals parked for a sale are applied
    once it is in."""
    fresh: dict[str, _Crediting] = {}
    for sale in sales:
        fresh.setdefault(sale.credit.key, sale)
    for key in ledger.posted_sources(session, fresh):
        del fresh[key]
    if not fresh:
        return
    counters = repo.counters_for_update(
        session, {(s.credit.game_id, s.credit.currency) for s in fresh.values()}
    )
    tiers = repo.tiers_of_studios(session, {s.credit.developer_id for s in fresh.values()})
    entries, lines = [], []
    for sale in fresh.values():
        credit = sale.credit
        available_on = sale.occurred_at + timedelta(seconds=portal.settings.revenue_hold_seconds)
        entry, line, counters[credit.game_id, credit.currency] = credit_entry(
            credit,
            tiers.get(credit.developer_id) or DEFAULT_TIERS,
            counters[credit.game_id, credit.currency],
            source_id=credit.key,
            kind=sale.kind,
            occurred_at=sale.occurred_at,
            memo={**sale.memo, "availableOn": format_timestamp(available_on)},
        )
        entries.append(entry)
        lines.append((line, entry.entry_id, available_on))
    if len(post_all(portal, session, entries)) != len(entries):
        # Another transaction credited one of them since the check: the counters moved on
        # without it, so nothing of this one may stand (the consumer retries one by one).
        raise ConcurrentCredit("a sale of this batch was credited by another transaction")
    handle = finance_events(portal)
    for reversal in repo.record_credits(session, lines, counters):
        handle(session, Event.from_dict(reversal.event))


class ConcurrentCredit(RuntimeError):
    """A sale was credited by another transaction while this one credited it."""


def _reverse(
    portal: PortalState,
    session: Session,
    line_key: str,
    *,
    source_id: str,
    kind: EntryKind,
    gross: Callable[[Line], Decimal],
    quantity: int | None,
    occurred_at: datetime,
    memo: dict[str, Any],
    parked: dict[str, Any],
) -> Line | None:
    """Take back part of a credited sale; parked if the sale has not arrived yet. Returns the
    line as it was before (None when parked or posted before)."""
    if ledger.entry_by_source(session, source_id) is not None:
        return None
    line = repo.line_for_update(session, line_key)
    if line is None:
        repo.park(session, source_id, line_key, parked)
        log.info("reversal parked until its sale arrives", extra={"sourceId": source_id})
        return None
    amount = gross(line)
    if amount > line.gross or (quantity is not None and quantity > (line.quantity or 0)):
        raise ContractViolation(f"{source_id} takes back more than is left of {line_key}")
    counter_key = (line.credit.game_id, line.credit.currency)
    counter = repo.counters_for_update(session, [counter_key])[counter_key]
    entry, left, counter = reversal_entry(
        line,
        amount,
        counter,
        source_id=source_id,
        kind=kind,
        occurred_at=occurred_at,
        memo=memo,
        quantity=quantity,
    )
    post(portal, session, entry)
    repo.save_counter(session, line.credit.game_id, line.credit.currency, counter)
    repo.update_line(session, left)
    return line


def record_sales(
    portal: PortalState, session: Session, sales: list[tuple[distribution.SaleRecorded, Event]]
) -> None:
    """Retailers' sales: per game, the retailer keeps its commission, the platform its share,
    the studio the rest, pending until the hold passes."""
    _credit_all(portal, session, [part for data, _event in sales for part in _sale_parts(session, data)])


def _sale_parts(session: Session, data: distribution.SaleRecorded) -> list[_Crediting]:
    """A retailer's sale as each game's part of it."""
    if data.games is None:
        raise ContractViolation("sale.recorded without games: finance cannot tell whose sale it is")
    currency = data.gross.currency
    if {data.unit_price.currency, data.commission.currency, data.net.currency} != {currency}:
        raise ContractViolation("sale.recorded mixes currencies")
    unit_price = _money(data.unit_price, "unitPrice")
    gross = _money(data.gross, "gross")
    commission = _money(data.commission, "commission", allow_zero=True)
    try:
        lines = order_lines(
            unit_price, gross, commission, [GameUnits(g.game_id, g.quantity) for g in data.games], currency
        )
    except InvalidValue as exc:
        raise ContractViolation(f"sale.recorded: {exc}") from None
    parts = []
    for game, line_gross, line_commission in lines:
        credit = Credit(
            key=f"sale:{data.sale_id}:{game.game_id}",
            developer_id=_studio_of(session, game.game_id),
            game_id=game.game_id,
            currency=currency,
            source_account=retailer_sales_account(data.retailer_id),
            gross=line_gross,
            commission=line_commission,
            commission_account=retailer_commission_account(data.retailer_id),
            quantity=game.quantity,
        )
        memo = {"retailerId": str(data.retailer_id), "orderId": data.order_id, "quantity": game.quantity}
        parts.append(_Crediting(credit, EntryKind.SALE, data.sold_at, memo))
    return parts


def record_return(
    portal: PortalState, session: Session, data: distribution.SaleReturned, event: Event
) -> None:
    """A retailer's return: each game's returned keys take back their part of the sale."""
    _take_back_keys(
        portal,
        session,
        data,
        event,
        source=f"return:{data.return_id}",
        kind=EntryKind.RETURN,
        occurred_at=event.time,
        memo={},
    )


def record_chargeback(
    portal: PortalState, session: Session, data: distribution.SaleChargedBack, event: Event
) -> None:
    """A retailer's chargeback: each game's charged-back keys take back their part of the sale,
    as a return does (also for keys already redeemed: the payment is gone either way)."""
    _take_back_keys(
        portal,
        session,
        data,
        event,
        source=f"chargeback:{data.chargeback_id}",
        kind=EntryKind.REVERSAL,
        occurred_at=data.charged_back_at,
        memo={"reason": "chargeback"},
    )


def _take_back_keys(
    portal: PortalState,
    session: Session,
    data: distribution.SaleReturned | distribution.SaleChargedBack,
    event: Event,
    *,
    source: str,
    kind: EntryKind,
    occurred_at: datetime,
    memo: dict[str, Any],
) -> None:
    """Each game's keys of a retailer's sale taken back (returned or charged back): their share
    of what each posting of the sale has left."""
    if data.games is None:
        raise ContractViolation(f"{event.type} without games: finance cannot tell whose sale it is")
    for game in data.games:
        _reverse(
            portal,
            session,
            f"sale:{data.sale_id}:{game.game_id}",
            source_id=f"{source}:{game.game_id}",
            kind=kind,
            gross=lambda line, units=game.quantity: (
                line.gross / line.quantity * units if line.quantity else line.gross
            ),
            quantity=game.quantity,
            occurred_at=occurred_at,
            memo={
                "retailerId": str(data.retailer_id),
                "orderId": data.order_id,
                "quantity": game.quantity,
                **memo,
            },
            parked=event.to_dict(),
        )


def record_revenues(
    portal: PortalState, session: Session, revenues: list[tuple[payments.RevenueCredited, Event]]
) -> None:
    """Store sales (the Payment Service): the platform's share and the studio's, pending."""
    _credit_all(portal, session, [_revenue_part(session, data) for data, _event in revenues])


def _revenue_part(session: Session, data: payments.RevenueCredited) -> _Crediting:
    developer_id = _studio_of(session, data.game_id)
    if developer_id != data.developer_id:
        raise ContractViolation(f"game {data.game_id} is not studio {data.developer_id}'s")
    credit = Credit(
        key=f"revenue:{data.revenue_id}",
        developer_id=developer_id,
        game_id=data.game_id,
        currency=data.gross.currency,
        source_account=STORE_SALES,
        gross=_money(data.gross, "gross"),
    )
    return _Crediting(credit, EntryKind.REVENUE, data.occurred_at, {"orderId": data.order_id})


def record_reversal(
    portal: PortalState, session: Session, data: payments.RevenueReversed, event: Event
) -> None:
    """A store refund or chargeback: the studio's and the platform's parts are taken back, out
    of available once the hold passed, even below zero; a chargeback fee the studio bears is
    taken from available too."""
    gross = _money(data.gross, "gross")
    fee = None if data.fee is None else _money(data.fee, "fee", allow_zero=True)
    if data.gross.currency != (data.fee or data.gross).currency:
        raise ContractViolation("revenue.reversed: the fee is in another currency than the sale")
    memo = {"orderId": data.order_id, "reason": data.kind}
    line = _reverse(
        portal,
        session,
        f"revenue:{data.revenue_id}",
        source_id=f"reversal:{data.reversal_id}",
        kind=EntryKind.REVERSAL,
        gross=lambda _line: gross,
        quantity=None,
        occurred_at=data.occurred_at,
        memo=memo,
        parked=event.to_dict(),
    )
    if line is not None and fee:
        post(
            portal,
            session,
            move(
                line.credit.developer_id,
                EntryKind.REVERSAL,
                f"reversal:{data.reversal_id}:fee",
                fee,
                data.gross.currency,
                source=studio_account(line.credit.developer_id, Bucket.AVAILABLE),
                to=STORE_FEES,
                occurred_at=data.occurred_at,
                memo={**memo, "fee": True},
                game_id=line.credit.game_id,
            ),
        )


def finance_events(portal: PortalState) -> EventHandlers:
    """The finance consumer's handler: distribution's sales, returns and chargebacks, the
    Payment Service's revenue, reversals and payout answers. Sales and store revenue are
    credited a run at a time (what one poll brings): a backlog posts with a few statements per
    poll."""

    def bound(handle):
        return lambda session, data, event: handle(portal, session, data, event)

    def bound_run(handle):
        return lambda session, run: handle(portal, session, run)

    return EventHandlers(
        {
            distribution.SaleReturned: bound(record_return),
            distribution.SaleChargedBack: bound(record_chargeback),
            payments.RevenueReversed: bound(record_reversal),
            payments.PayoutCompleted: bound(payout_completed),
            payments.PayoutFailed: bound(payout_failed),
        },
        together={
            distribution.SaleRecorded: bound_run(record_sales),
            payments.RevenueCredited: bound_run(record_revenues),
        },
    )


def release_holds(portal: PortalState, *, now: datetime | None = None, batch: int = 500) -> int:
    """Move the studio's part of every sale whose hold passed from pending to available, once
    per sale: the line is locked and marked in the transaction of its entry, so a restarted or
    second worker never releases it twice."""
    now = now or datetime.now(UTC)
    released = 0
    while True:
        with portal.db.transaction() as session:
            lines = repo.due_lines(session, now, batch)
            for line in lines:
                if line.studio != 0:
                    post(
                        portal,
                        session,
                        move(
                            line.credit.developer_id,
                            EntryKind.RELEASE,
                            f"release:{line.credit.key}",
                            line.studio,
                            line.credit.currency,
                            source=studio_account(line.credit.developer_id, Bucket.PENDING),
                            to=studio_account(line.credit.developer_id, Bucket.AVAILABLE),
                            occurred_at=now,
                            game_id=line.credit.game_id,
                        ),
                    )
                repo.mark_released(session, line.credit.key)
        released += len(lines)
        if len(lines) < batch:
            return released
