"""MaxMind GeoIP2 / GeoLite2 databases (``.mmdb``) that ops mount, read with ``maxminddb``.

geoipupdate replaces a database by renaming a new file over it, so every ``check_seconds`` a
look-up stats the path and, when it changed, opens the new file and swaps it in: no restart.
A file that does not open (half-written, wrong kind) leaves the previous reader in use, and the
failure is counted. The old reader is not closed by hand: a look-up on another thread may still
hold it, and it is released when the last reference goes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import maxminddb

from gamekeys_platform.geoip.info import IpAddress

log = logging.getLogger(__name__)

# Which database types serve which purpose (the metadata's database_type).
COUNTRY = ("Country", "City", "Enterprise")
ANONYMOUS_IP = ("Anonymous",)
ASN = ("ASN", "ISP")


def open_checked(path: Path, kinds: tuple[str, ...]) -> maxminddb.Reader:
    """The reader, or ValueError when the file is not a MaxMind DB of one of ``kinds``."""
    try:
        reader = maxminddb.open_database(str(path))
    except (OSError, maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable MaxMind database ({type(exc).__name__})") from None
    database_type = reader.metadata().database_type
    if not any(kind in database_type for kind in kinds):
        reader.close()
        raise ValueError(f"{path} is a {database_type} database, expected one of {', '.join(kinds)}")
    return reader


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


class MaxmindDatabase:
    def __init__(
        self,
        path: Path,
        kinds: tuple[str, ...],
        *,
        check_seconds: float = 60.0,
        on_reload: Callable[[MaxmindDatabase, bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._kinds = kinds
        self._check_seconds = check_seconds
        self._on_reload = on_reload
        self._clock = clock
        self._stamp = _stamp(self.path)
        self._reader = open_checked(self.path, kinds)
        self._next_check = clock() + check_seconds
        self._reloading = threading.Lock()

    def get(self, address: IpAddress) -> dict[str, Any] | None:
        if self._clock() >= self._next_check:
            self._maybe_reload()
        record = self._reader.get(address)
        return record if isinstance(record, dict) else None

    @property
    def database_type(self) -> str:
        return self._reader.metadata().database_type

    @property
    def built_at(self) -> datetime:
        return datetime.fromtimestamp(self._reader.metadata().build_epoch, UTC)

    def _maybe_reload(self) -> None:
        # One thread checks; the others go on with the reader they have instead of waiting.
        if not self._reloading.acquire(blocking=False):
            return
        try:
            self._next_check = self._clock() + self._check_seconds
            stamp = _stamp(self.path)
            if stamp is None or stamp == self._stamp:
                return  # unchanged, or mid-replacement: keep what works
            try:
                reader = open_checked(self.path, self._kinds)
            except ValueError as exc:
                log.warning("MaxMind database not reloaded, keeping the previous one: %s", exc)
                self._stamp = stamp  # do not retry the same bad file on every check
                if self._on_reload:
                    self._on_reload(self, False)
                return
            self._reader, self._stamp = reader, stamp
            log.info("MaxMind database reloaded: %s built %s", self.database_type, self.built_at.date())
            if self._on_reload:
                self._on_reload(self, True)
        finally:
            self._reloading.release()
