"""What the key manager refuses, in §3's vocabulary: the one place where the domain's plain
exceptions, and a conditional update that matched nothing, become ``Refusal``s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from gamekeys_platform.refusals import Refusal
from key_manager.domain.batches import PlanRefused
from key_manager.domain.regions import RegionPolicy
from key_manager.domain.states import KeyStatus, TransitionRefused


def key_not_found() -> Refusal:
    return Refusal("KEY_NOT_FOUND", "key not found")


def refused_transition(exc: TransitionRefused, details: dict[str, Any]) -> Refusal:
    """A state-machine step the key's state does not allow: 409, KEY_ALREADY_ACTIVATED for an
    activated key, CONFLICT otherwise."""
    code = "KEY_ALREADY_ACTIVATED" if exc.current is KeyStatus.ACTIVATED else "CONFLICT"
    return Refusal(code, exc.reason, details)


def refused_plan(exc: PlanRefused) -> Refusal:
    """A generation request that breaks a rule: 422, against the offending field."""
    return Refusal("VALIDATION_ERROR", exc.message, {"fields": {"json": {exc.field: [exc.message]}}})


def _expired(key: Row) -> bool:
    return key.expires_at is not None and key.expires_at <= datetime.now(UTC)


def publisher_suspended(details: dict[str, Any]) -> Refusal:
    return Refusal(
        "PUBLISHER_SUSPENDED",
        "this key cannot be redeemed right now: the game's publisher is suspended by the platform; "
        "the key stays valid and can be redeemed once the suspension ends",
        details,
    )


def unusable_key(
    key: Row | None, *, region: str | None = None, hold_id: str | None = None, suspended: bool = False
) -> Refusal:
    """Why a conditional update of a key (hold, activation) matched nothing; ``suspended``: the
    key's studio is suspended (as projected from developer.events)."""
    if key is None:
        return key_not_found()
    details = {"keyId": str(key.id), "status": key.status}
    if key.status == KeyStatus.ACTIVATED:
        return Refusal("KEY_ALREADY_ACTIVATED", "the key has been activated already", details)
    if key.status == KeyStatus.REVOKED:
        return Refusal("KEY_REVOKED", "the key has been revoked", details)
    if key.status == KeyStatus.EXPIRED or (_expired(key) and key.status != KeyStatus.PENDING_REVIEW):
        return Refusal("KEY_EXPIRED", "the key has expired", details)
    if key.status == KeyStatus.PENDING_REVIEW and key.hold_id != hold_id:
        return Refusal("CONFLICT", "the key is held for a fraud review", details)
    if suspended:
        return publisher_suspended(details)
    if region is not None:
        policy = RegionPolicy.from_columns(key.allowed_countries, key.denied_countries)
        if not policy.permits(region):
            return Refusal(
                "REGION_RESTRICTED",
                f"this key cannot be activated in {region.upper()}",
                {**details, "region": region.upper(), "regionalRestrictions": key.regional_restrictions},
            )
    return Refusal("CONFLICT", "the key changed meanwhile, retry", details)
