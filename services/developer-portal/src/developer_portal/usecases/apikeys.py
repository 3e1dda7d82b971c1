"""CI API keys: creating one (shown once), listing, revoking and rolling them, revoking those of
a member who leaves, introspection for game-builds, and the worker's apikey.expiring notices.

The plaintext key exists only in the answer to the create or roll request: the table keeps its
SHA-256, the audit log and events its prefix and last 4. Those requests are therefore not
``@idempotent``: a stored replay would be the key at rest.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.context import PortalState
from developer_portal.db import apikeys as repo
from developer_portal.db import repository
from developer_portal.db import trusted_publishing as publishers_repo
from developer_portal.domain import apikeys as rules
from developer_portal.usecases.common import Actor, audit, emit
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.pagination import page_body
from gamekeys_platform.refusals import Refusal

log = logging.getLogger("developer_portal.apikeys")

WORKER = Actor("developer-portal.apikey-notices", is_service=True)
# lastUsedAt and the caller's address are written at most this often per key: a CI job calling
# hundreds of times a minute costs one row update, and a minute is precise enough to answer
# "is this key still in use?".
LAST_USED_RESOLUTION = timedelta(minutes=1)
INACTIVE = {"active": False}


def _lifetimes(portal: PortalState) -> tuple[timedelta, timedelta]:
    settings = portal.settings
    return timedelta(days=settings.apikey_default_lifetime_days), timedelta(
        days=settings.apikey_max_lifetime_days
    )


def _not_found() -> Refusal:
    return Refusal("NOT_FOUND", "API key not found")


def _insert(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer_id: uuid.UUID,
    *,
    name: str,
    scopes: list[str],
    game_ids: list[uuid.UUID],
    expires_at: datetime | None,
    now: datetime,
    rolled_from: uuid.UUID | None = None,
) -> tuple[Row, str]:
    """A new key of the studio with its audit entry and apikey.created; returns the row and the
    plaintext key (the caller's answer, nowhere else)."""
    default, maximum = _lifetimes(portal)
    expires = rules.expiry(expires_at, now, default=default, maximum=maximum)
    secret = rules.generate()
    row = repo.insert_key(
        session,
        key_id=uuid.uuid4(),
        developer_id=developer_id,
        name=name,
        key_hash=rules.digest(secret),
        prefix=rules.display_prefix(secret),
        last4=rules.last4(secret),
        scopes=scopes,
        game_ids=game_ids,
        created_by=actor.user_id,
        created_at=now,
        expires_at=expires,
        rolled_from=rolled_from,
        expiry_notified_at=None if rules.needs_expiry_notice(expires, now) else now,
    )
    result = serializers.api_key(row, now)
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="apikey.created",
        entity_type="api_key",
        entity_id=row.key_id,
        before=None,
        after=result,
    )
    emit(
        portal,
        session,
        events.ApiKeyCreated(
            key_id=row.key_id,
            developer_id=developer_id,
            name=row.name,
            prefix=row.prefix,
            last4=row.last4,
            scopes=list(row.scopes),
            game_ids=list(row.game_ids),
            expires_at=row.expires_at,
            created_by=actor.subject,
        ),
    )
    return row, secret


def create_key(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer: Row,
    *,
    name: str,
    scopes: list[str],
    game_ids: list[uuid.UUID],
    expires_at: datetime | None,
) -> dict[str, Any]:
    """A key of the studio for ``game_ids`` (each one of the studio's: VALIDATION_ERROR
    UNKNOWN_GAME) with ``scopes``, expiring at ``expires_at`` (at most the configured maximum
    ahead; the default lifetime without one). The answer carries the key, this once."""
    now = repository.now(session)
    games = rules.check_games(game_ids, repo.studio_game_ids(session, developer.developer_id))
    row, secret = _insert(
        portal,
        session,
        actor,
        developer.developer_id,
        name=name.strip(),
        scopes=rules.check_scopes(scopes),
        game_ids=games,
        expires_at=expires_at,
        now=now,
    )
    return {**serializers.api_key(row, now), "key": secret}


def list_keys(session: Session, developer_id: uuid.UUID, *, after, limit: int) -> dict[str, Any]:
    """The studio's keys, newest first, with their status (expired and revoked ones too)."""
    now = repository.now(session)
    page = repo.list_keys(session, developer_id, after=after, limit=limit)
    return page_body(
        page, lambda row: serializers.api_key(row, now), lambda row: (row.created_at, row.key_id)
    )


def _studio_key(session: Session, developer_id: uuid.UUID, key_id: uuid.UUID) -> Row:
    """The key, locked, if it is the studio's; NOT_FOUND for another studio's, as for none."""
    row = repo.get_key(session, key_id)
    if row is None or row.developer_id != developer_id:
        raise _not_found()
    return repo.get_key(session, key_id, lock=True)


def _revoke(
    portal: PortalState, session: Session, actor: Actor, row: Row, reason: rules.RevokedReason, now: datetime
) -> Row:
    revoked = repo.update_key(
        session, row.key_id, revoked_at=now, revoked_by=actor.subject, revoked_reason=reason.value
    )
    audit(
        session,
        actor,
        developer_id=row.developer_id,
        action="apikey.revoked",
        entity_type="api_key",
        entity_id=row.key_id,
        before=serializers.api_key(row, now),
        after=serializers.api_key(revoked, now),
    )
    emit(
        portal,
        session,
        events.ApiKeyRevoked(
            key_id=row.key_id,
            developer_id=row.developer_id,
            revoked_by=actor.subject,
            revoked_at=now,
            reason=reason.value,
        ),
    )
    return revoked


