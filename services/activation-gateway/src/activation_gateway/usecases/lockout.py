"""Step 2, the brute-force lockout, against Redis (the lib's ``RateLimiter``): an attempt reserves
its place in every window before the key look-up and gives it back unless it ends as a counted
failure (``domain/lockout.py`` has the rules and what counts)."""

from __future__ import annotations

from dataclasses import dataclass

from activation_gateway.context import Gateway
from activation_gateway.domain.lockout import Identities, LockedOut, LockoutRule, RuleState, verdict
from gamekeys_platform.ratelimit import Limit, RateLimitResult


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
    """Where the caller stands in every rule, counting nothing (``/restrictions``)."""
    limits = _limits(gw, identities)
    return _states(limits, gw.limiter.peek_all([limit for _, limit in limits]))


def record_failed_attempt(gw: Gateway, identities: Identities) -> None:
    """A failure known before any reservation (a malformed key): count it in every rule."""
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
    """Check and count in one step: the attempt takes a place in every lockout window now
    (``LockedOut``, a RATE_LIMITED refusal with its Retry-After, if any window is full) and gives
    it back once it turns out not to be a counted failure. A peek now and a hit after the key
    look-up would let a burst of concurrent guesses all pass the peek and overshoot the limit."""
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
