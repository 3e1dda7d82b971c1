"""``POST /validate``: would this key redeem for the caller? The redemption's checks as a dry
run — format, lockout, block list, key state, region and VPN, the User Service — writing,
holding and activating nothing and not asking antifraud; failed attempts still count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activation_gateway.context import Gateway
from activation_gateway.domain.lockout import LockedOut, counts_as_failed_attempt
from activation_gateway.domain.redemption import Attempt, Refusal, key_state_refusal
from activation_gateway.usecases import checks
from activation_gateway.usecases.lockout import reserve_attempt


@dataclass(frozen=True)
class Validation:
    """The first refusal (None: the key would redeem) and the key once known."""

    refusal: Refusal | None = None
    key: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        return self.refusal is None


def validate(gw: Gateway, attempt: Attempt) -> Validation:
    canonical = checks.key_format(gw, attempt.identities, attempt.key_text)
    if isinstance(canonical, Refusal):
        return Validation(canonical)
    try:
        reservation = reserve_attempt(gw, attempt.identities)
    except LockedOut as locked:
        return Validation(locked)
    result = None
    try:
        result = _checked(gw, attempt, canonical)
        return result
    finally:
        if result is None or result.refusal is None or not counts_as_failed_attempt(result.refusal.code):
            reservation.release(gw)


def _checked(gw: Gateway, attempt: Attempt, canonical: str) -> Validation:
    blocked = checks.account_block(gw, attempt.identities)
    if blocked is not None:
        return Validation(blocked)
    ip_info = gw.geoip.lookup(attempt.ip)
    key = checks.look_up(gw, key=canonical)
    if key is None:
        return Validation(Refusal("KEY_NOT_FOUND", "key not found"))
    refusal = key_state_refusal(key) or checks.region_refusal(key, attempt.user_region, ip_info)
    if refusal is None:
        refusal, _ = checks.account_check(gw, attempt)
    return Validation(refusal, key)
