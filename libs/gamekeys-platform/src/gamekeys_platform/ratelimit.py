"""Rate limiting backed by Redis, shared by every instance of a service.

Algorithm: a sliding-window log, one sorted set per (name, identity) whose members are the
hits of the last ``window_seconds`` scored by their time. It is exact ("at most ``limit``
hits in any window"), which is what the platform's limits say (5 redemption attempts a
minute, 10 failed logins in 15 minutes), and it can tell precisely when the next hit will
be allowed. A sliding-window counter would be approximate and GCRA refills continuously,
so neither gives "exactly N per window". The price is memory proportional to ``limit``
per key, fine for the platform's limits of tens to a few thousands.

One Lua script does the read, the decision and the write, so concurrent callers never
overshoot. The time is Redis's ``TIME``, not the caller's clock, so instances with skewed
clocks agree. Keys expire on their own once their window has passed, and carry the hash
tag ``{name:identity}`` so any future multi-key use stays in one Redis Cluster slot.

Counting only failures (a lockout after N failed attempts) cannot be a ``peek`` before the
attempt and a ``hit`` after it: a burst of concurrent attempts all peek before any is counted
and overshoot the limit. Check and count in one step instead: ``hit`` before the attempt
(a denied hit is the lockout) and ``undo`` the hit once the attempt turns out not to count.

When Redis is unreachable the limiter either lets the hit through (``fail_open=True``:
availability over protection, e.g. browsing limits) or answers 503 SERVICE_UNAVAILABLE
(``fail_open=False``: protection over availability, e.g. key redemption, login attempts).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import redis
from prometheus_client import Counter

from gamekeys_platform.errors import ApiError, service_unavailable

log = logging.getLogger(__name__)

RATELIMIT_BACKEND_ERRORS = Counter(
    "ratelimit_backend_errors_total", "Rate limit checks that could not reach Redis", ["name"]
)

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BACKEND_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
_BACKEND_RETRY_AFTER_SECONDS = 5

# KEYS[1] the log; ARGV: limit, window (µs), cost, consume (1/0), unique token of this call.
# Returns {allowed (1/0), remaining, retry_after (µs), recorded (1/0)}.
_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - window))
local used = redis.call('ZCARD', key)
if used + cost <= limit then
  if ARGV[4] == '1' then
    local score = string.format('%d', now)
    for i = 1, cost do
      redis.call('ZADD', key, score, ARGV[5] .. ':' .. i)
    end
    redis.call('PEXPIRE', key, math.ceil(window / 1000))
    return {1, limit - used - cost, 0, 1}
  end
  return {1, limit - used, 0, 0}
end
-- Denied: the hit fits once the (used + cost - limit) oldest hits have left the window.
local oldest = redis.call('ZRANGE', key, used + cost - limit - 1, used + cost - limit - 1, 'WITHSCORES')
return {0, limit - used, tonumber(oldest[2]) + window - now, 0}
"""

T = TypeVar("T")


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    remaining: int
    retry_after: float
    """Seconds until the same hit would be allowed; 0 when allowed."""
    limit: int
    recorded: tuple[str, ...] = ()
    """The members ``hit`` added to the log (empty if it recorded nothing), for ``undo``."""

    def raise_if_limited(self) -> None:
        """Turn a denial into §3's 429 RATE_LIMITED with Retry-After (whole seconds, at least 1)."""
        if self.allowed:
            return
        seconds = max(1, math.ceil(self.retry_after))
        raise ApiError(
            "RATE_LIMITED",
            "too many requests, retry later",
            details={"retryAfter": seconds},
            headers={"Retry-After": str(seconds)},
        )


@dataclass(frozen=True)
class Limit:
    """One limit for ``hit_all`` and ``peek_all``: at most ``limit`` hits of ``identity`` per
    ``window_seconds``."""

    name: str
    identity: str
    limit: int
    window_seconds: float


@dataclass(frozen=True)
class _ScriptCall:
    """One run of the script: its key and arguments, and how to read its answer."""

    key: str
    args: list
    limit: int
    cost: int
    token: str

    def result(self, outcome: Sequence) -> RateLimitResult:
        allowed, remaining, retry_after_us, recorded = (int(value) for value in outcome)
        return RateLimitResult(
            allowed=bool(allowed),
            remaining=remaining,
            retry_after=retry_after_us / 1_000_000,
            limit=self.limit,
            recorded=tuple(f"{self.token}:{i}" for i in range(1, self.cost + 1)) if recorded else (),
        )


