"""Trusted publishing: a studio admin trusts a CI identity (an OIDC issuer and claim
conditions) for some games and scopes; CI exchanges its identity token for a short-lived upload
token, with no long-lived secret in CI at all.

The upload token is opaque (``gkpt_`` + random + checksum, like an API key), stored as SHA-256,
and game-builds checks it through the same introspection as API keys: one path for both
credentials, and deleting the trusted publisher ends its outstanding tokens at once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.context import PortalState
from developer_portal.db import apikeys as keys_repo
from developer_portal.db import repository
from developer_portal.db import trusted_publishing as repo
from developer_portal.domain import apikeys as key_rules
from developer_portal.domain import trusted_publishing as rules
from developer_portal.oidc import InvalidIdentityToken, IssuerUnavailable
from developer_portal.usecases.common import Actor, audit
from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.pagination import page_body
from gamekeys_platform.refusals import InvalidValue, Refusal

MAX_ACTOR_LENGTH = 200


def create_publisher(
    portal: PortalState,
    session: Session,
    actor: Actor,
    developer: Row,
    *,
    issuer: str,
    subject: str | None,
    claims: dict[str, str] | None,
    scopes: list[str],
    game_ids: list[uuid.UUID],
) -> dict[str, Any]:
    """Trust the CI identities of ``issuer`` (one of OIDC_ISSUERS: VALIDATION_ERROR
    UNKNOWN_ISSUER otherwise) whose claims meet the conditions, for ``game_ids`` (the studio's)
    and ``scopes``. Audited."""
    known = sorted(portal.settings.oidc_issuers)
    if issuer not in known:
        raise Refusal(
            "VALIDATION_ERROR",
            "the platform does not trust this issuer",
            {"reason": "UNKNOWN_ISSUER", "issuers": known},
        )
    try:
        conditions = rules.conditions(subject, claims)
        scopes = key_rules.check_scopes(scopes)
    except InvalidValue as exc:
        raise Refusal("VALIDATION_ERROR", str(exc), {"reason": "BAD_CONDITIONS"}) from None
    games = key_rules.check_games(game_ids, keys_repo.studio_game_ids(session, developer.developer_id))
    row = repo.insert_publisher(
        session,
        publisher_id=uuid.uuid4(),
        developer_id=developer.developer_id,
        issuer=issuer,
        conditions=conditions,
        scopes=scopes,
        game_ids=games,
        created_by=actor.user_id,
    )
    result = serializers.trusted_publisher(row)
    audit(
        session,
        actor,
        developer_id=developer.developer_id,
        action="trusted_publisher.created",
        entity_type="trusted_publisher",
        entity_id=row.publisher_id,
        before=None,
        after=result,
    )
    return result


def list_publishers(session: Session, developer_id: uuid.UUID, *, after, limit: int) -> dict[str, Any]:
    page = repo.list_publishers(session, developer_id, after=after, limit=limit)
    return page_body(page, serializers.trusted_publisher, lambda row: (row.created_at, row.publisher_id))


def delete_publisher(
    session: Session, actor: Actor, developer_id: uuid.UUID, publisher_id: uuid.UUID
) -> None:
    """Stop trusting a CI identity; its upload tokens stop working with it. Audited."""
    row = repo.get_publisher(session, publisher_id)
    if row is None or row.developer_id != developer_id:
        raise Refusal("NOT_FOUND", "trusted publisher not found")
    repo.delete_publisher(session, publisher_id)
    audit(
        session,
        actor,
        developer_id=developer_id,
        action="trusted_publisher.deleted",
        entity_type="trusted_publisher",
        entity_id=publisher_id,
        before=serializers.trusted_publisher(row),
        after=None,
    )


def _verified_claims(portal: PortalState, identity_token: str) -> dict[str, Any]:
    try:
        claims = portal.identity.verify(identity_token)
    except InvalidIdentityToken as exc:
        raise Refusal(
            "UNAUTHORIZED", "the identity token is not valid", {"reason": exc.reason.upper()}
        ) from None
    except IssuerUnavailable:
        raise Refusal(
            "EXTERNAL_SERVICE_ERROR", "the issuer's keys could not be fetched; retry later"
        ) from None
    if not isinstance(claims.get("jti"), str) or not isinstance(claims.get("sub"), str):
        raise Refusal("UNAUTHORIZED", "the identity token is not valid", {"reason": "INVALID"})
    return claims


def _publisher_for(session: Session, claims: dict[str, Any], publisher_id: uuid.UUID | None) -> Row:
    candidates = [
        row
        for row in repo.publishers_of_issuer(session, claims["iss"])
        if rules.matches(row.conditions, claims)
    ]
    if publisher_id is not None:
        candidates = [row for row in candidates if row.publisher_id == publisher_id]
    if not candidates:
        raise Refusal(
            "FORBIDDEN", "no trusted publisher matches this identity", {"reason": "NO_TRUSTED_PUBLISHER"}
        )
    if len(candidates) > 1:
        raise Refusal(
            "CONFLICT",
            "several trusted publishers match this identity; name one with publisherId",
            {"reason": "AMBIGUOUS_PUBLISHER", "publisherIds": [str(row.publisher_id) for row in candidates]},
        )
    return candidates[0]


def exchange(
    portal: PortalState,
    session: Session,
    identity_token: str,
    *,
    publisher_id: uuid.UUID | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """An upload token for a verified identity token that a trusted publisher matches (FORBIDDEN
    NO_TRUSTED_PUBLISHER otherwise; CONFLICT AMBIGUOUS_PUBLISHER when several do and
    ``publisher_id`` does not pick one), limited to its games and scopes, living at most 15
    minutes. Each identity token is exchanged once (UNAUTHORIZED TOKEN_REUSED). Audited, with
    the CI identity as the actor."""
    claims = _verified_claims(portal, identity_token)
    publisher = _publisher_for(session, claims, publisher_id)
    now = repository.now(session)
    lifetime = min(
        timedelta(seconds=portal.settings.upload_token_lifetime_seconds), rules.MAX_UPLOAD_TOKEN_LIFETIME
    )
    expires_at = now + lifetime
    identity_expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    token = key_rules.generate(key_rules.UPLOAD_TOKEN_PREFIX)
    token_id = uuid.uuid4()
    try:
        with session.begin_nested():
            repo.insert_upload_token(
                session,
                token_id=token_id,
                token_hash=key_rules.digest(token),
                publisher_id=publisher.publisher_id,
                developer_id=publisher.developer_id,
                scopes=list(publisher.scopes),
                game_ids=list(publisher.game_ids),
                issuer=claims["iss"][:255],
                jti=claims["jti"][:255],
                subject=claims["sub"][:255],
                created_at=now,
                expires_at=expires_at,
                keep_until=max(expires_at, identity_expires_at),
            )
    except IntegrityError:
        raise Refusal(
            "UNAUTHORIZED", "this identity token was exchanged already", {"reason": "TOKEN_REUSED"}
        ) from None
    result = {
        "tokenType": "Bearer",
        "expiresAt": format_timestamp(expires_at),
        "expiresIn": int(lifetime.total_seconds()),
        "publisherId": str(publisher.publisher_id),
        "developerId": str(publisher.developer_id),
        "gameIds": [str(game_id) for game_id in publisher.game_ids],
        "scopes": list(publisher.scopes),
    }
    ci = Actor(
        f"oidc:{claims['iss']}#{claims['sub']}"[:MAX_ACTOR_LENGTH], is_service=True, request_id=request_id
    )
    audit(
        session,
        ci,
        developer_id=publisher.developer_id,
        action="upload_token.issued",
        entity_type="upload_token",
        entity_id=token_id,
        before=None,
        after={**result, "tokenId": str(token_id), "subject": claims["sub"]},
    )
    return {**result, "token": token}
