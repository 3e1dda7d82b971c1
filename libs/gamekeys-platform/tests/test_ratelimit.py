"""The rate limiter against the local Redis, and against an address where no Redis listens."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
from prometheus_client import REGISTRY
from redis.backoff import NoBackoff
from redis.retry import Retry

from gamekeys_platform.errors import ApiError
from gamekeys_platform.ratelimit import Limit, RateLimiter, RateLimitResult


@pytest.fixture(scope="module")
def redis_client(redis_url: str) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    client.ping()
    yield client
    client.close()


@pytest.fixture()
def limiter(redis_client: redis.Redis) -> RateLimiter:
    prefix = f"test-rl-{uuid.uuid4().hex}"
    yield RateLimiter(redis_client, fail_open=False, key_prefix=prefix)
    for key in redis_client.scan_iter(match=f"{prefix}:*"):
        redis_client.delete(key)


@pytest.fixture()
def dead_redis() -> redis.Redis:
    """A client for a port where nothing listens, failing at once instead of retrying."""
    client = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    yield client
    client.close()


def test_concurrent_hits_allow_exactly_the_limit(limiter: RateLimiter, redis_client: redis.Redis) -> None:
    start = threading.Barrier(20)
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        results = [
            limiter.hit("concurrency", "user-1", limit=100, window_seconds=60).allowed for _ in range(25)
        ]
        with lock:
            allowed.extend(results)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(allowed) == 500
    assert sum(allowed) == 100
    assert redis_client.zcard(limiter.key_for("concurrency", "user-1")) == 100


def test_window_slides_instead_of_resetting(limiter: RateLimiter) -> None:
    assert limiter.hit("sliding", "u", limit=3, window_seconds=1.0).allowed
    time.sleep(0.5)
    assert limiter.hit("sliding", "u", limit=3, window_seconds=1.0).allowed
    assert limiter.hit("sliding", "u", limit=3, window_seconds=1.0).allowed
    denied = limiter.hit("sliding", "u", limit=3, window_seconds=1.0)
    assert not denied.allowed
    assert 0 < denied.retry_after <= 0.5

    # Once the first hit has left the window exactly one slot is free; the later two still count.
    time.sleep(denied.retry_after + 0.05)
    assert limiter.hit("sliding", "u", limit=3, window_seconds=1.0).allowed
    assert not limiter.hit("sliding", "u", limit=3, window_seconds=1.0).allowed


def test_denial_reports_retry_after_and_raises_429(limiter: RateLimiter) -> None:
    first = limiter.hit("login", "alice@example.com", limit=2, window_seconds=60)
    assert (first.allowed, first.remaining, first.retry_after, first.limit) == (True, 1, 0, 2)
    first.raise_if_limited()
    assert limiter.hit("login", "alice@example.com", limit=2, window_seconds=60).remaining == 0

    denied = limiter.hit("login", "alice@example.com", limit=2, window_seconds=60)
    assert not denied.allowed
    assert denied.remaining == 0
    assert 59 < denied.retry_after <= 60
    with pytest.raises(ApiError) as raised:
        denied.raise_if_limited()
    assert raised.value.code == "RATE_LIMITED"
    assert raised.value.status == 429
    assert raised.value.headers == {"Retry-After": "60"}
    assert raised.value.details == {"retryAfter": 60}


def test_cost_counts_several_hits(limiter: RateLimiter) -> None:
    assert limiter.hit("generate", "studio", limit=5, window_seconds=60, cost=3).remaining == 2
    denied = limiter.hit("generate", "studio", limit=5, window_seconds=60, cost=3)
    assert (denied.allowed, denied.remaining) == (False, 2)
    assert 59 < denied.retry_after <= 60
    assert limiter.hit("generate", "studio", limit=5, window_seconds=60, cost=2).remaining == 0
    with pytest.raises(ValueError):
        limiter.hit("generate", "studio", limit=5, window_seconds=60, cost=6)


def test_peek_does_not_consume(limiter: RateLimiter) -> None:
    for _ in range(5):
        looked = limiter.peek("lockout", "bob", limit=2, window_seconds=60)
        assert (looked.allowed, looked.remaining) == (True, 2)
    limiter.hit("lockout", "bob", limit=2, window_seconds=60)
    limiter.hit("lockout", "bob", limit=2, window_seconds=60)
    locked = limiter.peek("lockout", "bob", limit=2, window_seconds=60)
    assert (locked.allowed, locked.remaining) == (False, 0)
    assert 59 < locked.retry_after <= 60


def test_undo_takes_back_only_its_own_hits(limiter: RateLimiter) -> None:
    kept = limiter.hit("attempts", "dave", limit=3, window_seconds=60, cost=2)
    refunded = limiter.hit("attempts", "dave", limit=3, window_seconds=60)
    assert len(kept.recorded) == 2 and len(refunded.recorded) == 1
    limiter.undo("attempts", "dave", refunded)
    assert limiter.peek("attempts", "dave", limit=3, window_seconds=60).remaining == 1
    limiter.undo("attempts", "dave", refunded)  # twice: nothing more
    assert limiter.peek("attempts", "dave", limit=3, window_seconds=60).remaining == 1
    denied = limiter.hit("attempts", "dave", limit=3, window_seconds=60, cost=2)
    assert not denied.allowed and denied.recorded == ()
    assert limiter.peek("attempts", "bob", limit=1, window_seconds=60).recorded == ()


def test_burst_of_checked_and_counted_attempts_never_overshoots(limiter: RateLimiter) -> None:
    """Failures-only limit under a burst: count up front, undo for attempts that succeed.
    However the 50 concurrent attempts interleave, at most ``limit`` failures get through."""
    start = threading.Barrier(50)
    failures_let_through: list[int] = []
    allowed: list[int] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        start.wait()
        result = limiter.hit("failures", "eve", limit=5, window_seconds=60)
        if not result.allowed:
            return
        with lock:
            allowed.append(i)
        time.sleep(0.01)  # the attempt itself (a key look-up)
        if i % 2:  # this attempt succeeded: it does not count
            limiter.undo("failures", "eve", result)
        else:
            with lock:
                failures_let_through.append(i)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Which attempts win the race is up to the scheduler (the first five may all succeed and be
    # given back); whatever it is, at least five got a place and at most five failures count.
    assert len(allowed) >= 5
    assert len(failures_let_through) <= 5
    assert limiter.peek("failures", "eve", limit=5, window_seconds=60).remaining == 5 - len(
        failures_let_through
    )


def test_hit_all_decides_each_limit_on_its_own_and_undo_all_takes_them_back(
    limiter: RateLimiter,
) -> None:
    limits = [Limit("fails-user", "frank", 2, 60), Limit("fails-ip", "10.0.0.1", 5, 60)]
    first, second = limiter.hit_all(limits), limiter.hit_all(limits)
    assert [r.allowed for r in first + second] == [True, True, True, True]
    third = limiter.hit_all(limits)
    assert [(r.allowed, r.remaining) for r in third] == [(False, 0), (True, 2)]
    assert third[0].recorded == () and 0 < third[0].retry_after <= 60

    limiter.undo_all(
        [(limit.name, limit.identity, result) for limit, result in zip(limits, third, strict=True)]
    )
    limiter.undo_all(
        [(limit.name, limit.identity, result) for limit, result in zip(limits, second, strict=True)]
    )
    assert limiter.peek("fails-user", "frank", limit=2, window_seconds=60).remaining == 1
    assert limiter.peek("fails-ip", "10.0.0.1", limit=5, window_seconds=60).remaining == 4
    assert limiter.hit_all([]) == []


def test_peek_all_answers_each_limit_and_records_nothing(limiter: RateLimiter) -> None:
    limits = [Limit("fails-user", "heidi", 1, 60), Limit("fails-ip", "10.0.0.3", 3, 60)]
    limiter.hit_all(limits)
    for _ in range(2):  # peeking twice changes nothing
        peeked = limiter.peek_all(limits)
        assert [(r.allowed, r.remaining, r.recorded) for r in peeked] == [(False, 0, ()), (True, 2, ())]
    assert limiter.peek_all([]) == []


def test_hit_all_loads_the_script_again_after_redis_forgot_it(
    limiter: RateLimiter, redis_client: redis.Redis
) -> None:
    redis_client.script_flush()
    results = limiter.hit_all([Limit("fails-user", "grace", 1, 60), Limit("fails-ip", "10.0.0.2", 1, 60)])
    assert [r.allowed for r in results] == [True, True]
    assert [r.allowed for r in limiter.hit_all([Limit("fails-user", "grace", 1, 60)])] == [False]


def test_hit_all_with_redis_unreachable_fails_closed_or_open(dead_redis: redis.Redis) -> None:
    limits = [Limit("redeem-all", "u", 1, 60), Limit("redeem-all", "ip", 1, 60)]
    with pytest.raises(ApiError) as raised:
        RateLimiter(dead_redis, fail_open=False).hit_all(limits)
    assert raised.value.status == 503
    results = RateLimiter(dead_redis, fail_open=True).hit_all(limits)
    assert [(r.allowed, r.recorded) for r in results] == [(True, ()), (True, ())]
    RateLimiter(dead_redis, fail_open=False).undo_all(
        [("redeem-all", "u", RateLimitResult(True, 0, 0, 1, ("t:1",)))]
    )


def test_undo_with_redis_unreachable_does_not_raise(dead_redis: redis.Redis) -> None:
    limiter = RateLimiter(dead_redis, fail_open=False)
    limiter.undo("x", "y", RateLimitResult(True, 0, 0, 1, recorded=("t:1",)))


def test_reset_forgets_hits(limiter: RateLimiter, redis_client: redis.Redis) -> None:
    limiter.hit("login", "carol", limit=1, window_seconds=60)
    assert not limiter.hit("login", "carol", limit=1, window_seconds=60).allowed
    limiter.reset("login", "carol")
    assert not redis_client.exists(limiter.key_for("login", "carol"))
    assert limiter.hit("login", "carol", limit=1, window_seconds=60).allowed


def test_keys_expire_and_share_one_cluster_slot(limiter: RateLimiter, redis_client: redis.Redis) -> None:
    limiter.hit("redeem", "user-9", limit=5, window_seconds=2)
    key = limiter.key_for("redeem", "user-9")
    assert key.endswith(":{redeem:user-9}")
    assert 0 < redis_client.pttl(key) <= 2000


def test_invalid_names_are_rejected(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError):
        limiter.hit("bad:name", "u", limit=1, window_seconds=1)
    with pytest.raises(ValueError):
        limiter.hit("name", "", limit=1, window_seconds=1)


def _backend_errors(name: str) -> float:
    return REGISTRY.get_sample_value("ratelimit_backend_errors_total", {"name": name}) or 0.0


def test_fail_open_allows_when_redis_is_unreachable(dead_redis: redis.Redis) -> None:
    limiter = RateLimiter(dead_redis, fail_open=True)
    before = _backend_errors("browse")

    result = limiter.hit("browse", "u", limit=10, window_seconds=60)
    assert (result.allowed, result.remaining, result.retry_after) == (True, 10, 0)
    assert limiter.peek("browse", "u", limit=10, window_seconds=60).allowed
    limiter.reset("browse", "u")
    assert _backend_errors("browse") == before + 3


def test_fail_closed_answers_503_when_redis_is_unreachable(dead_redis: redis.Redis) -> None:
    limiter = RateLimiter(dead_redis, fail_open=False)
    for call in (
        lambda: limiter.hit("redeem", "u", limit=10, window_seconds=60),
        lambda: limiter.peek("redeem", "u", limit=10, window_seconds=60),
        lambda: limiter.reset("redeem", "u"),
    ):
        with pytest.raises(ApiError) as raised:
            call()
        assert raised.value.code == "SERVICE_UNAVAILABLE"
        assert raised.value.status == 503
        assert raised.value.headers["Retry-After"] == "5"
