"""marshmallow schemas of the public API: unknown fields rejected, sizes bounded."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from gamekeys_platform.app import ErrorDetailSchema
from gamekeys_platform.fields import Country
from gamekeys_platform.pagination import PageQuerySchema, page_schema
from gamekeys_platform.support import SupportQuerySchema


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class DeviceInfoSchema(Strict):
    fingerprint = ma.fields.String(required=True, validate=validate.Length(1, 256))
    platform = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    clientVersion = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))


class RedeemRequestSchema(Strict):
    """The seed's KeyRedemptionRequest; the user is the token's subject, the IP the peer's."""

    key = ma.fields.String(required=True, validate=validate.Length(1, 64))
    userRegion = Country(required=True)
    deviceInfo = ma.fields.Nested(DeviceInfoSchema, required=True)


class RedemptionResultSchema(ma.Schema):
    """The seed's RedemptionResult plus ``status`` (activated, pending_review, failed, blocked)
    and ``keyId``; a refusal carries §3's error object in ``error``."""

    success = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True)
    transactionId = ma.fields.String(required=True)
    gameId = ma.fields.String(allow_none=True)
    keyId = ma.fields.String(allow_none=True)
    error = ma.fields.Nested(ErrorDetailSchema, allow_none=True)


class ValidationResultSchema(ma.Schema):
    valid = ma.fields.Boolean(required=True)
    keyId = ma.fields.String(allow_none=True)
    gameId = ma.fields.String(allow_none=True)
    error = ma.fields.Nested(ErrorDetailSchema, allow_none=True)


class ActivationRecordSchema(ma.Schema):
    transactionId = ma.fields.String(required=True)
    userId = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    keyId = ma.fields.String(allow_none=True)
    gameId = ma.fields.String(allow_none=True)
    errorCode = ma.fields.String(allow_none=True)
    userRegion = ma.fields.String(required=True)
    ipCountry = ma.fields.String(allow_none=True)
    platform = ma.fields.String(allow_none=True)
    caseId = ma.fields.String(allow_none=True)
    createdAt = ma.fields.String(required=True)
    completedAt = ma.fields.String(allow_none=True)


HistoryPageSchema = page_schema(ActivationRecordSchema)


class HistoryQuerySchema(PageQuerySchema):
    class Meta:
        unknown = ma.RAISE


class SupportHistoryQuerySchema(PageQuerySchema, SupportQuerySchema):
    class Meta:
        unknown = ma.RAISE


class KeyStatusSchema(ma.Schema):
    keyId = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    gameId = ma.fields.String(allow_none=True)
    activatedAt = ma.fields.String(allow_none=True)
    activations = ma.fields.List(ma.fields.Nested(ActivationRecordSchema), required=True)


class CheckRegionRequestSchema(Strict):
    """checkRegionalRestrictions: by the key as typed or by its id, for a region (and the
    caller's IP, as a redemption would see it)."""

    key = ma.fields.String(validate=validate.Length(1, 64))
    keyId = ma.fields.UUID()
    userRegion = Country(required=True)

    @ma.validates_schema
    def _exactly_one(self, data, **_kwargs):
        if ("key" in data) == ("keyId" in data):
            raise ma.ValidationError("give exactly one of key and keyId", "_schema")


class CheckRegionResultSchema(ma.Schema):
    allowed = ma.fields.Boolean(required=True)
    code = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    details = ma.fields.Dict(required=True)


class LockoutSchema(ma.Schema):
    dimension = ma.fields.String(required=True)
    limit = ma.fields.Integer(required=True)
    windowSeconds = ma.fields.Integer(required=True)
    remaining = ma.fields.Integer(required=True)
    locked = ma.fields.Boolean(required=True)
    retryAfter = ma.fields.Integer(required=True)
    expiresAt = ma.fields.String(allow_none=True)


class BlockSchema(ma.Schema):
    blockId = ma.fields.String(required=True)
    entityType = ma.fields.String(required=True, metadata={"enum": ["user", "ip", "device"]})
    expiresAt = ma.fields.String(allow_none=True, metadata={"description": "null: until lifted"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "support and admin only"})


class RestrictionsSchema(ma.Schema):
    """checkAccountRestrictions: brute-force lockouts and blocks in force with their expiry."""

    userId = ma.fields.String(required=True)
    canRedeem = ma.fields.Boolean(required=True)
    lockouts = ma.fields.List(ma.fields.Nested(LockoutSchema), required=True)
    blocks = ma.fields.List(ma.fields.Nested(BlockSchema), required=True)
    pendingReviews = ma.fields.Integer(required=True)
