"""Query and response schemas (marshmallow): camelCase on the wire, sizes bounded. Query
parameters no schema names are ignored, as on every service (webargs' default for queries)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate


class PeriodQuerySchema(ma.Schema):
    from_ = ma.fields.Date(
        data_key="from", metadata={"description": "first day (in tz), inclusive; default: 29 days before to"}
    )
    to = ma.fields.Date(
        metadata={"description": "last day (in tz), inclusive; default: today; at most 366 days"}
    )
    tz = ma.fields.String(
        validate=validate.Length(1, 64),
        metadata={
            "description": "IANA time zone that draws the day boundaries (default UTC)",
            "example": "Europe/Berlin",
        },
    )


class SummaryQuerySchema(PeriodQuerySchema):
    developerId = ma.fields.UUID(
        metadata={
            "description": "one studio of the caller's (platform admins: any studio); "
            "default: every studio the caller belongs to, or the whole platform for admins"
        }
    )


class CountsSchema(ma.Schema):
    attempts = ma.fields.Integer(required=True, metadata={"description": "every attempt below"})
    activations = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(required=True)
    blocked = ma.fields.Integer(required=True)
    pendingReview = ma.fields.Integer(required=True)
    disputed = ma.fields.Integer(required=True)


class SeriesPointSchema(CountsSchema):
    t = ma.fields.Date(required=True, metadata={"description": "the day, in the report's time zone"})


class CountrySchema(CountsSchema):
    country = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "the region the player claimed (null: none)"}
    )
    share = ma.fields.String(
        required=True, metadata={"description": "this country's part of the activations", "example": "0.2500"}
    )


class ActivationReportSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    from_ = ma.fields.Date(data_key="from", attribute="from", required=True)
    to = ma.fields.Date(required=True)
    timezone = ma.fields.String(required=True)
    granularity = ma.fields.String(required=True, validate=validate.OneOf(["day"]))
    totals = ma.fields.Nested(CountsSchema, required=True)
    series = ma.fields.List(ma.fields.Nested(SeriesPointSchema), required=True)
    countries = ma.fields.List(ma.fields.Nested(CountrySchema), required=True)


class GameFiguresSchema(CountsSchema):
    gameId = ma.fields.UUID(required=True)
    title = ma.fields.String(required=True, allow_none=True)


class SummarySchema(ma.Schema):
    developerId = ma.fields.UUID(
        required=True, allow_none=True, metadata={"description": "null: several studios or all"}
    )
    from_ = ma.fields.Date(data_key="from", attribute="from", required=True)
    to = ma.fields.Date(required=True)
    timezone = ma.fields.String(required=True)
    games = ma.fields.Integer(required=True, metadata={"description": "games in scope"})
    keysGenerated = ma.fields.Integer(
        required=True, metadata={"description": "keys of batches generated in the period"}
    )
    totals = ma.fields.Nested(CountsSchema, required=True)
    topGames = ma.fields.List(
        ma.fields.Nested(GameFiguresSchema),
        required=True,
        metadata={"description": "up to 10, most activations first"},
    )
