"""Games with their metadata and pricing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from developer_portal.api import access, serializers
from developer_portal.api.blueprints import public
from developer_portal.api.effects import audit, emit
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
from developer_portal.db import repository
from developer_portal.domain import games as rules
from developer_portal.domain import metadata as metadata_rules
from developer_portal.domain.permissions import PLATFORM_ADMIN, Action
from developer_portal.domain.verification import may_create_games
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import not_found
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, page_body
from gamekeys_platform.refusals import Refusal


def _duplicate_title(title: str):
    return Refusal(
        "CONFLICT",
        "the studio has a game with this title already",
        {"reason": "DUPLICATE_TITLE", "title": title},
    )


def _game_event(event: type[events.GameCreated | events.GameUpdated], row):
    return event(game_id=row.game_id, developer_id=row.developer_id, title=row.title, status=row.status)


@public.route("/games", methods=["POST"])
@error_responses(access.NO_STUDIO)
@access.require_user
@idempotent
@public.arguments(GameCreateSchema)
@public.response(201, GameSchema)
def create_game(body):
    """Create a game in ``draft`` (studio admins and developers of a verified studio)."""
    session = request_session()
    studio = access.own_studio(Action.GAME_CREATE)
    developer = studio.developer
    if not may_create_games(developer.verification_status):
        raise Refusal(
            "FORBIDDEN",
            "only a verified studio can create games",
            {"reason": "DEVELOPER_NOT_VERIFIED", "verificationStatus": developer.verification_status},
        )
    title = rules.normalize_title(body["title"])
    key = rules.title_key(title)
    if repository.title_taken(session, developer.developer_id, key):
        raise _duplicate_title(title)
    game_id = uuid.uuid4()
    try:
        with session.begin_nested():
            row = repository.insert_game(
                session,
                game_id=game_id,
                developer_id=developer.developer_id,
                title=title,
                title_key=key,
                status=rules.GameStatus.DRAFT.value,
                created_by=access.caller_user_id(),
            )
    except IntegrityError:  # a concurrent request took the title
        raise _duplicate_title(title) from None
    result = serializers.game(row)
    audit(
        session,
        developer_id=developer.developer_id,
        action="game.created",
        entity_type="game",
        entity_id=game_id,
        before=None,
        after=result,
    )
    emit(session, _game_event(events.GameCreated, row))
    return result


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
    session = request_session()
    row = access.game(game_id, Action.GAME_UPDATE, lock=True).game
    title = rules.normalize_title(body["title"])
    if title == row.title:
        return serializers.game(row)
    rules.check_content_editable(row.status)
    key = rules.title_key(title)
    if repository.title_taken(session, row.developer_id, key, except_game=game_id):
        raise _duplicate_title(title)
    try:
        with session.begin_nested():
            updated = repository.update_game(session, game_id, title=title, title_key=key)
    except IntegrityError:
        raise _duplicate_title(title) from None
    result = serializers.game(updated)
    audit(
        session,
        developer_id=row.developer_id,
        action="game.updated",
        entity_type="game",
        entity_id=game_id,
        before=serializers.game(row),
        after=result,
    )
    emit(session, _game_event(events.GameUpdated, updated))
    return result


@public.route("/games/<uuid:game_id>", methods=["DELETE"])
@access.require_user
@transactional
@public.response(204)
def delete_game(game_id):
    """Delete a game while it is a draft (with its metadata and pricing)."""
    session = request_session()
    row = access.game(game_id, Action.GAME_DELETE, lock=True).game
    rules.check_deletable(row.status)
    before = {
        **serializers.game(row),
        "metadata": serializers.game_metadata(game_id, repository.get_metadata(session, game_id)),
        "pricing": serializers.game_pricing(
            game_id, repository.get_pricing(session, game_id), datetime.now(UTC)
        ),
    }
    repository.delete_game(session, game_id)
    audit(
        session,
        developer_id=row.developer_id,
        action="game.deleted",
        entity_type="game",
        entity_id=game_id,
        before=before,
        after=None,
    )
    emit(session, events.GameDeleted(game_id=game_id, developer_id=row.developer_id))


# --- metadata -------------------------------------------------------------------------------

_METADATA_COLUMNS = {
    "description": "description",
    "shortDescription": "short_description",
    "systemRequirements": "system_requirements",
    "tags": "tags",
    "genres": "genres",
    "ageRating": "age_rating",
    "mediaUrls": "media_urls",
}
_EMPTY_WHEN_NULL = {"systemRequirements": dict, "tags": list, "genres": list, "mediaUrls": dict}


def _compact(value: Any) -> Any:
    """Drop nulls inside nested documents (``{"os": null}`` says nothing)."""
    if isinstance(value, dict):
        return {key: _compact(item) for key, item in value.items() if item is not None}
    return value


def _metadata_value(field: str, value: Any) -> Any:
    if value is None:
        return _EMPTY_WHEN_NULL[field]() if field in _EMPTY_WHEN_NULL else None
    if field == "tags":
        return metadata_rules.normalize_tags(value)
    if field == "genres":
        return metadata_rules.normalize_genres(value)
    if field == "ageRating":
        return metadata_rules.check_age_rating(value)
    return _compact(value)


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
    session = request_session()
    row = access.game(game_id, Action.METADATA_UPDATE, lock=True).game
    before = serializers.game_metadata(game_id, repository.get_metadata(session, game_id))
    proposed = {**before, **{field: _metadata_value(field, value) for field, value in body.items()}}
    changed = metadata_rules.changed_fields(
        {k: before[k] for k in _METADATA_COLUMNS}, {k: proposed[k] for k in _METADATA_COLUMNS}
    )
    if not changed:
        return before
    rules.check_content_editable(row.status)
    values = {column: proposed[field] for field, column in _METADATA_COLUMNS.items()}
    saved = repository.upsert_metadata(session, game_id, {**values, "updated_by": access.caller_user_id()})
    result = serializers.game_metadata(game_id, saved)
    audit(
        session,
        developer_id=row.developer_id,
        action="game.metadata_updated",
        entity_type="game_metadata",
        entity_id=game_id,
        before=before,
        after=result,
    )
    emit(
        session,
        events.GameMetadataUpdated(game_id=game_id, developer_id=row.developer_id, changed_fields=changed),
    )
    return result


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
    session = request_session()
    row = access.game(game_id, Action.PRICING_UPDATE, lock=True).game
    now = datetime.now(UTC)
    before = serializers.game_pricing(game_id, repository.get_pricing(session, game_id), now)
    document = prices.to_json(now)
    if before["updatedAt"] is not None and all(before[key] == document[key] for key in document):
        return before
    saved = repository.upsert_pricing(
        session,
        game_id,
        {
            "base_amount": prices.base_price.amount,
            "base_currency": prices.base_price.currency,
            "regional_prices": document["regionalPrices"],
            "discounts": document["discounts"],
            "updated_by": access.caller_user_id(),
        },
    )
    result = serializers.game_pricing(game_id, saved, now)
    audit(
        session,
        developer_id=row.developer_id,
        action="pricing.updated",
        entity_type="game_pricing",
        entity_id=game_id,
        before=before,
        after=result,
    )
    emit(session, events.PricingUpdated(game_id=game_id, developer_id=row.developer_id, **document))
    return result
