"""activation-gateway's internal API as key-manager reads it (scope ``activations:read``): the
activation that redeemed a key, its status (``disputed`` after a chargeback) and the fraud
outcome it went through (antifraud's score, review case)."""

from __future__ import annotations

from typing import Protocol

from key_manager.clients import ProvenanceReader

SCOPE = "activations:read"


class ActivationSource(Protocol):
    def activation(self, activation_id: str) -> dict | None:
        """The gateway's record, None when it has none (an activation made without it);
        SourceUnavailable when it cannot answer."""


class ActivationGatewayClient:
    def __init__(self, reader: ProvenanceReader) -> None:
        self.reader = reader

    @classmethod
    def from_settings(cls, settings) -> ActivationGatewayClient:
        return cls(
            ProvenanceReader.from_settings(
                settings, url=settings.activation_gateway_url, name="activation-gateway", scope=SCOPE
            )
        )

    def activation(self, activation_id: str) -> dict | None:
        return self.reader.get(f"/internal/v1/activations/{activation_id}")
