"""The blocks in force as each API process sees them at step 2: a snapshot of the projection
table (written by the worker's block list consumer) held in memory and reloaded every
``BLOCKS_REFRESH_SECONDS``. The refusal then costs a dict look-up, no query and no call to
antifraud; a block reaches the gateway within consumer lag + the refresh interval, and until
then antifraud (asked at step 6, against its own table) still refuses it with ACCOUNT_BLOCKED.
Memory is about 200 bytes per block in force: fine up to hundreds of thousands."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import sqlalchemy.exc

from activation_gateway.db import repository as repo
from activation_gateway.domain.blocks import Block
from gamekeys_platform.db import Database

log = logging.getLogger("activation_gateway.blocklist")


class BlockList:
    def __init__(self, db: Database, *, refresh_seconds: float) -> None:
        self._db = db
        self._refresh_seconds = refresh_seconds
        self._by_identity: dict[tuple[str, str], tuple[Block, ...]] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def matching(self, wanted: list[tuple[str, str]]) -> list[Block]:
        """Blocks in force (expiry honoured now) on any of the (entity type, value) pairs."""
        self._refresh_if_stale()
        now = datetime.now(UTC)
        by_identity = self._by_identity
        return [
            block
            for pair in wanted
            for block in by_identity.get(pair, ())
            if block.expires_at is None or block.expires_at > now
        ]

    def refresh(self) -> None:
        with self._db.transaction() as session:
            rows = repo.all_blocks_in_force(session)
        by_identity: dict[tuple[str, str], tuple[Block, ...]] = {}
        for row in rows:
            pair = (row.entity_type, row.value)
            by_identity[pair] = (*by_identity.get(pair, ()), Block(row.id, row.entity_type, row.expires_at))
        self._by_identity = by_identity  # one assignment: readers see the old or the new snapshot
        self._loaded_at = time.monotonic()

    def _refresh_if_stale(self) -> None:
        loaded_at = self._loaded_at
        if loaded_at is not None and time.monotonic() - loaded_at < self._refresh_seconds:
            return
        # The first load is waited for (nobody passes on an empty list); later ones are done by
        # one thread while the others go on with the current snapshot.
        if not self._lock.acquire(blocking=loaded_at is None):
            return
        try:
            if self._loaded_at is not loaded_at:
                return  # another thread reloaded meanwhile
            try:
                self.refresh()
            except sqlalchemy.exc.SQLAlchemyError:
                if loaded_at is None:
                    raise
                log.warning(
                    "block list reload failed, keeping the snapshot of %.0f s ago",
                    time.monotonic() - loaded_at,
                )
        finally:
            self._lock.release()
