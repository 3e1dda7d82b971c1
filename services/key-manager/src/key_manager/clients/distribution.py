"""distribution's internal API as key-manager reads it (scope ``distribution:read``): what it
knows of one key's channel (retailer, allocation, delivery, sale and price, return,
chargeback)."""

from __future__ import annotations

import uuid
from typing import Protocol

from key_manager.clients import ProvenanceReader

SCOPE = "distribution:read"


class DistributionSource(Protocol):
    def key_channel(self, key_id: uuid.UUID, allocation_id: uuid.UUID | None) -> dict | None:
        """distribution's answer, None when it knows nothing of the key; SourceUnavailable when
        it cannot answer."""


class DistributionClient:
    def __init__(self, reader: ProvenanceReader) -> None:
        self.reader = reader

    @classmethod
    def from_settings(cls, settings) -> DistributionClient:
        return cls(
            ProvenanceReader.from_settings(
                settings, url=settings.distribution_url, name="distribution", scope=SCOPE
            )
        )

    def key_channel(self, key_id: uuid.UUID, allocation_id: uuid.UUID | None) -> dict | None:
        params = {"allocationId": str(allocation_id)} if allocation_id else {}
        return self.reader.get(f"/internal/v1/distribution/keys/{key_id}", params)
