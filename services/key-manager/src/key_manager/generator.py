"""The batch generator and the expiry job, run by the worker.

Batches are claimed one at a time with a lease (``FOR UPDATE SKIP LOCKED``, so several workers
can run); the API wakes the generator with NOTIFY, and it polls as well. A batch is generated in
one transaction, with progress committed beside it, so a failure leaves no keys: the batch is
marked ``failed`` with a reason (or, if the worker died or the database went away, retried when
the lease runs out, up to KEY_BATCH_MAX_ATTEMPTS). A batch cancelled meanwhile is noticed at the
next progress step (every chunk) or at completion, and its keys are rolled back.
"""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import sqlalchemy.exc
from prometheus_client import Counter
from sqlalchemy import Row

from key_manager.context import KeyManager
from key_manager.db import batches as batches_repo
from key_manager.db import bulk
from key_manager.domain.batches import BatchPlan
from key_manager.domain.regions import RegionPolicy
from key_manager.domain.states import KeyType
from key_manager.usecases import batches as batch_usecases
from key_manager.usecases.batches import NOTIFY_CHANNEL

log = logging.getLogger("key_manager.generator")

# The alert on batch generation failures (helm chart's PrometheusRule) reads this.
BATCHES = Counter("key_batches_generated_total", "Asynchronous batches finished, by outcome", ["outcome"])
for _outcome in ("completed", "failed"):
    BATCHES.labels(_outcome)  # present at 0 from the start, so increase() sees the first failure


def plan_from_row(batch: Row) -> BatchPlan:
    return BatchPlan(
        batch_id=batch.id,
        game_id=batch.game_id,
        developer_id=batch.developer_id,
        key_type=KeyType(batch.key_type),
        quantity=batch.total_keys,
        regions=RegionPolicy.from_columns(batch.allowed_countries, batch.denied_countries),
        expires_at=batch.expires_at,
        metadata=batch.metadata,
        synchronous=batch.synchronous,
    )


class BatchCancelled(Exception):
    """The batch was cancelled while being generated: roll its keys back."""


class BatchGenerator:
    def __init__(
        self,
        km: KeyManager,
        *,
        chunk_size: int = bulk.DEFAULT_CHUNK,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.km = km
        self.chunk_size = chunk_size
        self.random_bytes = random_bytes
        self.stop_event = threading.Event()
        self._listener: psycopg.Connection | None = None

    def run_forever(self) -> None:
        log.info("batch generator started")
        while not self.stop_event.is_set():
            try:
                if self.run_once() is not None:
                    continue  # there may be more waiting
            except Exception:
                log.exception("batch generator cycle failed")
            self._wait()
        if self._listener is not None:
            self._listener.close()
        log.info("batch generator stopped")

    def stop(self) -> None:
        self.stop_event.set()

    def run_once(self) -> uuid.UUID | None:
        """Generate the next waiting batch, if any; returns its id."""
        settings = self.km.settings
        with self.km.db.transaction() as session:
            batch = batches_repo.claim_next_batch(session, lease_seconds=settings.key_batch_lease_seconds)
        if batch is None:
            return None
        if batch.attempts > settings.key_batch_max_attempts:
            self._fail(batch.id, f"generation failed {batch.attempts - 1} times")
            return batch.id
        self.generate(batch)
        return batch.id

    def generate(self, batch: Row) -> None:
        km = self.km
        started = datetime.now(UTC)
        log.info("generating batch", extra={"batchId": str(batch.id), "quantity": batch.total_keys})

        def on_progress(generated: int) -> None:
            with km.db.transaction() as progress_session:
                if not batches_repo.set_progress(progress_session, batch.id, generated):
                    raise BatchCancelled

        try:
            with km.db.transaction() as session:
                bulk.insert_keys(
                    session,
                    km.vault,
                    plan_from_row(batch),
                    created_at=started,
                    chunk_size=self.chunk_size,
                    on_progress=on_progress,
                    random_bytes=self.random_bytes,
                )
                if batch_usecases.complete_generation(km, session, batch.id, batch.total_keys) is None:
                    raise BatchCancelled
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, psycopg.OperationalError):
            # The database went away: nothing was committed; the lease runs out and it is retried.
            log.warning("batch generation interrupted by the database", extra={"batchId": str(batch.id)})
            return
        except BatchCancelled:
            log.info(
                "batch cancelled while generating; its keys were rolled back",
                extra={"batchId": str(batch.id)},
            )
            return
        except bulk.GenerationFailed:
            self._fail(batch.id, "could not generate unique keys")
            return
        except Exception as exc:
            log.exception("batch generation failed", extra={"batchId": str(batch.id)})
            self._fail(batch.id, f"generation failed ({type(exc).__name__})")
            return
        elapsed = (datetime.now(UTC) - started).total_seconds()
        BATCHES.labels("completed").inc()
        log.info(
            "batch generated",
            extra={"batchId": str(batch.id), "quantity": batch.total_keys, "seconds": elapsed},
        )

    def _fail(self, batch_id: uuid.UUID, reason: str) -> None:
        with self.km.db.transaction() as session:
            batch_usecases.fail_generation(self.km, session, batch_id, reason)
        BATCHES.labels("failed").inc()
        log.warning("batch failed", extra={"batchId": str(batch_id), "reason": reason})

    def _wait(self) -> None:
        """Until a NOTIFY from the API, or the poll interval."""
        timeout = self.km.settings.key_batch_poll_seconds
        try:
            if self._listener is None:
                url = self.km.settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
                self._listener = psycopg.connect(url, autocommit=True, connect_timeout=5)
                self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
            for _notification in self._listener.notifies(timeout=timeout, stop_after=1):
                break
        except psycopg.Error:
            if self._listener is not None:
                self._listener.close()
            self._listener = None
            self.stop_event.wait(timeout)


def expire_due_batches(km: KeyManager) -> dict[str, int]:
    """Expire the keys of every batch whose expiration date has passed, one batch a transaction,
    one ``batch.expired`` event each. Activation refuses expired keys even before this runs."""
    expired_batches = expired_keys = 0
    while True:
        with km.db.transaction() as session:
            count = batch_usecases.expire_next_batch(km, session)
        if count is None:
            break
        expired_batches += 1
        expired_keys += count
    return {"batches": expired_batches, "keys": expired_keys}
