"""Request and response schemas (marshmallow): camelCase on the wire, unknown fields rejected."""

from __future__ import annotations

import re
from datetime import date

import marshmallow as ma
from marshmallow import validate

from gamekeys_platform.fields import Country, PastDateTime
from gamekeys_platform.support import SupportQuerySchema
from key_manager.domain.batches import (
    ALLOCATION_MAX_QUANTITY,
    BATCH_MAX_QUANTITY,
    BATCH_QUANTITY_MESSAGE,
    STORE_MAX_QUANTITY,
    SYNC_MAX_QUANTITY,
    SYNC_QUANTITY_MESSAGE,
    end_of_day,
)
from key_manager.domain.states import MANUAL_TARGETS, BatchStatus, KeyStatus, KeyType

KEY_TYPES = [t.value for t in KeyType]
KEY_STATUSES = [s.value for s in KeyStatus]
BATCH_STATUSES = [s.value for s in BatchStatus]
Reason = ma.fields.String(validate=validate.Length(1, 500))


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class RegionalRestrictionSchema(Strict):
    type = ma.fields.String(required=True, validate=validate.OneOf(["allow", "deny"]))
    countries = ma.fields.List(Country(), required=True, validate=validate.Length(1, 250))


class ExpirationDate(ma.fields.AwareDateTime):
    """A date (``2027-01-01``: the end of that day UTC) or a date and time with its zone."""

    default_error_messages = {
        "invalid": 'must be a date ("2027-01-01", valid to the end of that day UTC) '
        'or a date and time with its zone ("2027-01-01T12:00:00Z")',
        "invalid_awareness": 'a date and time needs its zone ("2027-01-01T12:00:00Z"), '
        'or give only the date ("2027-01-01")',
    }
    _DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and self._DATE.fullmatch(value):
            try:
                return end_of_day(date.fromisoformat(value))
            except ValueError:
                raise self.make_error("invalid") from None
        return super()._deserialize(value, attr, data, **kwargs)


class GenerateRequestSchema(Strict):
    """The seed's KeyGenerationRequest (developerId is taken from the game's owner), for
    POST /generate."""

    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True, validate=validate.OneOf(KEY_TYPES))
    quantity = ma.fields.Integer(
        required=True, strict=True, validate=validate.Range(1, SYNC_MAX_QUANTITY, error=SYNC_QUANTITY_MESSAGE)
    )
    regionalRestrictions = ma.fields.List(
        ma.fields.Nested(RegionalRestrictionSchema), load_default=list, validate=validate.Length(0, 10)
    )
    expirationDate = ExpirationDate(load_default=None, allow_none=True)
    metadata = ma.fields.Dict(keys=ma.fields.String(validate=validate.Length(1, 100)), load_default=dict)


class KeyErrorSchema(ma.Schema):
    """Why one key of a list cannot be shown: DATABASE_ERROR, ``details.reason``
    ``encryption_key_not_configured`` or ``ciphertext_does_not_authenticate``."""

    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(required=True)


class BatchRequestSchema(GenerateRequestSchema):
    """The same request for POST /batches, generated in the background."""

    quantity = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, BATCH_MAX_QUANTITY, error=BATCH_QUANTITY_MESSAGE),
    )


class GeneratedKeySchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    key = ma.fields.String(
        allow_none=True, metadata={"description": "the plaintext key, shown only in this response"}
    )
    status = ma.fields.String(required=True)
    error = ma.fields.Nested(
        KeyErrorSchema, metadata={"description": "only on a replay, for a key that cannot be decrypted"}
    )


class BatchSchema(ma.Schema):
    """The seed's KeyBatch."""

    batchId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    developerId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": BATCH_STATUSES})
    totalKeys = ma.fields.Integer(required=True)
    generatedKeys = ma.fields.Integer(required=True)
    progress = ma.fields.Float(required=True)
    regionalRestrictions = ma.fields.List(ma.fields.Dict(), required=True)
    metadata = ma.fields.Dict(required=True)
    createdBy = ma.fields.String(required=True)
    createdAt = ma.fields.String(required=True)
    generatedAt = ma.fields.String(allow_none=True)
    expiresAt = ma.fields.String(allow_none=True)
    failureReason = ma.fields.String(allow_none=True)
    revokedAt = ma.fields.String(allow_none=True)
    revokedKeys = ma.fields.Integer(allow_none=True)
    cancelledAt = ma.fields.String(allow_none=True)
    cancelReason = ma.fields.String(allow_none=True)
    keyCounts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class GeneratedBatchSchema(BatchSchema):
    keys = ma.fields.List(ma.fields.Nested(GeneratedKeySchema), required=True)


class BatchPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(BatchSchema), required=True)
    nextCursor = ma.fields.String(allow_none=True, required=True)


class BatchListQuerySchema(Strict):
    gameId = ma.fields.UUID()
    status = ma.fields.String(validate=validate.OneOf(BATCH_STATUSES))
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = ma.fields.String(validate=validate.Length(1, 200))


class KeyPageQuerySchema(Strict):
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    cursor = ma.fields.String(validate=validate.Length(1, 200))


class ExportedKeySchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    key = ma.fields.String(required=True, allow_none=True, metadata={"description": "null if ``error``"})
    error = ma.fields.Nested(
        KeyErrorSchema,
        required=True,
        allow_none=True,
        metadata={"description": "null unless the key cannot be decrypted"},
    )
    status = ma.fields.String(required=True)
    allocationId = ma.fields.UUID(allow_none=True)
    retailerId = ma.fields.UUID(allow_none=True)


class KeyExportPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ExportedKeySchema), required=True)
    nextCursor = ma.fields.String(allow_none=True, required=True)


class KeyInfoSchema(ma.Schema):
    """The seed's KeyInfo, the key masked."""

    id = ma.fields.UUID(required=True)
    key = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "masked: ****-****-****-7KQ2; null if ``keyError``"},
    )
    keyError = ma.fields.Nested(
        KeyErrorSchema,
        allow_none=True,
        metadata={
            "description": "null unless the stored key cannot be decrypted (answers of a status change)"
        },
    )
    gameId = ma.fields.UUID(required=True)
    developerId = ma.fields.UUID(required=True)
    batchId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": KEY_STATUSES})
    regionalRestrictions = ma.fields.List(ma.fields.Dict(), required=True)
    createdAt = ma.fields.String(required=True)
    statusChangedAt = ma.fields.String(required=True)
    expiresAt = ma.fields.String(allow_none=True)
    activatedAt = ma.fields.String(allow_none=True)
    activatedBy = ma.fields.String(allow_none=True)
    allocationId = ma.fields.UUID(allow_none=True)
    retailerId = ma.fields.UUID(allow_none=True)
    soldAt = ma.fields.String(allow_none=True)
    metadata = ma.fields.Dict(required=True)
    history = ma.fields.List(ma.fields.Dict())


class StatusChangeSchema(Strict):
    status = ma.fields.String(
        required=True,
        validate=validate.OneOf(
            sorted(s.value for s in MANUAL_TARGETS),
            error="status may be set to sold, revoked or expired; allocation, activation and holds "
            "have their own operations",
        ),
    )
    reason = Reason


class RevokeSchema(Strict):
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))


class CancelSchema(Strict):
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 500))


class BatchRevokeResultSchema(ma.Schema):
    batchId = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
    revokedKeys = ma.fields.Integer(required=True)


class KeyTextSchema(Strict):
    key = ma.fields.String(required=True, validate=validate.Length(1, 64))


class ValidationResultSchema(ma.Schema):
    valid = ma.fields.Boolean(required=True)
    formatValid = ma.fields.Boolean(required=True)
    error = ma.fields.String(allow_none=True)
    exists = ma.fields.Boolean()
    keyId = ma.fields.UUID()
    status = ma.fields.String()
    gameId = ma.fields.UUID()
    expiresAt = ma.fields.String(allow_none=True)


class DuplicateResultSchema(ma.Schema):
    duplicate = ma.fields.Boolean(required=True)


# --- internal ---------------------------------------------------------------------------------


class KeyRefSchema(Strict):
    """A key by what was typed (``key``) or by id (``keyId``): exactly one."""

    key = ma.fields.String(validate=validate.Length(1, 64))
    keyId = ma.fields.UUID()

    @ma.validates_schema
    def _exactly_one(self, data, **_kwargs):
        if ("key" in data) == ("keyId" in data):
            raise ma.ValidationError("give exactly one of key and keyId", "_schema")


class LookupResultSchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
    gameId = ma.fields.UUID(required=True)
    developerId = ma.fields.UUID(required=True)
    batchId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    regionalRestrictions = ma.fields.List(ma.fields.Dict(), required=True)
    expiresAt = ma.fields.String(allow_none=True)
    expired = ma.fields.Boolean(required=True)
    retailerId = ma.fields.UUID(allow_none=True)
    allocationId = ma.fields.UUID(allow_none=True)
    soldAt = ma.fields.String(allow_none=True)
    activatedAt = ma.fields.String(allow_none=True)
    holdId = ma.fields.String(allow_none=True)
    publisherSuspended = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "the key's studio is suspended: its redemption is refused PUBLISHER_SUSPENDED"
        },
    )


class HoldRequestSchema(KeyRefSchema):
    holdId = ma.fields.String(required=True, validate=validate.Length(1, 128))
    reason = Reason


class HoldResultSchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
    holdId = ma.fields.String(required=True)
    gameId = ma.fields.UUID(required=True)


class ActivateRequestSchema(KeyRefSchema):
    userId = ma.fields.String(required=True, validate=validate.Length(1, 128))
    activationId = ma.fields.String(required=True, validate=validate.Length(1, 128))
    userRegion = Country(required=True)
    holdId = ma.fields.String(validate=validate.Length(1, 128))


class ActivationResultSchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    batchId = ma.fields.UUID(required=True)
    developerId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    activatedAt = ma.fields.String(required=True)
    activationId = ma.fields.String(required=True)


class AllocationRequestSchema(Strict):
    allocationId = ma.fields.UUID(required=True)
    retailerId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True, validate=validate.OneOf(KEY_TYPES))
    quantity = ma.fields.Integer(
        required=True, strict=True, validate=validate.Range(1, ALLOCATION_MAX_QUANTITY)
    )


class AllocationSchema(ma.Schema):
    allocationId = ma.fields.UUID(required=True)
    retailerId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    createdAt = ma.fields.String(required=True)


class AllocationReleaseRequestSchema(Strict):
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))
    revoke = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "revoke the unsold keys instead of returning them to the free pool"},
    )


class AllocationReleaseSchema(ma.Schema):
    allocationId = ma.fields.UUID(required=True)
    retailerId = ma.fields.UUID(required=True)
    released = ma.fields.Integer(required=True, metadata={"description": "keys this call changed"})
    status = ma.fields.String(required=True, metadata={"enum": ["generated", "revoked"]})


class RetailerKeysRequestSchema(Strict):
    retailerId = ma.fields.UUID(required=True)
    keyIds = ma.fields.List(ma.fields.UUID(), required=True, validate=validate.Length(1, 1000))


class RetailerKeysSchema(ma.Schema):
    keyIds = ma.fields.List(ma.fields.UUID(), required=True)


class SaleRequestSchema(Strict):
    retailerId = ma.fields.UUID(required=True)
    orderId = ma.fields.String(required=True, validate=validate.Length(1, 128))
    keyIds = ma.fields.List(ma.fields.UUID(), required=True, validate=validate.Length(1, 1000))
    soldAt = PastDateTime(load_default=None, allow_none=True)


class ReturnRequestSchema(Strict):
    retailerId = ma.fields.UUID(required=True)
    orderId = ma.fields.String(required=True, validate=validate.Length(1, 128))
    keyIds = ma.fields.List(ma.fields.UUID(), required=True, validate=validate.Length(1, 1000))
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))


class KeysChangedSchema(ma.Schema):
    orderId = ma.fields.String(required=True)
    retailerId = ma.fields.UUID(required=True)
    keyIds = ma.fields.List(ma.fields.UUID(), required=True)
    status = ma.fields.String(required=True)


# --- the store (Payment and Catalog services) ------------------------------------------------------

ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
OrderId = ma.fields.String(
    required=True,
    validate=validate.Regexp(ORDER_ID_PATTERN, error="1-128 letters, digits, '.', '_', ':' or '-'"),
    metadata={"description": "the Payment Service's order id; the idempotency key of the call"},
)


