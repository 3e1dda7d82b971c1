"""developer.events, written by developer-portal.

Consumed by key-manager (its projection of studios, members and game ownership, used for
authorization), game-builds (the same projection), analytics, and the platform's Catalog and
Notification services. Team events carry the studio as subject, so one studio's membership
changes stay in order. A registration emits ``developer.registered`` and then
``team.member_added`` for its first admin, so a projection of members can be built from
``team.member_*`` events alone.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from gamekeys_platform.contracts.base import (
    Actor,
    Contract,
    Country,
    EventData,
    Money,
    Text,
    Timestamp,
    UserId,
)

TeamRole = Literal["admin", "developer", "marketing", "finance"]
GameStatus = Literal["draft", "pending_review", "approved", "rejected", "published", "removed"]
MetadataField = Literal[
    "description", "shortDescription", "tags", "genres", "systemRequirements", "ageRating", "mediaUrls"
]


class DeveloperEvent(EventData):
    SOURCE: ClassVar[str] = "developer-portal"


class _Studio(DeveloperEvent):
    SUBJECT: ClassVar[str] = "developer_id"

    developer_id: uuid.UUID


class DeveloperRegistered(_Studio):
    """A studio registered; its first admin is ``adminUserId``."""

    TYPE: ClassVar[str] = "developer.registered"

    company_name: Text
    admin_user_id: UserId
    verification_status: Literal["pending"]


class DeveloperVerified(_Studio):
    """The Admin Service decided a studio's verification."""

    TYPE: ClassVar[str] = "developer.verified"

    verification_status: Literal["verified", "rejected", "pending"]
    reason: Text | None


class DeveloperUpdated(_Studio):
    """A studio's profile changed."""

    TYPE: ClassVar[str] = "developer.updated"

    company_name: Text


class DeveloperSuspended(_Studio):
    """The Admin Service suspended a studio: its games are off the store (each also has its
    game.unpublished) and its keys cannot be redeemed until it is reinstated."""

    TYPE: ClassVar[str] = "developer.suspended"

    reason: Text
    suspended_by: Actor = Field(description="the platform admin who decided it")
    suspended_at: Timestamp
    unpublished_game_ids: list[uuid.UUID] = Field(
        default_factory=list, description="the games the suspension took off the store"
    )


class DeveloperReinstated(_Studio):
    """The Admin Service reinstated a suspended studio: its keys can be redeemed again and the
    games the suspension took off the store are back on it (each also has its game.published)."""

    TYPE: ClassVar[str] = "developer.reinstated"

    reason: Text
    reinstated_by: Actor = Field(description="the platform admin who decided it")
    reinstated_at: Timestamp
    republished_game_ids: list[uuid.UUID] = Field(
        default_factory=list, description="the games put back on the store"
    )


class TeamMemberInvited(_Studio):
    """Someone was invited to a studio (for the Notification Service)."""

    TYPE: ClassVar[str] = "team.member_invited"

    invitation_id: uuid.UUID
    email: Text = Field(description="lower case")
    role: TeamRole
    expires_at: Timestamp


class TeamMemberAdded(_Studio):
    """A user joined a studio with a role."""

    TYPE: ClassVar[str] = "team.member_added"

    user_id: UserId
    role: TeamRole


class TeamMemberRoleChanged(_Studio):
    """A member's role changed."""

    TYPE: ClassVar[str] = "team.member_role_changed"

    user_id: UserId
    role: TeamRole
    previous_role: TeamRole


class TeamMemberRemoved(_Studio):
    """A user left a studio or was removed."""

    TYPE: ClassVar[str] = "team.member_removed"

    user_id: UserId


class _Game(DeveloperEvent):
    SUBJECT: ClassVar[str] = "game_id"

    game_id: uuid.UUID
    developer_id: uuid.UUID


class GameCreated(_Game):
    """A studio created a game (a draft)."""

    TYPE: ClassVar[str] = "game.created"

    title: Text
    status: GameStatus


class GameUpdated(_Game):
    """A game's title or status changed."""

    TYPE: ClassVar[str] = "game.updated"

    title: Text
    status: GameStatus


class GameDeleted(_Game):
    """A draft game was deleted."""

    TYPE: ClassVar[str] = "game.deleted"


class Discount(Contract):
    percent: int = Field(ge=1, le=100)
    starts_at: Timestamp
    ends_at: Timestamp


