"""The services key-manager reads from for a key's provenance, one adapter module per callee
(distribution, activation-gateway), each behind a Protocol the context holds. Both are read
the same way (``ProvenanceReader``): a short timeout, our service token with the callee's read
scope, and any failure reported as ``SourceUnavailable``."""

from __future__ import annotations

from gamekeys_platform.errors import ApiError
from gamekeys_platform.http_client import ServiceClient
from gamekeys_platform.service_tokens import ServiceTokenProvider


class SourceUnavailable(Exception):
    """A callee could not answer (unreachable, failing, not configured): the provenance is then
    answered without its part, and says so."""


class ProvenanceReader:
    """GETs of one callee's internal API: its JSON answer, None for 404 (it knows nothing of
    what was asked), ``SourceUnavailable`` for anything else."""

    def __init__(self, client: ServiceClient, name: str) -> None:
        self.client = client
        self.name = name

    @classmethod
    def from_settings(cls, settings, *, url: str, name: str, scope: str) -> ProvenanceReader:
        timeout = settings.provenance_timeout_seconds
        return cls(
            ServiceClient(
                url,
                service_name=name,
                token_provider=ServiceTokenProvider.from_settings(settings, scope=scope),
                connect_timeout=min(1.0, timeout),
                read_timeout=timeout,
            ),
            name,
        )

    def get(self, path: str, params: dict | None = None) -> dict | None:
        try:
            response = self.client.get(path, params=params or {})
        except ApiError as exc:
            raise SourceUnavailable(f"{self.name}: {exc.code}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceUnavailable(f"{self.name} answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise SourceUnavailable(f"{self.name} answered no JSON") from None