class RateLimiter:
    """``limiter.hit("redeem", user_id, limit=5, window_seconds=60).raise_if_limited()``.

    ``name`` is a constant naming the limit (letters, digits, ``_.-``); ``identity`` is who
    is limited (user id, client IP, key code). Redis errors other than unreachability
    (e.g. a wrong-type key) are bugs and propagate.
    """

    def __init__(self, redis_client: redis.Redis, *, fail_open: bool, key_prefix: str = "rl") -> None:
        self._redis = redis_client
        self._script = redis_client.register_script(_SCRIPT)
        self.fail_open = fail_open
        self.key_prefix = key_prefix

    def key_for(self, name: str, identity: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"rate limit name {name!r} must be 1-64 letters, digits or _.-")
        if not identity:
            raise ValueError("rate limit identity must not be empty")
        return f"{self.key_prefix}:{{{name}:{identity}}}"

    def hit(
        self, name: str, identity: str, limit: int, window_seconds: float, cost: int = 1
    ) -> RateLimitResult:
        """Record ``cost`` hits if they fit in the window; a denied hit records nothing."""
        return self._run(name, identity, limit, window_seconds, cost, consume=True)

    def peek(
        self, name: str, identity: str, limit: int, window_seconds: float, cost: int = 1
    ) -> RateLimitResult:
        """Whether ``cost`` hits would be allowed now, without recording them ("is this user
        locked out?" before checking a password, recording only failures with ``hit``)."""
        return self._run(name, identity, limit, window_seconds, cost, consume=False)

    def undo(self, name: str, identity: str, result: RateLimitResult) -> None:
        """Take back the hits an allowed ``hit`` recorded (an attempt counted up front that turned
        out not to count). Never raises for an unreachable Redis: the caller's outcome is decided
        by then, and a hit left in place only errs on the side of the limit."""
        self.undo_all([(name, identity, result)])

    def reset(self, name: str, identity: str) -> None:
        """Forget every hit, e.g. the failed attempts once a login succeeds."""
        key = self.key_for(name, identity)
        self._guarded(name, lambda: self._redis.delete(key), on_failure=None)

    def hit_all(self, limits: Sequence[Limit]) -> list[RateLimitResult]:
        """``hit`` once in each of several limits (one caller's user, IP and device, say) in one
        round trip to Redis; each limit decides on its own, as separate hits would."""
        return self._run_all(limits, consume=True)

    def peek_all(self, limits: Sequence[Limit]) -> list[RateLimitResult]:
        """``peek`` at several limits in one round trip, recording nothing."""
        return self._run_all(limits, consume=False)

    def _run_all(self, limits: Sequence[Limit], *, consume: bool) -> list[RateLimitResult]:
        if not limits:
            return []
        calls = [
            self._call(limit.name, limit.identity, limit.limit, limit.window_seconds, 1, consume)
            for limit in limits
        ]

        def run() -> list:
            pipe = self._redis.pipeline(transaction=False)
            for call in calls:
                pipe.evalsha(self._script.sha, 1, call.key, *call.args)
            try:
                return pipe.execute()
            except redis.exceptions.NoScriptError:  # Redis restarted or flushed: load it again
                return [self._script(keys=[call.key], args=call.args) for call in calls]

        failed_open = [[1, call.limit, 0, 0] for call in calls]
        outcomes = self._guarded(limits[0].name, run, on_failure=failed_open)
        return [call.result(outcome) for call, outcome in zip(calls, outcomes, strict=True)]

    def undo_all(self, hits: Sequence[tuple[str, str, RateLimitResult]]) -> None:
        """``undo`` several hits, each ``(name, identity, result)``, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for name, identity, result in hits:
            if result.recorded:
                pipe.zrem(self.key_for(name, identity), *result.recorded)
        if not len(pipe):
            return
        try:
            pipe.execute()
        except _BACKEND_ERRORS as exc:
            RATELIMIT_BACKEND_ERRORS.labels(name=hits[0][0]).inc()
            log.warning("rate limiter backend unreachable (%s), hits not undone", type(exc).__name__)

    def _run(
        self, name: str, identity: str, limit: int, window_seconds: float, cost: int, *, consume: bool
    ) -> RateLimitResult:
        call = self._call(name, identity, limit, window_seconds, cost, consume)
        outcome = self._guarded(
            name, lambda: self._script(keys=[call.key], args=call.args), on_failure=[1, limit, 0, 0]
        )
        return call.result(outcome)

    def _call(
        self, name: str, identity: str, limit: int, window_seconds: float, cost: int, consume: bool
    ) -> _ScriptCall:
        key = self.key_for(name, identity)
        if limit < 1 or not 1 <= cost <= limit:
            raise ValueError("rate limit needs limit >= 1 and 1 <= cost <= limit")
        window_us = int(window_seconds * 1_000_000)
        if window_us < 1000:
            raise ValueError("rate limit window must be at least 1 ms")
        token = secrets.token_hex(8)
        return _ScriptCall(key, [limit, window_us, cost, 1 if consume else 0, token], limit, cost, token)

    def _guarded(self, name: str, call: Callable[[], T], *, on_failure: T) -> T:
        """Run ``call``; if Redis is unreachable answer ``on_failure`` (fail open) or 503."""
        try:
            return call()
        except _BACKEND_ERRORS as exc:
            RATELIMIT_BACKEND_ERRORS.labels(name=name).inc()
            log.warning(
                "rate limiter backend unreachable (%s), failing %s for %s",
                type(exc).__name__,
                "open" if self.fail_open else "closed",
                name,
            )
            if self.fail_open:
                return on_failure
            raise service_unavailable(
                "rate limiting is unavailable, retry later", retry_after=_BACKEND_RETRY_AFTER_SECONDS
            ) from exc
