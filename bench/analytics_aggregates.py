"""Analytics aggregates (issue 18), on the local ClickHouse, in databases of their own (dropped at
the end), in-process:

1. what the copying views cost an insert: ``--insert-events`` activation rows (200,000) inserted
   by the ingestion's sink in batches of 5,000, in turns into a database with every migration but
   its views dropped (the insert writes ``events`` alone) and into one with every migration;
2. a backlog: ``--events`` activation events (2,000,000) of ``--games`` games (1,000) over a year,
   a fifth of them held for review and decided three days later, generated inside ClickHouse;
   then one aggregator pass over all of it;
3. reports: one game's 90-day daily series and its regions, ``--reads`` times on random games, from
   the hourly aggregate (UTC) and from the raw events (Asia/Kolkata, whose +05:30 the aggregate
   cannot answer), after one unmeasured read: p50 / p99;
4. funnels: a batch of ``--funnel-keys`` keys (100,000) of one game, allocated to 10 retailers,
   four fifths sold in orders of 10 (each with distribution's sale), three fifths of those
   activated (with their attempt), some returned, some unsold revoked, generated inside
   ClickHouse beside the backlog; one pass of the per-key aggregate over its keys; then the
   batch's funnel and one retailer's (a tenth of the keys) ``--funnel-reads`` times each from the
   aggregate and from the raw events (the reads before it, ``funnels_reference``), after one
   unmeasured read: p50 / p99;
5. lag: while ``--background`` events a second go in (batches every 0.5 s, as the ingestion
   writes them), the aggregator's passes run every ``--interval`` seconds; every 0.2 s one
   activation of a probe game is inserted and the game's report read every 20 ms until it counts
   it. The passes run the aggregators' ClickHouse steps (``db.hourly``, and beside them, as the
   worker's second aggregator, ``db.key_facts``'s key passes) without their PostgreSQL
   turn-taking, which one worker does not wait on: p50 / p99 / max from the insert's
   acknowledgement to the report, and how long the key passes took (the funnels' freshness is
   a key pass and the interval).

Prints figures; asserts nothing.

    .venv/bin/python bench/analytics_aggregates.py [--events N] [--games N] [--reads N] [--probes N]
                                                   [--funnel-keys N] [--funnel-reads N]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from measure import percentile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services" / "analytics" / "tests"))

import funnels_reference  # noqa: E402
from analytics_load import AS_OF, game_id, reads  # noqa: E402
from analytics_testkit import activation, batch_of, key_allocated  # noqa: E402

from analytics.db import change_logs, hourly, key_facts  # noqa: E402
from analytics.db import funnels as funnel_store  # noqa: E402
from analytics.db.clickhouse import ClickHouse, connect  # noqa: E402
from analytics.domain.events import event_row  # noqa: E402
from analytics.domain.reports import Period  # noqa: E402
from analytics.ingest import ClickHouseSink  # noqa: E402
from analytics.migrate import migrate  # noqa: E402
from analytics.usecases import funnels, reports  # noqa: E402

CLICKHOUSE = os.environ.get("BENCH_CLICKHOUSE", "clickhouse://127.0.0.1:9000")

# Attempt n of game n % games: succeeded, failed, blocked or (n % 5 == 2) held for review and
# decided three days later; spread over the year by a multiplicative hash.
_GENERATE = """
    INSERT INTO events (event_id, type, source, subject, time, occurred_at, occurred_at_us, game_id,
                        key_id, country, key_type)
    SELECT generateUUIDv4(), type, 'activation-gateway', concat('attempt-', toString(n)), at, at,
           toInt64(toUInt32(at)) * 1000000, game, generateUUIDv4(),
           arrayElement(['DE', 'FR', 'US', 'GB', ''], n % 5 + 1), if(n % 3 = 0, 'press', 'retail')
    FROM
    (
        SELECT number + {offset} AS n,
               toUUID(concat('00000000-0000-4000-8000-', substring(concat('000000000000', hex(n % {games})),
                                                              length(hex(n % {games})) + 1, 12))) AS game,
               toDateTime({first} + (n * 7919) % (365 * 86400) + {later}, 'UTC') AS at,
               {type} AS type
        FROM numbers({size})
        {where}
    )
