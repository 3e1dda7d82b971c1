"""Rows → the public JSON shapes (camelCase, timestamps ISO 8601 UTC with Z). The same shapes
go into the audit log's before/after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from developer_portal.domain import apikeys
from developer_portal.domain.pricing import Discount, Money, Pricing
from gamekeys_platform.errors import format_optional_timestamp as ts


def developer(row: Row, role: str | None = None) -> dict[str, Any]:
    return {
        "developerId": str(row.developer_id),
        "companyName": row.company_name,
        "legalDetails": row.legal_details,
        "verificationStatus": row.verification_status,
        "verificationReason": row.verification_reason,
        "verifiedAt": ts(row.verified_at),
        "suspension": (
            {
                "suspendedAt": ts(row.suspended_at),
                "reason": row.suspension_reason,
                "suspendedBy": row.suspended_by,
            }
            if row.suspended_at is not None
            else None
        ),
        "role": role,
        "createdAt": ts(row.created_at),
        "updatedAt": ts(row.updated_at),
    }


def member(row: Row) -> dict[str, Any]:
    return {
        "userId": str(row.user_id),
        "developerId": str(row.developer_id),
        "email": row.email,
        "role": row.role,
        "addedAt": ts(row.added_at),
        "updatedAt": ts(row.updated_at),
    }


def invitation(row: Row, company_name: str) -> dict[str, Any]:
    return {
        "invitationId": str(row.invitation_id),
        "developerId": str(row.developer_id),
        "companyName": company_name,
        "email": row.email,
        "role": row.role,
        "status": row.status,
        "invitedBy": str(row.invited_by),
        "createdAt": ts(row.created_at),
        "expiresAt": ts(row.expires_at),
        "respondedAt": ts(row.responded_at),
    }


def game(row: Row) -> dict[str, Any]:
    return {
        "gameId": str(row.game_id),
        "developerId": str(row.developer_id),
        "title": row.title,
        "status": row.status,
        "releaseAt": ts(row.release_at),
        "publishedAt": ts(row.published_at),
        "publishedVersionId": str(row.published_version_id) if row.published_version_id else None,
        "createdAt": ts(row.created_at),
        "updatedAt": ts(row.updated_at),
    }


def submission(row: Row) -> dict[str, Any]:
    return {
        "submissionId": str(row.submission_id),
        "gameId": str(row.game_id),
        "versionId": str(row.version_id),
        "status": row.status,
        "submittedBy": row.submitted_by,
        "submittedAt": ts(row.submitted_at),
        "previousSubmissionId": str(row.previous_submission_id) if row.previous_submission_id else None,
        "changes": row.changes,
        "decision": row.decision,
        "notes": row.notes,
        "findings": row.findings,
        "decidedBy": row.decided_by,
        "decidedAt": ts(row.decided_at),
    }


def game_metadata(game_id: Any, row: Row | None) -> dict[str, Any]:
    if row is None:
        return {
            "gameId": str(game_id),
            "description": None,
            "shortDescription": None,
            "systemRequirements": {},
            "tags": [],
            "genres": [],
            "ageRating": None,
            "mediaUrls": {},
            "updatedAt": None,
        }
    return {
        "gameId": str(game_id),
        "description": row.description,
        "shortDescription": row.short_description,
        "systemRequirements": row.system_requirements,
        "tags": list(row.tags),
        "genres": list(row.genres),
        "ageRating": row.age_rating,
        "mediaUrls": row.media_urls,
        "updatedAt": ts(row.updated_at),
    }


def pricing_from_row(row: Row) -> Pricing:
    return Pricing(
        base_price=Money(row.base_amount, row.base_currency),
        regional_prices={country: Money.from_json(money) for country, money in row.regional_prices.items()},
        discounts=tuple(Discount.from_json(raw) for raw in row.discounts),
    )


def game_pricing(game_id: Any, row: Row | None, now: datetime) -> dict[str, Any]:
    if row is None:
        return {
            "gameId": str(game_id),
            "basePrice": None,
            "regionalPrices": {},
            "discount": None,
            "discounts": [],
            "currentPrice": None,
            "updatedAt": None,
        }
    prices = pricing_from_row(row)
    return {
        "gameId": str(game_id),
        **prices.to_json(now),
        "currentPrice": prices.price_at(now).to_json(),
        "updatedAt": ts(row.updated_at),
    }


def audit_entry(row: Row) -> dict[str, Any]:
    return {
        "auditId": row.audit_id,
        "developerId": str(row.developer_id),
        "actorType": row.actor_type,
        "actorId": row.actor_id,
        "action": row.action,
        "entityType": row.entity_type,
        "entityId": row.entity_id,
        "before": row.before,
        "after": row.after,
        "requestId": row.request_id,
        "occurredAt": ts(row.occurred_at),
    }


def api_key(row: Row, now: datetime) -> dict[str, Any]:
    """A CI API key as its studio sees it: never the key, its prefix and last 4 only."""
    current = apikeys.status(revoked_at=row.revoked_at, expires_at=row.expires_at, now=now)
    return {
        "keyId": str(row.key_id),
        "developerId": str(row.developer_id),
        "name": row.name,
        "prefix": row.prefix,
        "last4": row.last4,
        "scopes": list(row.scopes),
        "gameIds": [str(game_id) for game_id in row.game_ids],
        "status": current.value,
        "createdBy": str(row.created_by),
        "createdAt": ts(row.created_at),
        "expiresAt": ts(row.expires_at),
        "lastUsedAt": ts(row.last_used_at),
        "lastUsedAddress": row.last_used_address,
        "revokedAt": ts(row.revoked_at),
        "revokedReason": row.revoked_reason,
        "rolledFrom": str(row.rolled_from) if row.rolled_from else None,
        "rolledTo": str(row.rolled_to) if row.rolled_to else None,
    }


def trusted_publisher(row: Row) -> dict[str, Any]:
    return {
        "publisherId": str(row.publisher_id),
        "developerId": str(row.developer_id),
        "issuer": row.issuer,
        "claims": dict(row.conditions),
        "scopes": list(row.scopes),
        "gameIds": [str(game_id) for game_id in row.game_ids],
        "createdBy": str(row.created_by),
        "createdAt": ts(row.created_at),
    }
