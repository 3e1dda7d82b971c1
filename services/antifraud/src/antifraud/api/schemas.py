"""Request and response schemas (marshmallow): camelCase on the wire, unknown fields rejected."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from antifraud.domain.rules import ACTIONS, MAX_EXPRESSION_LENGTH, MAX_RULES, MODES
from antifraud.domain.scoring import LEVELS
from gamekeys_platform.fields import Country, PastDateTime
from gamekeys_platform.identities import canonical_identity
from gamekeys_platform.pagination import PageQuerySchema

KEY_TYPES = ["retail", "promotional", "developer", "gift", "subscription"]
KEY_OUTCOMES = ["valid", "not_found", "invalid_format", "expired", "revoked", "already_activated"]


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class ActivationContextSchema(Strict):
    ipAddress = ma.fields.IP(required=True)
    userRegion = Country(load_default=None, allow_none=True)
    keyRegions = ma.fields.List(
        Country(),
        load_default=list,
        validate=validate.Length(0, 250),
        metadata={"description": "countries the key may be activated in (empty: no restriction)"},
    )
    gameId = ma.fields.UUID(load_default=None, allow_none=True)
    batchId = ma.fields.UUID(load_default=None, allow_none=True)
    retailerId = ma.fields.UUID(load_default=None, allow_none=True)
    keyType = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf(KEY_TYPES))
    soldAt = PastDateTime(load_default=None, allow_none=True)
    platform = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    keyOutcome = ma.fields.String(
        load_default="valid",
        validate=validate.OneOf(KEY_OUTCOMES),
        metadata={"description": "what the key lookup found; not_found/invalid_format feed enumeration"},
    )
    keyFingerprint = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(8, 128),
        metadata={
            "description": "an opaque hash of the typed key (never the key): counts distinct invalid keys"
        },
    )
    accountCreatedAt = PastDateTime(load_default=None, allow_none=True)


class BehaviorMetricsSchema(Strict):
    attemptsInSession = ma.fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(0, 1_000_000)
    )
    failedAttemptsInSession = ma.fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(0, 1_000_000)
    )
    sessionDurationSeconds = ma.fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(0, 10_000_000)
    )
    accountAgeDays = ma.fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(0, 100_000)
    )


class AnalyzeRequestSchema(Strict):
    """The seed's FraudAnalysisRequest."""

    keyId = ma.fields.UUID(load_default=None, allow_none=True)
    userId = ma.fields.UUID(required=True)
    activationId = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, 64),
        metadata={"description": "the caller's activation / transaction id, echoed in case events"},
    )
    activationContext = ma.fields.Nested(ActivationContextSchema, required=True)
    deviceFingerprint = ma.fields.String(required=True, validate=validate.Length(1, 256))
    behaviorMetrics = ma.fields.Nested(BehaviorMetricsSchema, load_default=dict)


class RuleHitSchema(ma.Schema):
    id = ma.fields.String(required=True)
    weight = ma.fields.Integer(required=True)
    action = ma.fields.String(allow_none=True)
    mode = ma.fields.String(required=True)
    shadow = ma.fields.Boolean(required=True)


class FraudScoreSchema(ma.Schema):
    """The seed's FraudScore, plus the assessment id and the rules hit."""

    assessmentId = ma.fields.UUID(required=True)
    score = ma.fields.Integer(required=True)
    riskLevel = ma.fields.String(required=True, metadata={"enum": list(LEVELS)})
    reasons = ma.fields.List(ma.fields.String(), required=True)
    recommendedAction = ma.fields.String(required=True, metadata={"enum": list(ACTIONS)})
    rulesHit = ma.fields.List(ma.fields.Nested(RuleHitSchema), required=True)
    ruleSetVersion = ma.fields.Integer(required=True)
    degraded = ma.fields.Boolean(required=True)
    caseId = ma.fields.UUID(allow_none=True)


class RuleSchema(Strict):
    id = ma.fields.String(required=True, validate=validate.Length(1, 64))
    description = ma.fields.String(load_default="", validate=validate.Length(0, 500))
    expression = ma.fields.String(required=True, validate=validate.Length(1, MAX_EXPRESSION_LENGTH))
    weight = ma.fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 100))
    action = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ACTIONS))
    mode = ma.fields.String(load_default="active", validate=validate.OneOf(MODES))
    enabled = ma.fields.Boolean(load_default=True)


class RuleSetRequestSchema(Strict):
    rules = ma.fields.List(
        ma.fields.Nested(RuleSchema), required=True, validate=validate.Length(0, MAX_RULES)
    )


class RuleSetSchema(ma.Schema):
    version = ma.fields.Integer(required=True)
    rules = ma.fields.List(ma.fields.Nested(RuleSchema), required=True)
    createdBy = ma.fields.String(allow_none=True)
    createdAt = ma.fields.String(allow_none=True)


class BacktestRequestSchema(Strict):
    rules = ma.fields.List(
        ma.fields.Nested(RuleSchema), required=True, validate=validate.Length(0, MAX_RULES)
    )
    # "from" is a keyword: the attribute is named start.
    start = ma.fields.AwareDateTime(data_key="from", required=True)
    end = ma.fields.AwareDateTime(data_key="to", required=True)
    maxAssessments = ma.fields.Integer(load_default=10_000, validate=validate.Range(1, 50_000))
    maxExamples = ma.fields.Integer(load_default=10, validate=validate.Range(0, 100))


