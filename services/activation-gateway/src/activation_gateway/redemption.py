"""Redemption as the service runs it: the domain's checks in issue 6's order, with the calls to
key-manager, antifraud and Redis, and the activation record + its event in the caller's
transaction. Used by the views (redeem, validate) and the worker (case decisions, re-assessment).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func
from sqlalchemy.orm import Session

from activation_gateway import events
from activation_gateway.clients import KeyManagerRefusal
from activation_gateway.context import Gateway
from activation_gateway.db import repository as repo
from activation_gateway.domain import blocks, keyformat
from activation_gateway.domain.lockout import (
    Identities,
    LockedOut,
    LockoutRule,
    RuleState,
    counts_as_failed_attempt,
    verdict,
)
from activation_gateway.domain.redemption import (
    FraudAction,
    Refusal,
    Status,
    account_refusal,
    fraud_decision,
    fraud_refusal,
    key_state_refusal,
    redemption_result,
)
from activation_gateway.domain.regions import RegionPolicy, RegionVerdict, evaluate_region
from gamekeys_platform.contracts import antifraud
from gamekeys_platform.errors import STATUS_BY_CODE, ApiError, error_body, service_unavailable
from gamekeys_platform.ratelimit import Limit, RateLimitResult

log = logging.getLogger("activation_gateway.redemption")

ACTIVATION_NAMESPACE = uuid.UUID("6f1c3f0e-3c57-4d55-9a53-0d4f6b1f7a10")


@dataclass(frozen=True)
class Attempt:
    user_id: str
    key_text: str
    user_region: str
    device_fingerprint: str
    platform: str | None
    ip: str
    activation_id: uuid.UUID
    # True when the id was derived from an Idempotency-Key (it may have been used before).
    derived_id: bool = False
    # From the user token's claim when present (antifraud's account-age feature).
    account_created_at: datetime | None = None

    @property
    def identities(self) -> Identities:
        return Identities(self.user_id, self.ip, self.device_fingerprint)

    @property
    def analysis_key(self) -> str | None:
        """Antifraud's Idempotency-Key: only a derived id can come again (a random one never does)."""
        return f"analyze:{self.activation_id}" if self.derived_id else None


def activation_id_for(user_id: str, idempotency_key: str | None) -> uuid.UUID:
    """A retry with the same Idempotency-Key gets the same activation id, so key-manager's
    activation (idempotent by activationId) and the key hold are never done twice."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(ACTIVATION_NAMESPACE, f"{user_id}\n{idempotency_key}")


@dataclass(frozen=True)
class Outcome:
    http_status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None

    @property
    def failed_attempt(self) -> bool:
        """A refusal a guesser gets (counts toward the lockout)."""
        return counts_as_failed_attempt((self.body.get("error") or {}).get("code"))


# ------------------------------------------------------------------------- brute-force lockout


def _limits(gw: Gateway, identities: Identities) -> list[tuple[LockoutRule, Limit]]:
    """Each lockout rule with the caller's identity in its dimension (a missing device has none)."""
    return [
        (rule, Limit(rule.name, identity, rule.limit, rule.window_seconds))
        for rule in gw.lockout_rules
        if (identity := identities.of(rule.dimension)) is not None
    ]


def _states(limits: list[tuple[LockoutRule, Limit]], results: list[RateLimitResult]) -> list[RuleState]:
    return [
        RuleState(rule, limit.identity, not result.allowed, result.remaining, result.retry_after)
        for (rule, limit), result in zip(limits, results, strict=True)
    ]


def lockout_states(gw: Gateway, identities: Identities) -> list[RuleState]:
    limits = _limits(gw, identities)
    return _states(limits, gw.limiter.peek_all([limit for _, limit in limits]))


def record_failed_attempt(gw: Gateway, identities: Identities) -> None:
    gw.limiter.hit_all([limit for _, limit in _limits(gw, identities)])


@dataclass
class AttemptReservation:
    """The attempt counted as a failure up front in every rule (``reserve_attempt``)."""

    hits: list[tuple[str, str, RateLimitResult]]

    def release(self, gw: Gateway) -> None:
        """The attempt did not fail in a way that counts: take it back."""
        gw.limiter.undo_all(self.hits)
        self.hits = []


