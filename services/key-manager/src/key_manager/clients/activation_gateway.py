"""activation-gateway's internal API as key-manager reads it (scope ``activations:read``): the
activation that redeemed a key, its status (``disputed`` after a chargeback) and the fraud
outcome it went through (antifraud's score, review case)."""

from __future__ import annotations

from typing import Protocol

from gamekeys_platform.errors import ApiError
from gamekeys_platform.http_client import ServiceClient
from gamekeys_platform.service_tokens import ServiceTokenProvider
from key_manager.clients import SourceUnavailable

SCOPE = "activations:read"


class ActivationSource(Protocol):
    def activation(self, activation_id: str) -> dict | None:
        """The gateway's record, None when it has none (an activation made without it);
        SourceUnavailable when it cannot answer."""


class ActivationGatewayClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings) -> ActivationGatewayClient:
        timeout = settings.provenance_timeout_seconds
        return cls(
            ServiceClient(
                settings.activation_gateway_url,
                service_name="activation-gateway",
                token_provider=ServiceTokenProvider.from_settings(settings, scope=SCOPE),
                connect_timeout=min(1.0, timeout),
                read_timeout=timeout,
            )
        )

    def activation(self, activation_id: str) -> dict | None:
        try:
            response = self.client.get(f"/internal/v1/activations/{activation_id}")
        except ApiError as exc:
            raise SourceUnavailable(f"activation-gateway: {exc.code}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceUnavailable(f"activation-gateway answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise SourceUnavailable("activation-gateway answered no JSON") from None
