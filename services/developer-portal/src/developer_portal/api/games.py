"""Games with their metadata and pricing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from developer_portal import serializers
from developer_portal.api import access
from developer_portal.api.blueprints import public
from developer_portal.api.schemas import (
    GameCreateSchema,
    GamePageSchema,
    GameQuerySchema,
    GameSchema,
    GameUpdateSchema,
    MetadataSchema,
    MetadataUpdateSchema,
    PricingSchema,
    PricingUpdateSchema,
)
from developer_portal.context import portal
from developer_portal.db import repository
from developer_portal.domain.permissions import PLATFORM_ADMIN, Action
from developer_portal.usecases import games
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import not_found
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body


@public.route("/games", methods=["POST"])
@error_responses(access.NO_STUDIO)
@access.require_user
@idempotent
@public.arguments(GameCreateSchema)
@public.response(201, GameSchema)
def create_game(body):
    """Create a game in ``draft`` (studio admins and developers of a verified studio)."""
    studio = access.own_studio(Action.GAME_CREATE)
    return games.create_game(
        portal(), request_session(), access.actor(), studio.developer, title=body["title"]
    )


@public.route("/games", methods=["GET"])
@access.require_user
@public.arguments(GameQuerySchema, location="query")
@public.response(200, GamePageSchema)
def list_games(query):
    """The caller's studio's games, newest first; platform admins see every studio's (or one's,
    with ``developerId``)."""
    session = request_session()
    principal = access.caller()
    membership = repository.membership_of(session, access.caller_user_id())
    wanted = query["developerId"]
    if membership is not None and (wanted is None or wanted == membership.developer_id):
        developer_id = membership.developer_id
    elif principal.has_role(PLATFORM_ADMIN):
        developer_id = wanted
    else:
        raise not_found("developer account")
    after = decode_cursor(query["cursor"], (datetime, uuid.UUID))
    page = repository.list_games(
        session, developer_id=developer_id, status=query["status"], after=after, limit=query["limit"]
    )
    return page_body(page, serializers.game, lambda row: (row.created_at, row.game_id))


@public.route("/games/<uuid:game_id>", methods=["GET"])
@access.require_user
@public.response(200, GameSchema)
def get_game(game_id):
    """A game of the caller's studio."""
    return serializers.game(access.game(game_id, Action.GAME_READ).game)


@public.route("/games/<uuid:game_id>", methods=["PUT"])
@access.require_user
@transactional
@public.arguments(GameUpdateSchema)
@public.response(200, GameSchema)
def update_game(body, game_id):
    """Change the basic fields (title). The status is not a field here: only the publishing
    workflow moves it."""
    row = access.game(game_id, Action.GAME_UPDATE, lock=True).game
    return games.update_game(portal(), request_session(), access.actor(), row, title=body["title"])


@public.route("/games/<uuid:game_id>", methods=["DELETE"])
@access.require_user
@transactional
@public.response(204)
def delete_game(game_id):
    """Delete a game while it is a draft (with its metadata and pricing)."""
    row = access.game(game_id, Action.GAME_DELETE, lock=True).game
    games.delete_game(portal(), request_session(), access.actor(), row)


# --- metadata -------------------------------------------------------------------------------


@public.route("/games/<uuid:game_id>/metadata", methods=["GET"])
@access.require_user
@public.response(200, MetadataSchema)
def get_metadata(game_id):
    """The game's store metadata."""
    access.game(game_id, Action.METADATA_READ)
    return serializers.game_metadata(game_id, repository.get_metadata(request_session(), game_id))


@public.route("/games/<uuid:game_id>/metadata", methods=["PUT"])
@access.require_user
@transactional
@public.arguments(MetadataUpdateSchema)
@public.response(200, MetadataSchema)
def update_metadata(body, game_id):
    """Descriptions, tags, genres, system requirements, age rating, media URLs (admins,
    developers, marketing). Fields present are replaced (null clears one), absent ones kept."""
    row = access.game(game_id, Action.METADATA_UPDATE, lock=True).game
    return games.update_metadata(portal(), request_session(), access.actor(), row, body)


# --- pricing --------------------------------------------------------------------------------


@public.route("/games/<uuid:game_id>/pricing", methods=["GET"])
@access.require_user
@public.response(200, PricingSchema)
def get_pricing(game_id):
    """The game's prices."""
    access.game(game_id, Action.PRICING_READ)
    return serializers.game_pricing(
        game_id, repository.get_pricing(request_session(), game_id), datetime.now(UTC)
    )


@public.route("/games/<uuid:game_id>/pricing", methods=["PUT"])
@access.require_user
@transactional
@public.arguments(PricingUpdateSchema)
@public.response(200, PricingSchema)
def update_pricing(prices, game_id):
    """Set the whole price list: base price, regional prices by ISO country, discount schedule
    (admins, developers, finance)."""
    row = access.game(game_id, Action.PRICING_UPDATE, lock=True).game
    return games.update_pricing(portal(), request_session(), access.actor(), row, prices)
