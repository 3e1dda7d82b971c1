"""Finance: the studios' double-entry ledger (``entries``), what sales, returns, store revenue,
refunds and chargebacks post to it and the release of holds (``sales``), payouts and their
settings (``payouts``), and the platform admins' revenue share and adjustments (``admin``).
Views, the worker and tests use the names below."""

from developer_portal.usecases.finance.admin import adjust, revenue_share_document, set_revenue_share
from developer_portal.usecases.finance.entries import balance_document, balances, entry_documents, post
from developer_portal.usecases.finance.payouts import (
    make_scheduled_payouts,
    mark_processing,
    payout_document,
    preview,
    request_payout,
    settings_document,
    update_settings,
)
from developer_portal.usecases.finance.sales import finance_events, release_holds

__all__ = [
    "adjust",
    "balance_document",
    "balances",
    "entry_documents",
    "finance_events",
    "make_scheduled_payouts",
    "mark_processing",
    "payout_document",
    "post",
    "preview",
    "release_holds",
    "request_payout",
    "revenue_share_document",
    "set_revenue_share",
    "settings_document",
    "update_settings",
]
