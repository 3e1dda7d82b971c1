"""The Catalog Service's internal API: a game's store listing, and every listing changed since
a time, a page at a time, for a full or catch-up sync (scope ``catalog:read``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from developer_portal.api.blueprints import internal
from developer_portal.api.schemas import ListingPageSchema, ListingQuerySchema, ListingSchema
from developer_portal.usecases import catalog
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor

SCOPE_CATALOG_READ = "catalog:read"


@internal.route("/games/<uuid:game_id>", methods=["GET"])
@error_responses({404: "NOT_FOUND: no such game, or it has never been on the store"})
@require_scopes(SCOPE_CATALOG_READ)
@internal.response(200, ListingSchema)
def get_listing(game_id):
    """A game's store listing: title, metadata, media, prices per region with the discount in
    effect, the published build per platform, and its status (``published`` on sale, ``removed``
    taken off the store)."""
    return catalog.get_listing(request_session(), game_id)


@internal.route("/games", methods=["GET"])
@require_scopes(SCOPE_CATALOG_READ)
@internal.arguments(ListingQuerySchema, location="query")
@internal.response(200, ListingPageSchema)
def list_listings(query):
    """Listings changed at or after ``updatedSince`` (all when absent), oldest change first, for
    a full sync and to catch up after following the events."""
    return catalog.list_listings(
        request_session(),
        status=query["status"],
        updated_since=query["updatedSince"],
        after=decode_cursor(query["cursor"], (datetime, uuid.UUID)),
        limit=query["limit"],
    )
