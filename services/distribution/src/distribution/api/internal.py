"""Internal API, ``/internal/v1/distribution`` (service tokens; the gateway never routes it):
what distribution knows of one key (its retailer, allocation, delivery, sale with its price,
return or chargeback), for key-manager's provenance of a key (scope ``distribution:read``)."""

from __future__ import annotations

from distribution.api import schemas as s
from distribution.api.common import ts
from distribution.db import repository as repo
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.currencies import format_amount
from gamekeys_platform.db import request_session
from gamekeys_platform.errors import ApiError

SCOPE_READ = "distribution:read"

blp = Blueprint(
    "distribution-internal",
    __name__,
    url_prefix="/internal/v1/distribution",
    description="Service-to-service reads (key provenance)",
)


@blp.route("/keys/<uuid:key_id>", methods=["GET"])
@require_scopes(SCOPE_READ)
@blp.arguments(s.KeyProvenanceQuerySchema, location="query")
@blp.response(200, s.KeyProvenanceSchema)
def key_provenance(query, key_id):
    """One key's channel: the retailer and allocation it was given under (``allocationId``, as
    key-manager knows it, names the allocation when the retailer never fetched the key), when
    the retailer received it, the sale (order, time, price), its return or chargeback. 404 when
    distribution knows nothing of the key."""
    found = repo.key_channel(request_session(), key_id, query["allocationId"])
    if found is None:
        raise ApiError("NOT_FOUND", "distribution knows nothing of this key")
    allocation, retailer, delivered, sold, returned, charged_back = found
    sale = None
    if sold is not None:
        sale = {
            "saleId": sold.id,
            "orderId": sold.order_id,
            "price": {"amount": format_amount(sold.unit_price, sold.currency), "currency": sold.currency},
            "soldAt": ts(sold.sold_at),
            "recordedAt": ts(sold.created_at),
        }
    return {
        "keyId": key_id,
        "retailerId": retailer.id,
        "retailerName": retailer.name,
        "allocationId": allocation.id,
        "allocatedAt": ts(allocation.created_at),
        "suggestedPrice": {
            "amount": format_amount(allocation.price_amount, allocation.price_currency),
            "currency": allocation.price_currency,
        },
        "deliveredAt": ts(delivered.first_delivered_at) if delivered is not None else None,
        "sale": sale,
        "returned": (  # answered as "return"
            {"returnId": returned.id, "reason": returned.reason, "returnedAt": ts(returned.created_at)}
            if returned is not None
            else None
        ),
        "chargeback": (
            {
                "chargebackId": charged_back.id,
                "reason": charged_back.reason,
                "outcome": charged_back.outcome,
                "chargedBackAt": ts(charged_back.created_at),
            }
            if charged_back is not None
            else None
        ),
    }
