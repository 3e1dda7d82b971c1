"""A key's provenance, assembled from what each service owns: key-manager's key, batch, state
changes, store order and dispute; distribution's channel (retailer, allocation, delivery, sale
and price, return, chargeback); activation-gateway's activation and its fraud outcome. Plain
data in (rows as mappings, the neighbours' answers as dicts, None when absent or unavailable),
one camelCase dict out (``returned`` is answered as ``return``), every step with its time.
Never the plaintext key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gamekeys_platform.errors import format_optional_timestamp as ts


def _step(steps: list[dict], step: str, at: datetime | str | None, **details: Any) -> None:
    if at is not None:
        steps.append({"step": step, "at": at if isinstance(at, str) else ts(at), **details})


def assemble(
    *,
    key: Mapping[str, Any],
    batch: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    dispute: Mapping[str, Any] | None,
    store_order: Mapping[str, Any] | None,
    channel: dict | None,
    activation: dict | None,
    incomplete: Sequence[str],
) -> dict[str, Any]:
    steps: list[dict] = []
    _step(steps, "generated", key["created_at"], batchId=str(key["batch_id"]), by=batch["created_by"])
    for change in history:
        _step(
            steps,
            change["to_status"],
            change["created_at"],
            fromStatus=change["from_status"],
            operation=change["operation"],
            by=change["actor"],
            reason=change["reason"],
        )
    allocation = sale = returned = chargeback = refund = None
    if channel is not None:
        allocation = {
            "allocationId": channel["allocationId"],
            "retailerId": channel["retailerId"],
            "retailerName": channel["retailerName"],
            "allocatedAt": channel["allocatedAt"],
            "deliveredAt": channel["deliveredAt"],
        }
        _step(steps, "delivered", channel["deliveredAt"], retailerId=channel["retailerId"])
        if channel["sale"] is not None:
            sale = {"channel": "retailer", **channel["sale"]}
        returned = channel["return"]
        if returned is not None:
            _step(steps, "returned", returned["returnedAt"], reason=returned["reason"])
        chargeback = channel["chargeback"]
        if chargeback is not None:
            _step(steps, "charged_back", chargeback["chargedBackAt"], outcome=chargeback["outcome"])
    elif key["allocation_id"] is not None:
        allocation = {
            "allocationId": str(key["allocation_id"]),
            "retailerId": str(key["retailer_id"]) if key["retailer_id"] else None,
            "retailerName": None,
            "allocatedAt": None,
            "deliveredAt": None,
        }
    if sale is None and key["order_id"] is not None:
        sale = {"channel": "store" if store_order is not None else "retailer", "orderId": key["order_id"]}
        sale.update({"soldAt": ts(key["sold_at"]), "price": None})
    if store_order is not None and store_order["refunded_at"] is not None:
        refund = {"orderId": store_order["order_id"], "refundedAt": ts(store_order["refunded_at"]),
                  "reason": store_order["refund_reason"]}  # fmt: skip
        _step(steps, "refunded", store_order["refunded_at"], orderId=store_order["order_id"])
    activated = None
    if key["activated_at"] is not None:
        activated = {
            "activationId": key["activation_id"],
            "activatedAt": ts(key["activated_at"]),
            "userId": key["activated_by"],
            "region": key["activation_region"],
            "ipCountry": activation["ipCountry"] if activation else None,
            "status": activation["status"] if activation else "activated",
            "fraud": activation["fraud"] if activation else None,
        }
    disputed = None
    if dispute is not None:
        disputed = {
            "source": dispute["source"],
            "reference": dispute["reference"],
            "reason": dispute["reason"],
            "disputedAt": ts(dispute["created_at"]),
        }
        _step(steps, "disputed", dispute["created_at"], source=dispute["source"])
    steps.sort(key=lambda step: step["at"])
    return {
        "keyId": str(key["id"]),
        "gameId": str(key["game_id"]),
        "developerId": str(key["developer_id"]),
        "keyType": key["key_type"],
        "status": key["status"],
        "batch": {
            "batchId": str(batch["id"]),
            "createdAt": ts(batch["created_at"]),
            "createdBy": batch["created_by"],
            "generatedAt": ts(batch["completed_at"]),
        },
        "allocation": allocation,
        "sale": sale,
        "returned": returned,  # answered as "return"
        "chargeback": chargeback,
        "refund": refund,
        "activation": activated,
        "dispute": disputed,
        "steps": steps,
        "incomplete": sorted(incomplete),
    }
