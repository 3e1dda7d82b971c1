"""Build upload benchmark (issue: game-builds): a 1 GiB generated file pushed by the CLI
(`gamekeys push`) to S3 and processed (SHA-256 + clamd) to ready, beside this machine's raw
figures in the same run: `sha256sum` of the file, clamd scanning it alone (INSTREAM), and a plain
boto3 multipart upload of it. Prints figures, asserts nothing. Run with `make bench`
(infrastructure up; clamd at CLAMD_HOST:CLAMD_PORT with the limits of deploy/local/clamav).

The API runs in this process (a threaded WSGI server) on a database of its own, the worker as
its own process (`python -m game_builds.worker`), so its peak memory (VmHWM) is its own.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import psycopg
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from werkzeug.serving import make_server

from gamekeys_platform import devkeys
from gamekeys_platform.migrations import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "services" / "game-builds"
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
S3 = {
    "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", "http://127.0.0.1:8333"),
    "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", "gamekeys"),
    "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", "gamekeys-local-secret"),
    "S3_REGION": "us-east-1",
}
CLAMD = (os.environ.get("CLAMD_HOST", "127.0.0.1"), int(os.environ.get("CLAMD_PORT", "3310")))
SIZE = 1024**3
MB = 1_000_000


def environment(url: str, keys_dir: Path, bucket: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "SERVICE_NAME": "game-builds",
        "ENVIRONMENT": "local",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "JWT_ISSUER": devkeys.DEV_ISSUER,
        "JWT_AUDIENCE": devkeys.DEV_AUDIENCE,
        "JWT_PUBLIC_KEY_FILE": str(keys_dir / devkeys.PUBLIC_KEY_FILE),
        "SERVICE_TOKEN_SIGNING_KEY_FILE": str(keys_dir / devkeys.PRIVATE_KEY_FILE),
        **S3,
        "BUILDS_BUCKET": bucket,
        "CLAMD_HOST": CLAMD[0],
        "CLAMD_PORT": str(CLAMD[1]),
        # Its own topics, so the benchmark's events do not reach the platform's consumers.
        "BUILDS_EVENTS_TOPIC": f"bench.{tag}.builds.events",
        "DEVELOPER_EVENTS_TOPIC": f"bench.{tag}.developer.events",
        "BUILD_POLL_SECONDS": "0.2",
        # The benchmark pushes with a JWT; no CI key is introspected.
        "DEVELOPER_PORTAL_URL": os.environ.get("DEVELOPER_PORTAL_URL", "http://127.0.0.1:8001"),
    }


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def generate(path: Path) -> None:
    """1 GiB of incompressible bytes, made fast (a random block repeated with a counter)."""
    block = os.urandom(1024**2)
    with open(path, "wb") as out:
        for index in range(SIZE // len(block)):
            out.write(struct.pack("!Q", index) + block[8:])


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def clamd_alone(path: Path) -> str:
    with socket.create_connection(CLAMD, timeout=600) as sock:
        sock.sendall(b"zINSTREAM\0")
        with open(path, "rb") as source:
            while chunk := source.read(1024**2):
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
        sock.sendall(struct.pack("!L", 0))
        return sock.recv(4096).rstrip(b"\0").decode()


def main() -> None:
    name = f"gk_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    bucket = f"bench-builds-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="gk-bench-build-"))
    path = work / "game.bin"
    worker = None
    s3 = boto3.client(
        "s3",
        endpoint_url=S3["S3_ENDPOINT_URL"],
        aws_access_key_id=S3["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=S3["S3_SECRET_ACCESS_KEY"],
        region_name=S3["S3_REGION"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    try:
        upgrade_to_head(SERVICE / "alembic.ini", url)
        keys_dir = work / "keys"
        devkeys.ensure_key_pair(keys_dir)
        env = environment(url, keys_dir, bucket)
        os.environ.update(env)

        from game_builds.app import create_app
        from game_builds.db.tables import studio_projection
        from gamekeys_platform.testing import seed_studio_game

        app = create_app()
        gb = app.extensions["game_builds"]
        _, game_id, users = seed_studio_game(gb.db, studio_projection)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api_url = f"http://127.0.0.1:{server.server_port}"
        token = devkeys.mint_token(
            (keys_dir / devkeys.PRIVATE_KEY_FILE).read_text(), sub=users["admin"], roles=["developer"],
            issuer=devkeys.DEV_ISSUER, audience=devkeys.DEV_AUDIENCE, ttl_seconds=3600,
        )  # fmt: skip

        generate(path)
        # The raw figures, same machine, same run.
        sha256sum = ["sha256sum", str(path)]
        sha_seconds = timed(lambda: subprocess.run(sha256sum, check=True, capture_output=True))  # noqa: S603
        # clamd caches the verdict on a file it has seen (by its MD5): its raw figure is taken on
        # another file of the same size and kind, so neither it nor the worker's scan is a cache hit.
        other = work / "other.bin"
        generate(other)
        answer = []
        clamd_seconds = timed(lambda: answer.append(clamd_alone(other)))
        other.unlink()
        part_size = 64 * 1024**2  # what the service chooses for its default 64 GiB maximum
        boto_config = TransferConfig(
            multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=4
        )
        boto_seconds = timed(lambda: s3.upload_file(str(path), bucket, "raw/boto3", Config=boto_config))
        s3.delete_object(Bucket=bucket, Key="raw/boto3")

        worker = subprocess.Popen(
            [sys.executable, "-m", "game_builds.worker"], env={**os.environ, **env}, cwd=SERVICE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(3)  # let it start, connect and settle
        idle_rss = memory_kib(worker.pid, "VmRSS")

        started = time.perf_counter()
        command = [
            sys.executable, "-m", "gamekeys_cli", "--api-url", api_url, "push", str(path),
            "--game", str(game_id), "--version", "1.0.0", "--platform", "windows", "--no-wait",
            "--state-dir", str(work / "state"),
        ]  # fmt: skip
        push = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            command, env={**os.environ, "GAMEKEYS_TOKEN": token}, capture_output=True, text=True, check=False
        )
        uploaded_at = time.perf_counter()
        if push.returncode != 0:
            raise SystemExit(f"gamekeys push failed: {push.stderr[-2000:]}")
        version_id = push.stdout.split()[2].rstrip(":")
        rate = re.search(r"at ([\d.]+) (KiB|MiB|GiB)/s", push.stderr)
        upload_rate = float(rate.group(1)) * 1024 ** ("KMG".index(rate.group(2)[0]) + 1) / MB if rate else 0.0

        from sqlalchemy import select

        from game_builds.db.tables import builds

        status = "uploaded"
        while status not in ("ready", "failed"):
            time.sleep(0.1)
            with gb.db.transaction() as session:
                row = session.execute(select(builds).where(builds.c.id == uuid.UUID(version_id))).one()
            status = row.status
            if time.perf_counter() - uploaded_at > 1800:
                raise SystemExit("the build was not processed within 30 minutes")
        processing_seconds = time.perf_counter() - uploaded_at
        peak = memory_kib(worker.pid, "VmHWM")

        size_mb = SIZE / MB
        boto_rate = size_mb / boto_seconds
        processing_rate = size_mb / processing_seconds
        slower_raw = max(sha_seconds, clamd_seconds)
        lines = [
            f"file: {SIZE} bytes (1 GiB), generated; clamd alone answered {answer[0]!r}",
            f"raw sha256sum:                 {size_mb / sha_seconds:8.1f} MB/s ({sha_seconds:.1f} s)",
            f"raw clamd INSTREAM alone:      {size_mb / clamd_seconds:8.1f} MB/s ({clamd_seconds:.1f} s)",
            f"raw boto3 multipart upload:    {boto_rate:8.1f} MB/s"
            f" ({boto_seconds:.1f} s, 64 MiB parts, 4 at once)",
            f"gamekeys push, upload:         {upload_rate:8.1f} MB/s"
            f" ({upload_rate / boto_rate:.2f}x boto3; target >= 0.8x)",
            f"gamekeys push, whole command:  {uploaded_at - started:8.1f} s"
            " (hashing, create, upload, complete)",
            f"processing (hash + scan):      {processing_rate:8.1f} MB/s"
            f" ({processing_seconds:.1f} s to {status};"
            f" {slower_raw / processing_seconds:.2f}x the slower raw; target >= 0.5x)",
            f"worker peak memory (VmHWM):    {peak / 1024:8.1f} MiB"
            f" (idle RSS {idle_rss / 1024:.1f} MiB; target <= 200 MB)",
        ]
        print("\n".join(lines))
        if status != "ready":
            print(f"the build ended {status}: {row.failure}")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        shutil.rmtree(work, ignore_errors=True)
        try:
            for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)
        except Exception as exc:  # the bucket may never have been made
            print(f"(bucket {bucket} not removed: {exc.__class__.__name__})")
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
