"""The velocity store against the real Redis: cluster-safe calls and what one attempt counts."""

import uuid

from redis.crc import key_slot

from antifraud.velocity import Observation


def test_every_script_call_touches_keys_of_one_hash_slot(af):
    obs = Observation(
        attempt_id=str(uuid.uuid4()),
        user_id=str(uuid.uuid4()),
        ip="203.0.113.9",
        device="dev-{odd}-fingerprint",
        key_id=str(uuid.uuid4()),
        batch_id=str(uuid.uuid4()),
        country="RU",
        failed=True,
    )
    calls = af.velocity._calls(obs)
    assert len(calls) == 4  # user, IP, subnet, device
    for call in calls:
        assert len({key_slot(key.encode()) for key in call.keys}) == 1, call.keys


def test_one_attempt_counts_itself_in_every_window_and_set(af):
    user, device = str(uuid.uuid4()), f"dev-{uuid.uuid4().hex}"
    first = Observation(
        attempt_id="a1", user_id=user, ip="192.0.2.1", device=device, key_id="k1", country="DE"
    )
    observed = af.velocity.observe(first, now=1_000_000.0)
    counts = observed.features
    assert observed.sold_at is None
    assert (
        counts["user_attempts_1m"] == counts["device_distinct_keys_24h"] == counts["subnet_attempts_1h"] == 1
    )
    assert counts["user_failures_1h"] == 0 and counts["device_distinct_subnets_24h"] == 1
    second = Observation(
        attempt_id="a2", user_id=user, ip="192.0.2.2", device=device, key_id="k2", country="DE"
    )
    counts = af.velocity.observe(second, now=1_000_120.0).features  # two minutes later
    assert counts["user_attempts_1m"] == 1 and counts["user_attempts_1h"] == 2
    assert counts["user_distinct_ips_24h"] == 2 and counts["device_distinct_subnets_24h"] == 1
    assert counts["user_distinct_countries_24h"] == 1 and counts["subnet_distinct_keys_24h"] == 2
    counts = af.velocity.observe(second, now=1_000_121.0).features  # the same attempt again adds nothing
    assert counts["user_attempts_1h"] == 2


def test_the_script_is_loaded_again_when_redis_does_not_know_it(af):
    obs = Observation(attempt_id="x", user_id=str(uuid.uuid4()))
    af.velocity.observe(obs)
    af.velocity._sha = "0" * 40  # as after a Redis restart (flushing the shared server's scripts is rude)
    counts = af.velocity.observe(obs).features
    assert counts["user_attempts_24h"] == 1
