"""The redemption decision as plain data: what a key-manager look-up, an antifraud score or
an outage means for the player, and the RedemptionResult they get back.

Order of checks (issue 6): format → lockout → key state → region / VPN → account block and
fraud (antifraud) → exactly-once activation. Each function here answers one step; a step that
refuses answers a ``Refusal`` (the library's, §3's vocabulary) as a value, and the caller (a use
case in ``activation_gateway.usecases``) decides what to record and the route which HTTP status.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from activation_gateway.domain import keyformat
from activation_gateway.domain.lockout import Identities
from activation_gateway.domain.regions import RegionPolicy
from gamekeys_platform.refusals import Refusal

__all__ = ["Refusal"]  # re-exported: the refusal a step answers

ACTIVATION_NAMESPACE = uuid.UUID("6f1c3f0e-3c57-4d55-9a53-0d4f6b1f7a10")


class Status(StrEnum):
    """Status of an activation record (and the ``status`` of a RedemptionResult)."""

    ACTIVATED = "activated"
    PENDING_REVIEW = "pending_review"
    FAILED = "failed"  # refused by a check (key state, region, lockout-counted failures)
    BLOCKED = "blocked"  # refused by antifraud (FRAUD_DETECTED, ACCOUNT_BLOCKED)
    REJECTED = "rejected"  # a pending review that support rejected
    DISPUTED = "disputed"  # activated, then its purchase was charged back or refunded


@dataclass(frozen=True)
class Attempt:
    """One redemption (or dry run) by one player, as the route parsed it."""

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
    if key.get("publisherSuspended"):
        return Refusal(
            "PUBLISHER_SUSPENDED",
            "this key cannot be redeemed right now: the game's publisher is suspended by the platform; "
            "the key stays valid and can be redeemed once the suspension ends",
            details,
        )
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


class FraudChecksUnavailable(Refusal):
    """Antifraud cannot answer and the policy is ``reject``: 503, nothing held, retry later."""

    retry_after = 5

    def __init__(self) -> None:
        super().__init__("SERVICE_UNAVAILABLE", "fraud checks are unavailable, retry later")


def analysis_request(attempt: Attempt, key: dict[str, Any] | None, outcome: str) -> dict[str, Any]:
    """What antifraud's analyze is sent about an attempt (``key`` None: the key was not found,
    so only its opaque fingerprint goes, never the key)."""
    policy = RegionPolicy.from_restrictions(key.get("regionalRestrictions") if key else None)
    context: dict[str, Any] = {
        "ipAddress": attempt.ip,
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