def reserve_attempt(gw: Gateway, identities: Identities) -> AttemptReservation:
    """Step 2, check and count in one step: the attempt takes a place in every lockout window
    now (429 RATE_LIMITED with Retry-After if any window is full) and gives it back once it turns
    out not to be a counted failure. A peek now and a hit after the key look-up would let a burst
    of concurrent guesses all pass the peek and overshoot the limit. Raises ``LockedOut``."""
    limits = _limits(gw, identities)
    results = gw.limiter.hit_all([limit for _, limit in limits])
    reservation = AttemptReservation(
        [(limit.name, limit.identity, result) for (_, limit), result in zip(limits, results, strict=True)]
    )
    locked = verdict(_states(limits, results))
    if locked.locked:
        reservation.release(gw)
        raise LockedOut(locked)
    return reservation


# ----------------------------------------------------------------------------- region check


def check_region(
    gw: Gateway, identities: Identities, *, key_text: str | None, key_id: str | None, user_region: str
) -> RegionVerdict:
    """checkRegionalRestrictions for the caller's address. Its answer tells whether a key exists,
    so it is one more redemption attempt for the lockout: refused while locked out, and the
    answers a guesser gets (malformed, not found, revoked, expired, activated) count as failures.
    Raises ApiError (INVALID_KEY_FORMAT, KEY_NOT_FOUND, RATE_LIMITED)."""
    ref = {"key_id": key_id}
    if key_text is not None:
        try:
            ref = {"key": keyformat.normalize(key_text)}
        except keyformat.InvalidKeyFormat as exc:
            record_failed_attempt(gw, identities)
            raise ApiError("INVALID_KEY_FORMAT", str(exc)) from None
    try:
        reservation = reserve_attempt(gw, identities)
    except LockedOut as exc:
        raise ApiError("RATE_LIMITED", str(exc), exc.verdict.details, headers=exc.headers) from None
    failed = False
    try:
        try:
            key = gw.key_manager.lookup(**ref)
        except KeyManagerRefusal as exc:
            if exc.code != "KEY_NOT_FOUND":
                raise ApiError("EXTERNAL_SERVICE_ERROR", "key-manager refused the look-up") from exc
            failed = True
            raise ApiError("KEY_NOT_FOUND", "key not found") from None
        state = key_state_refusal(key)
        failed = state is not None and counts_as_failed_attempt(state.code)
        info = gw.ip_ranges.lookup(identities.ip)
        return evaluate_region(
            key.get("regionalRestrictions"),
            user_region=user_region,
            ip_country=info.country,
            ip_is_vpn=info.vpn,
            ip_is_datacenter=info.datacenter,
        )
    finally:
        if not failed:
            reservation.release(gw)


# ------------------------------------------------------------------------------- redemption


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
    if status is not Status.PENDING_REVIEW:
        values.setdefault("completed_at", func.now())
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
) -> Outcome:
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
    error = error_body(refusal.code, refusal.message, refusal.details)["error"]
    body = redemption_result(
        status,
        str(attempt.activation_id),
        game_id=key and key.get("gameId"),
        key_id=key and key.get("keyId"),
        error=error,
    )
    return Outcome(STATUS_BY_CODE[refusal.code], body)


def _replayed(row: Row) -> Outcome:
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    status = Status(row.status)
    error = None
    http_status = {Status.ACTIVATED: 200, Status.PENDING_REVIEW: 202}.get(status)
    if http_status is None:
        http_status = STATUS_BY_CODE.get(row.error_code or "", 409)
        error = error_body(row.error_code or "CONFLICT", "this redemption was refused", row.error_details)[
            "error"
        ]
    body = redemption_result(
        status, str(row.id), game_id=text(row.game_id), key_id=text(row.key_id), error=error
    )
    return Outcome(http_status, body)