class BacktestExampleSchema(ma.Schema):
    assessmentId = ma.fields.String()
    before = ma.fields.Dict()
    after = ma.fields.Dict()


class BacktestResultSchema(ma.Schema):
    evaluated = ma.fields.Integer(required=True)
    changed = ma.fields.Integer(required=True)
    stricter = ma.fields.Integer(required=True)
    looser = ma.fields.Integer(required=True)
    transitions = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    actionsBefore = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    actionsAfter = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    ruleHits = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    examples = ma.fields.List(ma.fields.Nested(BacktestExampleSchema))
    truncated = ma.fields.Boolean(required=True)


class CaseSchema(ma.Schema):
    caseId = ma.fields.UUID(required=True)
    assessmentId = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
    userId = ma.fields.UUID(required=True)
    keyId = ma.fields.UUID(allow_none=True)
    activationId = ma.fields.String(allow_none=True)
    score = ma.fields.Integer(required=True)
    riskLevel = ma.fields.String(required=True)
    reasons = ma.fields.List(ma.fields.String())
    openedAt = ma.fields.String(required=True)
    decidedAt = ma.fields.String(allow_none=True)
    decidedBy = ma.fields.String(allow_none=True)
    decision = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


class CasePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CaseSchema), required=True)
    nextCursor = ma.fields.String(allow_none=True, required=True)


class CaseQuerySchema(PageQuerySchema):
    class Meta:
        unknown = ma.RAISE

    status = ma.fields.String(load_default=None, validate=validate.OneOf(["open", "approved", "rejected"]))


class DecisionRequestSchema(Strict):
    decision = ma.fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(0, 1000))


ENTITY_TYPES = ["user", "ip", "device"]


class BlockRequestSchema(Strict):
    entityType = ma.fields.String(required=True, validate=validate.OneOf(ENTITY_TYPES))
    value = ma.fields.String(required=True, validate=validate.Length(1, 256))
    reason = ma.fields.String(required=True, validate=validate.Length(1, 500))
    expiresAt = ma.fields.AwareDateTime(load_default=None, allow_none=True)

    @ma.post_load
    def _canonical_value(self, data, **_kwargs):
        """The value in the form the scoring and the gateway's projection compare: a user id as
        a UUID, an address in its canonical text; a device fingerprint as given, if printable."""
        value = data["value"]
        try:
            if not value.isprintable():
                raise ValueError
            data["value"] = canonical_identity(data["entityType"], value)
        except ValueError:
            expected = {"user": "a user id (UUID)", "ip": "an IPv4 or IPv6 address"}
            raise ma.ValidationError(
                f"not {expected.get(data['entityType'], 'a printable fingerprint')}", "value"
            ) from None
        return data


class ActivityBlockRequestSchema(Strict):
    entities = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(ENTITY_TYPES)),
        load_default=lambda: list(ENTITY_TYPES),
        validate=validate.Length(1, 3),
    )
    reason = ma.fields.String(load_default="blocked from an assessment", validate=validate.Length(1, 500))
    expiresAt = ma.fields.AwareDateTime(load_default=None, allow_none=True)


class LiftRequestSchema(Strict):
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(0, 500))


class BlockSchema(ma.Schema):
    blockId = ma.fields.UUID(required=True)
    entityType = ma.fields.String(required=True)
    value = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    assessmentId = ma.fields.UUID(allow_none=True)
    createdBy = ma.fields.String(required=True)
    createdAt = ma.fields.String(required=True)
    expiresAt = ma.fields.String(allow_none=True)
    liftedAt = ma.fields.String(allow_none=True)
    liftedBy = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean(required=True)


class BlockListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(BlockSchema), required=True)
    nextCursor = ma.fields.String(allow_none=True)


class BlockQuerySchema(PageQuerySchema):
    class Meta:
        unknown = ma.RAISE

    entityType = ma.fields.String(load_default=None, validate=validate.OneOf(ENTITY_TYPES))
    value = ma.fields.String(load_default=None, validate=validate.Length(1, 256))
    active = ma.fields.Boolean(load_default=True)


class PeriodQuerySchema(Strict):
    start = ma.fields.AwareDateTime(data_key="from", load_default=None)
    end = ma.fields.AwareDateTime(data_key="to", load_default=None)


class StatisticsSchema(ma.Schema):
    """The seed's FraudStatistics."""

    start = ma.fields.String(data_key="from")
    end = ma.fields.String(data_key="to")
    totalAssessments = ma.fields.Integer()
    byRiskLevel = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    byAction = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    blockRate = ma.fields.Float()
    reviewRate = ma.fields.Float()
    topRules = ma.fields.List(ma.fields.Dict())
    topShadowRules = ma.fields.List(ma.fields.Dict())
    cases = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    activeBlocks = ma.fields.Integer()


class SuspiciousActivitySchema(ma.Schema):
    userId = ma.fields.UUID()
    patterns = ma.fields.List(ma.fields.Dict())
    assessments = ma.fields.Integer()
    nonAllowed = ma.fields.Integer()
    activeBlocks = ma.fields.List(ma.fields.Dict())
