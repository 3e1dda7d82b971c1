"""Antifraud analyze latency over HTTP (issue 5): POST /analyze with the default rules at steady
target rates (one after another) for a bounded duration each, against the real app under
gunicorn (a subprocess, the services' gunicorn settings) on a fresh scratch database, with its
own Redis key prefix and topic. Prints achieved rate, p50, p99, max, errors and CPU per request
at each rate, a line per rate, then the in-process rule evaluation p99 for 20 rules. Asserts
nothing.

    .venv/bin/python bench/antifraud_latency.py [--rate 100,250,500] [--seconds 12] [--procs 2]
    .venv/bin/python bench/antifraud_latency.py --url http://127.0.0.1:8005   # the running service

With ``--url`` it loads the service already running there (``deploy/local/run.py start
antifraud``: its configuration, its database) with a token signed by the checkout's dev key,
and finds its gunicorn through ``.local/run/antifraud-api.pid``. What it writes stays there:
thousands of attempts from 192.0.2.0/24, the demo's players' network, so for up to a day
after such a run ``make run``'s players are scored as a burst from one network and blocked
(clear the running platform's counters with ``redis-cli --scan --pattern 'af:*' | xargs
redis-cli del``).

CPU per request, from /proc: the gunicorn processes' own CPU (master and workers) and the whole
machine's busy CPU (gunicorn, PostgreSQL, Redis, the client and anything else running) over the
run, divided by the requests answered. The machine is shared, so the second one is an upper
bound; the first is what the service itself spends.

The load is open-loop: request i is due at start + i / rate whatever happened before, so a slow
server shows up as latency, not as a lower send rate. Two latencies per request: "service"
(send -> response) and "from schedule" (due time -> response: includes the client falling
behind, i.e. no coordinated omission). Client processes (each a pool of threads, each with one
keep-alive connection sending requests encoded beforehand: ``measure.KeepAliveConnection``)
split the schedule; the client's CPU use is printed so one can see
whether the client, not the server, was the limit (on this 2-core machine everything shares
the same CPUs: gunicorn, PostgreSQL, Redis and the client).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis
from measure import TICK, KeepAliveConnection, cpu_seconds, encode_request, percentile

from gamekeys_platform import devkeys
from gamekeys_platform.migrations import upgrade_to_head
from gamekeys_platform.testing import free_port, wait_until_answering

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "services" / "antifraud"
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
GUNICORN = Path(sys.executable).with_name("gunicorn")
WARMUP_SECONDS = 2.0


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live children (gunicorn's workers), from /proc."""
    return cpu_seconds([pid, *_children(pid)])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def machine_busy_seconds() -> float:
    """Busy CPU time of the whole machine (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / TICK


def environment(url: str, keys_dir: Path, prefix: str, tag: str) -> dict[str, str]:
    return {
        "SERVICE_NAME": "antifraud",
        "ENVIRONMENT": "local",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": url,
        "DATABASE_POOL_SIZE": "6",
        "REDIS_URL": REDIS_URL,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "JWT_ISSUER": devkeys.DEV_ISSUER,
        "JWT_AUDIENCE": devkeys.DEV_AUDIENCE,
        "JWT_PUBLIC_KEY_FILE": str(keys_dir / devkeys.PUBLIC_KEY_FILE),
        "SERVICE_TOKEN_SIGNING_KEY_FILE": str(keys_dir / devkeys.PRIVATE_KEY_FILE),
        "ANTIFRAUD_VELOCITY_PREFIX": prefix,
        # Its own topics (no worker runs, so the outbox rows stay in the scratch database anyway).
        "ANTIFRAUD_EVENTS_TOPIC": f"bench.{tag}.antifraud.events",
        "ACTIVATIONS_EVENTS_TOPIC": f"bench.{tag}.activations.events",
        "KEYS_EVENTS_TOPIC": f"bench.{tag}.keys.events",
    }


def make_body(rng: random.Random, users: list[str], devices: list[str]) -> dict:
    """A mix shaped like gateway traffic: mostly valid keys from a pool of returning users,
    some region-locked keys, some retail sales, a few mistyped keys."""
    n = rng.randrange(len(users))
    roll = rng.random()
    if roll < 0.3:
        ip, regions = f"192.0.2.{rng.randint(1, 254)}", ["DE", "AT"]
    elif roll < 0.5:
        ip, regions = f"2001:db8::{rng.randint(1, 65535):x}:{rng.randint(1, 65535):x}", ["FR"]
    else:
        ip, regions = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}", []
    context = {
        "ipAddress": ip,
        "userRegion": regions[0] if regions else "DE",
        "keyRegions": regions,
        "gameId": str(uuid.uuid4()),
        "batchId": str(uuid.uuid4()),
        "keyType": "retail",
        "platform": "windows",
        "accountCreatedAt": (datetime.now(UTC) - timedelta(days=rng.randint(1, 2000))).isoformat(),
    }
    if rng.random() < 0.3:
        context["retailerId"] = str(uuid.uuid4())
        context["soldAt"] = (datetime.now(UTC) - timedelta(hours=rng.randint(1, 200))).isoformat()
    key_id: str | None = str(uuid.uuid4())
    if rng.random() < 0.03:
        key_id = None
        context["keyOutcome"] = "not_found"
        context["keyFingerprint"] = uuid.uuid4().hex
    return {
        "keyId": key_id,
        "userId": users[n],
        "activationId": str(uuid.uuid4()),
        "activationContext": context,
        "deviceFingerprint": devices[n],
        "behaviorMetrics": {
            "attemptsInSession": 1,
            "failedAttemptsInSession": 0,
            "sessionDurationSeconds": 40,
        },
    }


def client_process(
    args: tuple[str, str, int, int, float, float, int, int],
) -> tuple[list[tuple[float, float, float]], dict[str, int], float]:
    """Sends requests ``index ≡ part (mod parts)`` of the schedule; returns (due offset, service ms,
    from-schedule ms) per request, errors by kind, and this process's CPU seconds."""
    url, token, part, parts, rate, start_at, total, threads = args
    rng = random.Random(part)
    users = [str(uuid.uuid4()) for _ in range(2_000)]
    devices = [f"dev-{uuid.uuid4().hex}" for _ in users]
    mine = list(range(part, total, parts))
    target = urlsplit(url)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    encoded = [
        encode_request("POST", target.netloc, target.path, headers, json.dumps(body).encode())
        for body in (make_body(rng, users, devices) for _ in mine)
    ]
    # The requests are bytes, which the collector does not track; with it off the client cannot
    # stall its own threads (a full collection) and charge the pause to the server.
    del users, devices
    gc.collect()
    gc.disable()
    results: list[tuple[float, float, float]] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    cursor = iter(range(len(mine)))
    give_up_at = start_at + total / rate + 10.0

    def run() -> None:
        connection = KeepAliveConnection(target.hostname, target.port, timeout=10)
        while True:
            with lock:
                j = next(cursor, None)
            if j is None:
                connection.close()
                return
            due = start_at + mine[j] / rate
            if time.time() > give_up_at:  # bounded: what is this late is not sent at all
                with lock:
                    errors["not sent (client over 10 s behind)"] = (
                        errors.get("not sent (client over 10 s behind)", 0) + 1
                    )
                continue
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            try:
                status = connection.exchange(encoded[j])
                kind = None if status == 200 else f"HTTP {status}"
            except OSError as exc:
                kind = type(exc).__name__
            done = time.perf_counter()
            service_ms = (done - sent) * 1000
            late_ms = (time.time() - due) * 1000
            with lock:
                if kind:
                    errors[kind] = errors.get(kind, 0) + 1
                else:
                    results.append((due - start_at, service_ms, late_ms))

    cpu_before = time.process_time()
    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results, errors, time.process_time() - cpu_before