def _analysis_request(attempt: Attempt, key: dict | None, ip: str, outcome: str) -> dict[str, Any]:
    policy = RegionPolicy.from_restrictions(key.get("regionalRestrictions") if key else None)
    context: dict[str, Any] = {
        "ipAddress": ip,
        "userRegion": attempt.user_region,
        "keyRegions": sorted(policy.allowed),
        "keyOutcome": outcome,
    }
    if attempt.platform:
        context["platform"] = attempt.platform[:64]
    if attempt.account_created_at is not None:
        context["accountCreatedAt"] = attempt.account_created_at.isoformat()
    if key:
        for field in ("gameId", "batchId", "retailerId", "keyType", "soldAt"):
            if key.get(field):
                context[field] = key[field]
    else:
        context["keyFingerprint"] = keyformat.fingerprint(attempt.key_text)
    return {
        "keyId": key.get("keyId") if key else None,
        "userId": attempt.user_id,
        "activationId": str(attempt.activation_id),
        "activationContext": context,
        "deviceFingerprint": attempt.device_fingerprint,
    }


def _dry(valid: bool, refusal: Refusal | None = None, key: dict | None = None) -> Outcome:
    """The answer of ``POST /validate``."""
    error = error_body(refusal.code, refusal.message, refusal.details)["error"] if refusal else None
    return Outcome(
        200,
        {
            "valid": valid,
            "keyId": key and key.get("keyId"),
            "gameId": key and key.get("gameId"),
            "error": error,
        },
    )


def account_block(gw: Gateway, identities: Identities) -> Refusal | None:
    """ACCOUNT_BLOCKED from the in-memory snapshot of antifraud's blocks in force, or None."""
    return blocks.refusal(gw.block_list.matching(blocks.wanted(identities)))


def redeem(gw: Gateway, session: Session, attempt: Attempt, *, dry_run: bool = False) -> Outcome:
    """Every check in order; for a dry run (``POST /validate``) nothing is written, held or
    activated (failed attempts still count toward the lockout) and antifraud is not asked."""
    tid = str(attempt.activation_id)

    # 1. format and check character: no key-manager call.
    try:
        canonical = keyformat.normalize(attempt.key_text)
    except keyformat.InvalidKeyFormat as exc:
        refusal = Refusal("INVALID_KEY_FORMAT", str(exc), {})
        record_failed_attempt(gw, attempt.identities)
        if dry_run:
            return _dry(False, refusal)
        error = error_body(refusal.code, refusal.message)["error"]
        return Outcome(400, redemption_result(Status.FAILED, tid, error=error))

    # The same activation id (an Idempotency-Key reused after its 24 h) answers what it did.
    # Only then: a request without one must not hold a database connection during its calls.
    if attempt.derived_id and not dry_run and (earlier := repo.get(session, attempt.activation_id)):
        return _replayed(earlier)

    # 2. brute-force lockout (429 with Retry-After), counted now and given back unless the
    # attempt ends as a counted failure; then the block list (403 ACCOUNT_BLOCKED, no row:
    # refused before the key is known, like a lockout).
    try:
        reservation = reserve_attempt(gw, attempt.identities)
    except LockedOut as exc:
        refusal = Refusal("RATE_LIMITED", str(exc), exc.verdict.details)
        if dry_run:
            return replace(_dry(False, refusal), http_status=429, headers=exc.headers)
        error = error_body(refusal.code, refusal.message, refusal.details)["error"]
        return Outcome(429, redemption_result(Status.FAILED, tid, error=error), exc.headers)
    outcome = None
    try:
        blocked = account_block(gw, attempt.identities)
        if blocked is not None:
            if dry_run:
                return _dry(False, blocked)
            error = error_body(blocked.code, blocked.message, blocked.details)["error"]
            return Outcome(403, redemption_result(Status.BLOCKED, tid, error=error))
        outcome = _checked(gw, session, attempt, canonical, dry_run=dry_run)
        return outcome
    finally:
        if outcome is None or not outcome.failed_attempt:
            reservation.release(gw)


