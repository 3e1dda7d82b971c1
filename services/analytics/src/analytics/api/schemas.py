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


class SeriesQuerySchema(PeriodQuerySchema):
    granularity = ma.fields.String(
        load_default="day",
        validate=validate.OneOf(["hour", "day"]),
        metadata={"description": "hour (at most 31 days) or day"},
    )
    keyType = ma.fields.String(
        validate=validate.Length(1, 64),
        metadata={"description": "only keys of this type (e.g. retail, press)"},
    )


class BreakdownQuerySchema(PeriodQuerySchema):
    keyType = ma.fields.String(
        validate=validate.Length(1, 64), metadata={"description": "only keys of this type"}
    )


class SeriesCountsSchema(CountsSchema):
    t = ma.fields.String(
        required=True,
        metadata={
            "description": "the day (YYYY-MM-DD), or the hour's start with its UTC offset, in the time zone"
        },
    )


class ActivationSeriesSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    from_ = ma.fields.Date(data_key="from", attribute="from", required=True)
    to = ma.fields.Date(required=True)
    timezone = ma.fields.String(required=True)
    granularity = ma.fields.String(required=True, validate=validate.OneOf(["hour", "day"]))
    keyType = ma.fields.String(required=True, allow_none=True)
    total = ma.fields.Integer(required=True, metadata={"description": "activations in the period"})
    totals = ma.fields.Nested(CountsSchema, required=True)
    series = ma.fields.List(ma.fields.Nested(SeriesCountsSchema), required=True)


class RegionSchema(CountsSchema):
    country = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "claimed region (null: none)"}
    )
    share = ma.fields.String(required=True, metadata={"example": "0.2500"})


class KeyTypeSchema(CountsSchema):
    keyType = ma.fields.String(required=True, allow_none=True)
    share = ma.fields.String(required=True, metadata={"example": "0.2500"})


class _BreakdownSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    from_ = ma.fields.Date(data_key="from", attribute="from", required=True)
    to = ma.fields.Date(required=True)
    timezone = ma.fields.String(required=True)
    keyType = ma.fields.String(required=True, allow_none=True)
    total = ma.fields.Integer(required=True)
    totals = ma.fields.Nested(CountsSchema, required=True)


class RegionsSchema(_BreakdownSchema):
    items = ma.fields.List(ma.fields.Nested(RegionSchema), required=True)


class KeyTypesSchema(_BreakdownSchema):
    items = ma.fields.List(ma.fields.Nested(KeyTypeSchema), required=True)


class FunnelCountsSchema(ma.Schema):
    generated = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "null for a retailer"}
    )
    allocated = ma.fields.Integer(required=True)
    sold = ma.fields.Integer(required=True)
    activated = ma.fields.Integer(required=True)
    revoked = ma.fields.Integer(required=True)
    expired = ma.fields.Integer(required=True)
    returned = ma.fields.Integer(required=True)
    chargedBack = ma.fields.Integer(required=True)


class _PerformanceSchema(ma.Schema):
    counts = ma.fields.Nested(FunnelCountsSchema, required=True)
    activationRate = ma.fields.String(required=True, allow_none=True, metadata={"example": "0.4200"})
    activationRateOf = ma.fields.String(required=True, metadata={"description": "generated or sold"})
    returnRate = ma.fields.String(required=True, allow_none=True, metadata={"description": "returned / sold"})
    medianHoursFromSaleToActivation = ma.fields.Float(required=True, allow_none=True)
    salesActivated = ma.fields.Integer(required=True, metadata={"description": "keys the median is over"})


class BatchPerformanceSchema(_PerformanceSchema):
    batchId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True)
    keyType = ma.fields.String(required=True, allow_none=True)


class RetailerPerformanceSchema(_PerformanceSchema):
    retailerId = ma.fields.UUID(required=True)
    gameIds = ma.fields.List(
        ma.fields.UUID(), required=True, allow_none=True, metadata={"description": "null: every game"}
    )


class TimelineQuerySchema(ma.Schema):
    developerId = ma.fields.UUID(metadata={"description": "404 unless this studio owns the key's game"})


class TimelineEventSchema(ma.Schema):
    eventId = ma.fields.UUID(required=True)
    type = ma.fields.String(required=True)
    source = ma.fields.String(required=True)
    time = ma.fields.DateTime(required=True, metadata={"description": "when it happened"})
    recordedAt = ma.fields.DateTime(required=True, metadata={"description": "the envelope's time"})
    via = ma.fields.String(required=True, metadata={"description": "key, batch or allocation"})
    gameId = ma.fields.UUID(required=True, allow_none=True)
    batchId = ma.fields.UUID(required=True, allow_none=True)
    retailerId = ma.fields.UUID(required=True, allow_none=True)
    allocationId = ma.fields.UUID(required=True, allow_none=True)
    orderId = ma.fields.String(required=True, allow_none=True)
    activationId = ma.fields.String(required=True, allow_none=True)
    country = ma.fields.String(required=True, allow_none=True)
    outcome = ma.fields.String(required=True, allow_none=True)
    reason = ma.fields.String(required=True, allow_none=True)
    userId = ma.fields.String(allow_none=True, metadata={"description": "platform staff and services only"})
    data = ma.fields.Dict(metadata={"description": "the event's data; platform staff and services only"})


class TimelineSchema(ma.Schema):
    keyId = ma.fields.UUID(required=True)
    gameId = ma.fields.UUID(required=True, allow_none=True)
    items = ma.fields.List(ma.fields.Nested(TimelineEventSchema), required=True)
    truncated = ma.fields.Boolean(required=True, metadata={"description": "more than 1,000 events"})


class VerdictsSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    allowed = ma.fields.Integer(required=True)
    review = ma.fields.Integer(required=True)
    blocked = ma.fields.Integer(required=True)


class RuleFiguresSchema(ma.Schema):
    ruleId = ma.fields.String(required=True)
    mode = ma.fields.String(required=True, metadata={"description": "active or shadow"})
    allowed = ma.fields.Integer(required=True)
    review = ma.fields.Integer(required=True)
    blocked = ma.fields.Integer(required=True)
    decided = ma.fields.Integer(required=True)
    approved = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    falsePositiveRate = ma.fields.String(required=True, allow_none=True)


class CaseFiguresSchema(ma.Schema):
    opened = ma.fields.Integer(required=True)
    decided = ma.fields.Integer(required=True)
    approved = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    falsePositiveRate = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "approved / decided (null: none decided)"}
    )


class ReasonCountSchema(ma.Schema):
    reason = ma.fields.String(required=True)
    count = ma.fields.Integer(required=True)


class FraudStatisticsSchema(ma.Schema):
    from_ = ma.fields.Date(data_key="from", attribute="from", required=True)
    to = ma.fields.Date(required=True)
    timezone = ma.fields.String(required=True)
    assessments = ma.fields.Nested(VerdictsSchema, required=True)
    rules = ma.fields.List(ma.fields.Nested(RuleFiguresSchema), required=True)
    cases = ma.fields.Nested(CaseFiguresSchema, required=True)
    topCaseReasons = ma.fields.List(ma.fields.Nested(ReasonCountSchema), required=True)
    topRefusalReasons = ma.fields.List(ma.fields.Nested(ReasonCountSchema), required=True)


class _AsOfQuerySchema(ma.Schema):
    to = ma.fields.Date(metadata={"description": "the last day (in tz) the figures run to"})
    tz = ma.fields.String(validate=validate.Length(1, 64), metadata={"example": "Europe/Berlin"})
    keyType = ma.fields.String(validate=validate.Length(1, 64))


class TrendsQuerySchema(_AsOfQuerySchema):
    days = ma.fields.Integer(
        load_default=28, validate=validate.Range(7, 180), metadata={"description": "days shown (7..180)"}
    )


class ForecastQuerySchema(_AsOfQuerySchema):
    horizon = ma.fields.Integer(
        load_default=14, validate=validate.Range(1, 90), metadata={"description": "days forecast (1..90)"}
    )


class ChangeSchema(ma.Schema):
    current = ma.fields.Integer(required=True)
    previous = ma.fields.Integer(required=True)
    change = ma.fields.Integer(required=True)
    changePercent = ma.fields.String(required=True, allow_none=True, metadata={"example": "12.5"})


class ScoredDaySchema(ma.Schema):
    t = ma.fields.String(required=True)
    activations = ma.fields.Integer(required=True)
    expected = ma.fields.Float(required=True, allow_none=True, metadata={"description": "baseline median"})
    zScore = ma.fields.Float(required=True, allow_none=True)
    flag = ma.fields.String(required=True, allow_none=True, metadata={"description": "spike, drop or null"})


class TrendsSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    timezone = ma.fields.String(required=True)
    keyType = ma.fields.String(required=True, allow_none=True)
    asOf = ma.fields.String(required=True)
    dayOverDay = ma.fields.Nested(ChangeSchema, required=True)
    weekOverWeek = ma.fields.Nested(ChangeSchema, required=True)
    latest = ma.fields.Nested(ScoredDaySchema, required=True)
    anomalies = ma.fields.List(ma.fields.Nested(ScoredDaySchema), required=True)
    flagAt = ma.fields.Float(required=True)
    baselineDays = ma.fields.Integer(required=True)
    series = ma.fields.List(ma.fields.Nested(ScoredDaySchema), required=True)


class ForecastPointSchema(ma.Schema):
    t = ma.fields.String(required=True)
    expected = ma.fields.Float(required=True)
    lower = ma.fields.Float(required=True)
    upper = ma.fields.Float(required=True)


class HistoryPointSchema(ma.Schema):
    t = ma.fields.String(required=True)
    activations = ma.fields.Integer(required=True)


class BacktestSchema(ma.Schema):
    origins = ma.fields.Integer(required=True)
    horizon = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    mase = ma.fields.Float(required=True, allow_none=True)
    seasonalNaiveMase = ma.fields.Float(required=True, allow_none=True)
    coverage80 = ma.fields.Float(required=True, allow_none=True)
    note = ma.fields.String(required=True)


class ForecastSchema(ma.Schema):
    gameId = ma.fields.UUID(required=True)
    timezone = ma.fields.String(required=True)
    keyType = ma.fields.String(required=True, allow_none=True)
    historyFrom = ma.fields.String(required=True)
    historyTo = ma.fields.String(required=True)
    horizon = ma.fields.Integer(required=True)
    method = ma.fields.String(required=True, metadata={"example": "ETS(A,N,A)"})
    methodReason = ma.fields.String(required=True)
    interval = ma.fields.Float(required=True, metadata={"description": "the intervals' nominal coverage"})
    history = ma.fields.List(ma.fields.Nested(HistoryPointSchema), required=True)
    series = ma.fields.List(ma.fields.Nested(ForecastPointSchema), required=True)
    backtest = ma.fields.Nested(BacktestSchema, required=True)
