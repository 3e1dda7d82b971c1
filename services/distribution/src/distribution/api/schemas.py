"""Request and response schemas (marshmallow): camelCase on the wire, unknown fields rejected,
sizes bounded."""

from __future__ import annotations

from datetime import timedelta

import marshmallow as ma
from marshmallow import validate

from distribution.domain.money import check_price
from distribution.domain.retailers import RetailerStatus, check_commission_rate
from gamekeys_platform.currencies import check_currency
from gamekeys_platform.fields import Country, DecimalString, PastDateTime
from gamekeys_platform.pagination import PageQuerySchema, page_schema
from gamekeys_platform.refusals import InvalidValue

KEY_TYPES = ["retail", "promotional", "developer", "gift", "subscription"]
ALLOCATION_MAX_QUANTITY = 100_000
SALE_MAX_KEYS = 1000
# A sale is reported within this long of happening (a till that was offline for a while).
SALE_MAX_AGE = timedelta(days=90)
RETAILER_KEYS_MAX_PAGE = 1000
Currency = ma.fields.String(
    required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="an ISO 4217 code in capitals")
)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class ContactInfoSchema(Strict):
    email = ma.fields.Email(required=True, validate=validate.Length(3, 254))
    phone = ma.fields.String(validate=validate.Length(1, 40))
    website = ma.fields.URL(validate=validate.Length(1, 500))
    address = ma.fields.String(validate=validate.Length(1, 500))
    contactName = ma.fields.String(validate=validate.Length(1, 200))


class MoneySchema(Strict):
    """``{"amount": "19.99", "currency": "EUR"}``: exact in the currency's minor units."""

    amount = DecimalString(required=True)
    currency = Currency

    @ma.validates_schema
    def _exact_in_its_currency(self, data, **_kwargs):
        try:
            check_currency(data["currency"])
        except ValueError as exc:
            raise ma.ValidationError(str(exc), field_name="currency") from None
        try:
            data["amount"] = check_price(data["amount"], data["currency"])
        except InvalidValue as exc:
            raise ma.ValidationError(str(exc), field_name="amount") from None


class RetailerCreateSchema(Strict):
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    contactInfo = ma.fields.Nested(ContactInfoSchema, required=True)
    commissionRate = DecimalString(required=True, check=check_commission_rate, metadata={"example": "0.15"})
    allowedGameIds = ma.fields.List(ma.fields.UUID(), required=True, validate=validate.Length(0, 1000))
    allowedRegions = ma.fields.List(Country(), load_default=list, validate=validate.Length(0, 250))


class RetailerUpdateSchema(Strict):
    name = ma.fields.String(validate=validate.Length(1, 200))
    contactInfo = ma.fields.Nested(ContactInfoSchema)
    commissionRate = DecimalString(check=check_commission_rate, metadata={"example": "0.15"})
    allowedGameIds = ma.fields.List(ma.fields.UUID(), validate=validate.Length(0, 1000))
    allowedRegions = ma.fields.List(Country(), validate=validate.Length(0, 250))
    status = ma.fields.String(validate=validate.OneOf([s.value for s in RetailerStatus]))
    reason = ma.fields.String(validate=validate.Length(1, 500))

    @ma.validates_schema
    def _something(self, data, **_kwargs):
        if not set(data) - {"reason"}:
            raise ma.ValidationError("give at least one field to change", "_schema")


class ApiCredentialsSchema(ma.Schema):
    clientId = ma.fields.String(required=True)
    clientSecret = ma.fields.String(metadata={"description": "only in the answer that creates or rotates it"})


class RetailerSchema(ma.Schema):
    """The seed's RetailerInfo (allocations, sales: GET /retailers/{id}/keys and sales-report)."""

    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    contactInfo = ma.fields.Dict(required=True)
    apiCredentials = ma.fields.Nested(ApiCredentialsSchema, required=True)
    commissionRate = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    allowedGameIds = ma.fields.List(ma.fields.UUID(), required=True)
    allowedRegions = ma.fields.List(ma.fields.String(), required=True)
    credentialsRotatedAt = ma.fields.String(required=True)
    createdAt = ma.fields.String(required=True)
    updatedAt = ma.fields.String(required=True)


RetailerPageSchema = page_schema(RetailerSchema)


class RetailerListQuerySchema(PageQuerySchema):
    class Meta:
        unknown = ma.RAISE

    status = ma.fields.String(validate=validate.OneOf([s.value for s in RetailerStatus]))


class AllocationListQuerySchema(PageQuerySchema):
    class Meta:
        unknown = ma.RAISE