def _checked(gw: Gateway, session: Session, attempt: Attempt, canonical: str, *, dry_run: bool) -> Outcome:
    """Steps 3 to 7, once the attempt passed the format, lockout and block list."""
    tid = str(attempt.activation_id)
    # 3. the key itself.
    ip_info = gw.ip_ranges.lookup(attempt.ip)
    try:
        key = gw.key_manager.lookup(key=canonical)
    except KeyManagerRefusal as exc:
        if exc.code != "KEY_NOT_FOUND":
            raise ApiError("EXTERNAL_SERVICE_ERROR", "key-manager refused the look-up") from exc
        refusal = Refusal("KEY_NOT_FOUND", "key not found", {})
        if dry_run:
            return _dry(False, refusal)
        # Antifraud counts the miss on the request path (key-space enumeration); best effort.
        gw.antifraud.analyze(
            _analysis_request(attempt, None, attempt.ip, "not_found"), idempotency_key=attempt.analysis_key
        )
        return _refused(
            gw,
            session,
            attempt,
            refusal,
            key=None,
            ip_country=ip_info.country,
            key_fingerprint=keyformat.fingerprint(attempt.key_text),
        )
    refusal = key_state_refusal(key)
    if refusal is not None:
        if dry_run:
            return _dry(False, refusal, key)
        if refusal.code == "CONFLICT":
            mine = repo.find_pending(session, key_id=uuid.UUID(str(key["keyId"])), user_id=attempt.user_id)
            if mine is not None:  # the player asks again while their own review is open
                body = redemption_result(
                    Status.PENDING_REVIEW, str(mine.id), game_id=key.get("gameId"), key_id=key.get("keyId")
                )
                return Outcome(202, body)
        return _refused(gw, session, attempt, refusal, key=key, ip_country=ip_info.country)

    # 4. region and anonymous networks.
    region = evaluate_region(
        key.get("regionalRestrictions"),
        user_region=attempt.user_region,
        ip_country=ip_info.country,
        ip_is_vpn=ip_info.vpn,
        ip_is_datacenter=ip_info.datacenter,
    )
    if not region.allowed:
        refusal = Refusal(region.code, region.message, region.details)
        if dry_run:
            return _dry(False, refusal, key)
        return _refused(gw, session, attempt, refusal, key=key, ip_country=ip_info.country)
    # 5. account restrictions: the platform User Service when configured (its own short timeout;
    # unavailable → go on, antifraud's block list and score still apply).
    if gw.user_service is not None:
        account = gw.user_service.account(attempt.user_id)
        refusal = account_refusal(account)
        if refusal is not None:
            if dry_run:
                return _dry(False, refusal, key)
            return _refused(
                gw, session, attempt, refusal, key=key, ip_country=ip_info.country, status=Status.BLOCKED
            )
        if account is not None and attempt.account_created_at is None and account.created_at:
            attempt = replace(attempt, account_created_at=account.created_at)
    if dry_run:
        return _dry(True, None, key)

    # 5-6. antifraud's block lists and fraud score (short timeout, documented policy).
    score = gw.antifraud.analyze(
        _analysis_request(attempt, key, attempt.ip, "valid"), idempotency_key=attempt.analysis_key
    )
    decision = fraud_decision(score, gw.settings.antifraud_unavailable_policy)
    if decision is None:
        raise service_unavailable("fraud checks are unavailable, retry later")
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
            return _refused(gw, session, attempt, exc.refusal, key=key, ip_country=ip_info.country)
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
        body = redemption_result(
            Status.PENDING_REVIEW, tid, game_id=key.get("gameId"), key_id=key.get("keyId")
        )
        return Outcome(202, body)

    # 7. exactly-once activation in key-manager, then our record and event in this transaction.
    try:
        gw.key_manager.activate(
            key["keyId"], user_id=attempt.user_id, activation_id=tid, user_region=attempt.user_region
        )
    except KeyManagerRefusal as exc:
        return _refused(
            gw, session, attempt, exc.refusal, key=key, ip_country=ip_info.country, **fraud_values
        )
    _record(gw, session, attempt, Status.ACTIVATED, key=key, ip_country=ip_info.country, **fraud_values)
    return Outcome(
        200, redemption_result(Status.ACTIVATED, tid, game_id=key.get("gameId"), key_id=key.get("keyId"))
    )


# ------------------------------------------------------------------- pending reviews (worker)


def _finish(gw: Gateway, session: Session, row: Row, status: Status, **values: Any) -> Row:
    updated = repo.set_status(session, row.id, status.value, **values)
    gw.outbox.add(session, events.activation_event(updated))
    return updated


