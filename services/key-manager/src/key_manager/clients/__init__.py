"""The services key-manager reads from for a key's provenance, one adapter module per callee
(distribution, activation-gateway), each behind a Protocol the context holds."""

from __future__ import annotations


class SourceUnavailable(Exception):
    """A callee could not answer (unreachable, failing, not configured): the provenance is then
    answered without its part, and says so."""
