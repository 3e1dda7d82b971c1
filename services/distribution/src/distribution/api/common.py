"""Small helpers the views share: who is acting, the request id, row → JSON."""

from __future__ import annotations

from flask import g

from gamekeys_platform.currencies import format_amount
from gamekeys_platform.errors import format_optional_timestamp as ts


def actor() -> str:
    principal = g.get("principal")
    return principal.subject if principal is not None else "anonymous"


def retailer_dict(row, *, client_secret: str | None = None) -> dict:
    credentials = {"clientId": row.client_id}
    if client_secret is not None:
        credentials["clientSecret"] = client_secret
    return {
        "id": row.id,
        "name": row.name,
        "contactInfo": row.contact_info,
        "apiCredentials": credentials,
        "commissionRate": str(row.commission_rate),
        "status": row.status,
        "allowedGameIds": list(row.allowed_game_ids),
        "allowedRegions": list(row.allowed_regions),
        "credentialsRotatedAt": ts(row.credentials_rotated_at),
        "createdAt": ts(row.created_at),
        "updatedAt": ts(row.updated_at),
    }


def allocation_dict(row) -> dict:
    return {
        "allocationId": row.id,
        "retailerId": row.retailer_id,
        "gameId": row.game_id,
        "keyType": row.key_type,
        "quantity": row.quantity,
        "pricing": {
            "amount": format_amount(row.price_amount, row.price_currency),
            "currency": row.price_currency,
        },
        "restrictions": row.restrictions,
        "createdAt": ts(row.created_at),
    }