class RestrictionSchema(Strict):
    type = ma.fields.String(required=True, validate=validate.OneOf(["allow", "deny"]))
    countries = ma.fields.List(Country(), required=True, validate=validate.Length(1, 250))


class AllocationRequestSchema(Strict):
    """The seed's KeyAllocationRequest."""

    retailerId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    quantity = ma.fields.Integer(
        required=True, strict=True, validate=validate.Range(1, ALLOCATION_MAX_QUANTITY)
    )
    keyType = ma.fields.String(required=True, validate=validate.OneOf(KEY_TYPES))
    pricing = ma.fields.Nested(
        MoneySchema, required=True, metadata={"description": "suggested retail price of one key"}
    )
    restrictions = ma.fields.List(
        ma.fields.Nested(RestrictionSchema), load_default=list, validate=validate.Length(0, 10)
    )


class AllocationSchema(ma.Schema):
    """The seed's KeyAllocation."""

    allocationId = ma.fields.UUID(required=True)
    retailerId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    pricing = ma.fields.Dict(required=True)
    restrictions = ma.fields.List(ma.fields.Dict(), required=True)
    createdAt = ma.fields.String(required=True)


class AllocationWithCountsSchema(AllocationSchema):
    keyCounts = ma.fields.Dict(
        required=True,
        metadata={"description": "allocated (unsold), sold, returned, activated, delivered, released"},
    )


class AllocationReleaseRequestSchema(Strict):
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))
    revoke = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "revoke the unsold keys instead of giving them back to the free pool "
            "(required once the retailer has received some of them)"
        },
    )


class AllocationReleaseSchema(ma.Schema):
    allocationId = ma.fields.UUID(required=True)
    retailerId = ma.fields.UUID(required=True)
    released = ma.fields.Integer(required=True, metadata={"description": "keys this call took back"})
    releasedTotal = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["generated", "revoked"]})
    releasedAt = ma.fields.String(required=True)


AllocationWithCountsPageSchema = page_schema(AllocationWithCountsSchema)


class RetailerKeysQuerySchema(Strict):
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(1, RETAILER_KEYS_MAX_PAGE))
    cursor = ma.fields.String(load_default=None, validate=validate.Length(1, 512))
    allocationId = ma.fields.UUID(load_default=None)


class RetailerKeyErrorSchema(ma.Schema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(required=True)


class RetailerKeySchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)
    key = ma.fields.String(required=True, allow_none=True, metadata={"description": "null if ``error``"})
    error = ma.fields.Nested(
        RetailerKeyErrorSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "null unless the key cannot be decrypted (then not delivered, not sellable)"
        },
    )
    allocationId = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)


RetailerKeyPageSchema = page_schema(RetailerKeySchema)


class SaleRequestSchema(Strict):
    orderId = ma.fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[\x21-\x7e]{1,128}$", error="1-128 printable ASCII characters, without spaces"
        ),
    )
    keyIds = ma.fields.List(ma.fields.UUID(), required=True, validate=validate.Length(1, SALE_MAX_KEYS))
    price = ma.fields.Nested(MoneySchema, required=True, metadata={"description": "price of one key"})
    soldAt = PastDateTime(
        required=True,
        max_age=SALE_MAX_AGE,
        metadata={"description": "when the sale happened: not in the future, within the last 90 days"},
    )


class SaleSchema(ma.Schema):
    saleId = ma.fields.UUID(required=True)
    orderId = ma.fields.String(required=True)
    keyIds = ma.fields.List(ma.fields.UUID(), required=True)
    quantity = ma.fields.Integer(required=True)
    price = ma.fields.Dict(required=True)
    gross = ma.fields.Dict(required=True)
    commission = ma.fields.Dict(required=True)
    net = ma.fields.Dict(required=True)
    soldAt = ma.fields.String(required=True)
    status = ma.fields.String(required=True)


class ReturnRequestSchema(Strict):
    orderId = ma.fields.String(required=True, validate=validate.Length(1, 128))
    keyIds = ma.fields.List(ma.fields.UUID(), required=True, validate=validate.Length(1, SALE_MAX_KEYS))
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))


class ReturnSchema(ma.Schema):
    returnId = ma.fields.UUID(required=True, allow_none=True)
    orderId = ma.fields.String(required=True)
    keyIds = ma.fields.List(ma.fields.UUID(), required=True)
    status = ma.fields.String(required=True)


class SalesReportQuerySchema(Strict):
    from_ = ma.fields.AwareDateTime(required=True, data_key="from")
    to = ma.fields.AwareDateTime(required=True)


