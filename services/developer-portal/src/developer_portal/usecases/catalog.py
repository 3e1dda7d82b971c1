"""The Catalog Service's view of a game: its store listing (title, metadata, media, prices per
region with the discount in effect, the published build per platform, status), read by the
internal API and carried whole by game.published, game.unpublished, pricing.updated and
game.metadata_updated, so the Catalog can follow events alone. A scheduled discount starting or
ending changes what a buyer pays without anyone editing the prices: the worker announces it with
pricing.updated at that moment (``announce_price_changes``).

Every part of it is developer-portal's own data (games, metadata, prices) or its projection of
builds.events (the published build's platform and version): reading a listing makes no call to
another service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.context import PortalState
from developer_portal.db import catalog as repo
from developer_portal.db import publishing as publishing_repo
from developer_portal.db import repository
from developer_portal.domain.games import GameStatus
from gamekeys_platform.contracts import developer as events
from gamekeys_platform.pagination import page_body
from gamekeys_platform.refusals import Refusal

# What the Catalog lists: games on the store, and those taken off it (so it can take them down).
LISTED = (GameStatus.PUBLISHED.value, GameStatus.REMOVED.value)


def _pricing(row: Row | None, now: datetime) -> events.ListingPricing | None:
    if row is None:
        return None
    prices = serializers.pricing_from_row(row)
    document = prices.to_json(now)
    return events.ListingPricing(
        free=prices.base_price.amount == 0,
        base_price=document["basePrice"],
        current_price=prices.price_at(now).to_json(),
        regional_prices=[
            events.RegionalPrice(
                country=country, price=money.to_json(), current_price=prices.price_at(now, country).to_json()
            )
            for country, money in sorted(prices.regional_prices.items())
        ],
        discount=document["discount"],
        discounts=document["discounts"],
        priced_at=now,
    )


def _builds(session: Session, game: Row) -> list[events.ListingBuild]:
    """The published build of each platform. A publication is of one approved version today, so
    this is one build (or none for a game published before builds were projected)."""
    if game.published_version_id is None:
        return []
    build = publishing_repo.get_build(session, game.published_version_id)
    if build is None:
        return []
    return [events.ListingBuild(platform=build.platform, version_id=build.version_id, version=build.version)]


def listing(session: Session, game: Row, now: datetime) -> events.Listing:
    """The game's listing as the Catalog shows it, prices as at ``now``."""
    meta = serializers.game_metadata(game.game_id, repository.get_metadata(session, game.game_id))
    media = meta["mediaUrls"] or {}
    return events.Listing(
        game_id=game.game_id,
        developer_id=game.developer_id,
        title=game.title,
        status=game.status,
        published_at=game.published_at,
        metadata=events.ListingMetadata(
            description=meta["description"],
            short_description=meta["shortDescription"],
            tags=meta["tags"],
            genres=meta["genres"],
            system_requirements=meta["systemRequirements"],
            age_rating=meta["ageRating"],
        ),
        media=events.ListingMedia(
            screenshots=media.get("screenshots") or [], videos=media.get("videos") or []
        ),
        pricing=_pricing(repository.get_pricing(session, game.game_id), now),
        builds=_builds(session, game),
        updated_at=game.listing_updated_at,
    )


def listing_for_event(
    session: Session, game_id: uuid.UUID, now: datetime | None = None
) -> events.Listing | None:
    """The listing an event carries after a change in this transaction (prices as at ``now``,
    the database's time by default): the game read again (its status and listing time as
    changed), None when it has never been on the store."""
    game = repository.get_game(session, game_id)
    if game is None or game.status not in LISTED:
        return None
    return listing(session, game, now or repository.now(session))


def announce_price_changes(portal: PortalState, *, now: datetime | None = None, limit: int = 50) -> int:
    """The worker's step: for every game whose scheduled discount starts or ends by ``now``,
    pricing.updated with the prices (and listing) as they are now, then the next boundary to
    wait for. Each boundary is announced once: the games are claimed FOR UPDATE SKIP LOCKED and
    their next boundary moved in the same transaction. Returns how many it announced."""
    with portal.db.transaction() as session:
        moment = now or repository.now(session)
        due = repo.claim_price_changes(session, now=moment, limit=limit)
        for game in due:
            row = repository.get_pricing(session, game.game_id)
            prices = serializers.pricing_from_row(row) if row is not None else None
            repo.set_next_price_change(
                session, game.game_id, prices.next_change_after(moment) if prices else None
            )
            if prices is None:
                continue
            repo.touch_listing(session, game.game_id)
            portal.outbox.add(
                session,
                events.PricingUpdated(
                    game_id=game.game_id,
                    developer_id=game.developer_id,
                    **prices.to_json(moment),
                    listing=listing_for_event(session, game.game_id, moment),
                ),
            )
    return len(due)


def get_listing(session: Session, game_id: uuid.UUID) -> dict[str, Any]:
    """A listed game's listing; NOT_FOUND for a game that is not (and never was) on the store."""
    game = repository.get_game(session, game_id)
    if game is None or game.status not in LISTED:
        raise Refusal("NOT_FOUND", "no store listing for this game", {"gameId": str(game_id)})
    return listing(session, game, repository.now(session)).model_dump(mode="json")


def list_listings(
    session: Session, *, status: str | None, updated_since: datetime | None, after, limit: int
) -> dict[str, Any]:
    """A page of listings, oldest change first: ``status`` one of LISTED, or both when None."""
    page = repo.listed_games(
        session,
        statuses=(status,) if status else LISTED,
        updated_since=updated_since,
        after=after,
        limit=limit,
    )
    now = repository.now(session)
    return page_body(
        page,
        lambda game: listing(session, game, now).model_dump(mode="json"),
        lambda game: (game.listing_updated_at, game.game_id),
    )
