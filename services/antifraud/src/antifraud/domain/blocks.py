"""Which of an activation's entities (user, IP, device) are on the block list, answered from a
snapshot of the active blocks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ActiveBlock:
    entity_type: str  # "user", "ip" or "device"
    value: str  # the canonical spelling (gamekeys_platform.identities)
    expires_at: datetime | None  # None: until lifted


class BlockSnapshot:
    """The blocks that were active when it was taken. Each entry keeps its expiry, so a block
    that runs out stops applying without a new snapshot; one that is lifted or added needs one."""

    def __init__(self, blocks: Iterable[ActiveBlock]) -> None:
        self._until: dict[tuple[str, str], datetime | None] = {}
        for block in blocks:  # an entity blocked twice is blocked until the later end
            key = (block.entity_type, block.value)
            if key not in self._until or (
                self._until[key] is not None
                and (block.expires_at is None or block.expires_at > self._until[key])
            ):
                self._until[key] = block.expires_at

    def __len__(self) -> int:
        return len(self._until)

    def blocked_types(self, entities: dict[str, str], now: datetime) -> set[str]:
        """The entity types of ``entities`` (type -> value; '' for none) blocked at ``now``."""
        found = set()
        for entity_type, value in entities.items():
            key = (entity_type, value)
            if value and key in self._until:
                until = self._until[key]
                if until is None or until > now:
                    found.add(entity_type)
        return found
