"""Finance: what sales, returns, store revenue, refunds, chargebacks and payouts post to the
studios' ledger, and what a studio (or a platform admin) reads and asks of it.

The consumer's handlers run in the transaction that records the event in the inbox, and each
entry names its source (the sale, return, revenue, reversal or payout), so a redelivered or
replayed event posts nothing twice. A return or reversal that arrives before the sale it takes
back is parked and applied when the sale arrives. Every posted entry is a ledger.entry_posted
event on developer.events.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from developer_portal.context import PortalState
from developer_portal.db import finance as repo
from developer_portal.db import ledger, repository
from developer_portal.domain import payouts as rules
from developer_portal.domain.ledger import (
    PLATFORM_ADJUSTMENTS,
    STORE_FEES,
    STORE_SALES,
    Bucket,
    EntryKind,
    JournalEntry,
    move,
    retailer_commission_account,
    retailer_sales_account,
    studio_account,
    studio_accounts,
)
from developer_portal.domain.money import as_text, check_amount
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
from developer_portal.usecases.common import Actor, audit, emit
from gamekeys_platform.contracts import ContractViolation, EventHandlers, distribution, payments
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.errors import format_optional_timestamp, format_timestamp
from gamekeys_platform.events import Event
from gamekeys_platform.refusals import InvalidValue, Refusal

log = logging.getLogger("developer_portal.finance")

SCHEDULER = Actor("developer-portal.payout-scheduler", is_service=True)


# --- posting --------------------------------------------------------------------------------


def post(portal: PortalState, session: Session, entry: JournalEntry) -> bool:
    """Post the entry with its ledger.entry_posted event; False when its source posted before."""
    if not ledger.post(session, entry):
        return False
    emit(
        portal,
        session,
        events.LedgerEntryPosted(
            entry_id=entry.entry_id,
            developer_id=entry.developer_id,
            kind=entry.kind.value,
            source_id=entry.source_id,
            postings=[
                events.Posting(account=account, amount=Money(amount=amount, currency=entry.currency))
                for account, amount in entry.postings.items()
            ],
            posted_at=datetime.now(UTC),
        ),
    )
    return True


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


# --- sales, returns, store revenue and reversals ---------------------------------------------


def _credit(
    portal: PortalState,
    session: Session,
    credit: Credit,
    *,
    kind: EntryKind,
    occurred_at: datetime,
    memo: dict[str, Any],
) -> None:
    counter, tiers = repo.counter_for_update(session, credit.game_id, credit.currency, credit.developer_id)
    available_on = occurred_at + timedelta(seconds=portal.settings.revenue_hold_seconds)
    entry, line, counter = credit_entry(
        credit,
        tiers or DEFAULT_TIERS,
        counter,
        source_id=credit.key,
        kind=kind,
        occurred_at=occurred_at,
        memo={**memo, "availableOn": format_timestamp(available_on)},
    )
    if not post(portal, session, entry):
        return  # this sale was credited before (under another event id)
    parked = repo.record_credit(session, line, counter, entry_id=entry.entry_id, available_on=available_on)
    for reversal in parked:
        finance_events(portal)(session, Event.from_dict(reversal.event))


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
    counter, _tiers = repo.counter_for_update(session, line.credit.game_id, line.credit.currency)
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


def record_sale(portal: PortalState, session: Session, data: distribution.SaleRecorded, event: Event) -> None:
    """A retailer's sale: per game, the retailer keeps its commission, the platform its share,
    the studio the rest, pending until the hold passes."""
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
            unit_price, gross, commission, [GameUnits(g.game_id, g.quantity) for g in data.games]
        )
    except InvalidValue as exc:
        raise ContractViolation(f"sale.recorded: {exc}") from None
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
        _credit(portal, session, credit, kind=EntryKind.SALE, occurred_at=data.sold_at, memo=memo)


def record_return(
    portal: PortalState, session: Session, data: distribution.SaleReturned, event: Event
) -> None:
    """A retailer's return: each game's returned keys take back their part of the sale."""
    if data.games is None:
        raise ContractViolation("sale.returned without games: finance cannot tell whose sale it is")
    for game in data.games:
        _reverse(
            portal,
            session,
            f"sale:{data.sale_id}:{game.game_id}",
            source_id=f"return:{data.return_id}:{game.game_id}",
            kind=EntryKind.RETURN,
            gross=lambda line, units=game.quantity: (
                line.gross / line.quantity * units if line.quantity else line.gross
            ),
            quantity=game.quantity,
            occurred_at=event.time,
            memo={"retailerId": str(data.retailer_id), "orderId": data.order_id, "quantity": game.quantity},
            parked=event.to_dict(),
        )


def record_revenue(
    portal: PortalState, session: Session, data: payments.RevenueCredited, event: Event
) -> None:
    """A store sale (the Payment Service): the platform's share and the studio's, pending."""
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
    _credit(
        portal,
        session,
        credit,
        kind=EntryKind.REVENUE,
        occurred_at=data.occurred_at,
        memo={"orderId": data.order_id},
    )


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
    """The finance consumer's handler: distribution's sales and returns, the Payment Service's
    revenue, reversals and payout answers."""

    def bound(handle):
        return lambda session, data, event: handle(portal, session, data, event)

    return EventHandlers(
        {
            distribution.SaleRecorded: bound(record_sale),
            distribution.SaleReturned: bound(record_return),
            payments.RevenueCredited: bound(record_revenue),
            payments.RevenueReversed: bound(record_reversal),
            payments.PayoutCompleted: bound(payout_completed),
            payments.PayoutFailed: bound(payout_failed),
        }
    )


# --- holds ----------------------------------------------------------------------------------


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


# --- balances and transactions ----------------------------------------------------------------


def balances(session: Session, developer_id: uuid.UUID) -> dict[str, dict[Bucket, Decimal]]:
    """currency -> bucket -> amount, for every currency the studio has had money in."""
    accounts = studio_accounts(developer_id)
    bucket_of = {account: bucket for bucket, account in accounts.items()}
    result: dict[str, dict[Bucket, Decimal]] = {}
    for (account, currency), amount in ledger.balances(session, accounts.values()).items():
        result.setdefault(currency, dict.fromkeys(Bucket, Decimal(0)))[bucket_of[account]] = amount
    return dict(sorted(result.items()))


def balance_document(session: Session, developer_id: uuid.UUID) -> dict[str, Any]:
    items = []
    for currency, amounts in balances(session, developer_id).items():
        items.append(
            {
                "currency": currency,
                "available": as_text(amounts[Bucket.AVAILABLE], currency),
                "pending": as_text(amounts[Bucket.PENDING], currency),
                "inPayout": as_text(amounts[Bucket.IN_PAYOUT], currency),
                "paidOut": as_text(amounts[Bucket.PAID_OUT], currency),
                "negative": amounts[Bucket.AVAILABLE] < 0,
            }
        )
    return {"balances": items, "negativeBalancePolicy": rules.NEGATIVE_BALANCE_POLICY}


def entry_documents(session: Session, developer_id: uuid.UUID, rows: list[Row]) -> list[dict[str, Any]]:
    """Entries as the studio sees them: the change to each of its balances and its total."""
    postings = ledger.postings_of(session, [row.entry_id for row in rows])
    accounts = studio_accounts(developer_id)
    documents = []
    for row in rows:
        change = {
            bucket: postings[row.entry_id].get(account, Decimal(0)) for bucket, account in accounts.items()
        }
        documents.append(
            {
                "entryId": str(row.entry_id),
                "type": row.kind,
                "amount": {
                    "amount": as_text(sum(change.values(), Decimal(0)), row.currency),
                    "currency": row.currency,
                },
                "balances": {
                    "available": as_text(change[Bucket.AVAILABLE], row.currency),
                    "pending": as_text(change[Bucket.PENDING], row.currency),
                    "inPayout": as_text(change[Bucket.IN_PAYOUT], row.currency),
                    "paidOut": as_text(change[Bucket.PAID_OUT], row.currency),
                },
                "gameId": None if row.game_id is None else str(row.game_id),
                "source": row.source_id,
                "details": row.memo,
                "occurredAt": format_timestamp(row.occurred_at),
                "postedAt": format_timestamp(row.posted_at),
            }
        )
    return documents


# --- payouts --------------------------------------------------------------------------------


def payout_document(row: Row) -> dict[str, Any]:
    return {
        "payoutId": str(row.payout_id),
        "amount": {"amount": as_text(row.amount, row.currency), "currency": row.currency},
        "status": row.status,
        "method": row.method,
        "scheduled": row.scheduled_for is not None,
        "requestedBy": row.requested_by,
        "requestedAt": format_timestamp(row.requested_at),
        "completedAt": format_optional_timestamp(row.completed_at),
        "failedAt": format_optional_timestamp(row.failed_at),
        "failureReason": row.failure_reason,
        "reference": row.reference,
    }


def request_payout(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer: Row,
    amount: Decimal,
    currency: str,
    *,
    scheduled_for: str | None = None,
) -> dict[str, Any]:
    """Move ``amount`` from available to in payout and ask the Payment Service for it
    (payout.requested). The available balance is locked first: of concurrent requests for the
    whole balance, one succeeds and the others see what is left."""
    developer_id = developer.developer_id
    settings = repo.get_settings(session, developer_id)
    available = ledger.lock_balance(session, studio_account(developer_id, Bucket.AVAILABLE), currency)
    rules.check_request(
        amount,
        currency,
        available=available,
        threshold=_threshold(portal, settings),
        settings_complete=settings is not None,
        verified=developer.verification_status == "verified",
    )
    payout = repo.insert_payout(
        session,
        payout_id=uuid.uuid4(),
        developer_id=developer_id,
        amount=amount,
        currency=currency,
        status=rules.PayoutStatus.REQUESTED.value,
        method=settings.method,
        scheduled_for=scheduled_for,
        requested_by=actor.subject,
    )
    post(
        portal,
        session,
        move(
            developer_id,
            EntryKind.PAYOUT,
            f"payout:{payout.payout_id}",
            amount,
            currency,
            source=studio_account(developer_id, Bucket.AVAILABLE),
            to=studio_account(developer_id, Bucket.IN_PAYOUT),
            occurred_at=payout.requested_at,
            memo={"payoutId": str(payout.payout_id)},
        ),
    )
    emit(
        portal,
        session,
        events.PayoutRequested(
            payout_id=payout.payout_id,
            developer_id=developer_id,
            amount=Money(amount=amount, currency=currency),
            method=settings.method,
            requested_by=actor.subject,
            requested_at=payout.requested_at,
        ),
    )
    document = payout_document(payout)
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="payout.requested",
        entity_type="payout",
        entity_id=payout.payout_id,
        before=None,
        after=document,
    )
    return document


def _threshold(portal: PortalState, settings: Row | None) -> Decimal:
    minimum = portal.settings.payout_minimum
    return minimum if settings is None else max(settings.threshold, minimum)


def _settle_payout(
    portal: PortalState,
    session: Session,
    data: payments.PayoutCompleted | payments.PayoutFailed,
    *,
    kind: EntryKind,
    to: Bucket,
    at: datetime,
    memo: dict[str, Any],
    **outcome: Any,
) -> Row | None:
    """Move the payout's amount out of "in payout" (to paid out, or back to available) and record
    the Payment Service's answer; None when the payout was settled before (a second answer
    changes nothing). The answer must name a payout of this studio, for its amount."""
    payout = repo.get_payout(session, data.payout_id, lock=True)
    if payout is None or payout.developer_id != data.developer_id:
        raise ContractViolation(f"payout {data.payout_id} is not a payout of studio {data.developer_id}")
    if (payout.amount, payout.currency) != (data.amount.amount, data.amount.currency):
        raise ContractViolation(f"payout {data.payout_id} was for {payout.amount} {payout.currency}")
    if not rules.can_move(payout.status, outcome["status"]):
        log.info("payout answered again", extra={"payoutId": str(payout.payout_id), "status": payout.status})
        return None
    post(
        portal,
        session,
        move(
            payout.developer_id,
            kind,
            f"{kind.value}:{payout.payout_id}",
            payout.amount,
            payout.currency,
            source=studio_account(payout.developer_id, Bucket.IN_PAYOUT),
            to=studio_account(payout.developer_id, to),
            occurred_at=at,
            memo={"payoutId": str(payout.payout_id), **memo},
        ),
    )
    return repo.settle_payout(session, payout.payout_id, **outcome)


def payout_completed(
    portal: PortalState, session: Session, data: payments.PayoutCompleted, event: Event
) -> None:
    _settle_payout(
        portal,
        session,
        data,
        kind=EntryKind.PAYOUT_COMPLETED,
        to=Bucket.PAID_OUT,
        at=data.completed_at,
        memo={"reference": data.reference},
        status=rules.PayoutStatus.COMPLETED,
        completed_at=data.completed_at,
        reference=data.reference,
    )


def payout_failed(portal: PortalState, session: Session, data: payments.PayoutFailed, event: Event) -> None:
    """The amount returns to available, and the studio hears of it (payout.failed)."""
    payout = _settle_payout(
        portal,
        session,
        data,
        kind=EntryKind.PAYOUT_FAILED,
        to=Bucket.AVAILABLE,
        at=data.failed_at,
        memo={"reason": data.reason},
        status=rules.PayoutStatus.FAILED,
        failed_at=data.failed_at,
        failure_reason=data.reason,
    )
    if payout is not None:
        emit(
            portal,
            session,
            events.PayoutFailed(
                payout_id=payout.payout_id,
                developer_id=payout.developer_id,
                amount=data.amount,
                reason=data.reason,
                failed_at=data.failed_at,
            ),
        )


def mark_processing(session: Session, actor: Actor, payout_id: uuid.UUID) -> dict[str, Any]:
    """The Payment Service has taken the payout on: ``requested`` → ``processing`` (again: the same
    answer; once completed or failed: 409 with the status)."""
    payout = repo.get_payout(session, payout_id, lock=True)
    if payout is None:
        raise Refusal("NOT_FOUND", "payout not found", {"payoutId": str(payout_id)})
    if rules.can_move(payout.status, rules.PayoutStatus.PROCESSING):
        before = payout_document(payout)
        payout = repo.settle_payout(session, payout_id, status=rules.PayoutStatus.PROCESSING)
        audit(
            session,
            actor,
            developer_id=payout.developer_id,
            action="payout.processing",
            entity_type="payout",
            entity_id=payout_id,
            before=before,
            after=payout_document(payout),
        )
    elif payout.status != rules.PayoutStatus.PROCESSING:
        raise Refusal("CONFLICT", f"the payout is {payout.status}", {"status": payout.status})
    return payout_document(payout)


def preview(
    portal: PortalState, session: Session, developer: Row, *, today: date | None = None
) -> dict[str, Any]:
    """What the next scheduled payout would be: when, how much per currency, what is held and
    until when, the threshold, and a negative balance carried forward."""
    today = today or datetime.now(UTC).date()
    settings = repo.get_settings(session, developer.developer_id)
    schedule = rules.Schedule(settings.schedule) if settings is not None else rules.Schedule.MANUAL
    threshold = _threshold(portal, settings)
    manual = schedule is rules.Schedule.MANUAL  # paid when the studio asks: nothing scheduled
    blockers = []
    if developer.verification_status != "verified":
        blockers.append("the studio is not verified")
    if settings is None:
        blockers.append("no payout method is set (PUT /finance/settings)")
    currencies = []
    for currency, amounts in balances(session, developer.developer_id).items():
        available = amounts[Bucket.AVAILABLE]
        amount = rules.scheduled_amount(available, threshold)
        currencies.append(
            {
                "currency": currency,
                "available": as_text(available, currency),
                "pending": as_text(amounts[Bucket.PENDING], currency),
                "inPayout": as_text(amounts[Bucket.IN_PAYOUT], currency),
                "nextPayout": None if amount is None or blockers or manual else as_text(amount, currency),
                "negativeCarry": as_text(-available, currency) if available < 0 else None,
                "belowThreshold": amount is None and available > 0,
            }
        )
    held = [
        {
            "gameId": str(row.game_id),
            "amount": {"amount": as_text(row.studio, row.currency), "currency": row.currency},
            "availableOn": format_timestamp(row.available_on),
            "reason": "held for the refund and chargeback window",
        }
        for row in repo.pending_lines(session, developer.developer_id)
    ]
    return {
        "schedule": schedule.value,
        "nextPayoutDate": _optional_date(rules.next_payout_date(schedule, today, portal.settings.payout_day)),
        "threshold": _decimal_text(threshold),
        "currencies": currencies,
        "held": held,
        "blockers": blockers,
        "negativeBalancePolicy": rules.NEGATIVE_BALANCE_POLICY,
    }


def make_scheduled_payouts(portal: PortalState, *, today: date | None = None) -> int:
    """On the payout day, pay every studio on the monthly schedule the whole available balance
    of each currency that reaches its threshold; once per studio, currency and day, whatever
    restarts."""
    today = today or datetime.now(UTC).date()
    if rules.next_payout_date(rules.Schedule.MONTHLY, today, portal.settings.payout_day) != today:
        return 0
    made = 0
    with portal.db.transaction() as session:
        studios = [
            row.developer_id for row in repo.studios_with_schedule(session, rules.Schedule.MONTHLY.value)
        ]
    for developer_id in studios:
        with portal.db.transaction() as session:
            developer = repository.get_developer(session, developer_id)
            settings = repo.get_settings(session, developer_id)
            for currency, amounts in balances(session, developer_id).items():
                scheduled_for = f"{currency}:{today.isoformat()}"
                amount = rules.scheduled_amount(amounts[Bucket.AVAILABLE], _threshold(portal, settings))
                if amount is None or repo.scheduled_payout_exists(session, developer_id, scheduled_for):
                    continue
                try:
                    with session.begin_nested():
                        request_payout(
                            portal,
                            session,
                            SCHEDULER,
                            developer,
                            amount,
                            currency,
                            scheduled_for=scheduled_for,
                        )
                    made += 1
                except Refusal as refusal:
                    log.info(
                        "scheduled payout skipped",
                        extra={"developerId": str(developer_id), "reason": refusal.message},
                    )
    return made


# --- settings and the platform's levers -----------------------------------------------------------


def settings_document(portal: PortalState, row: Row | None) -> dict[str, Any]:
    if row is None:
        return {
            "method": None,
            "details": None,
            "threshold": _decimal_text(portal.settings.payout_minimum),
            "minimumThreshold": _decimal_text(portal.settings.payout_minimum),
            "schedule": rules.Schedule.MANUAL.value,
            "complete": False,
            "updatedAt": None,
        }
    return {
        "method": row.method,
        "details": row.details_masked,
        "threshold": _decimal_text(max(row.threshold, portal.settings.payout_minimum)),
        "minimumThreshold": _decimal_text(portal.settings.payout_minimum),
        "schedule": row.schedule,
        "complete": True,
        "updatedAt": format_timestamp(row.updated_at),
    }


def update_settings(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer_id: uuid.UUID,
    *,
    method: rules.Method,
    details: dict[str, Any],
    threshold: Decimal | None,
    schedule: rules.Schedule,
) -> dict[str, Any]:
    """Store the payout method's details encrypted (shown masked from then on), the threshold
    (at least the platform's minimum) and the schedule. Audited with the masked details only."""
    clean = rules.check_details(method, details)
    threshold = portal.settings.payout_minimum if threshold is None else threshold
    if threshold < portal.settings.payout_minimum:
        raise Refusal(
            "VALIDATION_ERROR",
            f"the threshold cannot be below the platform's minimum payout, {portal.settings.payout_minimum}",
            {"fields": {"json": {"threshold": [f"at least {portal.settings.payout_minimum}"]}}},
        )
    before = repo.get_settings(session, developer_id)
    token = portal.settings.payout_details_cipher.encrypt(_canonical(clean))
    row = repo.upsert_settings(
        session,
        developer_id,
        method=method.value,
        details_encrypted=token.decode(),
        details_masked=rules.mask(clean),
        threshold=threshold,
        schedule=schedule.value,
        updated_by=actor.subject,
    )
    document = settings_document(portal, row)
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="payout_settings.updated",
        entity_type="payout_settings",
        entity_id=developer_id,
        before=None if before is None else settings_document(portal, before),
        after=document,
    )
    return document


