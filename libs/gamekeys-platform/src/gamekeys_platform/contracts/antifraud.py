"""antifraud.events, written by antifraud.

Consumed by activation-gateway (``fraud.case_decided``: complete or reject the pending
activation; ``fraud.block_added`` / ``fraud.block_lifted``: its projection of blocks in force,
which refuses block-listed players before the key lookup) and analytics. No event carries a
plaintext key or the features of an assessment.

A case is opened (and ``fraud.case_opened`` emitted) in the same transaction as the REVIEW
assessment; activation-gateway matches ``fraud.case_decided`` to its pending activation by
``activationId`` (else ``keyId`` + ``userId``).
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from gamekeys_platform.contracts.base import Actor, EventData, Text, Timestamp, UserId

RiskLevel = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
RULES_SUBJECT = "antifraud-rules"


class AntifraudEvent(EventData):
    SOURCE: ClassVar[str] = "antifraud"


class FraudAssessed(AntifraudEvent):
    """One analysis and its verdict."""

    TYPE: ClassVar[str] = "fraud.assessed"
    SUBJECT: ClassVar[str] = "assessment_id"

    assessment_id: uuid.UUID
    key_id: uuid.UUID | None
    user_id: UserId
    activation_id: Text | None
    game_id: uuid.UUID | None
    score: int = Field(ge=0, le=100)
    risk_level: RiskLevel
    recommended_action: Literal["ALLOW", "REVIEW", "BLOCK"]
    rules_hit: list[Text] = Field(description="active rule ids")
    shadow_rules_hit: list[Text] = Field(description="shadow rule ids (no effect on the verdict)")
    rule_set_version: int


class CaseOpened(AntifraudEvent):
    """A REVIEW verdict opened a case for support."""

    TYPE: ClassVar[str] = "fraud.case_opened"
    SUBJECT: ClassVar[str] = "case_id"

    case_id: uuid.UUID
    assessment_id: uuid.UUID
    key_id: uuid.UUID | None
    user_id: UserId
    activation_id: Text | None
    score: int = Field(ge=0, le=100)
    risk_level: RiskLevel
    reasons: list[Text]


class CaseDecided(AntifraudEvent):
    """Support decided a case."""

    TYPE: ClassVar[str] = "fraud.case_decided"
    SUBJECT: ClassVar[str] = "case_id"

    case_id: uuid.UUID
    assessment_id: uuid.UUID
    key_id: uuid.UUID | None
    user_id: UserId
    activation_id: Text | None = Field(description="the id the analyze request carried")
    decision: Literal["approve", "reject"]
    status: Literal["approved", "rejected"]
    note: Text | None
    decided_by: Actor
    decided_at: Timestamp


class RulesUpdated(AntifraudEvent):
    """A new rule set is in force (one subject for all versions, so they stay in order)."""

    TYPE: ClassVar[str] = "fraud.rules_updated"

    version: int
    rule_ids: list[Text]
    active_rules: int = Field(ge=0, description="enabled rules in active mode")
    shadow_rules: int = Field(ge=0, description="enabled rules in shadow mode")
    updated_by: Actor

    @property
    def subject(self) -> str:
        """`antifraud-rules`, the same for every version"""
        return RULES_SUBJECT


class BlockAdded(AntifraudEvent):
    """A user, address or device is on the block list."""

    TYPE: ClassVar[str] = "fraud.block_added"
    SUBJECT: ClassVar[str] = "block_id"

    block_id: uuid.UUID
    entity_type: Literal["user", "ip", "device"]
    value: Text
    reason: Text | None
    assessment_id: uuid.UUID | None
    expires_at: Timestamp | None = Field(description="null: until lifted")
    created_by: Actor


class BlockLifted(AntifraudEvent):
    """A block was lifted by a person (a block that reaches its ``expiresAt`` emits nothing)."""

    TYPE: ClassVar[str] = "fraud.block_lifted"
    SUBJECT: ClassVar[str] = "block_id"

    block_id: uuid.UUID
    entity_type: Literal["user", "ip", "device"]
    value: Text
    reason: Text | None
    lifted_by: Actor
    lifted_at: Timestamp
