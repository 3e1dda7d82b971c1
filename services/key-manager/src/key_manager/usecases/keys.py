"""Use cases on one key: hold and release (a fraud case), activation (exactly once), and a
person's status change (sold, revoked, expired)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gamekeys_platform.refusals import Refusal
from key_manager import events
from key_manager.context import KeyManager
from key_manager.db import audit as audit_repo
from key_manager.db import keys as keys_repo
from key_manager.db.tables import studio_projection as projection
from key_manager.domain.states import KeyStatus, TransitionRefused
from key_manager.usecases import refusals


@dataclass(frozen=True)
class KeyRef:
    """A key named by what a player typed (its lookup hash) or by its id."""

    lookup_hash: bytes | None = None
    key_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Hold:
    key_id: uuid.UUID
    status: str
    hold_id: str
    game_id: uuid.UUID


def hold(
    km: KeyManager,
    session: Session,
    ref: KeyRef,
    *,
    hold_id: str,
    reason: str | None,
    actor: str,
    request_id: str | None,
) -> Hold:
    """Hold a key while a fraud case is open (pending_review): nobody can activate it meanwhile
    except with this ``hold_id``. Holding again with the same ``hold_id`` changes nothing."""
    held = keys_repo.hold(session, lookup_hash=ref.lookup_hash, key_id=ref.key_id, hold_id=hold_id)
    if held is None:
        key = keys_repo.find_key(session, lookup_hash=ref.lookup_hash, key_id=ref.key_id)
        if key is not None and key.status == KeyStatus.PENDING_REVIEW and key.hold_id == hold_id:
            return Hold(key.id, key.status, key.hold_id, key.game_id)
        raise refusals.unusable_key(key)
    audit_repo.record_transition(
        session,
        held.id,
        held.from_status,
        KeyStatus.PENDING_REVIEW.value,
        actor=actor,
        operation="hold",
        reason=reason,
        request_id=request_id,
    )
    km.outbox.add(session, events.key_held(held, hold_id, reason))
    return Hold(held.id, KeyStatus.PENDING_REVIEW.value, hold_id, held.game_id)


def release(
    km: KeyManager,
    session: Session,
    ref: KeyRef,
    *,
    hold_id: str,
    reason: str | None,
    actor: str,
    request_id: str | None,
) -> Hold:
    """End a hold: the key goes back to the state it was held from."""
    released = keys_repo.release(session, lookup_hash=ref.lookup_hash, key_id=ref.key_id, hold_id=hold_id)
    if released is None:
        key = keys_repo.find_key(session, lookup_hash=ref.lookup_hash, key_id=ref.key_id)
        if key is None:
            raise refusals.key_not_found()
        raise Refusal(
            "CONFLICT", "the key is not held with this holdId", {"keyId": str(key.id), "status": key.status}
        )
    audit_repo.record_transition(
        session,
        released.id,
        KeyStatus.PENDING_REVIEW.value,
        released.to_status,
        actor=actor,
        operation="release",
        reason=reason,
        request_id=request_id,
    )
    km.outbox.add(session, events.key_released(released, hold_id))
    return Hold(released.id, released.to_status, hold_id, released.game_id)


def activate(
    km: KeyManager,
    session: Session,
    ref: KeyRef,
    *,
    user_id: str,
    activation_id: str,
    region: str,
    hold_id: str | None,
    actor: str,
    request_id: str | None,
) -> Row:
    """Activate a key exactly once (one conditional UPDATE): the activated key (id, game, batch,
    developer, type, activation time). Refused when the key is activated, revoked, expired (even
    before the expiry job ran), held for review (unless ``hold_id`` is the hold's) or restricted
    in ``region``. Repeating a successful activation with the same ``activation_id`` answers the
    key again and changes nothing. A key of a suspended studio (developer.suspended, until
    developer.reinstated) is refused PUBLISHER_SUSPENDED and stays as it was."""
    region = region.upper()
    activated = keys_repo.activate(
        session,
        lookup_hash=ref.lookup_hash,
        key_id=ref.key_id,
        user_id=user_id,
        activation_id=activation_id,
        region=region,
        hold_id=hold_id,
    )
    if activated is None:
        key = keys_repo.find_key(session, lookup_hash=ref.lookup_hash, key_id=ref.key_id)
        if key is not None and key.status == KeyStatus.ACTIVATED and key.activation_id == activation_id:
            return key
        suspended = key is not None and projection.suspended(session, key.developer_id)
        raise refusals.unusable_key(key, region=region, hold_id=hold_id, suspended=suspended)
    audit_repo.record_transition(
        session,
        activated.id,
        activated.from_status,
        KeyStatus.ACTIVATED.value,
        actor=actor,
        operation="activate",
        reason=f"activation {activation_id} by {user_id}",
        request_id=request_id,
    )
    km.outbox.add(
        session, events.key_activated(activated, user_id=user_id, activation_id=activation_id, region=region)
    )
    return activated


def change_status(
    km: KeyManager,
    session: Session,
    key: Row,
    target: KeyStatus,
    *,
    reason: str | None,
    operation: str,
    actor: str,
    request_id: str | None,
) -> Row:
    """A person moves one key (locked by the caller: ``keys.get_key(for_update=True)``) to
    ``target`` if the state machine allows it; one key.sold, key.revoked or key.expired event.
    Returns the changed key."""
    values = {"sold_at": datetime.now(UTC)} if target is KeyStatus.SOLD else None
    try:
        changed = keys_repo.change_key_status(
            session,
            key,
            target,
            actor=actor,
            operation=operation,
            reason=reason,
            request_id=request_id,
            values=values,
        )
    except TransitionRefused as exc:
        details = {"currentStatus": exc.current.value, "requestedStatus": exc.target.value}
        raise refusals.refused_transition(exc, details) from exc
    km.outbox.add(session, events.key_changed(changed, key.status, actor, reason))
    return changed
