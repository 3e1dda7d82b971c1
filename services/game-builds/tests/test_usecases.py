"""The worker's use case with fakes of S3 and clamd: a scanner that is down means a retry with
backoff, never ready; too many attempts end scan_incomplete."""

from __future__ import annotations

import dataclasses
import hashlib

from gb_testkit import new_studio

from game_builds.db import builds as repo
from game_builds.scanner import ScannerUnavailable
from game_builds.usecases import uploads
from game_builds.usecases.processing import process_next

DATA = b"build bytes" * 100


class FakeStore:
    def __init__(self):
        self.objects = {}

    def start_upload(self, key):
        return "upload-1"

    def complete(self, key, upload_id, parts):
        self.objects[key] = DATA

    def stream(self, key):
        yield self.objects[key]


class DownScanner:
    def open(self):
        raise ScannerUnavailable("clamd unreachable: ConnectionRefusedError")


def test_clamd_down_is_retried_then_failed_never_ready(gb, make_token):
    fake = dataclasses.replace(
        gb,
        store=FakeStore(),
        scanner=DownScanner(),
        settings=gb.settings.model_copy(
            update={"build_processing_max_attempts": 2, "build_retry_backoff_seconds": 0.001}
        ),
    )
    studio = new_studio(gb, make_token)
    request = uploads.VersionRequest(
        studio.game_id,
        studio.developer_id,
        "2.0",
        "linux",
        "",
        "g.bin",
        len(DATA),
        hashlib.sha256(DATA).hexdigest(),
    )
    with gb.db.transaction() as session:
        build = uploads.create_version(fake, session, request, actor="tester")
        uploads.complete_upload(fake, session, build, [(1, '"etag"', hashlib.sha256(DATA).hexdigest())])
    for _ in range(3):
        while process_next(fake) is not None:
            with gb.db.transaction() as session:
                row = repo.get(session, build.id, studio.game_id)
            if row.status == "failed":
                break
            assert row.status == "processing" and "clamd" in row.last_error
            with gb.db.transaction() as session:
                repo.retry_later(session, build.id, row.attempts, seconds=0, error=row.last_error)
    with gb.db.transaction() as session:
        row = repo.get(session, build.id, studio.game_id)
    assert row.status == "failed" and row.failure["reason"] == "scan_incomplete"
