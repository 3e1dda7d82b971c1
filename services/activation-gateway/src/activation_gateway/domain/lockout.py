"""Step 2 of a redemption: brute-force lockout (failed attempts per user, IP and device).

Each rule is ``dimension:limit/window_seconds``; the default, in the spirit of Steam's ~10 failed
redemptions an hour per account: ``user:10/3600,ip:30/3600,device:20/3600``. A caller is
locked out while any of its identities has ``limit`` failures inside the sliding window; the
lockout ends when the oldest of them leaves it (Retry-After). Failures are the answers a
guesser gets: a malformed key or a key that does not exist, is revoked, expired or activated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gamekeys_platform.refusals import Refusal

DIMENSIONS = ("user", "ip", "device")
DEFAULT_RULES = "user:10/3600,ip:30/3600,device:20/3600"
COUNTED_FAILURES = frozenset(
    {"INVALID_KEY_FORMAT", "KEY_NOT_FOUND", "KEY_REVOKED", "KEY_EXPIRED", "KEY_ALREADY_ACTIVATED"}
)


def counts_as_failed_attempt(code: str | None) -> bool:
    return code in COUNTED_FAILURES


@dataclass(frozen=True)
class LockoutRule:
    dimension: str
    limit: int
    window_seconds: int

    @property
    def name(self) -> str:
        """The rate-limit name (one Redis key per name and identity)."""
        return f"redeem-fail-{self.dimension}-{self.window_seconds}"


def parse_rules(text: str) -> tuple[LockoutRule, ...]:
    rules = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            dimension, _, rest = entry.partition(":")
            limit, _, window = rest.partition("/")
            rule = LockoutRule(dimension.strip().lower(), int(limit), int(window))
        except ValueError:
            raise ValueError(f"{entry!r} is not dimension:limit/window_seconds") from None
        if rule.dimension not in DIMENSIONS or rule.limit < 1 or rule.window_seconds < 1:
            raise ValueError(f"{entry!r}: dimension is user, ip or device; limit and window ≥ 1")
        rules.append(rule)
    if not rules:
        raise ValueError("at least one lockout rule is needed")
    return tuple(rules)


@dataclass(frozen=True)
class Identities:
    user: str
    ip: str
    device: str | None

    def of(self, dimension: str) -> str | None:
        return getattr(self, dimension) or None


@dataclass(frozen=True)
class RuleState:
    rule: LockoutRule
    identity: str
    locked: bool
    remaining: int
    retry_after: float


@dataclass(frozen=True)
class LockoutVerdict:
    locked: bool
    retry_after_seconds: int
    dimensions: tuple[str, ...]

    @property
    def details(self) -> dict:
        return {"retryAfter": self.retry_after_seconds, "lockedBy": list(self.dimensions)}


class LockedOut(Refusal):
    """The caller is locked out: RATE_LIMITED, ``details.retryAfter`` (the route's Retry-After)
    and ``details.lockedBy``, answered in the route's own shape."""

    def __init__(self, verdict: LockoutVerdict) -> None:
        super().__init__("RATE_LIMITED", "too many failed redemption attempts, retry later", verdict.details)
        self.verdict = verdict


def verdict(states: list[RuleState]) -> LockoutVerdict:
    """Locked if any rule is; retry after the longest of the lockouts in force."""
    locked = [state for state in states if state.locked]
    if not locked:
        return LockoutVerdict(False, 0, ())
    seconds = max(1, math.ceil(max(state.retry_after for state in locked)))
    return LockoutVerdict(True, seconds, tuple(sorted({state.rule.dimension for state in locked})))
