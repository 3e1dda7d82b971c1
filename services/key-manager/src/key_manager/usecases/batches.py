"""Use cases of key batches: generating keys now (/generate), queueing a batch for the worker,
cancelling and revoking a batch, and the worker's side: completing or failing a generation,
expiring a batch's keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from gamekeys_platform.refusals import Refusal
from key_manager import events
from key_manager.context import KeyManager
from key_manager.db import batches as batches_repo
from key_manager.db import bulk
from key_manager.domain.batches import BatchPlan, PlanRefused, plan_batch
from key_manager.domain.states import CANCELLABLE_BATCH, BatchStatus
from key_manager.usecases import refusals

# The worker LISTENs here; a queued batch NOTIFYs it.
NOTIFY_CHANNEL = "key_manager_batches"


@dataclass(frozen=True)
class BatchOrder:
    """What a generation request asks for (the seed's KeyGenerationRequest)."""

    game_id: uuid.UUID
    key_type: str
    quantity: int
    regional_restrictions: list[dict[str, Any]] | None = None
    expiration_date: datetime | None = None
    metadata: dict[str, Any] | None = None


def _plan(km: KeyManager, order: BatchOrder, developer_id: uuid.UUID, *, synchronous: bool) -> BatchPlan:
    try:
        return plan_batch(
            game_id=order.game_id,
            developer_id=developer_id,
            key_type=order.key_type,
            quantity=order.quantity,
            regional_restrictions=order.regional_restrictions,
            expiration_date=order.expiration_date,
            metadata=order.metadata,
            synchronous=synchronous,
            metadata_max_bytes=km.settings.key_metadata_max_bytes,
        )
    except PlanRefused as exc:
        raise refusals.refused_plan(exc) from exc


@dataclass(frozen=True)
class Generated:
    batch: Row
    keys: list[tuple[uuid.UUID, bytes]]  # (key id, plaintext key): shown once, never stored


def generate_now(
    km: KeyManager, session: Session, order: BatchOrder, *, developer_id: uuid.UUID, actor: str
) -> Generated:
    """Generate up to 1,000 keys in the caller's transaction: the completed batch (one
    batch.generated event) and its keys in plaintext, for the caller to show once."""
    plan = batches_repo.insert_batch(
        session,
        _plan(km, order, developer_id, synchronous=True),
        status=BatchStatus.GENERATING.value,
        created_by=actor,
    )
    try:
        pairs = bulk.insert_keys(session, km.vault, plan, created_at=datetime.now(UTC), keep_plaintext=True)
    except bulk.GenerationFailed:
        raise Refusal("GENERATION_FAILED", "keys could not be generated, retry later") from None
    batch = complete_generation(km, session, plan.batch_id, len(pairs))
    return Generated(batch, pairs)


def queue_batch(
    km: KeyManager, session: Session, order: BatchOrder, *, developer_id: uuid.UUID, actor: str
) -> Row:
    """Queue a batch of up to 100,000 keys for the worker (woken by NOTIFY at commit): the
    pending batch."""
    plan = batches_repo.insert_batch(
        session,
        _plan(km, order, developer_id, synchronous=False),
        status=BatchStatus.PENDING.value,
        created_by=actor,
    )
    session.execute(
        text("SELECT pg_notify(:channel, :batch)"), {"channel": NOTIFY_CHANNEL, "batch": str(plan.batch_id)}
    )
    return batches_repo.get_batch(session, plan.batch_id)


def cancel_batch(km: KeyManager, session: Session, batch: Row, *, reason: str | None, actor: str) -> Row:
    """Cancel a pending or generating batch (locked by the caller): the worker stops at its next
    chunk and keeps no keys; one batch.cancelled event. A finished batch is refused (CONFLICT
    with its status: revoke a completed one); a cancelled one is answered as it is."""
    if batch.status == BatchStatus.CANCELLED:
        return batch
    if batch.status not in CANCELLABLE_BATCH:
        hint = ": revoke its keys instead" if batch.status == BatchStatus.COMPLETED else ""
        raise Refusal(
            "CONFLICT", f"a {batch.status} batch cannot be cancelled{hint}", {"status": batch.status}
        )
    cancelled = batches_repo.cancel_batch(session, batch.id, actor=actor, reason=reason)
    km.outbox.add(session, events.batch_cancelled(cancelled, batch.status))
    return cancelled


def revoke_batch(
    km: KeyManager, session: Session, batch: Row, *, reason: str, actor: str, request_id: str | None
) -> int:
    """Revoke every key of a completed batch (locked by the caller) that is not final, in one
    operation; one batch.revoked event. Returns how many keys were revoked."""
    if batch.status != BatchStatus.COMPLETED:
        raise Refusal("CONFLICT", f"a {batch.status} batch cannot be revoked", {"status": batch.status})
    revoked = batches_repo.revoke_batch(session, batch.id, actor=actor, reason=reason, request_id=request_id)
    km.outbox.add(session, events.batch_revoked(batch, revoked, actor, reason))
    return revoked


def complete_generation(km: KeyManager, session: Session, batch_id: uuid.UUID, generated: int) -> Row | None:
    """The keys of a generating batch are written: the batch is completed, with its
    batch.generated event. None when it is no longer generating (cancelled meanwhile): the
    caller must then roll its keys back."""
    batch = batches_repo.complete_batch(session, batch_id, generated)
    if batch is not None:
        km.outbox.add(session, events.batch_generated(batch))
    return batch


def fail_generation(km: KeyManager, session: Session, batch_id: uuid.UUID, reason: str) -> Row | None:
    """A batch that cannot be generated ends failed with ``reason``, with its batch.failed event;
    None when it was finished meanwhile (cancelled)."""
    failed = batches_repo.fail_batch(session, batch_id, reason)
    if failed is not None:
        km.outbox.add(session, events.batch_failed(failed))
    return failed


def expire_next_batch(km: KeyManager, session: Session) -> int | None:
    """Expire the keys of one batch whose expiration date has passed (held keys wait for their
    review), with its batch.expired event: how many keys expired, or None when no batch is due."""
    due = batches_repo.batches_due_for_expiry(session, limit=1)
    if not due:
        return None
    batch = due[0]
    count = batches_repo.expire_batch_keys(session, batch.id)
    km.outbox.add(session, events.batch_expired(batch, count))
    return count
