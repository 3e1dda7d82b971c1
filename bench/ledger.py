"""Ledger benchmark (issue: developer-portal finance), on a scratch database of the local
PostgreSQL, in-process (no HTTP for the posting, the Flask test client for the reads):

1. a backlog of sale.recorded events (100,000 by default, LEDGER_BENCH_EVENTS) posted as the
   finance consumer posts them: 200 a transaction, claimed in the inbox, then credited
   together: their entries, four postings each, the running balances, the games' share
   counters, their revenue lines and ledger.entry_posted events in the outbox; beside it, in
   the same run, the same handler called once per event (on LEDGER_BENCH_ONE_BY_ONE_EVENTS
   other events, 10,000 by default) and a raw psycopg INSERT of the same entry and posting
   rows, 200 events a transaction (the floor of writing them);
2. the balance read (GET /finance/balance) and the first page of transactions for one studio
   with 1,000,000 entries (LEDGER_BENCH_ENTRIES), p50 / p99 over 1,000 reads each.

Prints rates, the ratio to the raw insert, latencies and peak memory; asserts nothing.
Targets: >= 2,000 postings/s, balance p99 <= 10 ms.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from measure import percentile
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "developer-portal" / "tests"))

from dp_testkit import Portal, retailer_sale  # noqa: E402

from developer_portal.app import create_app  # noqa: E402
from developer_portal.settings import Settings  # noqa: E402
from developer_portal.usecases.finance import finance_events  # noqa: E402
from gamekeys_platform import devkeys  # noqa: E402
from gamekeys_platform.migrations import upgrade_to_head  # noqa: E402
from gamekeys_platform.settings import load_settings  # noqa: E402

EVENTS = int(os.environ.get("LEDGER_BENCH_EVENTS", "100000"))
ENTRIES = int(os.environ.get("LEDGER_BENCH_ENTRIES", "1000000"))
ONE_BY_ONE_EVENTS = int(os.environ.get("LEDGER_BENCH_ONE_BY_ONE_EVENTS", "10000"))
PER_TRANSACTION = int(os.environ.get("LEDGER_BENCH_BATCH", "200"))  # the consumer's max_poll_records
READS = 1_000
SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def scratch_database() -> str:
    name = f"gk_bench_ledger_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def studio_with_games(portal, count: int) -> tuple[str, list[str]]:
    """A verified studio with ``count`` games, made through the API: (its admin's token, game ids)."""
    admin, _developer = portal.studio()
    return admin.token, [portal.game(admin)["gameId"] for _ in range(count)]


def sale_events(game_ids: list[str], count: int):
    retailers = [uuid.uuid4() for _ in range(20)]
    for n in range(count):
        yield retailer_sale(
            {"gameId": game_ids[n % len(game_ids)]},
            quantity=1 + n % 3,
            unit_price="19.99",
            retailer_id=retailers[n % len(retailers)],
        )


def post_backlog(app, events: list, *, together: bool = True) -> float:
    """Post ``events`` as the finance consumer does: ``PER_TRANSACTION`` a transaction, claimed
    in the inbox, then handed over together (a run of sales is credited at once), or, with
    ``together=False``, one handler call per event (how it was done before, for comparison)."""
    state = app.extensions["developer_portal"]
    handle = finance_events(state)
    inbox = state.db.tables.inbox
    started = time.perf_counter()
    for start in range(0, len(events), PER_TRANSACTION):
        chunk = events[start : start + PER_TRANSACTION]
        with state.db.transaction() as session:
            session.execute(
                insert(inbox).values(
                    [
                        {
                            "consumer": "bench.finance",
                            "event_id": e.id,
                            "event_type": e.type,
                            "outcome": "processed",
                        }
                        for e in chunk
                    ]
                )
            )
            if together:
                handle.handle_all(session, chunk)
            else:
                for event in chunk:
                    handle(session, event)
    return time.perf_counter() - started


def count_rows(state, table: str) -> int:
    with state.db.transaction() as session:
        return session.execute(text(f"SELECT count(*) FROM developer_portal.{table}")).scalar_one()  # noqa: S608


def raw_insert(url: str, events: list) -> float:
    """The same entry and posting rows with plain psycopg: the floor of writing them."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE raw_entries "
            "(LIKE developer_portal.ledger_entries INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        connection.execute("CREATE TABLE raw_postings (entry_id uuid, account text, amount numeric(20,4))")
    now = datetime.now(UTC)
    with psycopg.connect(url) as connection:
        started = time.perf_counter()
        for start in range(0, len(events), PER_TRANSACTION):
            entries, postings = [], []
            for event in events[start : start + PER_TRANSACTION]:
                entry_id = uuid.uuid4()
                gross = Decimal(event.data["gross"]["amount"])
                entries.append((entry_id, uuid.uuid4(), "sale", f"raw:{event.id}", "USD", now))
                for account, amount in (("a", -gross), ("b", gross / 4), ("c", gross / 4), ("d", gross / 2)):
                    postings.append((entry_id, account, amount))
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO raw_entries (entry_id, developer_id, kind, source_id, currency, "
                    "occurred_at) VALUES (%s, %s, %s, %s, %s, %s)",
                    entries,
                )
                cursor.executemany("INSERT INTO raw_postings VALUES (%s, %s, %s)", postings)
            connection.commit()
        return time.perf_counter() - started


def fill_entries(url: str, developer_id: uuid.UUID, count: int) -> float:
    """``count`` entries (two postings each) for one studio, straight in SQL, balances kept."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            """
            INSERT INTO developer_portal.ledger_entries
                (entry_id, developer_id, kind, source_id, currency, occurred_at)
            SELECT gen_random_uuid(), %(d)s, 'adjustment', 'fill:' || n, 'USD',
                now() - n * interval '1 second'
            FROM generate_series(1, %(n)s) AS n
            """,
            {"d": developer_id, "n": count},
        )
        connection.execute(
            """
            INSERT INTO developer_portal.ledger_postings (entry_id, account, amount)
            SELECT entry_id, account, amount FROM developer_portal.ledger_entries,
                LATERAL (VALUES ('platform:adjustments', -1.00),
                                ('studio:' || developer_id || ':available', 1.00)) AS p(account, amount)
            WHERE source_id LIKE 'fill:%%'
            """
        )
        connection.execute(
            """
            INSERT INTO developer_portal.ledger_balances (account, currency, balance)
            VALUES ('studio:' || %(d)s || ':available', 'USD', %(n)s)
            ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + EXCLUDED.balance
            """,
            {"d": str(developer_id), "n": count},
        )
        connection.execute("ANALYZE developer_portal.ledger_entries")
        connection.execute("ANALYZE developer_portal.ledger_postings")
    return time.perf_counter() - started


def read_latencies(client, path: str, headers: dict) -> list[float]:
    samples = []
    for _ in range(READS):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_data(as_text=True)
    return samples


def main() -> None:
    name = scratch_database()
    url = f"{SERVER}/{name}"
    try:
        upgrade_to_head(
            ROOT / "services" / "developer-portal" / "alembic.ini",
            f"postgresql+psycopg://{url.split('://', 1)[1]}",
        )
        key_pair = devkeys.ensure_key_pair(devkeys.keys_dir())
        settings = load_settings(
            Settings,
            database_url=f"postgresql+psycopg://{url.split('://', 1)[1]}",
            kafka_bootstrap_servers="127.0.0.1:9092",
            redis_url="redis://127.0.0.1:6379/0",
            jwt_issuer=devkeys.DEV_ISSUER,
            jwt_audience=devkeys.DEV_AUDIENCE,
            jwt_public_key_file=str(key_pair.public_key_file),
            service_token_signing_key_file=str(key_pair.private_key_file),
            payout_details_keys=Fernet.generate_key().decode(),
            # The ledger benchmark never calls analytics; the portal still needs its address.
            analytics_url=os.environ.get("ANALYTICS_URL", "http://127.0.0.1:8007"),
            log_level="WARNING",
        )
        app = create_app(settings)
        state = app.extensions["developer_portal"]

        def make_token(**claims) -> str:
            return devkeys.mint_token(
                key_pair.private_key_file.read_text(),
                issuer=devkeys.DEV_ISSUER,
                audience=devkeys.DEV_AUDIENCE,
                **claims,
            )

        portal = Portal(app, make_token)
        _token, game_ids = studio_with_games(portal, 100)
        events = list(sale_events(game_ids, EVENTS))

        one_by_one = list(sale_events(game_ids, ONE_BY_ONE_EVENTS))
        one_by_one_seconds = post_backlog(app, one_by_one, together=False)
        postings_before = count_rows(state, "ledger_postings")
        seconds = post_backlog(app, events)
        postings = count_rows(state, "ledger_postings") - postings_before
        outbox = count_rows(state, "outbox")
        raw_seconds = raw_insert(url, events)
        print(f"backlog of {EVENTS:,} sale.recorded events, {PER_TRANSACTION} a transaction:")
        print(
            f"  ledger (inbox, entry, postings, balances, counter, line, outbox): {seconds:.1f} s, "
            f"{EVENTS / seconds:,.0f} events/s, {postings / seconds:,.0f} postings/s "
            f"({postings:,} postings; {outbox:,} events in the outbox, both runs)"
        )
        print(
            f"  the same, one handler call per event ({ONE_BY_ONE_EVENTS:,} other events): "
            f"{ONE_BY_ONE_EVENTS / one_by_one_seconds:,.0f} events/s; "
            f"together / one by one = {one_by_one_seconds / ONE_BY_ONE_EVENTS * EVENTS / seconds:.1f}x"
        )
        print(
            f"  raw psycopg INSERT of the same entry and posting rows: {raw_seconds:.1f} s, "
            f"{postings / raw_seconds:,.0f} postings/s; ledger / raw = {raw_seconds / seconds:.2f}"
        )

        token, (game_id,) = studio_with_games(portal, 1)
        with state.db.transaction() as session:
            developer_id = session.execute(
                text("SELECT developer_id FROM developer_portal.games WHERE game_id = :g"), {"g": game_id}
            ).scalar_one()
        fill_seconds = fill_entries(url, developer_id, ENTRIES)
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()
        balance = read_latencies(client, "/api/v1/developer/finance/balance", headers)
        page = read_latencies(client, "/api/v1/developer/finance/transactions?limit=50", headers)
        print(f"one studio with {ENTRIES:,} entries (filled in {fill_seconds:.0f} s), {READS:,} reads each:")
        for label, samples in (("GET /finance/balance", balance), ("GET /finance/transactions (50)", page)):
            print(
                f"  {label:32} p50 {percentile(samples, 0.5) * 1000:.2f} ms, "
                f"p99 {percentile(samples, 0.99) * 1000:.2f} ms"
            )
        print(
            f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
        state.db.dispose()
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
