"""The redemption use case: the checks in the README's order, the calls to key-manager and
antifraud, and the activation record with its event in the caller's transaction. Each check
answers the first refusal as a value; the answer is a ``Redemption`` from which the route picks
the HTTP status and builds the RedemptionResult."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from activation_gateway import events
from activation_gateway.clients import KeyManagerRefusal
from activation_gateway.context import Gateway
from activation_gateway.db import repository as repo
from activation_gateway.domain import keyformat
from activation_gateway.domain.lockout import LockedOut, counts_as_failed_attempt
from activation_gateway.domain.redemption import (
    Attempt,
    FraudAction,
    FraudChecksUnavailable,
    Refusal,
    Status,
    analysis_request,
    fraud_decision,
    fraud_refusal,
    key_state_refusal,
)
from activation_gateway.usecases import checks
from activation_gateway.usecases.lockout import reserve_attempt


@dataclass(frozen=True)
class Redemption:
    """What a redemption came to: the record's status, its transaction id, the key once known,
    and the refusal (None when activated or pending review)."""

    status: Status
    transaction_id: str
    game_id: Any = None
    key_id: Any = None
    refusal: Refusal | None = None

    @property
    def failed_attempt(self) -> bool:
        """A refusal a guesser gets (counts toward the lockout)."""
        return self.refusal is not None and counts_as_failed_attempt(self.refusal.code)


def redeem(gw: Gateway, session: Session, attempt: Attempt) -> Redemption:
    """Every check in order, then key-manager's exactly-once activation (or a hold for review).
    Refusals after the key look-up are recorded (row + activation.failed/blocked event) in
    ``session``; the format, lockout and block-list refusals before it leave nothing.
    Raises ``FraudChecksUnavailable`` (antifraud down under the ``reject`` policy) and
    EXTERNAL_SERVICE_ERROR refusals (key-manager refusing our call)."""
    tid = str(attempt.activation_id)

    # 1. format and check character: no key-manager call.
    canonical = checks.key_format(gw, attempt.identities, attempt.key_text)
    if isinstance(canonical, Refusal):
        return Redemption(Status.FAILED, tid, refusal=canonical)

    # The same activation id (an Idempotency-Key reused after its 24 h) answers what it did.
    # Only then: a request without one must not hold a database connection during its calls.
    if attempt.derived_id and (earlier := repo.get(session, attempt.activation_id)):
        return replayed(earlier)

    # 2. brute-force lockout (RATE_LIMITED with Retry-After), counted now and given back unless
    # the attempt ends as a counted failure; then the block list (ACCOUNT_BLOCKED, no row:
    # refused before the key is known, like a lockout).
    try:
        reservation = reserve_attempt(gw, attempt.identities)
    except LockedOut as locked:
        return Redemption(Status.FAILED, tid, refusal=locked)
    result = None
    try:
        blocked = checks.account_block(gw, attempt.identities)
        if blocked is not None:
            result = Redemption(Status.BLOCKED, tid, refusal=blocked)
        else:
            result = _checked(gw, session, attempt, canonical)
        return result
    finally:
        if result is None or not result.failed_attempt:
            reservation.release(gw)


def _checked(gw: Gateway, session: Session, attempt: Attempt, canonical: str) -> Redemption:
    """Steps 3 to 7, once the attempt passed the format, lockout and block list."""
    tid = str(attempt.activation_id)
    # 3. the key itself.
    ip_info = gw.geoip.lookup(attempt.ip)
    key = checks.look_up(gw, key=canonical)
    if key is None:
        # Antifraud counts the miss on the request path (key-space enumeration); best effort.
        gw.antifraud.analyze(
            analysis_request(attempt, None, "not_found"), idempotency_key=attempt.analysis_key
        )
        return _refused(
            gw,
            session,
            attempt,
            Refusal("KEY_NOT_FOUND", "key not found"),
            key=None,
            ip_country=ip_info.country,
            key_fingerprint=keyformat.fingerprint(attempt.key_text),
        )
    refusal = key_state_refusal(key)
    if refusal is not None:
        if refusal.code == "CONFLICT":
            mine = repo.find_pending(session, key_id=uuid.UUID(str(key["keyId"])), user_id=attempt.user_id)
            if mine is not None:  # the player asks again while their own review is open
                return Redemption(
                    Status.PENDING_REVIEW, str(mine.id), game_id=key.get("gameId"), key_id=key.get("keyId")
                )
        return _refused(gw, session, attempt, refusal, key=key, ip_country=ip_info.country)

    # 4. region and anonymous networks.
    refusal = checks.region_refusal(key, attempt.user_region, ip_info)
    if refusal is not None:
        return _refused(gw, session, attempt, refusal, key=key, ip_country=ip_info.country)
    # 5. account restrictions: the platform User Service when configured.
    refusal, attempt = checks.account_check(gw, attempt)
    if refusal is not None:
        return _refused(
            gw, session, attempt, refusal, key=key, ip_country=ip_info.country, status=Status.BLOCKED
        )

    # 5-6. antifraud's block lists and fraud score (short timeout, documented policy).
    score = gw.antifraud.analyze(
        analysis_request(attempt, key, "valid"), idempotency_key=attempt.analysis_key
    )
    decision = fraud_decision(score, gw.settings.antifraud_unavailable_policy)
    if decision is None:
        raise FraudChecksUnavailable()
    fraud_values = {
        "assessment_id": decision.assessment_id,
        "case_id": decision.case_id,
        "risk_score": decision.score,
    }
    if decision.action in (FraudAction.BLOCK, FraudAction.ACCOUNT_BLOCKED):
        return _refused(
            gw,
            session,
            attempt,
            fraud_refusal(decision),
            key=key,
            ip_country=ip_info.country,
            status=Status.BLOCKED,
            **fraud_values,
        )
    if decision.action is FraudAction.REVIEW:
        try:
            gw.key_manager.hold(key["keyId"], tid, reason=f"fraud review of activation {tid}")
        except KeyManagerRefusal as exc:
            return _refused(gw, session, attempt, exc, key=key, ip_country=ip_info.country)
        _record(
            gw,
            session,
            attempt,
            Status.PENDING_REVIEW,
            key=key,
            ip_country=ip_info.country,
            review_reason=decision.review_reason,
            **fraud_values,
        )
        return Redemption(Status.PENDING_REVIEW, tid, game_id=key.get("gameId"), key_id=key.get("keyId"))

    # 7. exactly-once activation in key-manager, then our record and event in this transaction.
    try:
        gw.key_manager.activate(
            key["keyId"], user_id=attempt.user_id, activation_id=tid, user_region=attempt.user_region
        )
    except KeyManagerRefusal as exc:
        return _refused(gw, session, attempt, exc, key=key, ip_country=ip_info.country, **fraud_values)
    _record(gw, session, attempt, Status.ACTIVATED, key=key, ip_country=ip_info.country, **fraud_values)
    return Redemption(Status.ACTIVATED, tid, game_id=key.get("gameId"), key_id=key.get("keyId"))


def _record(
    gw: Gateway,
    session: Session,
    attempt: Attempt,
    status: Status,
    *,
    key: dict | None,
    ip_country: str,
    **values: Any,
) -> Row:
    """The activation record and its activation.* event, in the caller's transaction."""
    if status is not Status.PENDING_REVIEW:
        values.setdefault("completed_at", datetime.now(UTC))
    row = repo.add(
        session,
        {
            "id": attempt.activation_id,
            "user_id": attempt.user_id,
            "status": status.value,
            "key_id": key and key.get("keyId"),
            "game_id": key and key.get("gameId"),
            "batch_id": key and key.get("batchId"),
            "developer_id": key and key.get("developerId"),
            "key_type": key and key.get("keyType"),
            "user_region": attempt.user_region,
            "ip_address": attempt.ip,
            "ip_country": ip_country or None,
            "device_fingerprint": attempt.device_fingerprint,
            "platform": attempt.platform,
            **values,
        },
    )
    gw.outbox.add(session, events.activation_event(row))
    return row


def _refused(
    gw: Gateway,
    session: Session,
    attempt: Attempt,
    refusal: Refusal,
    *,
    key: dict | None,
    ip_country: str,
    status: Status = Status.FAILED,
    **values: Any,
) -> Redemption:
    """A refusal once the key is asked for: recorded, with its event."""
    _record(
        gw,
        session,
        attempt,
        status,
        key=key,
        ip_country=ip_country,
        error_code=refusal.code,
        error_details=refusal.details,
        **values,
    )
    return Redemption(
        status,
        str(attempt.activation_id),
        game_id=key and key.get("gameId"),
        key_id=key and key.get("keyId"),
        refusal=refusal,
    )


def replayed(row: Row) -> Redemption:
    """An earlier redemption with the same activation id, answered as it was."""

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    status = Status(row.status)
    refusal = None
    if status not in (Status.ACTIVATED, Status.PENDING_REVIEW):
        refusal = Refusal(row.error_code or "CONFLICT", "this redemption was refused", row.error_details)
    return Redemption(
        status, str(row.id), game_id=text(row.game_id), key_id=text(row.key_id), refusal=refusal
    )