def delete_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    batch = []
    for key in client.scan_iter(f"{prefix}*", count=5000):
        batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


def rule_evaluation_p99() -> str:
    """The 20-rule case of bench/antifraud_scoring.py (which prints the full set of in-process
    figures): the 10 default rules plus 10 more of the same shape, on one feature dict."""
    from antifraud.domain.features import default_features
    from antifraud.domain.rules import DEFAULT_RULES, Rule, compile_rule_set
    from antifraud.domain.scoring import Thresholds, decide

    features = default_features()
    features.update(user_failures_1h=2, key_regions=["DE"], key_region_locked=True, ip_country="DE")
    extra = [
        Rule(f"extra-{i}", "", f"user_attempts_1h > {i + 50} || ip_distinct_users_24h > {i + 40}")
        for i in range(20 - len(DEFAULT_RULES))
    ]
    rule_set = compile_rule_set(DEFAULT_RULES + extra, 1)
    thresholds = Thresholds()
    samples = []
    for _ in range(20_000):
        started = time.perf_counter()
        decide(features, rule_set, thresholds)
        samples.append((time.perf_counter() - started) * 1e6)
    return (
        f"p50 {percentile(samples, 0.5):.0f} µs, p99 {percentile(samples, 0.99):.0f} µs "
        f"over 20,000 evaluations (target p99 <= 1 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--rate",
        default="100,250,500",
        help="target requests/s; several, comma-separated, run one after another",
    )
    parser.add_argument("--seconds", type=float, default=12.0, help="measured duration (after warm-up)")
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=12, help="threads per client process")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the services' setting)")
    parser.add_argument("--server-threads", type=int, help="gunicorn threads per worker (likewise)")
    parser.add_argument("--url", help="load the antifraud already running there instead of starting one")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rate.split(",")]
    if args.url:
        keys = devkeys.keys_dir()
        pid_file = ROOT / ".local" / "run" / "antifraud-api.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        token = devkeys.mint_token(
            (keys / devkeys.PRIVATE_KEY_FILE).read_text(), sub="activation-gateway",
            scopes=["fraud:analyze"], issuer=devkeys.DEV_ISSUER, audience=devkeys.DEV_AUDIENCE,
            ttl_seconds=3600,
        )  # fmt: skip
        print(f"analyze over HTTP: the running service at {args.url}, default rules")
        load_at(rates, args, args.url.rstrip("/"), token, pid)
        print(f"rule evaluation in-process, 20 rules: {rule_evaluation_p99()}")
        return

    name = f"gk_bench_{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:8]
    prefix = f"afbench:{tag}:"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    server = None
    keys_dir = Path(tempfile.mkdtemp(prefix="gk-bench-keys-"))
    try:
        upgrade_to_head(SERVICE / "alembic.ini", url)
        devkeys.ensure_key_pair(keys_dir)
        port = free_port()
        sizing = [*(["-w", str(args.workers)] if args.workers else []),
                  *(["--threads", str(args.server_threads)] if args.server_threads else [])]  # fmt: skip
        env = {**os.environ, **environment(url, keys_dir, prefix, tag)}
        server = subprocess.Popen(  # noqa: S603 (our own venv's gunicorn, fixed arguments)
            [str(GUNICORN), "-c", "python:gamekeys_platform.gunicorn_config", *sizing,
             "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", "antifraud.app:create_app()"],
            env=env, cwd=SERVICE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", server)
        token = devkeys.mint_token(
            (keys_dir / devkeys.PRIVATE_KEY_FILE).read_text(), sub="activation-gateway",
            scopes=["fraud:analyze"], issuer=devkeys.DEV_ISSUER, audience=devkeys.DEV_AUDIENCE,
            ttl_seconds=3600,
        )  # fmt: skip
        print(
            f"analyze over HTTP: gunicorn {' '.join(sizing) or 'as the services run it'}, default rules, "
            f"{args.procs} client processes x {args.threads} threads"
        )
        load_at(rates, args, base, token, server.pid)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        delete_prefix(prefix)
        shutil.rmtree(keys_dir, ignore_errors=True)
    print(f"rule evaluation in-process, 20 rules: {rule_evaluation_p99()}")


def load_at(
    rates: list[float], args: argparse.Namespace, base: str, token: str, server_pid: int | None
) -> None:
    """The load at each rate in turn, then a line per rate."""
    rows = []
    for rate in rates:
        print(f"-- {rate:.0f} req/s")
        rows.append(load(rate, args, base, token, server_pid))
    if len(rates) > 1:
        print("target req/s  achieved  p50 ms  p99 ms  machine CPU ms/request")
        for rate, row in zip(rates, rows, strict=True):
            print(
                f"{rate:12.0f}  "
                + (f"{row[0]:8.0f}  {row[1]:6.2f}  {row[2]:6.2f}  {row[3]:6.2f}" if row else "failed")
            )


def load(
    rate: float, args: argparse.Namespace, base: str, token: str, server_pid: int | None
) -> tuple[float, float, float, float] | None:
    """The open-loop load against ``base`` and its figures; returns (achieved rate, p50, p99,
    machine CPU ms per request)."""
    seconds = min(args.seconds, 30.0)
    analyze = f"{base}/api/v1/antifraud/analyze"
    total = int(rate * (WARMUP_SECONDS + seconds))
    start_at = time.time() + 2.0 + 0.3 * args.procs  # time for the clients to build their bodies
    jobs = [(analyze, token, p, args.procs, rate, start_at, total, args.threads) for p in range(args.procs)]
    with multiprocessing.get_context("fork").Pool(args.procs) as pool:
        running = pool.map_async(client_process, jobs)
        # The counters start when the first request is due (the clients build their bodies first).
        time.sleep(max(0.0, start_at - time.time()))
        server_cpu_before = process_cpu_seconds(server_pid) if server_pid else None
        busy_before = machine_busy_seconds()
        outputs = running.get()
    finished = time.time()
    busy = machine_busy_seconds() - busy_before
    server_cpu = process_cpu_seconds(server_pid) - server_cpu_before if server_pid else None

    results = [r for out in outputs for r in out[0]]
    errors: dict[str, int] = {}
    for out in outputs:
        for kind, n in out[1].items():
            errors[kind] = errors.get(kind, 0) + n
    client_cpu = sum(out[2] for out in outputs)
    measured = [r for r in results if r[0] >= WARMUP_SECONDS]
    service = [r[1] for r in measured]
    late = [r[2] for r in measured]
    wall = finished - start_at - WARMUP_SECONDS
    sent = total - int(rate * WARMUP_SECONDS)
    error_count = sum(errors.values())
    print(f"client:            {args.procs} processes x {args.threads} threads, open loop")
    if not measured:
        print(f"no successful request: {dict(sorted(errors.items()))}")
        return None
    print(
        f"target rate:       {rate:.0f} req/s for {seconds:.0f} s after a {WARMUP_SECONDS:.0f} s "
        f"warm-up ({sent:,} requests measured)"
    )
    achieved = len(measured) / wall
    print(
        f"achieved rate:     {achieved:,.0f} req/s successful "
        f"({len(measured):,} in {wall:.1f} s until the last response)"
    )
    print(
        f"latency (service): p50 {statistics.median(service):.2f} ms  "
        f"p99 {percentile(service, 0.99):.2f} ms  max {max(service):.1f} ms   (target p99 <= 10 ms)"
    )
    print(
        f"from schedule:     p50 {statistics.median(late):.2f} ms  p99 {percentile(late, 0.99):.2f} ms"
        f"  max {max(late):.1f} ms   (includes client lag behind the schedule)"
    )
    print(f"errors:            {error_count} {dict(sorted(errors.items())) if errors else ''}".rstrip())
    total_wall = finished - start_at
    answered = max(1, len(results))
    if server_cpu is not None:
        print(
            f"server CPU:        {server_cpu * 1000 / answered:.2f} ms per request "
            f"(gunicorn master + workers, {server_cpu:.1f} s for {len(results):,} requests)"
        )
    print(
        f"machine CPU:       {busy * 1000 / answered:.2f} ms per request (everything busy on the "
        f"{os.cpu_count()} cores: server, PostgreSQL, Redis, client, other users)"
    )
    print(
        f"client CPU:        {client_cpu:.1f} s over {total_wall:.1f} s "
        f"({client_cpu / total_wall:.2f} cores of {os.cpu_count()})"
    )
    return achieved, statistics.median(service), percentile(service, 0.99), busy * 1000 / answered


if __name__ == "__main__":
    main()