"""
_FIRST_TYPE = (
    "multiIf(n % 5 = 2, 'activation.pending_review', n % 5 = 3, 'activation.failed', "
    "n % 5 = 4, 'activation.blocked', 'activation.succeeded')"
)


def fresh_database(name: str, *, only_events: bool = False) -> ClickHouse:
    """A database with every migration; ``only_events``: without its views, so an insert into
    ``events`` writes that table alone."""
    migrate(CLICKHOUSE, name)
    store = ClickHouse(CLICKHOUSE, name, timeout_seconds=600)
    if only_events:
        views = store.execute(
            "SELECT name FROM system.tables WHERE database = %(db)s AND engine = 'MaterializedView'",
            {"db": name},
        )
        for (view,) in views:
            store.execute(f"DROP TABLE {view}")
    return store


def insert_cost(databases: list[str], count: int) -> dict[str, float]:
    """Seconds to insert ``count`` rows into each database, batch by batch in turns (the machine's
    other work then weighs on both alike)."""
    game = uuid.uuid4()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        event_row(activation(game, "activated", start + timedelta(seconds=n)).to_json(), "bench")
        for n in range(count)
    ]
    sinks = {
        database: ClickHouseSink(fresh_database(database, only_events=only_events))
        for database, only_events in zip(databases, (True, False), strict=True)
    }
    seconds = dict.fromkeys(databases, 0.0)
    for offset in range(0, count, 5_000):
        for database, sink in sinks.items():
            started = time.perf_counter()
            sink.insert_events(rows[offset : offset + 5_000])
            seconds[database] += time.perf_counter() - started
    return seconds


def generate(ch: ClickHouse, count: int, games: int) -> None:
    first = int(datetime.combine(AS_OF - timedelta(days=364), datetime.min.time(), UTC).timestamp())
    for offset in range(0, count, 1_000_000):
        size = min(1_000_000, count - offset)
        common = {"offset": offset, "games": games, "first": first, "size": size}
        ch.execute(_GENERATE.format(**common, later=0, type=_FIRST_TYPE, where=""))
        ch.execute(
            _GENERATE.format(
                **common, later=3 * 86400, type="'activation.succeeded'", where="WHERE n % 5 = 2"
            )
        )


# The funnel's batch, game and studio; its retailers, allocations and keys are numbered.
FUNNEL_BATCH = uuid.UUID("00000000-0000-4000-a000-000000000001")
FUNNEL_GAME = uuid.UUID("00000000-0000-4000-a000-000000000002")
FUNNEL_DEVELOPER = uuid.UUID("00000000-0000-4000-a000-000000000003")
FUNNEL_RETAILERS = 10
_KIND = {"key": "9000", "retailer": "b000", "allocation": "c000"}


def numbered(kind: str, n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-{_KIND[kind]}-{n:012x}")


def _numbered_sql(kind: str, n: str) -> str:
    return (
        f"toUUID(concat('00000000-0000-4000-{_KIND[kind]}-', "
        f"substring(hex(toUInt64(281474976710656 + ({n}))), 3, 12)))"
    )


# Key n is sold (n < sold) in order intDiv(n, 10), of retailer intDiv(n, 10) % retailers, at
# {first} plus a minute per order; activated when n % 10 < 6, up to 200 hours after its sale.
# Rows made by an ARRAY JOIN get their event ids after it (before it, they would share one).
_FUNNEL_EVENTS = {
    "sales": """
        INSERT INTO events (event_id, type, source, subject, time, occurred_at, occurred_at_us, key_ids,
                            key_batch_ids, retailer_id, order_id, quantity, payload)
        SELECT generateUUIDv4(), type, source, order_id, at, at, toInt64(toUInt32(at)) * 1000000,
               arrayMap(i -> {key_i}, range(10)), arrayMap(i -> toUUID('{batch}'), range(10)), {retailer},
               order_id, 10,
               if(type = 'sale.recorded',
                  '{{"data":{{"games":[{{"gameId":"{game}","quantity":10}}]}}}}', '{{}}')
        FROM
        (
            SELECT number AS o, concat('order-', toString(o)) AS order_id,
                   toDateTime({first} + o * 60, 'UTC') AS at, type, source
            FROM numbers({orders})
            ARRAY JOIN ['key.sold', 'sale.recorded'] AS type, ['key-manager', 'distribution'] AS source
        )
    """,
    "activations": """
        INSERT INTO events (event_id, type, source, subject, time, occurred_at, occurred_at_us, developer_id,
                            game_id, key_id, batch_id, retailer_id, allocation_id, key_type, country)
        SELECT generateUUIDv4(), type, source, concat('attempt-', toString(n)), at, at,
               toInt64(toUInt32(at)) * 1000000, toUUID('{developer}'), toUUID('{game}'), {key_n},
               toUUID('{batch}'), {retailer_n}, {allocation_n}, 'retail', 'DE'
        FROM
        (
            SELECT number AS n, type, source,
                   toDateTime({first} + intDiv(n, 10) * 60 + (n * 7919) % (200 * 3600), 'UTC') AS at
            FROM numbers({sold})
            ARRAY JOIN ['key.activated', 'activation.succeeded'] AS type,
                       ['key-manager', 'activation-gateway'] AS source
            WHERE n % 10 < 6
        )
    """,
    "returns": """
        INSERT INTO events (event_id, type, source, subject, time, occurred_at, occurred_at_us, key_ids,
                            key_batch_ids, retailer_id, order_id, quantity)
        SELECT generateUUIDv4(), 'key.returned', 'key-manager', order_id, at, at,
               toInt64(toUInt32(at)) * 1000000, [{key_n}], [toUUID('{batch}')], {retailer_n}, order_id, 1
        FROM
        (
            SELECT number AS n, concat('order-', toString(intDiv(n, 10))) AS order_id,
                   toDateTime({first} + intDiv(n, 10) * 60 + 86400, 'UTC') AS at
            FROM numbers({sold})
            WHERE n % 100 = 7
        )
    """,
    "revocations": """
        INSERT INTO events (event_id, type, source, subject, time, occurred_at, occurred_at_us, developer_id,
                            game_id, key_id, batch_id, retailer_id, key_type)
        SELECT generateUUIDv4(), 'key.revoked', 'key-manager', toString({key_n}), at, at,
               toInt64(toUInt32(at)) * 1000000, toUUID('{developer}'), toUUID('{game}'), {key_n},
               toUUID('{batch}'), {retailer_n}, 'retail'
        FROM
        (
            SELECT number + {sold} AS n, toDateTime({first} + 30 * 86400, 'UTC') AS at
            FROM numbers({unsold})
            WHERE n % 5 = 0
        )
    """,
}


def generate_funnel(ch: ClickHouse, keys: int) -> int:
    """The funnel's batch and its keys' events (see the module's docstring); returns how many
    events."""
    first = int(datetime.combine(AS_OF - timedelta(days=60), datetime.min.time(), UTC).timestamp())
    moment = datetime.fromtimestamp(first - 86400, UTC)
    per_retailer = -(-keys // FUNNEL_RETAILERS)
    bulk = [batch_of(FUNNEL_BATCH, FUNNEL_GAME, FUNNEL_DEVELOPER, keys, moment)] + [
        key_allocated(
            numbered("allocation", r), numbered("retailer", r), FUNNEL_GAME, per_retailer, moment,
            batches=[(FUNNEL_BATCH, per_retailer)],
        )
        for r in range(FUNNEL_RETAILERS)
    ]  # fmt: skip
    ClickHouseSink(ch).insert_events([event_row(event.to_json(), "bench") for event in bulk])
    order_of = "intDiv({n}, 10) % " + str(FUNNEL_RETAILERS)
    sold = keys * 4 // 5 // 10 * 10
    names = {
        "first": first,
        "sold": sold,
        "orders": sold // 10,
        "unsold": keys - sold,
        "batch": FUNNEL_BATCH,
        "game": FUNNEL_GAME,
        "developer": FUNNEL_DEVELOPER,
        "key_i": _numbered_sql("key", "o * 10 + i"),
        "key_n": _numbered_sql("key", "n"),
        "retailer": _numbered_sql("retailer", "o % " + str(FUNNEL_RETAILERS)),
        "retailer_n": _numbered_sql("retailer", order_of.format(n="n")),
        "allocation_n": _numbered_sql("allocation", order_of.format(n="n")),
    }
    (before,) = ch.execute("SELECT count() FROM events")[0]
    for statement in _FUNNEL_EVENTS.values():
        ch.execute(statement.format(**names))
    (after,) = ch.execute("SELECT count() FROM events")[0]
    return after - before


def funnel_reads(ch: ClickHouse, count: int) -> dict[str, list[float]]:
    """The batch's funnel and retailer 0's, each ``count`` times from the aggregate and from the
    raw events, after one unmeasured read of each."""
    info = funnel_store.batch_info(ch, FUNNEL_BATCH)
    retailer = numbered("retailer", 0)
    calls = {
        "the batch's funnel from the aggregate": lambda: funnels.batch(ch, info),
        "the batch's funnel from the raw events": lambda: funnels_reference.batch(ch, info),
        "a retailer's funnel from the aggregate": lambda: funnels.retailer(ch, retailer, None),
        "a retailer's funnel from the raw events": lambda: funnels_reference.retailer(ch, retailer, None),
    }
    answers = [call() for call in calls.values()]  # the unmeasured reads, which must agree
    if answers[0] != answers[1] or answers[2] != answers[3]:
        raise SystemExit(f"the aggregate and the raw events disagree: {answers}")
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            timings[name].append(time.perf_counter() - started)
    return timings


def one_pass(ch: ClickHouse, since: int, version: int) -> int:
    """The aggregator's pass, its ClickHouse steps."""
    hours = hourly.mark_changed_hours(ch, since)
    if hours:
        hourly.recompute_marked_hours(ch, version, hours)
    return hours


def lag(
    database: str, background: int, interval: float, probes: int, margin: float
) -> tuple[list[float], list[tuple[int, float]]]:
    """Seconds from each probe's insert to the report counting it, and each key pass's keys and
    seconds."""
    key_passes: list[tuple[int, float]] = []
    writer = ClickHouse(CLICKHOUSE, database)
    reader = ClickHouse(CLICKHOUSE, database)
    aggregator = ClickHouse(CLICKHOUSE, database)
    key_aggregator = ClickHouse(CLICKHOUSE, database)
    stop = threading.Event()
    now = datetime.now(UTC)

    def load() -> None:
        games = [game_id(n) for n in range(50)]
        sink = ClickHouseSink(writer)
        while not stop.wait(0.5):
            moment = datetime.now(UTC)
            batch = [activation(random.choice(games), "activated", moment) for _ in range(background // 2)]
            sink.insert_events([event_row(event.to_json(), "bench") for event in batch])

    def passes() -> None:
        version, since = 1_000_000, change_logs.server_time(aggregator)
        while not stop.is_set():
            started = change_logs.server_time(aggregator)
            version += 1
            one_pass(aggregator, max(0, int(since - margin)), version)
            since = started
            stop.wait(interval)

    def key_pass_loop() -> None:  # beside, as the worker's second aggregator runs them
        version, since = 2_000_000, change_logs.server_time(key_aggregator)
        while not stop.is_set():
            started, began = change_logs.server_time(key_aggregator), time.perf_counter()
            version += 1
            keys = key_facts.mark_changed_keys(key_aggregator, max(0, int(since - margin)))
            if keys:
                key_facts.recompute_marked_keys(key_aggregator, version, keys)
            key_passes.append((keys, time.perf_counter() - began))
            since = started
            stop.wait(interval)

    threads = [threading.Thread(target=target, daemon=True) for target in (load, passes, key_pass_loop)]
    for thread in threads:
        thread.start()
    probe_game = uuid.uuid4()
    today = Period.of(now.date() - timedelta(days=1), now.date() + timedelta(days=1), "UTC", now=now)
    sink = ClickHouseSink(ClickHouse(CLICKHOUSE, database))
    delays = []
    try:
        for n in range(probes):
            sink.insert_events(
                [event_row(activation(probe_game, "activated", datetime.now(UTC)).to_json(), "bench")]
            )
            inserted = time.perf_counter()
            while reports.activation_report(reader, probe_game, today).totals.activations < n + 1:
                time.sleep(0.02)
            delays.append(time.perf_counter() - inserted)
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    return delays, key_passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--insert-events", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--games", type=int, default=1_000)
    parser.add_argument("--reads", type=int, default=100)
    parser.add_argument("--background", type=int, default=1_000, help="events a second during the lag probes")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between aggregator passes")
    parser.add_argument("--margin", type=float, default=5.0, help="the passes' margin, seconds")
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--funnel-keys", type=int, default=100_000)
    parser.add_argument("--funnel-reads", type=int, default=20)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    plain, viewed, backlog = (f"analytics_bench_{kind}_{run}" for kind in ("plain", "views", "agg"))
    try:
        cost = insert_cost([plain, viewed], args.insert_events)
        print(
            f"insert of {args.insert_events:,} activation rows in batches of 5,000: "
            f"events alone {cost[plain]:.2f} s, with the views {cost[viewed]:.2f} s "
            f"({args.insert_events / cost[plain]:,.0f} vs {args.insert_events / cost[viewed]:,.0f} rows/s)"
        )

        ch = fresh_database(backlog)
        started = time.perf_counter()
        generate(ch, args.events, args.games)
        (stored,) = ch.execute("SELECT count() FROM events")[0]
        made = time.perf_counter() - started
        print(f"backlog: {stored:,} events of {args.games:,} games generated in {made:.1f} s")
        started = time.perf_counter()
        hours = one_pass(ch, 0, 1)
        took = time.perf_counter() - started
        print(f"one aggregator pass over the backlog: {hours:,} hours written in {took:.1f} s")

        for zone, source in (("UTC", "hourly aggregate"), ("Asia/Kolkata", "raw events")):
            for name, samples in reads(ch, args.games, args.reads, zone).items():
                label = "90-day daily series" if name == "activations" else "regions (90 days)"
                p50, p99 = (percentile(samples, fraction) * 1000 for fraction in (0.5, 0.99))
                print(f"{label}, {source} ({zone}), {len(samples)} reads: p50 {p50:.1f} ms, p99 {p99:.1f} ms")

        since = change_logs.server_time(ch)
        events = generate_funnel(ch, args.funnel_keys)
        print(f"funnels: a batch of {args.funnel_keys:,} keys, {events:,} events about them generated")
        started = time.perf_counter()
        keys = key_facts.mark_changed_keys(ch, since)
        key_facts.recompute_marked_keys(ch, 2, keys)
        took = time.perf_counter() - started
        print(f"one pass of the per-key aggregate over them: {keys:,} keys written in {took:.1f} s")
        for name, samples in funnel_reads(ch, args.funnel_reads).items():
            p50, p99 = (percentile(samples, fraction) * 1000 for fraction in (0.5, 0.99))
            print(f"{name}, {len(samples)} reads: p50 {p50:.1f} ms, p99 {p99:.1f} ms")

        delays, key_passes = lag(backlog, args.background, args.interval, args.probes, args.margin)
        print(
            f"lag from insert to report, {args.background:,} events/s beside, a pass every {args.interval} s "
            f"(margin {args.margin} s), {len(delays)} probes: p50 {percentile(delays, 0.5):.2f} s, "
            f"p99 {percentile(delays, 0.99):.2f} s, max {max(delays):.2f} s"
        )
        keys, seconds = [k for k, _ in key_passes], [took for _, took in key_passes]
        print(
            f"key passes meanwhile, {len(key_passes)}: p50 {percentile(keys, 0.5):,.0f} keys each, "
            f"in p50 {percentile(seconds, 0.5):.2f} s, p99 {percentile(seconds, 0.99):.2f} s"
        )
    finally:
        server = connect(CLICKHOUSE, "default", timeout_seconds=120)
        for database in (plain, viewed, backlog):
            server.execute(f"DROP DATABASE IF EXISTS {database}")
        server.disconnect()


if __name__ == "__main__":
    main()