class ListingMetadata(Contract):
    description: Text | None = None
    short_description: Text | None = None
    tags: list[Text] = Field(default_factory=list)
    genres: list[Text] = Field(default_factory=list)
    system_requirements: dict[str, dict[str, dict[str, Text]]] = Field(
        default_factory=dict, description="per platform (windows, macos, linux): minimum and recommended"
    )
    age_rating: Text | None = None


class ListingMedia(Contract):
    screenshots: list[Text] = Field(default_factory=list, description="https URLs")
    videos: list[Text] = Field(default_factory=list, description="https URLs")


class RegionalPrice(Contract):
    """A country's price: its list price and what a buyer pays at ``pricedAt`` (the discount in
    effect then applied)."""

    country: Country
    price: Money
    current_price: Money


class ListingPricing(Contract):
    free: bool = Field(description="a base price of 0")
    base_price: Money
    current_price: Money = Field(description="the base price with the discount in effect at pricedAt")
    regional_prices: list[RegionalPrice] = Field(
        default_factory=list, description="countries with a price of their own, sorted by country"
    )
    discount: Discount | None = Field(
        default=None, description="the discount in effect at pricedAt, else the next scheduled one"
    )
    discounts: list[Discount] = Field(
        default_factory=list,
        description="the whole schedule not yet ended (pricing.updated follows each start and end)",
    )
    priced_at: Timestamp


class ListingBuild(Contract):
    platform: Text
    version_id: uuid.UUID
    version: Text


class Listing(Contract):
    """A game's store listing as the Catalog shows it: the same shape as developer-portal's
    ``GET /internal/v1/games/{gameId}``, so the Catalog can follow events alone."""

    game_id: uuid.UUID
    developer_id: uuid.UUID
    title: Text
    status: GameStatus = Field(description="published: on sale; removed: taken off the store")
    published_at: Timestamp | None = None
    metadata: ListingMetadata
    media: ListingMedia
    pricing: ListingPricing | None = Field(default=None, description="null: no price set")
    builds: list[ListingBuild] = Field(
        default_factory=list, description="the published build of each platform, sorted by platform"
    )
    updated_at: Timestamp = Field(description="when the listing last changed (the sync's updatedSince)")


_LISTING = Field(
    default=None,
    description="the game's whole store listing after the change, when it has been on the store "
    "(status published or removed); null otherwise",
)


class GameMetadataUpdated(_Game):
    """A game's store metadata changed (which fields, not their values)."""

    TYPE: ClassVar[str] = "game.metadata_updated"

    changed_fields: list[MetadataField]
    listing: Listing | None = _LISTING


class PricingUpdated(_Game):
    """A game's prices changed: the studio set them, or a scheduled discount started or ended."""

    TYPE: ClassVar[str] = "pricing.updated"

    base_price: Money
    regional_prices: dict[Country, Money]
    discount: Discount | None = Field(
        description="the discount in effect, else the next scheduled one, else null"
    )
    discounts: list[Discount] = Field(description="the whole schedule not yet ended, sorted by start")
    listing: Listing | None = _LISTING


class _Publishing(_Game):
    title: Text
    status: GameStatus
    changed_by: Actor


class GameSubmitted(_Publishing):
    """A version was submitted for review (status ``pending_review``)."""

    TYPE: ClassVar[str] = "game.submitted"

    submission_id: uuid.UUID
    version_id: uuid.UUID


class GameApproved(_Publishing):
    """Moderation approved the game (status ``approved``)."""

    TYPE: ClassVar[str] = "game.approved"

    submission_id: uuid.UUID


class Finding(Contract):
    """What a moderator found wrong, pointing at a field (``metadata.description``)."""

    field: Text
    message: Text


class GameRejected(_Publishing):
    """Moderation rejected the game (status ``rejected``), with the moderator's notes."""

    TYPE: ClassVar[str] = "game.rejected"

    submission_id: uuid.UUID
    notes: Text | None
    findings: list[Finding] = Field(default_factory=list)


class PublishedBuild(Contract):
    version_id: uuid.UUID
    version: Text
    platform: Text