class SalesReportSchema(ma.Schema):
    """The seed's SalesReport."""

    retailerId = ma.fields.UUID(required=True)
    period = ma.fields.Dict(required=True)
    commissionRate = ma.fields.String(required=True)
    totals = ma.fields.List(ma.fields.Dict(), required=True)


class RetailerMetricsSchema(ma.Schema):
    retailerId = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    allocated = ma.fields.Integer(required=True)
    sold = ma.fields.Integer(required=True)
    returned = ma.fields.Integer(required=True)
    activated = ma.fields.Integer(required=True)
    chargedBack = ma.fields.Integer(required=True, metadata={"description": "keys of its sales charged back"})
    sellThrough = ma.fields.String(required=True)
    activationRate = ma.fields.String(required=True)
    chargebackRate = ma.fields.String(required=True, metadata={"description": "charged back / sold"})


RetailerMetricsPageSchema = page_schema(RetailerMetricsSchema)


class AnalyticsQuerySchema(PageQuerySchema):
    class Meta:
        unknown = ma.RAISE


class TokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True)
    scope = ma.fields.String(required=True)


# Leak response: a retailer's unsold stock revoked in one operation.


class RevokeUnsoldRequestSchema(Strict):
    requestId = ma.fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$", error="1-128 letters, digits, '.', '_', ':' or '-'"
        ),
        metadata={"description": "the revocation's id (yours): a retry with it answers the first report"},
    )
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))
    gameId = ma.fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "only this game's stock"}
    )
    allocationId = ma.fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "only this allocation's stock"}
    )


class RevokedAllocationSchema(ma.Schema):
    allocationId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    revoked = ma.fields.Integer(required=True, metadata={"description": "unsold keys revoked"})
    leftSold = ma.fields.Integer(required=True, metadata={"description": "already sold, so left"})
    leftActivated = ma.fields.Integer(required=True, metadata={"description": "already activated, so left"})


class RevokedGameSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    revoked = ma.fields.Integer(required=True)
    leftSold = ma.fields.Integer(required=True)
    leftActivated = ma.fields.Integer(required=True)


class RevocationReportSchema(ma.Schema):
    requestId = ma.fields.String(required=True)
    retailerId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True, allow_none=True)
    allocationId = ma.fields.UUID(required=True, allow_none=True)
    reason = ma.fields.String(required=True)
    revokedBy = ma.fields.String(required=True)
    revokedAt = ma.fields.String(required=True)
    revokedKeys = ma.fields.Integer(required=True)
    leftSold = ma.fields.Integer(required=True)
    leftActivated = ma.fields.Integer(required=True)
    games = ma.fields.List(ma.fields.Nested(RevokedGameSchema), required=True)
    allocations = ma.fields.List(ma.fields.Nested(RevokedAllocationSchema), required=True)


class ChargebackRequestSchema(Strict):
    orderId = ma.fields.String(required=True, validate=validate.Length(1, 128))
    keyIds = ma.fields.List(ma.fields.UUID(), required=True, validate=validate.Length(1, SALE_MAX_KEYS))
    reason = ma.fields.String(
        required=True,
        validate=validate.Length(1, 500),
        metadata={"description": 'why the payment was charged back, e.g. "fraud" or "dispute"'},
    )


class ChargebackSchema(ma.Schema):
    chargebackId = ma.fields.UUID(required=True)
    orderId = ma.fields.String(required=True)
    keyIds = ma.fields.List(ma.fields.UUID(), required=True)
    revokedKeyIds = ma.fields.List(
        ma.fields.UUID(), required=True, metadata={"description": "not yet redeemed: revoked at once"}
    )
    disputedKeyIds = ma.fields.List(
        ma.fields.UUID(),
        required=True,
        metadata={"description": "already activated: their activations disputed"},
    )
    amount = ma.fields.Dict(required=True, metadata={"description": "what was charged back (money)"})
    reason = ma.fields.String(required=True)
    chargedBackAt = ma.fields.String(required=True)


class KeyProvenanceQuerySchema(Strict):
    allocationId = ma.fields.UUID(
        load_default=None, metadata={"description": "the key's allocation in key-manager"}
    )


class KeyProvenanceSchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)
    retailerId = ma.fields.UUID(required=True)
    retailerName = ma.fields.String(required=True)
    allocationId = ma.fields.UUID(required=True)
    allocatedAt = ma.fields.String(required=True)
    suggestedPrice = ma.fields.Dict(required=True)
    deliveredAt = ma.fields.String(required=True, allow_none=True)
    sale = ma.fields.Dict(required=True, allow_none=True)
    returned = ma.fields.Dict(required=True, allow_none=True, data_key="return")
    chargeback = ma.fields.Dict(required=True, allow_none=True)
