"""marshmallow schemas of every request and response. Field names are the wire's camelCase;
unknown fields are rejected (marshmallow's default), every size is bounded, and value rules
(money, countries, discounts, tags...) come from the domain, so a violation is a 422
VALIDATION_ERROR naming the field, like any other schema error."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import marshmallow as ma
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from developer_portal.domain import (
    apikeys,
    games,
    ledger,
    metadata,
    payouts,
    pricing,
    publishing,
    reference,
    revenue,
    suspension,
    trusted_publishing,
    verification,
)
from developer_portal.domain.permissions import STUDIO_ROLES
from developer_portal.domain.team import INVITATION_STATUSES, MAX_EMAIL_LENGTH
from gamekeys_platform.fields import Country, DecimalString
from gamekeys_platform.pagination import PageQuerySchema
from gamekeys_platform.refusals import InvalidValue
from gamekeys_platform.support import SupportQuerySchema


def _text(max_length: int, *, required: bool = False, allow_none: bool = False):
    return fields.String(
        required=required,
        allow_none=allow_none,
        validate=_bounded_text(max_length),
        metadata={"minLength": 1, "maxLength": max_length},
    )


def _bounded_text(max_length: int):
    """One check, so a value breaking it gets one message (not "blank" and "too short" both)."""

    def check(value: str) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")
        if len(value) > max_length:
            raise ValidationError(f"must be at most {max_length} characters")

    return check


def _first_failure(*validators):
    """Validators run in order, stopping at the first that fails: one message per field."""

    def run(value):
        for validator in validators:
            validator(value)

    return run


def _domain_check(check):
    """A field validator from a domain function raising InvalidValue."""

    def run(value):
        try:
            check(value)
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from None

    return run


# --- common ---------------------------------------------------------------------------------


class MoneySchema(ma.Schema):
    """``{"amount": "19.99", "currency": "USD"}``: a decimal string, never a number."""

    amount = fields.String(
        required=True,
        validate=validate.Length(1, 32),
        error_messages={"invalid": 'must be a decimal string such as "19.99", never a number'},
        metadata={"example": "19.99"},
    )
    currency = fields.String(required=True, validate=validate.Length(3, 3), metadata={"example": "USD"})

    @validates_schema
    def _valid_money(self, data, **_kwargs):
        try:
            reference.check_currency(data["currency"])
        except InvalidValue as exc:
            raise ValidationError(str(exc), field_name="currency") from None
        try:
            pricing.parse_money(data["amount"], data["currency"])
        except InvalidValue as exc:
            raise ValidationError(str(exc), field_name="amount") from None

    @post_load
    def _to_money(self, data, **_kwargs):
        return pricing.parse_money(data["amount"], data["currency"])


class MoneyOutSchema(ma.Schema):
    amount = fields.String(required=True)
    currency = fields.String(required=True)


# --- studios --------------------------------------------------------------------------------


class AddressSchema(ma.Schema):
    line1 = _text(200, required=True)
    line2 = _text(200, allow_none=True)
    city = _text(100, required=True)
    postalCode = _text(20, allow_none=True)
    region = _text(100, allow_none=True)


class LegalDetailsSchema(ma.Schema):
    """What the Admin Service verifies a studio against."""

    legalName = _text(255, required=True)
    country = Country(required=True)
    registrationNumber = _text(64, allow_none=True)
    taxId = _text(64, allow_none=True)
    vatNumber = _text(64, allow_none=True)
    address = fields.Nested(AddressSchema, allow_none=True)
    contactEmail = fields.Email(allow_none=True, validate=validate.Length(max=MAX_EMAIL_LENGTH))
    website = fields.Url(schemes={"https"}, allow_none=True, validate=validate.Length(max=2048))


class RegisterSchema(ma.Schema):
    companyName = _text(255, required=True)
    legalDetails = fields.Nested(LegalDetailsSchema, required=True)


class UpdateAccountSchema(ma.Schema):
    """Fields present are replaced, fields absent kept; at least one."""

    companyName = _text(255)
    legalDetails = fields.Nested(LegalDetailsSchema)

    @validates_schema
    def _something(self, data, **_kwargs):
        if not data:
            raise ValidationError("give companyName or legalDetails", field_name="_schema")


class DeveloperSchema(ma.Schema):
    developerId = fields.UUID(required=True)
    companyName = fields.String(required=True)
    legalDetails = fields.Dict(required=True)
    verificationStatus = fields.String(
        required=True, validate=validate.OneOf(verification.VERIFICATION_STATUSES)
    )
    verificationReason = fields.String(allow_none=True)
    verifiedAt = fields.String(allow_none=True, metadata={"format": "date-time"})
    suspension = fields.Nested(
        "SuspensionStateSchema",
        allow_none=True,
        metadata={
            "description": "set while the platform has the studio suspended: its games are off the store and "
            "its keys cannot be redeemed"
        },
    )
    role = fields.String(
        allow_none=True,
        validate=validate.OneOf(STUDIO_ROLES),
        metadata={"description": "the caller's role in this studio (null for a platform admin)"},
    )
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    updatedAt = fields.String(required=True, metadata={"format": "date-time"})


class SuspensionStateSchema(ma.Schema):
    suspendedAt = fields.String(required=True, metadata={"format": "date-time"})
    reason = fields.String(required=True)
    suspendedBy = fields.String(required=True, metadata={"description": "the platform admin"})


class SuspensionRequestSchema(ma.Schema):
    reason = _text(suspension.MAX_REASON_LENGTH, required=True)
    # the platform admin deciding it (recorded in the audit log and the event)
    adminId = _text(suspension.MAX_ADMIN_ID_LENGTH, required=True)


class DeveloperPageSchema(ma.Schema):
    items = fields.List(fields.Nested(DeveloperSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class DeveloperQuerySchema(PageQuerySchema):
    verificationStatus = fields.String(
        load_default=None, validate=validate.OneOf(verification.VERIFICATION_STATUSES)
    )


class VerificationSchema(ma.Schema):
    status = fields.String(required=True, validate=validate.OneOf(verification.DECISIONS))
    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=verification.MAX_REASON_LENGTH)
    )

    @validates_schema
    def _reason_for_rejection(self, data, **_kwargs):
        if (
            data["status"] == verification.VerificationStatus.REJECTED
            and not (data.get("reason") or "").strip()
        ):
            raise ValidationError("a rejection needs a reason", field_name="reason")


# --- team -----------------------------------------------------------------------------------


class InviteSchema(ma.Schema):
    email = fields.Email(required=True, validate=validate.Length(max=MAX_EMAIL_LENGTH))
    role = fields.String(required=True, validate=validate.OneOf(STUDIO_ROLES))


class RoleChangeSchema(ma.Schema):
    role = fields.String(required=True, validate=validate.OneOf(STUDIO_ROLES))


class MemberSchema(ma.Schema):
    userId = fields.UUID(required=True)
    developerId = fields.UUID(required=True)
    email = fields.String(allow_none=True)
    role = fields.String(required=True, validate=validate.OneOf(STUDIO_ROLES))
    addedAt = fields.String(required=True, metadata={"format": "date-time"})
    updatedAt = fields.String(required=True, metadata={"format": "date-time"})


class MemberPageSchema(ma.Schema):
    items = fields.List(fields.Nested(MemberSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class InvitationSchema(ma.Schema):
    invitationId = fields.UUID(required=True)
    developerId = fields.UUID(required=True)
    companyName = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(STUDIO_ROLES))
    status = fields.String(required=True, validate=validate.OneOf(INVITATION_STATUSES))
    invitedBy = fields.UUID(required=True)
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    expiresAt = fields.String(required=True, metadata={"format": "date-time"})
    respondedAt = fields.String(allow_none=True, metadata={"format": "date-time"})


class InvitationPageSchema(ma.Schema):
    items = fields.List(fields.Nested(InvitationSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class AuditEntrySchema(ma.Schema):
    auditId = fields.Integer(required=True)
    developerId = fields.UUID(required=True)
    actorType = fields.String(required=True, validate=validate.OneOf(("user", "service")))
    actorId = fields.String(required=True)
    action = fields.String(required=True)
    entityType = fields.String(required=True)
    entityId = fields.String(required=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    requestId = fields.String(allow_none=True)
    occurredAt = fields.String(required=True, metadata={"format": "date-time"})


class AuditPageSchema(ma.Schema):
    items = fields.List(fields.Nested(AuditEntrySchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


# --- games ----------------------------------------------------------------------------------


def _title_field():
    return fields.String(
        required=True,
        validate=_domain_check(games.normalize_title),
        metadata={"description": f"1-{games.MAX_TITLE_LENGTH} characters, unique within the studio"},
    )


class GameCreateSchema(ma.Schema):
    title = _title_field()


class GameUpdateSchema(ma.Schema):
    """The basic fields; the status changes only through the publishing workflow."""

    title = _title_field()


class GameSchema(ma.Schema):
    gameId = fields.UUID(required=True)
    developerId = fields.UUID(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(games.GAME_STATUSES))
    releaseAt = fields.String(
        allow_none=True, metadata={"format": "date-time", "description": "a scheduled release, if any"}
    )
    publishedAt = fields.String(allow_none=True, metadata={"format": "date-time"})
    publishedVersionId = fields.UUID(allow_none=True)
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    updatedAt = fields.String(required=True, metadata={"format": "date-time"})


class GamePageSchema(ma.Schema):
    items = fields.List(fields.Nested(GameSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class GameQuerySchema(PageQuerySchema):
    developerId = fields.UUID(
        load_default=None,
        metadata={"description": "platform admins: one studio's games; members: own studio"},
    )
    status = fields.String(load_default=None, validate=validate.OneOf(games.GAME_STATUSES))


# --- metadata -------------------------------------------------------------------------------


class RequirementsSchema(ma.Schema):
    os = _text(metadata.MAX_REQUIREMENT_LENGTH, allow_none=True)
    processor = _text(metadata.MAX_REQUIREMENT_LENGTH, allow_none=True)
    memory = _text(metadata.MAX_REQUIREMENT_LENGTH, allow_none=True)
    graphics = _text(metadata.MAX_REQUIREMENT_LENGTH, allow_none=True)
    storage = _text(metadata.MAX_REQUIREMENT_LENGTH, allow_none=True)
    directx = _text(metadata.MAX_REQUIREMENT_LENGTH, allow_none=True)
    network = _text(metadata.MAX_REQUIREMENT_LENGTH, allow_none=True)
    notes = _text(metadata.MAX_REQUIREMENT_LENGTH, allow_none=True)


class PlatformRequirementsSchema(ma.Schema):
    minimum = fields.Nested(RequirementsSchema, allow_none=True)
    recommended = fields.Nested(RequirementsSchema, allow_none=True)


class SystemRequirementsSchema(ma.Schema):
    windows = fields.Nested(PlatformRequirementsSchema, allow_none=True)
    macos = fields.Nested(PlatformRequirementsSchema, allow_none=True)
    linux = fields.Nested(PlatformRequirementsSchema, allow_none=True)


def _https_urls(max_items: int):
    return fields.List(
        fields.Url(schemes={"https"}, validate=validate.Length(max=metadata.MAX_URL_LENGTH)),
        validate=validate.Length(max=max_items),
    )


class MediaUrlsSchema(ma.Schema):
    screenshots = _https_urls(metadata.MAX_SCREENSHOTS)
    videos = _https_urls(metadata.MAX_VIDEOS)


class MetadataUpdateSchema(ma.Schema):
    """Fields present are replaced (null clears one), fields absent kept."""

    description = fields.String(
        allow_none=True, validate=validate.Length(max=metadata.MAX_DESCRIPTION_LENGTH)
    )
    shortDescription = fields.String(
        allow_none=True, validate=validate.Length(max=metadata.MAX_SHORT_DESCRIPTION_LENGTH)
    )
    systemRequirements = fields.Nested(SystemRequirementsSchema, allow_none=True)
    tags = fields.List(
        fields.String(validate=validate.Length(1, metadata.MAX_TAG_LENGTH, error=metadata.TAG_RULE)),
        allow_none=True,
        validate=_first_failure(
            validate.Length(max=metadata.MAX_TAGS, error=f"at most {metadata.MAX_TAGS} tags"),
            _domain_check(metadata.normalize_tags),
        ),
    )
    genres = fields.List(
        fields.String(validate=validate.Length(1, 40)),
        allow_none=True,
        validate=_first_failure(
            validate.Length(max=metadata.MAX_GENRES, error=f"at most {metadata.MAX_GENRES} genres"),
            _domain_check(metadata.normalize_genres),
        ),
        metadata={"description": "from: " + ", ".join(metadata.GENRES)},
    )
    ageRating = fields.String(
        allow_none=True,
        validate=_domain_check(metadata.check_age_rating),
        metadata={"maxLength": metadata.MAX_AGE_RATING_LENGTH},
    )
    mediaUrls = fields.Nested(MediaUrlsSchema, allow_none=True)


class MetadataSchema(ma.Schema):
    gameId = fields.UUID(required=True)
    description = fields.String(allow_none=True)
    shortDescription = fields.String(allow_none=True)
    systemRequirements = fields.Dict(required=True)
    tags = fields.List(fields.String(), required=True)
    genres = fields.List(fields.String(), required=True)
    ageRating = fields.String(allow_none=True)
    mediaUrls = fields.Dict(required=True)
    updatedAt = fields.String(allow_none=True, metadata={"format": "date-time"})


# --- pricing --------------------------------------------------------------------------------


class DiscountSchema(ma.Schema):
    percent = fields.Integer(
        required=True,
        strict=True,
        metadata={"minimum": pricing.MIN_DISCOUNT_PERCENT, "maximum": pricing.MAX_DISCOUNT_PERCENT},
    )
    startsAt = fields.AwareDateTime(required=True, format="iso")
    endsAt = fields.AwareDateTime(required=True, format="iso")

    @validates_schema
    def _valid_discount(self, data, **_kwargs):
        try:
            pricing.check_discount(data["percent"], data["startsAt"], data["endsAt"], now=datetime.now(UTC))
        except InvalidValue as exc:
            raise ValidationError(str(exc), field_name="_schema") from None

    @post_load
    def _to_discount(self, data, **_kwargs):
        return pricing.Discount(data["percent"], data["startsAt"], data["endsAt"])


class PricingUpdateSchema(ma.Schema):
    """The whole price list: base price, regional prices by country, the discount schedule."""

    basePrice = fields.Nested(MoneySchema, required=True)
    regionalPrices = fields.Dict(
        keys=Country(),
        values=fields.Nested(MoneySchema),
        load_default=dict,
        validate=validate.Length(max=pricing.MAX_REGIONAL_PRICES),
        metadata={"example": {"DE": {"amount": "17.99", "currency": "EUR"}}},
    )
    discounts = fields.List(
        fields.Nested(DiscountSchema), load_default=list, validate=validate.Length(max=pricing.MAX_DISCOUNTS)
    )

    @validates_schema
    def _valid_pricing(self, data, **_kwargs):
        try:
            pricing.check_schedule(data["discounts"])
        except InvalidValue as exc:
            raise ValidationError(str(exc), field_name="discounts") from None
        try:
            pricing.build_pricing(data["basePrice"], data["regionalPrices"], data["discounts"])
        except InvalidValue as exc:
            raise ValidationError(str(exc), field_name="discounts") from None

    @post_load
    def _to_pricing(self, data, **_kwargs):
        return pricing.build_pricing(data["basePrice"], data["regionalPrices"], data["discounts"])


class DiscountOutSchema(ma.Schema):
    percent = fields.Integer(required=True)
    startsAt = fields.String(required=True, metadata={"format": "date-time"})
    endsAt = fields.String(required=True, metadata={"format": "date-time"})


class PricingSchema(ma.Schema):
    gameId = fields.UUID(required=True)
    basePrice = fields.Nested(MoneyOutSchema, allow_none=True)
    regionalPrices = fields.Dict(keys=fields.String(), values=fields.Nested(MoneyOutSchema), required=True)
    discount = fields.Nested(
        DiscountOutSchema,
        allow_none=True,
        metadata={"description": "the discount in effect now, else the next scheduled, else null"},
    )
    discounts = fields.List(fields.Nested(DiscountOutSchema), required=True)
    currentPrice = fields.Nested(
        MoneyOutSchema, allow_none=True, metadata={"description": "the base price with today's discount"}
    )
    updatedAt = fields.String(allow_none=True, metadata={"format": "date-time"})


# --- the Catalog's listings -----------------------------------------------------------------


class ListingQuerySchema(PageQuerySchema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(("published", "removed")),
        metadata={"description": "published (on sale) or removed (taken off the store); both when absent"},
    )
    updatedSince = fields.AwareDateTime(
        load_default=None,
        format="iso",
        metadata={"description": "listings changed at or after this time (ISO 8601 with a zone)"},
    )


class ListingMetadataSchema(ma.Schema):
    description = fields.String(allow_none=True)
    shortDescription = fields.String(allow_none=True)
    tags = fields.List(fields.String(), required=True)
    genres = fields.List(fields.String(), required=True)
    systemRequirements = fields.Dict(required=True)
    ageRating = fields.String(allow_none=True)


class ListingMediaSchema(ma.Schema):
    screenshots = fields.List(fields.String(), required=True)
    videos = fields.List(fields.String(), required=True)


class RegionalPriceSchema(ma.Schema):
    country = fields.String(required=True)
    price = fields.Nested(MoneyOutSchema, required=True)
    currentPrice = fields.Nested(MoneyOutSchema, required=True)


class ListingPricingSchema(ma.Schema):
    free = fields.Boolean(required=True)
    basePrice = fields.Nested(MoneyOutSchema, required=True)
    currentPrice = fields.Nested(
        MoneyOutSchema, required=True, metadata={"description": "the base price with the discount in effect"}
    )
    regionalPrices = fields.List(fields.Nested(RegionalPriceSchema), required=True)
    discount = fields.Nested(DiscountOutSchema, allow_none=True)
    discounts = fields.List(fields.Nested(DiscountOutSchema), required=True)
    pricedAt = fields.String(required=True, metadata={"format": "date-time"})


class ListingBuildSchema(ma.Schema):
    platform = fields.String(required=True)
    versionId = fields.UUID(required=True)
    version = fields.String(required=True)


class ListingSchema(ma.Schema):
    gameId = fields.UUID(required=True)
    developerId = fields.UUID(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("published", "removed")))
    publishedAt = fields.String(allow_none=True, metadata={"format": "date-time"})
    metadata = fields.Nested(ListingMetadataSchema, required=True)
    media = fields.Nested(ListingMediaSchema, required=True)
    pricing = fields.Nested(ListingPricingSchema, allow_none=True)
    builds = fields.List(fields.Nested(ListingBuildSchema), required=True)
    updatedAt = fields.String(required=True, metadata={"format": "date-time"})


class ListingPageSchema(ma.Schema):
    items = fields.List(fields.Nested(ListingSchema), required=True)
    nextCursor = fields.String(required=True, allow_none=True)


# --- publishing -----------------------------------------------------------------------------


class PreflightQuerySchema(ma.Schema):
    versionId = fields.UUID(
        load_default=None, metadata={"description": "also check that this build is ready to submit"}
    )


class CheckSchema(ma.Schema):
    check = fields.String(required=True)
    ok = fields.Boolean(required=True)
    message = fields.String(required=True)


class PreflightSchema(ma.Schema):
    ready = fields.Boolean(required=True)
    checks = fields.List(fields.Nested(CheckSchema), required=True)


class FindingSchema(ma.Schema):
    field = _text(publishing.MAX_FINDING_FIELD_LENGTH, required=True)
    message = _text(publishing.MAX_FINDING_MESSAGE_LENGTH, required=True)


class ChangeSchema(ma.Schema):
    field = fields.String(required=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class SubmissionSchema(ma.Schema):
    submissionId = fields.UUID(required=True)
    gameId = fields.UUID(required=True)
    versionId = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(publishing.SUBMISSION_STATUSES))
    submittedBy = fields.String(required=True)
    submittedAt = fields.String(required=True, metadata={"format": "date-time"})
    previousSubmissionId = fields.UUID(
        allow_none=True, metadata={"description": "the rejected submission this one follows"}
    )
    changes = fields.List(
        fields.Nested(ChangeSchema),
        allow_none=True,
        metadata={"description": "what changed since the rejected submission (null for a first one)"},
    )
    decision = fields.String(allow_none=True, validate=validate.OneOf(publishing.DECISIONS))
    notes = fields.String(allow_none=True)
    findings = fields.List(fields.Nested(FindingSchema), required=True)
    decidedBy = fields.String(allow_none=True)
    decidedAt = fields.String(allow_none=True, metadata={"format": "date-time"})


class SubmissionPageSchema(ma.Schema):
    items = fields.List(fields.Nested(SubmissionSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class DecisionSchema(ma.Schema):
    decision = fields.String(required=True, validate=validate.OneOf(publishing.DECISIONS))
    notes = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=publishing.MAX_NOTES_LENGTH)
    )
    findings = fields.List(
        fields.Nested(FindingSchema), load_default=list, validate=validate.Length(max=publishing.MAX_FINDINGS)
    )

    @validates_schema
    def _notes_for_rejection(self, data, **_kwargs):
        if data["decision"] == publishing.Decision.REJECT and not (data.get("notes") or "").strip():
            raise ValidationError("a rejection needs notes the studio can act on", field_name="notes")


class PublishSchema(ma.Schema):
    releaseAt = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "a moment in the future to release the game at; absent: now"},
    )

    @validates_schema
    def _future(self, data, **_kwargs):
        if data.get("releaseAt") is not None:
            try:
                publishing.check_release_at(data["releaseAt"], datetime.now(UTC))
            except InvalidValue as exc:
                raise ValidationError(str(exc), field_name="releaseAt") from None


# --- finance --------------------------------------------------------------------------------


def _timestamp(*, allow_none: bool = False):
    return fields.String(required=True, allow_none=allow_none, metadata={"format": "date-time"})


class StudioQuerySchema(ma.Schema):
    developerId = fields.UUID(
        load_default=None,
        metadata={"description": "platform admins: the studio to read (members read their own)"},
    )


class BalanceSchema(ma.Schema):
    currency = fields.String(required=True)
    available = fields.String(
        required=True, metadata={"description": "may be paid out; negative: carried forward"}
    )
    pending = fields.String(required=True, metadata={"description": "held until the refund window passes"})
    inPayout = fields.String(required=True)
    paidOut = fields.String(required=True)
    negative = fields.Boolean(required=True)


class BalancesSchema(ma.Schema):
    balances = fields.List(fields.Nested(BalanceSchema), required=True)
    negativeBalancePolicy = fields.String(required=True)


class TransactionQuerySchema(PageQuerySchema, StudioQuerySchema):
    type = fields.List(
        fields.String(validate=validate.OneOf([k.value for k in ledger.EntryKind])), load_default=[]
    )
    gameId = fields.UUID(load_default=None)
    # "from" is a Python keyword, hence data_key
    since = fields.AwareDateTime(
        data_key="from", load_default=None, metadata={"description": "from (inclusive)"}
    )
    until = fields.AwareDateTime(data_key="to", load_default=None, metadata={"description": "to (exclusive)"})

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data["since"] is not None and data["until"] is not None and data["since"] >= data["until"]:
            raise ValidationError("must be after from", field_name="to")


class BucketChangeSchema(ma.Schema):
    available = fields.String(required=True)
    pending = fields.String(required=True)
    inPayout = fields.String(required=True)
    paidOut = fields.String(required=True)


class TransactionSchema(ma.Schema):
    entryId = fields.UUID(required=True)
    type = fields.String(required=True)
    amount = fields.Nested(
        MoneyOutSchema, required=True, metadata={"description": "the change to the studio's total"}
    )
    balances = fields.Nested(BucketChangeSchema, required=True)
    gameId = fields.UUID(allow_none=True, required=True)
    source = fields.String(
        required=True, metadata={"description": "the sale, return, revenue, payout... it records"}
    )
    details = fields.Dict(required=True)
    occurredAt = _timestamp()
    postedAt = _timestamp()


class TransactionPageSchema(ma.Schema):
    items = fields.List(fields.Nested(TransactionSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class _PositiveAmount(ma.Schema):
    @validates_schema
    def _positive(self, data, **_kwargs):
        if "amount" in data and data["amount"].amount <= 0:
            raise ValidationError({"amount": ["must be positive"]})


class PayoutRequestSchema(_PositiveAmount):
    amount = fields.Nested(MoneySchema, required=True)


class PayoutSchema(ma.Schema):
    payoutId = fields.UUID(required=True)
    amount = fields.Nested(MoneyOutSchema, required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in payouts.PayoutStatus]))
    method = fields.String(required=True)
    scheduled = fields.Boolean(required=True)
    requestedBy = fields.String(required=True)
    requestedAt = _timestamp()
    completedAt = _timestamp(allow_none=True)
    failedAt = _timestamp(allow_none=True)
    failureReason = fields.String(allow_none=True, required=True)
    reference = fields.String(allow_none=True, required=True)


class PayoutPageSchema(ma.Schema):
    items = fields.List(fields.Nested(PayoutSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class PayoutQuerySchema(PageQuerySchema, StudioQuerySchema):
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in payouts.PayoutStatus])
    )


class PreviewCurrencySchema(ma.Schema):
    currency = fields.String(required=True)
    available = fields.String(required=True)
    pending = fields.String(required=True)
    inPayout = fields.String(required=True)
    nextPayout = fields.String(allow_none=True, required=True)
    negativeCarry = fields.String(allow_none=True, required=True)
    belowThreshold = fields.Boolean(required=True)


class HeldSchema(ma.Schema):
    gameId = fields.UUID(required=True)
    amount = fields.Nested(MoneyOutSchema, required=True)
    availableOn = _timestamp()
    reason = fields.String(required=True)


class PayoutPreviewSchema(ma.Schema):
    schedule = fields.String(required=True)
    nextPayoutDate = fields.String(allow_none=True, required=True, metadata={"format": "date"})
    threshold = fields.String(required=True)
    currencies = fields.List(fields.Nested(PreviewCurrencySchema), required=True)
    held = fields.List(fields.Nested(HeldSchema), required=True)
    blockers = fields.List(fields.String(), required=True)
    negativeBalancePolicy = fields.String(required=True)


def _threshold_check(value):
    if (
        not value.is_finite()
        or value <= 0
        or value != value.quantize(Decimal("0.01"))
        or value > Decimal("1e9")
    ):
        raise InvalidValue('must be a positive decimal string with at most 2 decimal places, e.g. "250.00"')
    return value


class PayoutSettingsUpdateSchema(ma.Schema):
    method = fields.String(required=True, validate=validate.OneOf([m.value for m in payouts.Method]))
    details = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 40)),
        values=fields.Raw(),
        required=True,
        validate=validate.Length(max=10),
        metadata={
            "description": "bank_transfer: accountHolder, iban, bic; paypal: email (stored encrypted, "
            "shown masked)"
        },
    )
    threshold = DecimalString(check=_threshold_check, load_default=None)
    schedule = fields.String(
        load_default=payouts.Schedule.MANUAL.value,
        validate=validate.OneOf([s.value for s in payouts.Schedule]),
    )

    @validates_schema
    def _details(self, data, **_kwargs):
        try:
            payouts.check_details(payouts.Method(data["method"]), data["details"])
        except InvalidValue as exc:
            raise ValidationError({"details": [str(exc)]}) from None


class PayoutSettingsSchema(ma.Schema):
    method = fields.String(allow_none=True, required=True)
    details = fields.Dict(allow_none=True, required=True, metadata={"description": "masked"})
    threshold = fields.String(required=True)
    minimumThreshold = fields.String(required=True)
    schedule = fields.String(required=True)
    complete = fields.Boolean(required=True)
    updatedAt = _timestamp(allow_none=True)


class TierSchema(ma.Schema):
    upTo = DecimalString(required=True, allow_none=True)
    rate = DecimalString(required=True)

    @post_load
    def _tier(self, data, **_kwargs):
        return revenue.Tier(data["upTo"], data["rate"])


class RevenueShareUpdateSchema(ma.Schema):
    tiers = fields.List(fields.Nested(TierSchema), required=True)

    @validates_schema
    def _tiers(self, data, **_kwargs):
        try:
            revenue.check_tiers(data["tiers"])
        except InvalidValue as exc:
            raise ValidationError({"tiers": [str(exc)]}) from None


class TierOutSchema(ma.Schema):
    upTo = fields.String(allow_none=True, required=True)
    rate = fields.String(required=True)


class RevenueShareSchema(ma.Schema):
    developerId = fields.UUID(required=True)
    tiers = fields.List(fields.Nested(TierOutSchema), required=True)
    default = fields.Boolean(required=True)


class AdjustmentSchema(_PositiveAmount):
    amount = fields.Nested(MoneySchema, required=True, metadata={"description": "credited to available"})
    direction = fields.String(required=True, validate=validate.OneOf(("credit", "debit")))
    reason = _text(500, required=True)


# --- CI API keys and trusted publishing -----------------------------------------------------

_SCOPE = fields.String(
    validate=validate.OneOf(tuple(apikeys.SCOPES)),
    metadata={"description": "; ".join(f"`{name}`: {what}" for name, what in apikeys.SCOPES.items())},
)


def _scopes():
    return fields.List(_SCOPE, required=True, validate=validate.Length(1, 10))


def _game_ids():
    return fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(1, apikeys.MAX_GAMES),
        metadata={"description": "games of the studio, at least one"},
    )


class ApiKeyCreateSchema(ma.Schema):
    name = _text(apikeys.MAX_NAME_LENGTH, required=True)
    scopes = _scopes()
    gameIds = _game_ids()
    expiresAt = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "in the future, at most APIKEY_MAX_LIFETIME_DAYS ahead; "
            "absent: the default lifetime"
        },
    )


class ApiKeyRollSchema(ma.Schema):
    overlapHours = fields.Integer(
        load_default=24,
        validate=validate.Range(0, int(apikeys.MAX_ROLL_OVERLAP.total_seconds()) // 3600),
        metadata={"description": "how long the old key keeps working beside its successor (0-168 hours)"},
    )
    expiresAt = fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"description": "the successor's expiry, as on create"}
    )


class ApiKeySchema(ma.Schema):
    keyId = fields.UUID(required=True)
    developerId = fields.UUID(required=True)
    name = fields.String(required=True)
    prefix = fields.String(
        required=True, metadata={"description": "the key's first characters, for recognising it"}
    )
    last4 = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    gameIds = fields.List(fields.UUID(), required=True)
    status = fields.String(required=True, validate=validate.OneOf(apikeys.KEY_STATUSES))
    createdBy = fields.UUID(required=True)
    createdAt = _timestamp()
    expiresAt = _timestamp()
    lastUsedAt = _timestamp(allow_none=True)
    lastUsedAddress = fields.String(required=True, allow_none=True)
    revokedAt = _timestamp(allow_none=True)
    revokedReason = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(apikeys.REVOKED_REASONS)
    )
    rolledFrom = fields.UUID(required=True, allow_none=True)
    rolledTo = fields.UUID(required=True, allow_none=True)


class NewApiKeySchema(ApiKeySchema):
    key = fields.String(
        required=True, metadata={"description": "the key itself, shown this once and never again"}
    )


class ApiKeyPageSchema(ma.Schema):
    items = fields.List(fields.Nested(ApiKeySchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class StudioPageQuerySchema(PageQuerySchema, StudioQuerySchema):
    pass


class IntrospectionRequestSchema(ma.Schema):
    key = fields.String(required=True, validate=validate.Length(1, 4096))
    clientAddress = fields.IP(
        load_default=None,
        allow_none=True,
        metadata={"description": "the address the key was presented from (game-builds' client)"},
    )


class IntrospectionSchema(ma.Schema):
    active = fields.Boolean(required=True)
    tokenType = fields.String(validate=validate.OneOf(("api_key", "upload_token")))
    keyId = fields.UUID()
    publisherId = fields.UUID()
    developerId = fields.UUID()
    gameIds = fields.List(fields.UUID())
    scopes = fields.List(fields.String())
    expiresAt = fields.String(metadata={"format": "date-time"})


class TrustedPublisherCreateSchema(ma.Schema):
    issuer = fields.String(required=True, validate=validate.Length(1, 255))
    subject = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, trusted_publishing.MAX_CLAIM_VALUE_LENGTH),
        metadata={"description": "the exact `sub` claim, e.g. repo:org/game:ref:refs/heads/main"},
    )
    claims = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        values=fields.String(validate=validate.Length(1, trusted_publishing.MAX_CLAIM_VALUE_LENGTH)),
        load_default=None,
        allow_none=True,
        metadata={"description": "more exact claim conditions, e.g. repository, workflow_ref, environment"},
    )
    scopes = _scopes()
    gameIds = _game_ids()

    @validates_schema
    def _conditions(self, data, **_kwargs):
        try:
            trusted_publishing.conditions(data.get("subject"), data.get("claims"))
        except InvalidValue as exc:
            raise ValidationError(str(exc), field_name="claims") from None


class TrustedPublisherSchema(ma.Schema):
    publisherId = fields.UUID(required=True)
    developerId = fields.UUID(required=True)
    issuer = fields.String(required=True)
    claims = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    scopes = fields.List(fields.String(), required=True)
    gameIds = fields.List(fields.UUID(), required=True)
    createdBy = fields.UUID(required=True)
    createdAt = _timestamp()


class TrustedPublisherPageSchema(ma.Schema):
    items = fields.List(fields.Nested(TrustedPublisherSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class TokenExchangeSchema(ma.Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(1, 16_384),
        metadata={"description": "the CI's OIDC identity token, requested for audience OIDC_AUDIENCE"},
    )
    publisherId = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "only when several trusted publishers match"},
    )


class UploadTokenSchema(ma.Schema):
    token = fields.String(required=True, metadata={"description": "gkpt_...: send as Authorization: Bearer"})
    tokenType = fields.String(required=True, validate=validate.OneOf(("Bearer",)))
    expiresAt = _timestamp()
    expiresIn = fields.Integer(required=True, metadata={"description": "seconds"})
    publisherId = fields.UUID(required=True)
    developerId = fields.UUID(required=True)
    gameIds = fields.List(fields.UUID(), required=True)
    scopes = fields.List(fields.String(), required=True)


# --- analytics ------------------------------------------------------------------------------
# The answers of the analytics service's internal API, passed on. The portal loads each answer
# through these schemas (fields it does not know are dropped), so a shape that breaks them is a
# 502 rather than a document that contradicts this spec.


class AnalyticsPeriodQuerySchema(ma.Schema):
    from_ = fields.Date(
        data_key="from",
        load_default=None,
        metadata={"description": "first day (in tz), inclusive; default: 29 days before to"},
    )
    to = fields.Date(
        load_default=None,
        metadata={"description": "last day (in tz), inclusive; default: today; at most 366 days"},
    )
    tz = fields.String(
        load_default=None,
        validate=validate.Length(1, 64),
        metadata={
            "description": "IANA time zone that draws the day boundaries (default UTC)",
            "example": "Europe/Berlin",
        },
    )


class AnalyticsStudioQuerySchema(AnalyticsPeriodQuerySchema, StudioQuerySchema):
    pass


class AnalyticsReportsQuerySchema(AnalyticsStudioQuerySchema, PageQuerySchema):
    limit = fields.Integer(
        load_default=10,
        validate=validate.Range(1, 20),
        metadata={"description": "games per page (each is one report of analytics')"},
    )


class ActivationCountsSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    attempts = fields.Integer(required=True, metadata={"description": "every attempt below"})
    activations = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    blocked = fields.Integer(required=True)
    pendingReview = fields.Integer(required=True)
    disputed = fields.Integer(required=True)


class ActivationDaySchema(ActivationCountsSchema):
    t = fields.Date(required=True, metadata={"description": "the day, in the report's time zone"})


class ActivationCountrySchema(ActivationCountsSchema):
    country = fields.String(
        required=True, allow_none=True, metadata={"description": "the region the player claimed (null: none)"}
    )
    share = fields.String(
        required=True, metadata={"description": "this country's part of the activations", "example": "0.2500"}
    )


class GameActivationReportSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    gameId = fields.UUID(required=True)
    from_ = fields.Date(data_key="from", attribute="from", required=True)
    to = fields.Date(required=True)
    timezone = fields.String(required=True)
    granularity = fields.String(required=True, validate=validate.OneOf(["day"]))
    totals = fields.Nested(ActivationCountsSchema, required=True)
    series = fields.List(
        fields.Nested(ActivationDaySchema), required=True, metadata={"description": "every day of the period"}
    )
    countries = fields.List(fields.Nested(ActivationCountrySchema), required=True)


class GameFiguresSchema(ActivationCountsSchema):
    gameId = fields.UUID(required=True)
    title = fields.String(required=True, allow_none=True)


class AnalyticsSummarySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    developerId = fields.UUID(required=True)
    from_ = fields.Date(data_key="from", attribute="from", required=True)
    to = fields.Date(required=True)
    timezone = fields.String(required=True)
    games = fields.Integer(required=True, metadata={"description": "the studio's games"})
    keysGenerated = fields.Integer(
        required=True, metadata={"description": "keys of batches generated in the period"}
    )
    totals = fields.Nested(ActivationCountsSchema, required=True)
    topGames = fields.List(
        fields.Nested(GameFiguresSchema),
        required=True,
        metadata={"description": "up to 10, most activations first"},
    )


class GameReportItemSchema(GameActivationReportSchema):
    title = fields.String(required=True, metadata={"description": "the game's title here"})
    status = fields.String(required=True, validate=validate.OneOf(games.GAME_STATUSES))


class AnalyticsReportsSchema(ma.Schema):
    developerId = fields.UUID(required=True)
    from_ = fields.Date(data_key="from", attribute="from", required=True)
    to = fields.Date(required=True)
    timezone = fields.String(required=True)
    games = fields.Integer(required=True, metadata={"description": "the studio's games"})
    keysGenerated = fields.Integer(
        required=True, metadata={"description": "keys of batches generated in the period"}
    )
    totals = fields.Nested(ActivationCountsSchema, required=True, metadata={"description": "all games"})
    items = fields.List(
        fields.Nested(GameReportItemSchema),
        required=True,
        metadata={"description": "one activation report per game of the studio, newest game first"},
    )
    nextCursor = fields.String(required=True, allow_none=True)


# --- the Admin Service's support search -----------------------------------------------------


class StudioSearchSchema(PageQuerySchema, SupportQuerySchema):
    q = fields.String(
        load_default=None,
        validate=validate.Length(2, 200),
        metadata={"description": "part of the company name (case-insensitive)"},
    )
    developerId = fields.UUID(load_default=None)
    userId = fields.UUID(load_default=None, metadata={"description": "the studio this user is a member of"})
    email = fields.String(
        load_default=None,
        validate=validate.Length(3, MAX_EMAIL_LENGTH),
        metadata={"description": "the studio of the member with this email (exact, case-insensitive)"},
    )
    verificationStatus = fields.String(
        load_default=None, validate=validate.OneOf(verification.VERIFICATION_STATUSES)
    )
    suspended = fields.Boolean(load_default=None)

    @validates_schema
    def _one_criterion(self, data, **_kwargs):
        if not any(data.get(k) is not None for k in ("q", "developerId", "userId", "email", "suspended")):
            raise ValidationError("give q, developerId, userId, email or suspended", field_name="_schema")


class GameSearchSchema(PageQuerySchema, SupportQuerySchema):
    q = fields.String(
        load_default=None,
        validate=validate.Length(2, 200),
        metadata={"description": "part of the title (case-insensitive)"},
    )
    gameId = fields.UUID(load_default=None)
    developerId = fields.UUID(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(games.GAME_STATUSES))

    @validates_schema
    def _one_criterion(self, data, **_kwargs):
        if not any(data.get(k) is not None for k in ("q", "gameId", "developerId")):
            raise ValidationError("give q, gameId or developerId", field_name="_schema")


class SupportStudioSchema(DeveloperSchema):
    members = fields.Integer(required=True)
    games = fields.Integer(required=True)


class SupportStudioPageSchema(ma.Schema):
    items = fields.List(fields.Nested(SupportStudioSchema), required=True)
    nextCursor = fields.String(required=True, allow_none=True)


class SupportGamePageSchema(ma.Schema):
    items = fields.List(fields.Nested(GameSchema), required=True)
    nextCursor = fields.String(required=True, allow_none=True)