class StoreIssueRequestSchema(Strict):
    orderId = OrderId
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True, validate=validate.OneOf(KEY_TYPES))
    quantity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, STORE_MAX_QUANTITY))
    buyerId = ma.fields.UUID(required=True)
    region = Country(required=True)  # where the buyer will redeem: the keys must be activatable there


class StoreKeySchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)
    key = ma.fields.String(required=True, allow_none=True, metadata={"description": "null if ``error``"})
    error = ma.fields.Nested(
        KeyErrorSchema,
        required=True,
        allow_none=True,
        metadata={"description": "null unless the key cannot be decrypted"},
    )
    status = ma.fields.String(required=True, metadata={"description": "sold; later activated or revoked"})


class StoreOrderSchema(ma.Schema):
    orderId = ma.fields.String(required=True)
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    buyerId = ma.fields.UUID(required=True)
    region = ma.fields.String(required=True)
    issuedAt = ma.fields.String(required=True)
    refundedAt = ma.fields.String(required=True, allow_none=True)
    keys = ma.fields.List(ma.fields.Nested(StoreKeySchema), required=True)


class StoreRefundRequestSchema(Strict):
    reason = Reason


class StoreRefundKeySchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
    activatedAt = ma.fields.String(required=True, allow_none=True)


class StoreRefundSchema(ma.Schema):
    orderId = ma.fields.String(required=True)
    refundedAt = ma.fields.String(required=True)
    revokedKeyIds = ma.fields.List(
        ma.fields.UUID(), required=True, metadata={"description": "the order's keys now revoked"}
    )
    redeemedKeyIds = ma.fields.List(
        ma.fields.UUID(), required=True, metadata={"description": "activated before the refund: not revoked"}
    )
    keys = ma.fields.List(ma.fields.Nested(StoreRefundKeySchema), required=True)


class StockQuerySchema(Strict):
    gameId = ma.fields.UUID(required=True)


class QuotaStateSchema(ma.Schema):
    quota = ma.fields.Integer(required=True)
    sold = ma.fields.Integer(required=True, metadata={"description": "store keys counted against it"})
    remaining = ma.fields.Integer(required=True)


class StockItemSchema(ma.Schema):
    keyType = ma.fields.String(required=True)
    available = ma.fields.Integer(
        required=True, metadata={"description": "what the store can sell: free keys within the quota"}
    )
    free = ma.fields.Integer(required=True, metadata={"description": "free keys (not allocated nor sold)"})
    quota = ma.fields.Nested(QuotaStateSchema, required=True, allow_none=True)


class StockSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    items = ma.fields.List(ma.fields.Nested(StockItemSchema), required=True)


STORE_QUOTA_MAX = 10_000_000


class StoreQuotaQuerySchema(Strict):
    gameId = ma.fields.UUID(required=True)


class StoreQuotaSetSchema(Strict):
    quota = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, STORE_QUOTA_MAX),
        metadata={"description": "how many keys of the game and type the store may sell in all"},
    )


class StoreQuotaSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    quota = ma.fields.Integer(required=True)
    sold = ma.fields.Integer(
        required=True,
        metadata={"description": "the store's keys counted against it (refunds give keys back)"},
    )
    remaining = ma.fields.Integer(required=True)
    updatedBy = ma.fields.String(required=True)
    updatedAt = ma.fields.String(required=True, metadata={"format": "date-time"})


class StoreQuotaListSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    items = ma.fields.List(ma.fields.Nested(StoreQuotaSchema), required=True)


class SupportKeyQuerySchema(Strict, SupportQuerySchema):
    pass


class SupportKeySchema(KeyInfoSchema):
    orderId = ma.fields.String(allow_none=True, metadata={"description": "the store order it was sold to"})
    publisherSuspended = ma.fields.Boolean(required=True)


# --- leak response: a retailer's unsold keys revoked in one operation ---------------------------

REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class RevokeUnsoldRequestSchema(Strict):
    requestId = ma.fields.String(
        required=True,
        validate=validate.Regexp(REQUEST_ID_PATTERN, error="1-128 letters, digits, '.', '_', ':' or '-'"),
        metadata={"description": "the revocation's id: a retry with it answers the first report"},
    )
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))
    gameIds = ma.fields.List(
        ma.fields.UUID(),
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, 1000),
        metadata={"description": "only these games' allocations (null: every game)"},
    )
    allocationId = ma.fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "only this allocation"}
    )


class RevokedAllocationSchema(ma.Schema):
    allocationId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    revoked = ma.fields.Integer(required=True, metadata={"description": "unsold keys revoked"})
    leftSold = ma.fields.Integer(required=True, metadata={"description": "already sold: left"})
    leftActivated = ma.fields.Integer(required=True, metadata={"description": "already activated: left"})


class RevokedGameSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    revoked = ma.fields.Integer(required=True)
    leftSold = ma.fields.Integer(required=True)
    leftActivated = ma.fields.Integer(required=True)


class RevocationReportSchema(ma.Schema):
    requestId = ma.fields.String(required=True)
    retailerId = ma.fields.UUID(required=True)
    reason = ma.fields.String(required=True)
    revokedBy = ma.fields.String(required=True)
    revokedAt = ma.fields.String(required=True)
    revokedKeys = ma.fields.Integer(required=True)
    leftSold = ma.fields.Integer(required=True)
    leftActivated = ma.fields.Integer(required=True)
    games = ma.fields.List(ma.fields.Nested(RevokedGameSchema), required=True)
    allocations = ma.fields.List(ma.fields.Nested(RevokedAllocationSchema), required=True)


class ChargebackRequestSchema(ReturnRequestSchema):
    """A return's fields (the retailer's keys of one order, why) and distribution's id for it."""

    chargebackId = ma.fields.UUID(required=True, metadata={"description": "distribution's chargeback id"})


class ChargebackResultSchema(ma.Schema):
    chargebackId = ma.fields.UUID(required=True)
    retailerId = ma.fields.UUID(required=True)
    orderId = ma.fields.String(required=True)
    revokedKeyIds = ma.fields.List(
        ma.fields.UUID(), required=True, metadata={"description": "not yet redeemed: revoked now"}
    )
    disputedKeyIds = ma.fields.List(
        ma.fields.UUID(), required=True, metadata={"description": "activated: stay activated, now disputed"}
    )


# --- provenance of a key --------------------------------------------------------------------------


class ProvenanceLookupSchema(Strict):
    key = ma.fields.String(
        required=True,
        validate=validate.Length(1, 64),
        metadata={"description": "the key as pasted into a ticket (never stored, logged or answered)"},
    )
    reason = ma.fields.String(
        load_default=None,
        validate=validate.Length(1, 500),
        metadata={"description": "the ticket, for the audit"},
    )


class ProvenanceSchema(ma.Schema):
    """Every step of a key's life, from the services that own each part."""

    keyId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    developerId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    batch = ma.fields.Dict(
        required=True, metadata={"description": "batchId, createdAt, createdBy, generatedAt"}
    )
    allocation = ma.fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": "allocationId, retailerId, retailerName, allocatedAt, deliveredAt (distribution)"
        },
    )
    sale = ma.fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "channel (retailer | store), orderId, soldAt, price (money), recordedAt"},
    )
    returned = ma.fields.Dict(
        required=True,
        allow_none=True,
        data_key="return",
        metadata={"description": "returnId, reason, returnedAt"},
    )
    chargeback = ma.fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "chargebackId, reason, outcome (revoked | disputed), chargedBackAt"},
    )
    refund = ma.fields.Dict(
        required=True, allow_none=True, metadata={"description": "a store order's refund"}
    )
    activation = ma.fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": "activationId, activatedAt, userId, region, ipCountry, status "
            "(activated | disputed), fraud: {score, assessmentId, caseId, reviewReason, outcome} "
            "(activation-gateway)"
        },
    )
    dispute = ma.fields.Dict(
        required=True, allow_none=True, metadata={"description": "source, reference, reason, disputedAt"}
    )
    steps = ma.fields.List(
        ma.fields.Dict(), required=True, metadata={"description": "every step, oldest first"}
    )
    incomplete = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "services that could not answer: their parts are missing"},
    )
