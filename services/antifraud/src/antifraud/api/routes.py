"""Every route of ``/api/v1/antifraud`` (ARCHITECTURE.md §5, the seed's AntiFraudEngine), a
blueprint per resource: each module parses, authorizes, calls a use case (``antifraud.usecases``)
or a query, and shapes the answer with the serializers beside its views."""

from __future__ import annotations

from antifraud.api import analyze, blocks, cases, insights, rules

BLUEPRINTS = (analyze.blp, rules.blp, cases.blp, blocks.blp, insights.blp)