def complete_review(gw: Gateway, session: Session, row: Row, **values: Any) -> Row:
    """Activate a held key with its hold id; a key that cannot be activated any more fails."""
    try:
        gw.key_manager.activate(
            row.key_id,
            user_id=row.user_id,
            activation_id=str(row.id),
            user_region=row.user_region,
            hold_id=str(row.id),
        )
    except KeyManagerRefusal as exc:
        return _finish(
            gw, session, row, Status.FAILED, error_code=exc.code, error_details=exc.details, **values
        )
    return _finish(gw, session, row, Status.ACTIVATED, **values)


def reject_review(
    gw: Gateway, session: Session, row: Row, *, status: Status, code: str, **values: Any
) -> Row:
    """Release the hold (the key goes back to where it was) and close the activation."""
    try:
        gw.key_manager.release(row.key_id, str(row.id), reason=f"activation {row.id} {status.value}")
    except KeyManagerRefusal as exc:  # no longer held with our hold id (revoked meanwhile): nothing to undo
        log.info("release of %s refused: %s", row.key_id, exc.code)
    return _finish(gw, session, row, status, error_code=code, **values)


def apply_case_decision(gw: Gateway, session: Session, data: antifraud.CaseDecided) -> Row | None:
    """``fraud.case_decided`` → complete or reject the pending activation it belongs to
    (matched by ``activationId``, else ``keyId`` + ``userId``)."""
    row = None
    activation_id = _uuid_or_none(data.activation_id)
    if activation_id is not None:
        row = repo.get(session, activation_id, for_update=True)
    if row is None and data.key_id is not None:
        row = repo.find_pending(session, key_id=data.key_id, user_id=data.user_id)
    if row is None or row.status != Status.PENDING_REVIEW.value:
        return None  # not ours, or decided already (a redelivery the inbox did not catch)
    if data.decision == "approve":
        return complete_review(gw, session, row, case_id=data.case_id)
    return reject_review(
        gw, session, row, status=Status.REJECTED, code="FRAUD_DETECTED", case_id=data.case_id
    )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    """An activation id as the gateway mints them; other callers of antifraud may send others."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def reassess_holds(gw: Gateway, *, limit: int = 50) -> dict[str, int]:
    """Holds made while antifraud was unavailable: ask again now. ALLOW completes, REVIEW
    waits for the case now opened, BLOCK rejects; still unavailable: try again next time."""
    counts = {"activated": 0, "review": 0, "blocked": 0, "unavailable": 0}
    with gw.db.transaction() as session:
        rows = repo.unassessed_holds(
            session, older_than_seconds=gw.settings.reassess_after_seconds, limit=limit
        )
        for row in rows:
            key = {
                "keyId": str(row.key_id),
                "gameId": _s(row.game_id),
                "batchId": _s(row.batch_id),
                "keyType": row.key_type,
            }
            attempt = Attempt(
                row.user_id, "", row.user_region, row.device_fingerprint, row.platform, row.ip_address, row.id
            )
            body = _analysis_request(attempt, key, row.ip_address, "valid")
            # The worker may stop after antifraud answered and before this commits: ask again
            # with the same key and get the same score.
            score = gw.antifraud.analyze(body, idempotency_key=f"analyze:{row.id}:reassess")
            if score is None:
                counts["unavailable"] += 1
                repo.set_status(session, row.id, Status.PENDING_REVIEW.value)  # next try after the delay
                continue
            decision = fraud_decision(score, gw.settings.antifraud_unavailable_policy)
            values = {
                "assessment_id": decision.assessment_id,
                "case_id": decision.case_id,
                "risk_score": decision.score,
            }
            if decision.action is FraudAction.ALLOW:
                complete_review(gw, session, row, **values)
                counts["activated"] += 1
            elif decision.action is FraudAction.REVIEW:
                repo.set_status(
                    session, row.id, Status.PENDING_REVIEW.value, review_reason="antifraud_review", **values
                )
                counts["review"] += 1
            else:
                code = fraud_refusal(decision).code
                reject_review(gw, session, row, status=Status.BLOCKED, code=code, **values)
                counts["blocked"] += 1
    return counts


def _s(value: Any) -> str | None:
    return None if value is None else str(value)
