"""Studios' store quotas, ``/api/v1/keys/store-quotas``: how many keys of a game and key type
the platform's store may sell in all (the Payment Service's ``/internal/v1/keys/issue`` is
refused INSUFFICIENT_KEY_ALLOCATION past it). Without a quota the store may sell every free key
of the type."""

from __future__ import annotations

import uuid

from sqlalchemy import Row

from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.openapi import error_responses
from key_manager.api import access
from key_manager.api import schemas as s
from key_manager.api.views import actor, ts
from key_manager.context import key_manager
from key_manager.db import store as store_repo
from key_manager.domain.access import Action
from key_manager.domain.states import KeyType
from key_manager.usecases import store

blp = Blueprint(
    "store-quotas",
    __name__,
    url_prefix="/api/v1/keys/store-quotas",
    description="Studios' caps on the keys the platform's store may sell, per game and key type",
)

READERS = ("developer", "admin", "support")
WRITERS = ("developer", "admin")
_NOT_FOUND = {404: "NOT_FOUND: no such game, or not one of the caller's studios"}
# The key type in the path: one of the key types, anything else is no route (404).
_KEY_TYPE = "<any({}):key_type>".format(",".join(t.value for t in KeyType))


def _quota(row: Row) -> dict:
    return {
        "gameId": row.game_id,
        "keyType": row.key_type,
        "quota": row.quota,
        "sold": row.sold,
        "remaining": store_repo.quota_remaining(row),
        "updatedBy": row.updated_by,
        "updatedAt": ts(row.updated_at),
    }


@blp.route("", methods=["GET"])
@require_roles(*READERS)
@error_responses(_NOT_FOUND)
@blp.arguments(s.StoreQuotaQuerySchema, location="query")
@blp.response(200, s.StoreQuotaListSchema)
def list_quotas(query):
    """The game's store quotas, one per key type that has one (studio members, platform staff)."""
    session = request_session()
    access.game_for(session, query["gameId"], Action.READ, None)
    rows = store_repo.quotas_of(session, query["gameId"])
    return {"gameId": query["gameId"], "items": [_quota(rows[t]) for t in sorted(rows)]}


@blp.route(f"/<uuid:game_id>/{_KEY_TYPE}", methods=["PUT"])
@require_roles(*WRITERS)
@error_responses(_NOT_FOUND)
@transactional
@blp.arguments(s.StoreQuotaSetSchema)
@blp.response(200, s.StoreQuotaSchema)
def set_quota(body, game_id: uuid.UUID, key_type: str):
    """Set how many keys of the game and type the store may sell in all (studio admins and
    developers; marketing for promotional keys). Keys the store sold already count; a quota
    below them stops further store sales. Setting the same quota again changes nothing else."""
    session = request_session()
    owner = access.game_for(session, game_id, Action.MODIFY, key_type)
    row = store.set_quota(
        key_manager(),
        session,
        game_id=game_id,
        developer_id=owner.developer_id,
        key_type=key_type,
        quota=body["quota"],
        actor=actor(),
    )
    return _quota(row)


@blp.route(f"/<uuid:game_id>/{_KEY_TYPE}", methods=["DELETE"])
@require_roles(*WRITERS)
@error_responses(_NOT_FOUND)
@transactional
@blp.response(204)
def remove_quota(game_id: uuid.UUID, key_type: str):
    """Remove the quota: the store may sell every free key of the type again. 204 also when
    there was none."""
    session = request_session()
    owner = access.game_for(session, game_id, Action.MODIFY, key_type)
    store.remove_quota(
        key_manager(),
        session,
        game_id=game_id,
        developer_id=owner.developer_id,
        key_type=key_type,
        actor=actor(),
    )
