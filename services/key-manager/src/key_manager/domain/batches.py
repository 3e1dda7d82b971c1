"""Planning a generation: limits and the checks a request must pass before anything is written."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from key_manager.domain.regions import RegionPolicy
from key_manager.domain.states import KeyType

SYNC_MAX_QUANTITY = 1_000
BATCH_MAX_QUANTITY = 100_000
ALLOCATION_MAX_QUANTITY = 100_000
# One store order: a buyer's copies (gifts, bundles), answered decrypted in one response.
STORE_MAX_QUANTITY = 100
# One message per route, in the schema and here alike; /generate's says why its limit is lower.
SYNC_QUANTITY_MESSAGE = (
    f"quantity must be between 1 and {SYNC_MAX_QUANTITY:,} on POST /generate, which returns the keys "
    f"in its answer; POST /batches generates up to {BATCH_MAX_QUANTITY:,} in the background"
)
BATCH_QUANTITY_MESSAGE = f"quantity must be between 1 and {BATCH_MAX_QUANTITY:,}"
# How far ahead an expiration date may be (keys are not meant to outlive the platform).
MAX_EXPIRY_YEARS = 20


def end_of_day(day: date) -> datetime:
    """An expiration given as a date (the seed's Date): keys stay valid all of that day, UTC."""
    return datetime.combine(day, time.max, tzinfo=UTC)


class PlanRefused(ValueError):
    """The request breaks a rule; ``field`` names the offending request field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class BatchPlan:
    batch_id: uuid.UUID
    game_id: uuid.UUID
    developer_id: uuid.UUID
    key_type: KeyType
    quantity: int
    regions: RegionPolicy
    expires_at: datetime | None
    metadata: dict[str, Any] = field(default_factory=dict)
    synchronous: bool = False

    @property
    def key_id_prefix(self) -> bytes:
        """Every key id of the batch starts with these 8 bytes of the batch id (see ``key_ids``)."""
        return self.batch_id.bytes[:8]


def plan_batch(
    *,
    game_id: uuid.UUID,
    developer_id: uuid.UUID,
    key_type: str,
    quantity: int,
    regional_restrictions: list[dict[str, Any]] | None,
    expiration_date: datetime | None,
    metadata: dict[str, Any] | None,
    synchronous: bool,
    metadata_max_bytes: int,
    now: datetime | None = None,
    batch_id: uuid.UUID | None = None,
) -> BatchPlan:
    now = now or datetime.now(UTC)
    limit = SYNC_MAX_QUANTITY if synchronous else BATCH_MAX_QUANTITY
    if not 1 <= quantity <= limit:
        raise PlanRefused("quantity", SYNC_QUANTITY_MESSAGE if synchronous else BATCH_QUANTITY_MESSAGE)
    try:
        kind = KeyType(key_type)
    except ValueError:
        raise PlanRefused(
            "keyType", f"keyType must be one of {', '.join(t.value for t in KeyType)}"
        ) from None
    if expiration_date is not None:
        if expiration_date.tzinfo is None:
            raise PlanRefused("expirationDate", "expirationDate needs a time zone (e.g. a trailing Z)")
        if expiration_date <= now:
            raise PlanRefused("expirationDate", "expirationDate must be in the future")
        if expiration_date.year > now.year + MAX_EXPIRY_YEARS:
            raise PlanRefused("expirationDate", f"expirationDate must be within {MAX_EXPIRY_YEARS} years")
    try:
        regions = RegionPolicy.from_rules(regional_restrictions)
    except ValueError as exc:
        raise PlanRefused("regionalRestrictions", str(exc)) from None
    if regions.allowed is not None and not (regions.allowed - regions.denied):
        raise PlanRefused("regionalRestrictions", "the restrictions leave no country where keys can be used")
    metadata = metadata or {}
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > metadata_max_bytes:
        raise PlanRefused("metadata", f"metadata must serialise to at most {metadata_max_bytes} bytes")
    return BatchPlan(
        batch_id=batch_id or uuid.uuid4(),
        game_id=game_id,
        developer_id=developer_id,
        key_type=kind,
        quantity=quantity,
        regions=regions,
        expires_at=expiration_date.astimezone(UTC) if expiration_date else None,
        metadata=metadata,
        synchronous=synchronous,
    )


def key_id_range(batch_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The smallest and largest key id a batch's keys can have.

    A key id is the batch id's first 8 bytes followed by 8 random bytes (RFC 4122 variant bits
    kept), so the primary key index also indexes keys by batch: listing, revoking and expiring
    a batch are range scans, and a 100,000-key insert appends to one region of the index.
    """
    prefix = batch_id.bytes[:8]
    return uuid.UUID(bytes=prefix + b"\x80" + b"\0" * 7), uuid.UUID(bytes=prefix + b"\xbf" + b"\xff" * 7)


def progress(generated: int, total: int) -> float:
    return round(generated / total, 4) if total else 0.0
