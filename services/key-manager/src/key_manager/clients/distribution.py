"""distribution's internal API as key-manager reads it (scope ``distribution:read``): what it
knows of one key's channel (retailer, allocation, delivery, sale and price, return,
chargeback)."""

from __future__ import annotations

import uuid
from typing import Protocol

from gamekeys_platform.errors import ApiError
from gamekeys_platform.http_client import ServiceClient
from gamekeys_platform.service_tokens import ServiceTokenProvider
from key_manager.clients import SourceUnavailable

SCOPE = "distribution:read"


class DistributionSource(Protocol):
    def key_channel(self, key_id: uuid.UUID, allocation_id: uuid.UUID | None) -> dict | None:
        """distribution's answer, None when it knows nothing of the key; SourceUnavailable when
        it cannot answer."""


class DistributionClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings) -> DistributionClient:
        timeout = settings.provenance_timeout_seconds
        return cls(
            ServiceClient(
                settings.distribution_url,
                service_name="distribution",
                token_provider=ServiceTokenProvider.from_settings(settings, scope=SCOPE),
                connect_timeout=min(1.0, timeout),
                read_timeout=timeout,
            )
        )

    def key_channel(self, key_id: uuid.UUID, allocation_id: uuid.UUID | None) -> dict | None:
        params = {"allocationId": str(allocation_id)} if allocation_id else {}
        try:
            response = self.client.get(f"/internal/v1/distribution/keys/{key_id}", params=params)
        except ApiError as exc:
            raise SourceUnavailable(f"distribution: {exc.code}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceUnavailable(f"distribution answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise SourceUnavailable("distribution answered no JSON") from None
