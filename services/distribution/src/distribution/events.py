"""``data`` of the events on distribution.events (docs/events.md). No event carries a key or a secret."""

from __future__ import annotations

from datetime import datetime

from gamekeys_platform.errors import format_timestamp


def ts(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def retailer_data(row, **extra) -> dict:
    return {
        "retailerId": str(row.id),
        "name": row.name,
        "status": row.status,
        "commissionRate": str(row.commission_rate),
        "allowedGameIds": [str(g) for g in row.allowed_game_ids],
        "allowedRegions": list(row.allowed_regions),
        **extra,
    }


def allocation_created(row) -> dict:
    return {
        "allocationId": str(row.id),
        "retailerId": str(row.retailer_id),
        "gameId": str(row.game_id),
        "keyType": row.key_type,
        "quantity": row.quantity,
        "pricing": {"amount": str(row.price_amount), "currency": row.price_currency},
        "restrictions": row.restrictions,
        "createdAt": ts(row.created_at),
    }


def allocation_released(row, *, released: int, status: str, reason: str, released_by: str) -> dict:
    return {
        "allocationId": str(row.id),
        "retailerId": str(row.retailer_id),
        "gameId": str(row.game_id),
        "quantity": row.quantity,
        "released": released,
        "releasedTotal": row.released_keys,
        "status": status,
        "reason": reason,
        "releasedBy": released_by,
    }


def low_stock(row, *, unsold: int, threshold: int) -> dict:
    return {
        "allocationId": str(row.id),
        "retailerId": str(row.retailer_id),
        "gameId": str(row.game_id),
        "quantity": row.quantity,
        "unsold": unsold,
        "thresholdPercent": threshold,
    }


def sale_recorded(sale, key_ids, totals) -> dict:
    return {
        "saleId": str(sale["id"]),
        "retailerId": str(sale["retailer_id"]),
        "orderId": sale["order_id"],
        "keyIds": [str(k) for k in key_ids],
        "quantity": sale["units"],
        "unitPrice": {"amount": str(sale["unit_price"]), "currency": sale["currency"]},
        "gross": {"amount": str(totals.gross), "currency": sale["currency"]},
        "commission": {"amount": str(totals.commission), "currency": sale["currency"]},
        "net": {"amount": str(totals.net), "currency": sale["currency"]},
        "soldAt": ts(sale["sold_at"]),
    }


def sale_returned(return_row, sale, key_ids) -> dict:
    return {
        "returnId": str(return_row["id"]),
        "saleId": str(sale.id),
        "retailerId": str(sale.retailer_id),
        "orderId": sale.order_id,
        "keyIds": [str(k) for k in key_ids],
        "quantity": len(key_ids),
        "reason": return_row["reason"],
    }
