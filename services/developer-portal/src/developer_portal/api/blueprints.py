"""The two blueprints: the public API behind the gateway and the internal one it never routes."""

from __future__ import annotations

from gamekeys_platform.app import Blueprint

PUBLIC_PREFIX = "/api/v1/developer"
INTERNAL_PREFIX = "/internal/v1"

public = Blueprint(
    "developer",
    __name__,
    url_prefix=PUBLIC_PREFIX,
    description=(
        "Studios, verification status, teams and roles, games, metadata, pricing, audit log, "
        "preflight, submissions and publishing, finance (balance, ledger, payouts), analytics (from the "
        "analytics service), CI API keys and trusted publishing."
    ),
)
internal = Blueprint(
    "developer-internal",
    __name__,
    url_prefix=INTERNAL_PREFIX,
    description="Service-to-service endpoints (service tokens with scopes; never routed by the gateway).",
)
