"""``@require_retailer``: the retailer API's bearer token (ours, not the platform's), checked
against the retailer's current credentials version and status."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g

from distribution.context import distribution
from distribution.db import repository as repo
from distribution.domain.retailers import RetailerStatus
from distribution.retailer_tokens import TOKEN_SCOPE
from gamekeys_platform.auth import Principal, authentication_required, bearer_token, invalid_token
from gamekeys_platform.db import request_session
from gamekeys_platform.errors import ApiError
from gamekeys_platform.openapi import declare

RETAILER_ROLE = "retailer"
# The OpenAPI security scheme of the retailer API: OAuth 2.0 client credentials, not the platform's JWT.
RETAILER_SECURITY_SCHEME = "retailerOAuth"


def require_retailer(view: Callable) -> Callable:
    """401 without a valid retailer token (or one issued before a credential rotation), 403
    RETAILER_NOT_AUTHORIZED while the retailer is suspended. Sets ``g.retailer`` and
    ``g.principal`` (subject ``retailer:<id>``: idempotency keys and logs are per retailer)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        if token is None:
            raise authentication_required()
        claims = distribution().tokens.verify(token)
        retailer = repo.get_retailer(request_session(), claims.retailer_id)
        if retailer is None or retailer.credentials_version != claims.credentials_version:
            raise invalid_token()
        g.principal = Principal(
            subject=f"retailer:{retailer.id}", roles=frozenset({RETAILER_ROLE}), claims=claims.claims
        )
        if retailer.status != RetailerStatus.ACTIVE:
            raise ApiError(
                "RETAILER_NOT_AUTHORIZED", f"the retailer is {retailer.status}", {"status": retailer.status}
            )
        g.retailer = retailer
        return view(*args, **kwargs)

    declare(wrapper, authenticated=True, security=[{RETAILER_SECURITY_SCHEME: [TOKEN_SCOPE]}])
    return wrapper
