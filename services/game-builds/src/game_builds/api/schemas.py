"""Request and response schemas (marshmallow): camelCase on the wire, unknown fields rejected."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from game_builds.domain.media import IMAGE_TYPES, VIDEO_TYPES, MediaKind, MediaStatus, RejectReason
from game_builds.domain.states import BuildStatus, FailureReason, Platform
from game_builds.domain.uploads import MAX_PARTS
from gamekeys_platform.pagination import PageQuerySchema, page_schema

PLATFORMS = [p.value for p in Platform]
STATUSES = [s.value for s in BuildStatus]
# Largest size a request may declare in JSON (the configured maximum is checked by the use case: 413).
ABSOLUTE_MAX_SIZE = MAX_PARTS * 5 * 1024**3


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class FileSchema(Strict):
    name = ma.fields.String(
        required=True, validate=[validate.Length(1, 255), validate.Regexp(r"^[^/\\\x00-\x1f\"]+$")]
    )
    size = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, ABSOLUTE_MAX_SIZE))
    sha256 = ma.fields.String(
        required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$", error="64 hex digits")
    )


class VersionRequestSchema(Strict):
    version = ma.fields.String(
        required=True, validate=[validate.Length(1, 64), validate.Regexp(r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")]
    )
    platform = ma.fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    changelog = ma.fields.String(load_default="", validate=validate.Length(0, 10000))
    file = ma.fields.Nested(FileSchema, required=True)


class VersionUpdateSchema(Strict):
    changelog = ma.fields.String(required=True, validate=validate.Length(0, 10000))


class PartUrlSchema(ma.Schema):
    partNumber = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    headers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"description": "send these with the PUT (the part's SHA-256, when it was given)"},
    )


class UploadSchema(ma.Schema):
    uploadId = ma.fields.String(required=True)
    partSize = ma.fields.Integer(required=True)
    partCount = ma.fields.Integer(required=True)
    parts = ma.fields.List(ma.fields.Nested(PartUrlSchema), required=True)
    expiresAt = ma.fields.DateTime(required=True)


class FailureSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.OneOf([r.value for r in FailureReason]))
    signature = ma.fields.String()
    detail = ma.fields.String()


class FileInfoSchema(ma.Schema):
    name = ma.fields.String(required=True)
    size = ma.fields.Integer(required=True)
    sha256 = ma.fields.String(required=True)


class VersionSchema(ma.Schema):
    versionId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    version = ma.fields.String(required=True)
    platform = ma.fields.String(required=True)
    changelog = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(STATUSES))
    failure = ma.fields.Nested(FailureSchema, allow_none=True, required=True)
    file = ma.fields.Nested(FileInfoSchema, required=True)
    partSize = ma.fields.Integer(required=True)
    partCount = ma.fields.Integer(required=True)
    partsReceived = ma.fields.List(
        ma.fields.Integer(), metadata={"description": "while uploading: the part numbers S3 has"}
    )
    bytesVerified = ma.fields.Integer(
        required=True, metadata={"description": "while processing: bytes hashed and scanned"}
    )
    retrying = ma.fields.String(
        allow_none=True, metadata={"description": "why processing waits to be retried"}
    )
    createdBy = ma.fields.String(required=True)
    createdAt = ma.fields.DateTime(required=True)
    statusChangedAt = ma.fields.DateTime(required=True)


class CreatedVersionSchema(VersionSchema):
    upload = ma.fields.Nested(UploadSchema, required=True)


VersionPageSchema = page_schema(VersionSchema)


class VersionListQuerySchema(PageQuerySchema):
    class Meta:
        unknown = ma.RAISE

    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    platform = ma.fields.String(validate=validate.OneOf(PLATFORMS))


SHA256_HEX = validate.Regexp(r"^[0-9a-fA-F]{64}$", error="64 hex digits")


class PartHashSchema(Strict):
    partNumber = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_PARTS))
    sha256 = ma.fields.String(required=True, validate=SHA256_HEX)


class PartsRequestSchema(Strict):
    partNumbers = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(1, MAX_PARTS)),
        validate=validate.Length(1, 1000),
        metadata={"description": "parts whose URLs carry no checksum"},
    )
    parts = ma.fields.List(
        ma.fields.Nested(PartHashSchema),
        validate=validate.Length(1, 1000),
        metadata={"description": "parts with their SHA-256, signed into their URLs (S3 refuses other bytes)"},
    )

    @ma.validates_schema
    def _one_of(self, data, **kwargs):
        if ("partNumbers" in data) == ("parts" in data):
            raise ma.ValidationError("give partNumbers or parts (with their sha256), one of them", "_schema")


class ReceivedPartSchema(ma.Schema):
    partNumber = ma.fields.Integer(required=True)
    size = ma.fields.Integer(required=True)
    etag = ma.fields.String(required=True)


class PartsSchema(ma.Schema):
    parts = ma.fields.List(ma.fields.Nested(PartUrlSchema), required=True)
    received = ma.fields.List(ma.fields.Integer(), required=True)
    receivedParts = ma.fields.List(ma.fields.Nested(ReceivedPartSchema), required=True)


class CompletedPartSchema(Strict):
    partNumber = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_PARTS))
    etag = ma.fields.String(required=True, validate=validate.Length(1, 200))
    sha256 = ma.fields.String(required=True, validate=SHA256_HEX, metadata={"description": "the part's, hex"})


class CompleteRequestSchema(Strict):
    parts = ma.fields.List(
        ma.fields.Nested(CompletedPartSchema), required=True, validate=validate.Length(1, MAX_PARTS)
    )


class DownloadSchema(ma.Schema):
    url = ma.fields.String(required=True)
    expiresAt = ma.fields.DateTime(required=True)


MEDIA_KINDS = [k.value for k in MediaKind]
MEDIA_TYPES = sorted({*IMAGE_TYPES, *VIDEO_TYPES})


class MediaRequestSchema(Strict):
    kind = ma.fields.String(required=True, validate=validate.OneOf(MEDIA_KINDS))
    contentType = ma.fields.String(required=True, validate=validate.OneOf(MEDIA_TYPES))
    size = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, 5 * 1024**3))


class MediaFailureSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.OneOf([r.value for r in RejectReason]))
    detail = ma.fields.String(required=True)


class MediaSchema(ma.Schema):
    mediaId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(MEDIA_KINDS))
    contentType = ma.fields.String(required=True)
    size = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf([s.value for s in MediaStatus]))
    failure = ma.fields.Nested(MediaFailureSchema, allow_none=True, required=True)
    width = ma.fields.Integer(allow_none=True, required=True)
    height = ma.fields.Integer(allow_none=True, required=True)
    url = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "a short-lived presigned GET, once ready"}
    )
    createdBy = ma.fields.String(required=True)
    createdAt = ma.fields.DateTime(required=True)
    statusChangedAt = ma.fields.DateTime(required=True)


class MediaUploadSchema(ma.Schema):
    method = ma.fields.String(required=True, metadata={"description": "always PUT"})
    url = ma.fields.String(required=True)
    headers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"description": "send exactly these (signed into the URL)"},
    )
    expiresAt = ma.fields.DateTime(required=True)


class CreatedMediaSchema(MediaSchema):
    upload = ma.fields.Nested(MediaUploadSchema, required=True)


MediaPageSchema = page_schema(MediaSchema)


class MediaListQuerySchema(PageQuerySchema):
    class Meta:
        unknown = ma.RAISE

    kind = ma.fields.String(validate=validate.OneOf(MEDIA_KINDS))
    status = ma.fields.String(validate=validate.OneOf([s.value for s in MediaStatus]))
