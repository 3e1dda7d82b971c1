"""Trusted publishing: the CI identities a studio trusts (studio admins manage them; developers
and platform admins read), and the exchange of a CI identity token for an upload token."""

from __future__ import annotations

import uuid
from datetime import datetime

from developer_portal.api import access
from developer_portal.api.blueprints import public
from developer_portal.api.schemas import (
    StudioPageQuerySchema,
    TokenExchangeSchema,
    TrustedPublisherCreateSchema,
    TrustedPublisherPageSchema,
    TrustedPublisherSchema,
    UploadTokenSchema,
)
from developer_portal.context import portal
from developer_portal.domain.permissions import Action
from developer_portal.usecases import trusted_publishing
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor
from gamekeys_platform.request_context import current_request_id


@public.route("/trusted-publishers", methods=["POST"])
@error_responses(
    {
        **access.NO_STUDIO,
        422: "VALIDATION_ERROR: an issuer the platform does not trust (UNKNOWN_ISSUER, details.issuers), "
        "conditions that name no repository or project, or a game that is not the studio's (UNKNOWN_GAME)",
    }
)
@access.require_user
@transactional
@public.arguments(TrustedPublisherCreateSchema)
@public.response(201, TrustedPublisherSchema)
def create_publisher(body):
    """Trust a CI identity: an OIDC issuer and exact claim conditions (`subject`, or `claims` such
    as `repository` and `workflow_ref`) for some of the studio's games and scopes (studio admins)."""
    studio = access.own_studio(Action.TRUSTED_PUBLISHER_MANAGE)
    return trusted_publishing.create_publisher(
        portal(),
        request_session(),
        access.actor(),
        studio.developer,
        issuer=body["issuer"],
        subject=body["subject"],
        claims=body["claims"],
        scopes=body["scopes"],
        game_ids=body["gameIds"],
    )


@public.route("/trusted-publishers", methods=["GET"])
@error_responses(access.NO_STUDIO)
@access.require_user
@public.arguments(StudioPageQuerySchema, location="query")
@public.response(200, TrustedPublisherPageSchema)
def list_publishers(query):
    """The CI identities the studio trusts, newest first (studio admins and developers; platform
    admins with `developerId`)."""
    studio = access.studio_to_read(query["developerId"], Action.TRUSTED_PUBLISHER_READ)
    after = decode_cursor(query["cursor"], (datetime, uuid.UUID))
    return trusted_publishing.list_publishers(
        request_session(), studio.developer.developer_id, after=after, limit=query["limit"]
    )


@public.route("/trusted-publishers/<uuid:publisher_id>", methods=["DELETE"])
@error_responses(access.NO_STUDIO)
@access.require_user
@transactional
@public.response(204)
def delete_publisher(publisher_id):
    """Stop trusting a CI identity; the upload tokens it was given stop working too (studio admins)."""
    studio = access.own_studio(Action.TRUSTED_PUBLISHER_MANAGE)
    trusted_publishing.delete_publisher(
        request_session(), access.actor(), studio.developer.developer_id, publisher_id
    )


@public.route("/oidc/token", methods=["POST"])
@public.doc(security=[])
@error_responses(
    {
        401: "UNAUTHORIZED: the identity token is not valid (details.reason: MALFORMED, UNTRUSTED_ISSUER, "
        "UNKNOWN_KEY, EXPIRED, WRONG_AUDIENCE, INVALID...) or was exchanged already (TOKEN_REUSED)",
        403: "FORBIDDEN: no trusted publisher matches the identity (NO_TRUSTED_PUBLISHER)",
        409: "CONFLICT: several trusted publishers match; name one with publisherId (AMBIGUOUS_PUBLISHER)",
    }
)
@transactional
@public.arguments(TokenExchangeSchema)
@public.response(201, UploadTokenSchema)
def exchange_token(body):
    """Exchange a CI's OIDC identity token (GitHub Actions, GitLab) for an upload token (`gkpt_...`,
    at most 15 minutes) limited to the trusted publisher's games and scopes. No platform token:
    the identity token is the credential."""
    return trusted_publishing.exchange(
        portal(),
        request_session(),
        body["token"],
        publisher_id=body["publisherId"],
        request_id=current_request_id(),
    )
