"""Games with their metadata and pricing: creating, renaming and deleting a game, replacing
metadata fields, setting the price list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.context import PortalState
from developer_portal.db import catalog as catalog_repo
from developer_portal.db import repository
from developer_portal.domain import games as rules
from developer_portal.domain import metadata as metadata_rules
from developer_portal.domain.pricing import Pricing
from developer_portal.domain.verification import may_create_games
from developer_portal.usecases import catalog
from developer_portal.usecases.common import Actor, audit, emit
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.refusals import Refusal


def _duplicate_title(title: str) -> Refusal:
    return Refusal(
        "CONFLICT",
        "the studio has a game with this title already",
        {"reason": "DUPLICATE_TITLE", "title": title},
    )


def _game_event(event: type[events.GameCreated | events.GameUpdated], row):
    return event(game_id=row.game_id, developer_id=row.developer_id, title=row.title, status=row.status)


def create_game(
    portal: PortalState, session: Session, actor: Actor, developer: Row, *, title: str
) -> dict[str, Any]:
    """A ``draft`` game of the (verified: FORBIDDEN DEVELOPER_NOT_VERIFIED) studio, its title
    unique in the studio whatever the case and spacing (CONFLICT DUPLICATE_TITLE); game.created."""
    if not may_create_games(developer.verification_status):
        raise Refusal(
            "FORBIDDEN",
            "only a verified studio can create games",
            {"reason": "DEVELOPER_NOT_VERIFIED", "verificationStatus": developer.verification_status},
        )
    title = rules.normalize_title(title)
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
                created_by=actor.user_id,
            )
    except IntegrityError:  # a concurrent request took the title
        raise _duplicate_title(title) from None
    result = serializers.game(row)
    audit(
        session,
        actor,
        developer_id=developer.developer_id,
        action="game.created",
        entity_type="game",
        entity_id=game_id,
        before=None,
        after=result,
    )
    emit(portal, session, _game_event(events.GameCreated, row))
    return result


def update_game(
    portal: PortalState, session: Session, actor: Actor, game: Row, *, title: str
) -> dict[str, Any]:
    """A new title (game.updated); refused while the content is frozen (CONFLICT
    GAME_CONTENT_FROZEN) or taken in the studio (CONFLICT DUPLICATE_TITLE)."""
    title = rules.normalize_title(title)
    if title == game.title:
        return serializers.game(game)
    rules.check_content_editable(game.status)
    key = rules.title_key(title)
    if repository.title_taken(session, game.developer_id, key, except_game=game.game_id):
        raise _duplicate_title(title)
    try:
        with session.begin_nested():
            updated = repository.update_game(session, game.game_id, title=title, title_key=key)
    except IntegrityError:
        raise _duplicate_title(title) from None
    result = serializers.game(updated)
    audit(
        session,
        actor,
        developer_id=game.developer_id,
        action="game.updated",
        entity_type="game",
        entity_id=game.game_id,
        before=serializers.game(game),
        after=result,
    )
    emit(portal, session, _game_event(events.GameUpdated, updated))
    return result


def delete_game(portal: PortalState, session: Session, actor: Actor, game: Row) -> None:
    """Delete a draft (CONFLICT GAME_NOT_DRAFT otherwise) with its metadata and pricing; the
    audit entry keeps all three (game.deleted)."""
    rules.check_deletable(game.status)
    game_id = game.game_id
    before = {
        **serializers.game(game),
        "metadata": serializers.game_metadata(game_id, repository.get_metadata(session, game_id)),
        "pricing": serializers.game_pricing(
            game_id, repository.get_pricing(session, game_id), datetime.now(UTC)
        ),
    }
    repository.delete_game(session, game_id)
    audit(
        session,
        actor,
        developer_id=game.developer_id,
        action="game.deleted",
        entity_type="game",
        entity_id=game_id,
        before=before,
        after=None,
    )
    emit(portal, session, events.GameDeleted(game_id=game_id, developer_id=game.developer_id))


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


def update_metadata(
    portal: PortalState, session: Session, actor: Actor, game: Row, fields: dict[str, Any]
) -> dict[str, Any]:
    """Replace the metadata ``fields`` given (named as the API names them; null clears one),
    keep the others (game.metadata_updated with the fields that changed). Nothing changing
    writes nothing; a change while the content is frozen is CONFLICT GAME_CONTENT_FROZEN."""
    game_id = game.game_id
    before = serializers.game_metadata(game_id, repository.get_metadata(session, game_id))
    proposed = {**before, **{field: _metadata_value(field, value) for field, value in fields.items()}}
    changed = metadata_rules.changed_fields(
        {k: before[k] for k in _METADATA_COLUMNS}, {k: proposed[k] for k in _METADATA_COLUMNS}
    )
    if not changed:
        return before
    rules.check_content_editable(game.status)
    values = {column: proposed[field] for field, column in _METADATA_COLUMNS.items()}
    saved = repository.upsert_metadata(session, game_id, {**values, "updated_by": actor.user_id})
    result = serializers.game_metadata(game_id, saved)
    audit(
        session,
        actor,
        developer_id=game.developer_id,
        action="game.metadata_updated",
        entity_type="game_metadata",
        entity_id=game_id,
        before=before,
        after=result,
    )
    catalog_repo.touch_listing(session, game_id)
    emit(
        portal,
        session,
        events.GameMetadataUpdated(
            game_id=game_id,
            developer_id=game.developer_id,
            changed_fields=changed,
            listing=catalog.listing_for_event(session, game_id),
        ),
    )
    return result


def update_pricing(
    portal: PortalState, session: Session, actor: Actor, game: Row, prices: Pricing
) -> dict[str, Any]:
    """Replace the whole price list (pricing.updated); the same list again writes nothing."""
    game_id = game.game_id
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
            "updated_by": actor.user_id,
        },
    )
    result = serializers.game_pricing(game_id, saved, now)
    audit(
        session,
        actor,
        developer_id=game.developer_id,
        action="pricing.updated",
        entity_type="game_pricing",
        entity_id=game_id,
        before=before,
        after=result,
    )
    catalog_repo.touch_listing(session, game_id)
    catalog_repo.set_next_price_change(session, game_id, prices.next_change_after(now))
    emit(
        portal,
        session,
        events.PricingUpdated(
            game_id=game_id,
            developer_id=game.developer_id,
            **document,
            listing=catalog.listing_for_event(session, game_id),
        ),
    )
    return result
