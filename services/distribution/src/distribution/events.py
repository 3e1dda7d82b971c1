"""distribution.events built from distribution's records: each function returns the type's
contract (``gamekeys_platform.contracts.distribution``). No event carries a key or a secret."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from gamekeys_platform.contracts import distribution as contract
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.currencies import format_amount


def _retailer(row) -> dict:
    return {
        "retailer_id": row.id,
        "name": row.name,
        "status": row.status,
        "commission_rate": row.commission_rate,
        "allowed_game_ids": row.allowed_game_ids,
        "allowed_regions": row.allowed_regions,
    }


def retailer_added(row, *, created_by: str) -> contract.RetailerAdded:
    return contract.RetailerAdded(**_retailer(row), created_by=created_by)


def retailer_updated(
    row, *, changed_fields: list[str], previous_status: str, reason: str | None, updated_by: str
) -> contract.RetailerUpdated:
    return contract.RetailerUpdated(
        **_retailer(row),
        changed_fields=changed_fields,
        previous_status=previous_status,
        reason=reason,
        updated_by=updated_by,
    )


def allocation_created(row) -> contract.AllocationCreated:
    return contract.AllocationCreated(
        allocation_id=row.id,
        retailer_id=row.retailer_id,
        game_id=row.game_id,
        key_type=row.key_type,
        quantity=row.quantity,
        pricing=Money(
            amount=format_amount(row.price_amount, row.price_currency), currency=row.price_currency
        ),
        restrictions=row.restrictions,
        created_at=row.created_at,
    )


def allocation_released(
    row, *, released: int, status: str, reason: str, released_by: str
) -> contract.AllocationReleased:
    return contract.AllocationReleased(
        allocation_id=row.id,
        retailer_id=row.retailer_id,
        game_id=row.game_id,
        quantity=row.quantity,
        released=released,
        released_total=row.released_keys,
        status=status,
        reason=reason,
        released_by=released_by,
    )


def low_stock(row, *, unsold: int, threshold: int) -> contract.AllocationLowStock:
    return contract.AllocationLowStock(
        allocation_id=row.id,
        retailer_id=row.retailer_id,
        game_id=row.game_id,
        quantity=row.quantity,
        unsold=unsold,
        threshold_percent=threshold,
    )


def _game_units(games: Mapping[uuid.UUID, int]) -> list[contract.GameUnits]:
    return [contract.GameUnits(game_id=game_id, quantity=games[game_id]) for game_id in sorted(games)]


def sale_recorded(sale, key_ids, totals, games: Mapping[uuid.UUID, int]) -> contract.SaleRecorded:
    currency = sale["currency"]
    return contract.SaleRecorded(
        sale_id=sale["id"],
        retailer_id=sale["retailer_id"],
        order_id=sale["order_id"],
        key_ids=key_ids,
        quantity=sale["units"],
        unit_price=Money(amount=sale["unit_price"], currency=currency),
        gross=Money(amount=totals.gross, currency=currency),
        commission=Money(amount=totals.commission, currency=currency),
        net=Money(amount=totals.net, currency=currency),
        sold_at=sale["sold_at"],
        games=_game_units(games),
    )


def sale_returned(return_row, sale, key_ids, games: Mapping[uuid.UUID, int]) -> contract.SaleReturned:
    return contract.SaleReturned(
        return_id=return_row["id"],
        sale_id=sale.id,
        retailer_id=sale.retailer_id,
        order_id=sale.order_id,
        key_ids=key_ids,
        quantity=len(key_ids),
        reason=return_row["reason"],
        games=_game_units(games),
    )


def sale_charged_back(
    chargeback, sale, key_ids, *, revoked, disputed, games: Mapping[uuid.UUID, int]
) -> contract.SaleChargedBack:
    return contract.SaleChargedBack(
        chargeback_id=chargeback.id,
        sale_id=sale.id,
        retailer_id=sale.retailer_id,
        order_id=sale.order_id,
        key_ids=key_ids,
        quantity=len(key_ids),
        amount=Money(
            amount=format_amount(sale.unit_price * len(key_ids), sale.currency), currency=sale.currency
        ),
        revoked_key_ids=revoked,
        disputed_key_ids=disputed,
        reason=chargeback.reason,
        charged_back_at=chargeback.created_at,
        games=_game_units(games),
    )


def stock_revoked(revocation, item: Mapping, *, retailer_id: uuid.UUID) -> contract.StockRevoked:
    """One allocation's share of a revocation (``item``: key-manager's report line)."""
    return contract.StockRevoked(
        request_id=revocation.request_id,
        retailer_id=retailer_id,
        allocation_id=item["allocationId"],
        game_id=item["gameId"],
        revoked_keys=item["revoked"],
        left_sold=item["leftSold"],
        left_activated=item["leftActivated"],
        reason=revocation.reason,
        revoked_by=revocation.created_by,
        revoked_at=revocation.created_at,
    )
