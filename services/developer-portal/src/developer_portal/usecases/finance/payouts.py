"""Payouts: a studio's request, the Payment Service's answers (processing, completed,
failed), the preview of the next scheduled payout, the scheduled payouts themselves, and the
payout settings."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from developer_portal.context import PortalState
from developer_portal.db import finance as repo
from developer_portal.db import ledger, repository
from developer_portal.domain import payouts as rules
from developer_portal.domain.ledger import (
    Bucket,
    EntryKind,
    move,
    studio_account,
)
from developer_portal.usecases.common import Actor, audit, emit
from developer_portal.usecases.finance.entries import balances, post
from gamekeys_platform.contracts import ContractViolation, payments
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.currencies import format_amount
from gamekeys_platform.errors import format_optional_timestamp, format_timestamp
from gamekeys_platform.events import Event
from gamekeys_platform.refusals import Refusal

log = logging.getLogger("developer_portal.finance.payouts")

SCHEDULER = Actor("developer-portal.payout-scheduler", is_service=True)


def payout_document(row: Row) -> dict[str, Any]:
    return {
        "payoutId": str(row.payout_id),
        "amount": {"amount": format_amount(row.amount, row.currency), "currency": row.currency},
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
                "available": format_amount(available, currency),
                "pending": format_amount(amounts[Bucket.PENDING], currency),
                "inPayout": format_amount(amounts[Bucket.IN_PAYOUT], currency),
                "nextPayout": None
                if amount is None or blockers or manual
                else format_amount(amount, currency),
                "negativeCarry": format_amount(-available, currency) if available < 0 else None,
                "belowThreshold": amount is None and available > 0,
            }
        )
    held = [
        {
            "gameId": str(row.game_id),
            "amount": {"amount": format_amount(row.studio, row.currency), "currency": row.currency},
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
