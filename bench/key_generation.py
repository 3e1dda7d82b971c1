"""Key generation benchmark (issue: key-manager): 100,000 keys through the API until the batch
is ready, against a raw binary COPY of 100,000 rows of the same width; then the revocation of
the whole batch. Prints figures, asserts nothing. Run with `make bench` (infrastructure up).

The API runs in this process (a threaded WSGI server), the worker as its own process
(`python -m key_manager.worker`), so its peak memory is its own: VmHWM from /proc, compared with
its resident size once idle.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests
from measure import cpu_seconds
from werkzeug.serving import make_server

from gamekeys_platform import devkeys
from gamekeys_platform.events import Event
from gamekeys_platform.migrations import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "services" / "key-manager"
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
QUANTITY = 100_000


def environment(url: str, keys_dir: Path) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "SERVICE_NAME": "key-manager",
        "ENVIRONMENT": "local",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "JWT_ISSUER": devkeys.DEV_ISSUER,
        "JWT_AUDIENCE": devkeys.DEV_AUDIENCE,
        "JWT_PUBLIC_KEY_FILE": str(keys_dir / devkeys.PUBLIC_KEY_FILE),
        "SERVICE_TOKEN_SIGNING_KEY_FILE": str(keys_dir / devkeys.PRIVATE_KEY_FILE),
        "KEY_ENCRYPTION_KEYS": "bench1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "KEY_ENCRYPTION_ACTIVE_KEY_ID": "bench1",
        "KEY_LOOKUP_PEPPER": secrets.token_urlsafe(32),
        # Its own topics, so the benchmark's events do not reach the platform's consumers.
        "KEYS_EVENTS_TOPIC": f"bench.{tag}.keys.events",
        "DEVELOPER_EVENTS_TOPIC": f"bench.{tag}.developer.events",
        "KEY_BATCH_POLL_SECONDS": "1",
    }


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def backend_pids(url: str, database: str) -> list[int]:
    """The PostgreSQL server processes serving this database (the worker's pooled connections)."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
        ).fetchall()
    return [row[0] for row in rows]


@dataclass(frozen=True)
class CopyFigures:
    preencoded: float  # seconds, pre-encoded COPY data into a table without indexes
    write_row: float  # the same through psycopg's write_row
    preencoded_cpu: float  # CPU seconds of this process and its PostgreSQL process, pre-encoded
    indexed: float  # pre-encoded COPY into a table shaped like key_manager.keys, with its indexes
    indexed_cpu: float


