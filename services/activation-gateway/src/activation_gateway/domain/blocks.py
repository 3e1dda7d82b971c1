"""Step 2 of a redemption, beside the lockout: a block-listed user, IP or device is refused
with ACCOUNT_BLOCKED before the key look-up. antifraud owns the block list; the gateway keeps a
projection of the blocks in force from its events (``fraud.block_added`` / ``fraud.block_lifted``),
so the refusal needs no call to antifraud. Expiry is honoured at read time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from activation_gateway.domain.lockout import Identities
from gamekeys_platform.identities import canonical_identity
from gamekeys_platform.refusals import Refusal

ENTITY_TYPES = ("user", "ip", "device")


def normalize(entity_type: str, value: str) -> str:
    """One spelling per identity, so a block matches however the id or address was written."""
    value = value.strip()
    try:
        return canonical_identity(entity_type, value)
    except ValueError:
        return value  # not an id / address: matched as written


def wanted(identities: Identities) -> list[tuple[str, str]]:
    """(entity type, normalised value) pairs a redemption by these identities must not match."""
    pairs = [("user", identities.user), ("ip", identities.ip), ("device", identities.device)]
    return [(kind, normalize(kind, value)) for kind, value in pairs if value]


@dataclass(frozen=True)
class Block:
    block_id: uuid.UUID
    entity_type: str
    expires_at: datetime | None
    reason: str | None = None


def refusal(blocks: list[Block]) -> Refusal | None:
    """ACCOUNT_BLOCKED naming what is blocked and until when (null: until lifted), or None."""
    if not blocks:
        return None
    ends = [block.expires_at for block in blocks]
    until = None if any(end is None for end in ends) else max(ends)
    return Refusal(
        "ACCOUNT_BLOCKED",
        "this account cannot redeem keys",
        {
            "blockedBy": sorted({block.entity_type for block in blocks}),
            "expiresAt": wire_time(until) if until else None,
        },
    )


def wire_time(moment: datetime) -> str:
    """ISO 8601 UTC with ``Z``, as everywhere on the wire."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
