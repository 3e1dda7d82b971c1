"""The block list as this instance applies it: a snapshot of the active blocks in memory, so
scoring an activation asks PostgreSQL nothing about blocks.

A block added or lifted on any instance writes a new version token to Redis once its
transaction has committed. ``analyze`` reads the token in the round trip it already makes for
its velocity features; a token other than the one the snapshot was taken under reloads the
snapshot first, so a block applies from the next request on, on every instance. Expiry needs no
reload (entries keep their expiry time). The token is read before the blocks are, so a block
committed during a reload brings a token the reload did not see: the next request reloads again.

A snapshot older than ``max_age_seconds`` is reloaded anyway, should a token write have been
lost (Redis unreachable just after a commit). Without Redis (degraded mode) every request
asks PostgreSQL, as it did before snapshots.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from antifraud.db import repository as repo
from antifraud.domain.blocks import BlockSnapshot
from antifraud.velocity import VelocityStore

log = logging.getLogger("antifraud.blocks")


class BlockList:
    def __init__(self, store: VelocityStore, *, max_age_seconds: float = 5.0) -> None:
        self.store = store
        self.max_age_seconds = max_age_seconds
        self._snapshot: BlockSnapshot | None = None
        self._version: str | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def blocked_types(
        self, session: Session, entities: dict[str, str], *, now: datetime, version: str | None
    ) -> set[str]:
        """The types of ``entities`` (type -> value) on the block list; ``version`` is the token
        ``VelocityStore.observe`` read (None: Redis has none)."""
        snapshot = self._current(version)
        if snapshot is None:
            snapshot = self._reload(session, version)
        if snapshot is None:
            return self.blocked_types_in_database(session, entities)
        return snapshot.blocked_types(entities, now)

    @staticmethod
    def blocked_types_in_database(session: Session, entities: dict[str, str]) -> set[str]:
        """The same answer without the snapshot, for when Redis cannot say whether it is current."""
        return repo.active_block_types(
            session, user_id=entities["user"], ip=entities["ip"], device=entities["device"]
        )

    def changed(self, session: Session) -> None:
        """Announce a change the ``session`` is writing, once it commits (a rollback announces
        nothing). This instance reloads at once even if the announcement fails."""

        def announce(_session: Session) -> None:
            self._loaded_at = 0.0
            try:
                self.store.new_blocks_version()
            except redis.RedisError as exc:
                log.warning("could not announce a block list change: %s", type(exc).__name__)

        event.listen(session, "after_commit", announce, once=True)

    def _current(self, version: str | None) -> BlockSnapshot | None:
        fresh = time.monotonic() - self._loaded_at < self.max_age_seconds
        if version is not None and version == self._version and fresh:
            return self._snapshot
        return None

    def _reload(self, session: Session, version: str | None) -> BlockSnapshot | None:
        with self._lock:
            snapshot = self._current(version)  # another request may have reloaded meanwhile
            if snapshot is not None:
                return snapshot
            try:
                version = version if version is not None else self.store.blocks_version()
            except redis.RedisError:
                return None
            snapshot = BlockSnapshot(repo.active_blocks(session))
            self._snapshot, self._version, self._loaded_at = snapshot, version, time.monotonic()
            log.info("block list loaded", extra={"activeBlocks": len(snapshot)})
            return snapshot
