"""The redemption decision as plain data: what a key-manager look-up, an antifraud score or
an outage means for the player, and the RedemptionResult they get back.

Order of checks (issue 6): format → lockout → key state → region / VPN → account block and
fraud (antifraud) → exactly-once activation. Each function here answers one step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Status of an activation record (and the ``status`` of a RedemptionResult)."""

    ACTIVATED = "activated"
    PENDING_REVIEW = "pending_review"
    FAILED = "failed"  # refused by a check (key state, region, lockout-counted failures)
    BLOCKED = "blocked"  # refused by antifraud (FRAUD_DETECTED, ACCOUNT_BLOCKED)
    REJECTED = "rejected"  # a pending review that support rejected


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    details: dict[str, Any]


def key_state_refusal(key: dict[str, Any]) -> Refusal | None:
    """Step 3: key-manager's look-up result → why the key cannot be redeemed, or None."""
    status = key.get("status")
    details = {"keyId": str(key.get("keyId")), "status": status}
    if status == "activated":
        return Refusal("KEY_ALREADY_ACTIVATED", "the key has been activated already", details)
    if status == "revoked":
        return Refusal("KEY_REVOKED", "the key has been revoked", details)
    if status == "expired" or key.get("expired"):
        return Refusal("KEY_EXPIRED", "the key has expired", details)
    if status == "pending_review":
        return Refusal("CONFLICT", "the key is held for a fraud review", details)
    return None


@dataclass(frozen=True)
class Account:
    """The platform User Service's answer about the player's account."""

    found: bool
    status: str | None = None
    created_at: datetime | None = None


ACTIVE_ACCOUNT_STATUS = "active"


def account_refusal(account: Account | None) -> Refusal | None:
    """Step 5, the User Service (when configured): an account that does not exist or is not
    active (suspended, banned, closed, ...) → ACCOUNT_BLOCKED. ``None`` (not configured, or
    unavailable) refuses nothing: the documented fallback is to go on to antifraud."""
    if account is None:
        return None
    if not account.found:
        return Refusal("ACCOUNT_BLOCKED", "this account cannot redeem keys", {"accountStatus": "not_found"})
    if account.status != ACTIVE_ACCOUNT_STATUS:
        return Refusal(
            "ACCOUNT_BLOCKED", "this account cannot redeem keys", {"accountStatus": account.status}
        )
    return None


def parse_account_created_at(value: Any) -> datetime | None:
    """An account creation time from a token claim or the User Service: a JWT NumericDate
    (seconds since the epoch) or an ISO 8601 time with its offset; anything else is ignored
    (the token is the platform's, and account age is only a fraud feature)."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            return moment.astimezone(UTC) if moment.tzinfo else None
    except (ValueError, OverflowError, OSError):
        return None
    return None


class FraudAction(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"
    ACCOUNT_BLOCKED = "account_blocked"


class UnavailablePolicy(StrEnum):
    """What a redemption does when antifraud cannot answer. Never a silent pass."""

    HOLD = "hold"  # hold the key, 202 pending_review; the worker re-assesses later (default)
    REJECT = "reject"  # 503 SERVICE_UNAVAILABLE, nothing happens, the player retries


BLOCK_LIST_RULE = "block-listed"


@dataclass(frozen=True)
class FraudDecision:
    action: FraudAction
    review_reason: str | None = None  # antifraud_review | antifraud_unavailable
    assessment_id: str | None = None
    case_id: str | None = None
    score: int | None = None


def fraud_decision(score: dict[str, Any] | None, policy: UnavailablePolicy) -> FraudDecision | None:
    """Step 5/6: antifraud's FraudScore (None: antifraud unavailable) → what to do.
    Returns None when the policy says to refuse the redemption for now (503)."""
    if score is None:
        if UnavailablePolicy(policy) is UnavailablePolicy.HOLD:
            return FraudDecision(FraudAction.REVIEW, review_reason="antifraud_unavailable")
        return None
    common = {
        "assessment_id": score.get("assessmentId"),
        "case_id": score.get("caseId"),
        "score": score.get("score"),
    }
    action = score.get("recommendedAction")
    if action == "BLOCK":
        rules = {hit.get("id") for hit in score.get("rulesHit") or () if not hit.get("shadow")}
        if BLOCK_LIST_RULE in rules:
            return FraudDecision(FraudAction.ACCOUNT_BLOCKED, **common)
        return FraudDecision(FraudAction.BLOCK, **common)
    if action == "REVIEW":
        return FraudDecision(FraudAction.REVIEW, review_reason="antifraud_review", **common)
    return FraudDecision(FraudAction.ALLOW, **common)


def fraud_refusal(decision: FraudDecision) -> Refusal:
    details = {"assessmentId": decision.assessment_id, "riskScore": decision.score}
    if decision.action is FraudAction.ACCOUNT_BLOCKED:
        return Refusal("ACCOUNT_BLOCKED", "this account cannot redeem keys", details)
    return Refusal("FRAUD_DETECTED", "the redemption was refused by fraud checks", details)


def redemption_result(
    status: Status,
    transaction_id: str,
    *,
    game_id: str | None = None,
    key_id: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The seed's RedemptionResult plus ``status`` (and ``keyId`` once known). A refusal's
    ``error`` is §3's error object, so the body is both a RedemptionResult and an error body."""
    return {
        "success": status is Status.ACTIVATED,
        "status": status.value,
        "transactionId": transaction_id,
        "gameId": game_id,
        "keyId": key_id,
        "error": error,
    }