class GamePublished(_Publishing):
    """The game is on sale in the store (status ``published``) from ``releaseAt``, with what
    the Catalog lists: its title, price and the approved build."""

    TYPE: ClassVar[str] = "game.published"

    version_id: uuid.UUID | None
    release_at: Timestamp
    base_price: Money | None = Field(default=None, description="a 0 amount is a free game")
    regional_prices: dict[Country, Money] = Field(default_factory=dict)
    build: PublishedBuild | None = Field(default=None, description="the build the approval was for")
    listing: Listing | None = _LISTING


class GameUnpublished(_Publishing):
    """The game was taken off the store (status ``removed``)."""

    TYPE: ClassVar[str] = "game.unpublished"

    reason: Text | None
    listing: Listing | None = _LISTING


class SubmissionCreated(DeveloperEvent):
    """A submission awaits the Admin Service's moderation."""

    TYPE: ClassVar[str] = "submission.created"
    SUBJECT: ClassVar[str] = "submission_id"

    submission_id: uuid.UUID
    game_id: uuid.UUID
    developer_id: uuid.UUID
    version_id: uuid.UUID
    submitted_by: Actor
    submitted_at: Timestamp
    previous_submission_id: uuid.UUID | None = Field(
        default=None, description="the rejected submission this one follows"
    )
    changed_fields: list[Text] = Field(
        default_factory=list,
        description="what changed since the rejected submission (metadata.description, pricing.basePrice, "
        "build.versionId, ...)",
    )


class SubmissionDecided(DeveloperEvent):
    """The Admin Service decided a submission."""

    TYPE: ClassVar[str] = "submission.decided"
    SUBJECT: ClassVar[str] = "submission_id"

    submission_id: uuid.UUID
    game_id: uuid.UUID
    developer_id: uuid.UUID
    version_id: uuid.UUID
    decision: Literal["approve", "reject"]
    notes: Text | None
    findings: list[Finding] = Field(default_factory=list)
    decided_by: Actor
    decided_at: Timestamp


class _Payout(DeveloperEvent):
    SUBJECT: ClassVar[str] = "payout_id"

    payout_id: uuid.UUID
    developer_id: uuid.UUID
    amount: Money


class PayoutRequested(_Payout):
    """A studio asked for a payout; the amount is in payout until the Payment Service answers."""

    TYPE: ClassVar[str] = "payout.requested"

    method: Text = Field(description="the payout method's kind, never its details")
    requested_by: Actor
    requested_at: Timestamp


class PayoutFailed(_Payout):
    """A payout failed; its amount is back in the available balance."""

    TYPE: ClassVar[str] = "payout.failed"

    reason: Text
    failed_at: Timestamp


class _ApiKey(DeveloperEvent):
    SUBJECT: ClassVar[str] = "key_id"

    key_id: uuid.UUID
    developer_id: uuid.UUID


class ApiKeyCreated(_ApiKey):
    """A CI API key was created (never the key itself: its prefix and last 4 only)."""

    TYPE: ClassVar[str] = "apikey.created"

    name: Text
    prefix: Text
    last4: Text
    scopes: list[Text]
    game_ids: list[uuid.UUID]
    expires_at: Timestamp | None
    created_by: Actor


class ApiKeyRevoked(_ApiKey):
    """A CI API key was revoked: by a studio admin, or because its creator left the studio."""

    TYPE: ClassVar[str] = "apikey.revoked"

    revoked_by: Actor
    revoked_at: Timestamp
    reason: Literal["revoked", "creator_left"] = Field(
        default="revoked", description="creator_left: revoked with its creator's removal from the studio"
    )


class ApiKeyExpiring(_ApiKey):
    """A CI API key expires within 7 days (once per key; for the Notification Service to tell
    the studio's admins)."""

    TYPE: ClassVar[str] = "apikey.expiring"

    name: Text
    prefix: Text
    last4: Text
    created_by: Actor
    expires_at: Timestamp


class Posting(Contract):
    account: Text
    amount: Money = Field(description="positive: debit, negative: credit")


class LedgerEntryPosted(DeveloperEvent):
    """A journal entry was posted to a studio's ledger (its postings sum to zero per currency)."""

    TYPE: ClassVar[str] = "ledger.entry_posted"
    SUBJECT: ClassVar[str] = "developer_id"

    entry_id: uuid.UUID
    developer_id: uuid.UUID
    kind: Text = Field(description="sale, return, revenue, reversal, payout, payout_failed, adjustment")
    source_id: Text = Field(description="the event or payout the entry records, unique per entry")
    postings: list[Posting]
    posted_at: Timestamp
