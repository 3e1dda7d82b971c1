"""CI API keys: create (the key shown once), list, revoke and roll (studio admins; developers
and platform admins read), and their introspection for game-builds."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import request

from developer_portal.api import access
from developer_portal.api.blueprints import internal, public
from developer_portal.api.schemas import (
    ApiKeyCreateSchema,
    ApiKeyPageSchema,
    ApiKeyRollSchema,
    IntrospectionRequestSchema,
    IntrospectionSchema,
    NewApiKeySchema,
    StudioPageQuerySchema,
)
from developer_portal.context import portal
from developer_portal.domain.permissions import Action
from developer_portal.usecases import apikeys
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor

SCOPE_INTROSPECT = "apikeys:introspect"

_KEY_REFUSALS = {
    422: "VALIDATION_ERROR: a game that is not the studio's (UNKNOWN_GAME, details.gameIds), an expiry "
    "in the past (EXPIRY_IN_PAST) or too far ahead (EXPIRY_TOO_FAR, details.maxDays)",
}


@public.route("/apikeys", methods=["POST"])
@error_responses({**access.NO_STUDIO, **_KEY_REFUSALS})
@access.require_user
@transactional
@public.arguments(ApiKeyCreateSchema)
@public.response(201, NewApiKeySchema)
def create_key(body):
    """Create a CI API key for some of the studio's games and scopes (studio admins). The answer
    carries the key (`gkp_...`) this once: only its SHA-256 is kept."""
    studio = access.own_studio(Action.APIKEY_MANAGE)
    return apikeys.create_key(
        portal(),
        request_session(),
        access.actor(),
        studio.developer,
        name=body["name"],
        scopes=body["scopes"],
        game_ids=body["gameIds"],
        expires_at=body["expiresAt"],
    )


@public.route("/apikeys", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(StudioPageQuerySchema, location="query")
@public.response(200, ApiKeyPageSchema)
def list_keys(query):
    """The studio's API keys, newest first: name, prefix and last 4, scopes, games, creator,
    expiry, last use and status (`active`, `expired`, `revoked`); never the key (studio admins
    and developers; platform admins with `developerId`)."""
    studio = access.studio_to_read(query["developerId"], Action.APIKEY_READ)
    after = decode_cursor(query["cursor"], (datetime, uuid.UUID))
    return apikeys.list_keys(
        request_session(), studio.developer.developer_id, after=after, limit=query["limit"]
    )


@public.route("/apikeys/<uuid:key_id>", methods=["DELETE"])
@error_responses(access.NO_STUDIO)
@access.require_user
@transactional
@public.response(204)
def revoke_key(key_id):
    """Revoke a key: it stops working at once (studio admins). Revoking it again changes nothing."""
    studio = access.own_studio(Action.APIKEY_MANAGE)
    apikeys.revoke_key(portal(), request_session(), access.actor(), studio.developer.developer_id, key_id)


@public.route("/apikeys/<uuid:key_id>/roll", methods=["POST"])
@error_responses(
    {
        **access.NO_STUDIO,
        **_KEY_REFUSALS,
        409: "CONFLICT: the key is not active (KEY_NOT_ACTIVE) or was rolled already (ALREADY_ROLLED)",
    }
)
@access.require_user
@transactional
@public.arguments(ApiKeyRollSchema, required=False)
@public.response(201, NewApiKeySchema)
def roll_key(body, key_id):
    """Issue a successor of an active key with the same name, scopes and games, shown this once;
    the old key keeps working for `overlapHours` (default 24, at most 168), then expires
    (studio admins)."""
    studio = access.own_studio(Action.APIKEY_MANAGE)
    body = body or {}
    return apikeys.roll_key(
        portal(),
        request_session(),
        access.actor(),
        studio.developer.developer_id,
        key_id,
        overlap=timedelta(hours=body.get("overlapHours", 24)),
        expires_at=body.get("expiresAt"),
    )


@internal.route("/apikeys/introspect", methods=["POST"])
@require_scopes(SCOPE_INTROSPECT)
@transactional
@internal.arguments(IntrospectionRequestSchema)
@internal.response(200, IntrospectionSchema)
def introspect(body):
    """What an API key or an upload token may do (game-builds; like RFC 7662 token introspection):
    `active`, its studio, games, scopes and expiry; `{"active": false}` alone for anything else
    (malformed, wrong checksum, unknown, expired, revoked). Records the key's last use and the
    client's address (`clientAddress`, else the caller's) at most once a minute."""
    address = body["clientAddress"]
    return apikeys.introspect(
        request_session(),
        body["key"],
        address=str(address) if address is not None else request.remote_addr,
    )
