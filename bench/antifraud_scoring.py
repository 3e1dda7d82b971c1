"""Antifraud in-process figures: rule evaluation (default set and 20 rules) and the Redis
velocity round trip of one analysis. Prints figures; not a pass/fail test.

    .venv/bin/python bench/antifraud_scoring.py [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import redis
from measure import percentile

from antifraud.domain.features import default_features
from antifraud.domain.rules import DEFAULT_RULES, Rule, compile_rule_set
from antifraud.domain.scoring import Thresholds, decide
from antifraud.velocity import Observation, VelocityStore


def percentiles(samples: list[float]) -> str:
    p50, p99 = percentile(samples, 0.50), percentile(samples, 0.99)
    return f"p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   mean {statistics.fmean(samples):8.1f} µs"


def time_decide(rule_set, features, n: int) -> list[float]:
    thresholds = Thresholds()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        decide(features, rule_set, thresholds)
        out.append((time.perf_counter() - started) * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("-n", type=int, default=20_000)
    args = parser.parse_args()

    features = default_features()
    features.update(user_failures_1h=2, key_regions=["DE"], key_region_locked=True, ip_country="DE")
    defaults = compile_rule_set(DEFAULT_RULES, 0)
    extra = [
        Rule(f"extra-{i}", "", f"user_attempts_1h > {i + 50} || ip_distinct_users_24h > {i + 40}")
        for i in range(20 - len(DEFAULT_RULES))
    ]
    twenty = compile_rule_set(DEFAULT_RULES + extra, 1)
    started = time.perf_counter()
    for _ in range(100):
        compile_rule_set(DEFAULT_RULES + extra, 2)
    compile_ms = (time.perf_counter() - started) / 100 * 1000
    for label, rule_set in ((f"{len(defaults.compiled)} default rules", defaults), ("20 rules", twenty)):
        print(f"rule evaluation, {label:16}: {percentiles(time_decide(rule_set, features, args.n))}")
    print(f"compiling + validating a 20-rule set: {compile_ms:.2f} ms")

    try:
        client = redis.Redis.from_url(args.redis, decode_responses=True, socket_timeout=1)
        client.ping()
    except redis.RedisError:
        print("redis unreachable: velocity figures skipped")
        return
    store = VelocityStore(client, prefix=f"afbench:{uuid.uuid4().hex[:8]}:")
    user, device = str(uuid.uuid4()), "bench-device"
    samples = []
    cpu_started = time.process_time()
    for i in range(min(args.n, 5_000)):
        obs = Observation(
            attempt_id=str(uuid.uuid4()),
            user_id=user,
            ip=f"10.1.{i % 200}.{i % 250}",
            device=device,
            key_id=str(uuid.uuid4()),
            batch_id="b",
            country="DE",
        )
        started = time.perf_counter()
        store.observe(obs)
        samples.append((time.perf_counter() - started) * 1e6)
    cpu_us = (time.process_time() - cpu_started) / len(samples) * 1e6
    print(
        f"velocity write + read (a Lua call per entity, one pipelined round trip): {percentiles(samples)}"
        f"   client CPU {cpu_us:.0f} µs per call"
    )
    for key in client.scan_iter(f"{store.prefix}*", count=1000):
        client.delete(key)


if __name__ == "__main__":
    main()