def raw_copy(url: str) -> CopyFigures:
    """Binary COPYs of 100,000 rows as wide as key rows: into a scratch table without indexes,
    and into one with the keys table's indexes and fillfactor (the rows in the order the
    generator writes them: ids and lookup hashes both ascending, the database's least work)."""
    columns = (
        "id uuid, batch_id uuid, game_id uuid, developer_id uuid, key_type varchar(20), status varchar(20), "
        "lookup_hash bytea, ciphertext bytea, encryption_key_id varchar(32), expires_at timestamptz, "
        "created_at timestamptz, status_changed_at timestamptz"
    )
    now = datetime.now(UTC)
    batch, game, developer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ids = sorted(uuid.UUID(bytes=batch.bytes[:8] + os.urandom(8)) for _ in range(QUANTITY))
    hashes = sorted(os.urandom(32) for _ in range(QUANTITY))
    rows = [
        (key_id, batch, game, developer, "retail", "generated", lookup_hash, os.urandom(44), "bench1", None,
         now, now)
        for key_id, lookup_hash in zip(ids, hashes, strict=True)
    ]  # fmt: skip
    types = ["uuid", "uuid", "uuid", "uuid", "varchar", "varchar", "bytea", "bytea", "varchar", "timestamptz",
             "timestamptz", "timestamptz"]  # fmt: skip
    with psycopg.connect(url) as connection:
        connection.execute(f"CREATE TABLE scratch_keys ({columns})")
        connection.commit()
        with connection.cursor() as cursor:
            started = time.perf_counter()
            with cursor.copy("COPY scratch_keys FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
            connection.commit()
            write_row_seconds = time.perf_counter() - started
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY scratch_keys TO STDOUT (FORMAT BINARY)") as copy,
        ):
            buffer = b"".join(bytes(chunk) for chunk in copy)
        connection.execute("TRUNCATE scratch_keys")
        connection.commit()
        server = [connection.info.backend_pid, os.getpid()]
        with connection.cursor() as cursor:
            cpu_before = cpu_seconds(server)
            started = time.perf_counter()
            with cursor.copy("COPY scratch_keys FROM STDIN (FORMAT BINARY)") as copy:
                for offset in range(0, len(buffer), 1 << 20):
                    copy.write(buffer[offset : offset + (1 << 20)])
            connection.commit()
            preencoded_seconds = time.perf_counter() - started
            preencoded_cpu = cpu_seconds(server) - cpu_before
        connection.execute(
            "CREATE TABLE scratch_keys_indexed (LIKE key_manager.keys INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS INCLUDING INDEXES) WITH (fillfactor = 50)"
        )
        connection.commit()
        names = "id, batch_id, game_id, developer_id, key_type, status, lookup_hash, ciphertext, " \
            "encryption_key_id, expires_at, created_at, status_changed_at"  # fmt: skip
        with connection.cursor() as cursor:
            cpu_before = cpu_seconds(server)
            started = time.perf_counter()
            with cursor.copy(f"COPY scratch_keys_indexed ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                for offset in range(0, len(buffer), 1 << 20):
                    copy.write(buffer[offset : offset + (1 << 20)])
            connection.commit()
            indexed_seconds = time.perf_counter() - started
            indexed_cpu = cpu_seconds(server) - cpu_before
    return CopyFigures(preencoded_seconds, write_row_seconds, preencoded_cpu, indexed_seconds, indexed_cpu)


def main() -> None:
    name = f"gk_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    worker = None
    try:
        upgrade_to_head(SERVICE / "alembic.ini", url)
        keys_dir = Path(tempfile.mkdtemp(prefix="gk-bench-keys-"))
        devkeys.ensure_key_pair(keys_dir)
        env = environment(url, keys_dir)
        os.environ.update(env)

        from key_manager.app import create_app
        from key_manager.db.projection import apply_developer_event

        app = create_app()
        km = app.extensions["key_manager"]
        developer_id, game_id, user_id = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
        with km.db.transaction() as session:
            for event_type, data in (
                ("developer.registered", {"developerId": str(developer_id), "adminUserId": user_id}),
                ("developer.verified", {"developerId": str(developer_id), "verificationStatus": "verified"}),
                (
                    "game.created",
                    {"gameId": str(game_id), "developerId": str(developer_id), "title": "Bench"},
                ),
            ):
                apply_developer_event(session, Event(type=event_type, source="bench", subject="x", data=data))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api = f"http://127.0.0.1:{server.server_port}/api/v1/keys"
        token = devkeys.mint_token(
            (keys_dir / devkeys.PRIVATE_KEY_FILE).read_text(), sub=user_id, roles=["developer"],
            issuer=devkeys.DEV_ISSUER, audience=devkeys.DEV_AUDIENCE, ttl_seconds=3600,
        )  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}

        worker = subprocess.Popen(
            [sys.executable, "-m", "key_manager.worker"], env={**os.environ, **env}, cwd=SERVICE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(3)  # let it start, connect and settle
        idle_cpu = cpu_seconds([worker.pid])
        time.sleep(1)
        idle_cpu = cpu_seconds([worker.pid]) - idle_cpu  # its relay and consumer polling, per second
        idle_rss = memory_kib(worker.pid, "VmRSS")

        http = requests.Session()
        http.get(f"{api}/batches", headers=auth).raise_for_status()  # the API's pool is connected
        database_pids = backend_pids(url, name)
        worker_cpu_before, database_cpu_before = cpu_seconds([worker.pid]), cpu_seconds(database_pids)
        started = time.perf_counter()
        created = http.post(
            f"{api}/batches",
            json={"gameId": str(game_id), "keyType": "retail", "quantity": QUANTITY},
            headers=auth,
        )
        created.raise_for_status()
        batch_id = created.json()["batchId"]
        while True:
            batch = http.get(f"{api}/batches/{batch_id}", headers=auth).json()
            if batch["status"] in ("completed", "failed"):
                break
            time.sleep(0.02)
        end_to_end = time.perf_counter() - started
        # Worker and PostgreSQL only: the API's share (two small requests, the polls) is in this
        # process, which also runs the benchmark.
        worker_cpu = cpu_seconds([worker.pid]) - worker_cpu_before
        # Connections the worker opened meanwhile count whole.
        new_pids = [pid for pid in backend_pids(url, name) if pid not in database_pids]
        database_cpu = cpu_seconds(database_pids) - database_cpu_before + cpu_seconds(new_pids)
        generation_cpu = worker_cpu + database_cpu
        peak_rss = memory_kib(worker.pid, "VmHWM")
        if batch["status"] != "completed":
            raise SystemExit(f"the batch failed: {batch['failureReason']}")
        with psycopg.connect(url) as connection:
            queued, in_worker = connection.execute(
                "SELECT extract(epoch FROM started_at - created_at), "
                "extract(epoch FROM completed_at - started_at) FROM key_manager.batches WHERE id = %s",
                (batch_id,),
            ).fetchone()

        started = time.perf_counter()
        revoked = http.post(
            f"{api}/batches/{batch_id}/revoke", json={"reason": "benchmark"}, headers=auth
        ).json()
        revoke_seconds = time.perf_counter() - started

        copied = raw_copy(url)
        print(f"keys generated:      {batch['generatedKeys']:,} (batch {batch['status']})")
        print(
            f"end to end (API):    {end_to_end:.2f} s  (POST /batches until GET shows it completed; "
            "target <= 3 s)"
        )
        print(f"  in the worker:     {float(in_worker):.2f} s  (claim to commit; claimed "
              f"{float(queued):.2f} s after the API's transaction began)")  # fmt: skip
        c = copied
        print(f"raw binary COPY:     {c.preencoded:.2f} s  pre-encoded rows into a table without indexes")
        print(f"                     {c.write_row:.2f} s  the same rows through psycopg write_row")
        print(
            f"                     {c.indexed:.2f} s  pre-encoded, into a table with the keys table's indexes"
        )
        print(f"ratio:               {end_to_end / c.preencoded:.1f}x the pre-encoded COPY, "
              f"{end_to_end / c.write_row:.1f}x the write_row COPY (target <= 2.5x), "
              f"{end_to_end / c.indexed:.1f}x the COPY into an indexed table")  # fmt: skip
        print(f"CPU time:            {generation_cpu:.2f} s generating (worker {worker_cpu:.2f} s, "
              f"PostgreSQL {database_cpu:.2f} s); client + server: {c.preencoded_cpu:.2f} s for the "
              f"pre-encoded COPY ({generation_cpu / c.preencoded_cpu:.1f}x), {c.indexed_cpu:.2f} s into the "
              f"indexed table ({generation_cpu / c.indexed_cpu:.1f}x); the idle worker uses "
              f"{idle_cpu:.2f} s a second")  # fmt: skip
        print(
            f"batch revoke:        {revoked['revokedKeys']:,} keys in {revoke_seconds:.2f} s (target <= 3 s)"
        )
        print(f"worker memory:       idle {idle_rss / 1024:.0f} MiB, peak {peak_rss / 1024:.0f} MiB, "
              f"growth {(peak_rss - idle_rss) / 1024:.0f} MiB (target <= 200 MB)")  # fmt: skip
        server.shutdown()
        km.db.dispose()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