def revoke_key(
    portal: PortalState, session: Session, actor: Actor, developer_id: uuid.UUID, key_id: uuid.UUID
) -> None:
    """Revoke one of the studio's keys; it stops working at once. A revoked key again changes
    nothing; an expired one is marked revoked (so a roll's old key can be cut short)."""
    row = _studio_key(session, developer_id, key_id)
    if row.revoked_at is not None:
        return
    _revoke(portal, session, actor, row, rules.RevokedReason.REVOKED, repository.now(session))


def roll_key(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    overlap: timedelta,
    expires_at: datetime | None,
) -> dict[str, Any]:
    """A successor of an active key with its name, scopes and games (those still the studio's),
    shown this once; the old key keeps working for ``overlap`` (0 to 7 days, never past its own
    expiry), then is ``expired``. No apikey.expiring goes out for the old key: rolling is the
    answer to it."""
    row = _studio_key(session, developer_id, key_id)
    now = repository.now(session)
    rules.check_rollable(
        rules.status(revoked_at=row.revoked_at, expires_at=row.expires_at, now=now), row.rolled_to
    )
    studio_games = repo.studio_game_ids(session, developer_id)
    games = rules.check_games([game for game in row.game_ids if game in studio_games], studio_games)
    successor, secret = _insert(
        portal,
        session,
        actor,
        developer_id,
        name=row.name,
        scopes=list(row.scopes),
        game_ids=games,
        expires_at=expires_at,
        now=now,
        rolled_from=row.key_id,
    )
    rolled = repo.update_key(
        session,
        row.key_id,
        rolled_to=successor.key_id,
        expires_at=rules.overlap_end(now, row.expires_at, overlap),
        expiry_notified_at=row.expiry_notified_at or now,
    )
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="apikey.rolled",
        entity_type="api_key",
        entity_id=row.key_id,
        before=serializers.api_key(row, now),
        after=serializers.api_key(rolled, now),
    )
    return {**serializers.api_key(successor, now), "key": secret}


def revoke_keys_of_departed(
    portal: PortalState, session: Session, actor: Actor, developer_id: uuid.UUID, user_id: uuid.UUID
) -> int:
    """Revoke the working keys ``user_id`` created in the studio, as they leave it (reason
    creator_left): they saw each key once and may have kept it, so only revoking guarantees
    that leaving ends their access. Returns how many were revoked."""
    now = repository.now(session)
    rows = repo.active_keys_created_by(session, developer_id, user_id, now)
    for row in rows:
        _revoke(portal, session, actor, row, rules.RevokedReason.CREATOR_LEFT, now)
    return len(rows)


# --- introspection --------------------------------------------------------------------------


def introspect(session: Session, secret: str, *, address: str | None) -> dict[str, Any]:
    """What a key (``gkp_``) or an upload token (``gkpt_``) may do, as RFC 7662 answers it:
    ``{"active": false}`` and nothing more for anything that is not a working credential
    (malformed, a bad checksum, unknown, expired, revoked), so the answer never says which.
    A key's use is recorded (lastUsedAt, the caller's address) at most once a minute."""
    if rules.well_formed(secret, rules.UPLOAD_TOKEN_PREFIX):
        return _introspect_upload_token(session, secret)
    if not rules.well_formed(secret):
        return INACTIVE
    row = repo.find_by_hash(session, rules.digest(secret))
    if row is None:
        return INACTIVE
    now = repository.now(session)
    if (
        rules.status(revoked_at=row.revoked_at, expires_at=row.expires_at, now=now)
        is not rules.KeyStatus.ACTIVE
    ):
        return INACTIVE
    repo.touch(session, row.key_id, now=now, address=address, every=LAST_USED_RESOLUTION)
    return {
        "active": True,
        "tokenType": "api_key",
        "keyId": str(row.key_id),
        "developerId": str(row.developer_id),
        "gameIds": [str(game_id) for game_id in row.game_ids],
        "scopes": list(row.scopes),
        "expiresAt": format_timestamp(row.expires_at),
    }


def _introspect_upload_token(session: Session, secret: str) -> dict[str, Any]:
    row = publishers_repo.find_upload_token(session, rules.digest(secret))
    if row is None or row.expires_at <= repository.now(session):
        return INACTIVE
    return {
        "active": True,
        "tokenType": "upload_token",
        "publisherId": str(row.publisher_id),
        "developerId": str(row.developer_id),
        "gameIds": [str(game_id) for game_id in row.game_ids],
        "scopes": list(row.scopes),
        "expiresAt": format_timestamp(row.expires_at),
    }


# --- the worker -----------------------------------------------------------------------------


def notify_expiring(portal: PortalState, *, now: datetime | None = None, limit: int = 500) -> int:
    """apikey.expiring for every working key that expires within 7 days, once per key (claimed
    ``FOR UPDATE SKIP LOCKED`` and marked in the same transaction, so restarts and a second
    worker send nothing twice). Returns how many went out."""
    with portal.db.transaction() as session:
        moment = now or repository.now(session)
        rows = repo.claim_expiring(session, now=moment, notice=rules.EXPIRY_NOTICE, limit=limit)
        for row in rows:
            repo.update_key(session, row.key_id, expiry_notified_at=moment)
            emit(
                portal,
                session,
                events.ApiKeyExpiring(
                    key_id=row.key_id,
                    developer_id=row.developer_id,
                    name=row.name,
                    prefix=row.prefix,
                    last4=row.last4,
                    created_by=str(row.created_by),
                    expires_at=row.expires_at,
                ),
            )
    if rows:
        log.info("apikey.expiring sent", extra={"count": len(rows)})
    return len(rows)


def delete_spent_upload_tokens(portal: PortalState, *, now: datetime | None = None) -> int:
    """Delete upload tokens past their own and their identity token's expiry."""
    with portal.db.sessions() as session:
        moment = now or repository.now(session)
        return publishers_repo.delete_spent_upload_tokens(session, moment)