def _optional_date(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _decimal_text(threshold: Decimal) -> str:
    """A threshold, which applies in every currency, with two decimals."""
    return str(threshold.quantize(Decimal("0.01")))


def _canonical(details: dict[str, str]) -> bytes:
    return json.dumps(details, sort_keys=True).encode()


def set_revenue_share(
    session: Session, actor: Actor, developer_id: uuid.UUID, tiers: Iterable[Tier]
) -> dict[str, Any]:
    """A platform admin's revenue share for one studio, for sales from now on (audited)."""
    before = [t.as_dict() for t in tiers_of(session, developer_id)]
    tiers = tuple(tiers)
    repo.set_tiers(session, developer_id, tiers, actor.subject)
    document = {"developerId": str(developer_id), "tiers": [t.as_dict() for t in tiers], "default": False}
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="revenue_share.updated",
        entity_type="revenue_share",
        entity_id=developer_id,
        before={"tiers": before},
        after=document,
    )
    return document


def revenue_share_document(session: Session, developer_id: uuid.UUID) -> dict[str, Any]:
    tiers = repo.get_tiers(session, developer_id)
    return {
        "developerId": str(developer_id),
        "tiers": [t.as_dict() for t in (tiers or DEFAULT_TIERS)],
        "default": tiers is None,
    }


def adjust(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer_id: uuid.UUID,
    *,
    amount: Decimal,
    currency: str,
    reason: str,
) -> dict[str, Any]:
    """A platform admin's correction of a studio's available balance (positive: credit), with a
    reason; an entry like any other, audited."""
    entry = move(
        developer_id,
        EntryKind.ADJUSTMENT,
        f"adjustment:{uuid.uuid4()}",
        amount,
        currency,
        source=PLATFORM_ADJUSTMENTS,
        to=studio_account(developer_id, Bucket.AVAILABLE),
        occurred_at=datetime.now(UTC),
        memo={"reason": reason, "by": actor.subject},
    )
    post(portal, session, entry)
    row = ledger.entry_by_source(session, entry.source_id)
    [document] = entry_documents(session, developer_id, [row])
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="ledger.adjusted",
        entity_type="ledger_entry",
        entity_id=entry.entry_id,
        before=None,
        after=document,
    )
    return document
