"""The composition root: settings, database, outbox, the S3 and clamd clients behind small
Protocols, so use cases can be tested with fakes, and developer-portal's key introspection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import current_app

from game_builds.db.tables import metadata
from game_builds.domain.uploads import ScanResult
from game_builds.introspection import KeyIntrospection
from game_builds.scanner import ClamdScanner
from game_builds.settings import Settings
from game_builds.storage import S3Store
from gamekeys_platform.db import Database
from gamekeys_platform.outbox import Outbox

SOURCE = "game-builds"


class ObjectStore(Protocol):
    def start_upload(self, key: str) -> str: ...
    def part_url(
        self, key: str, upload_id: str, part_number: int, seconds: int, sha256_b64: str | None = None
    ) -> tuple[str, dict[str, str]]: ...
    def received_parts(self, key: str, upload_id: str) -> dict[int, dict]: ...
    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str, str]]) -> None: ...
    def abort(self, key: str, upload_id: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def download_url(self, key: str, file_name: str | None, seconds: int) -> tuple[str, datetime]: ...
    def stream(self, key: str) -> Iterator[bytes]: ...
    def put_url(self, key: str, content_type: str, size: int, seconds: int) -> tuple[str, datetime]: ...
    def size_of(self, key: str) -> int | None: ...
    def read(self, key: str, *, first: int | None = None) -> bytes: ...
    def read_range(self, key: str, start: int, length: int) -> bytes: ...


class ScanSession(Protocol):
    def feed(self, data: bytes) -> None: ...
    def finish(self) -> ScanResult: ...
    def close(self) -> None: ...


class Scanner(Protocol):
    def open(self) -> ScanSession: ...


@dataclass(frozen=True)
class GameBuilds:
    settings: Settings
    db: Database
    outbox: Outbox
    store: ObjectStore
    scanner: Scanner
    keys: KeyIntrospection

    @classmethod
    def from_settings(cls, settings: Settings) -> GameBuilds:
        db = Database.from_settings(settings, metadata=metadata)
        return cls(
            settings=settings,
            db=db,
            outbox=Outbox(db, SOURCE, topic=settings.builds_events_topic),
            store=S3Store(settings),
            scanner=ClamdScanner(settings),
            keys=KeyIntrospection.from_settings(settings),
        )


def game_builds() -> GameBuilds:
    return current_app.extensions["game_builds"]
