"""Content negotiation of the series answers: JSON by default, ``Accept: text/csv`` for a CSV
table, ``Accept: image/png`` for a chart (``analytics.charts``)."""

from __future__ import annotations

from flask import Response, request

from analytics import charts

JSON, CSV, PNG = "application/json", "text/csv", "image/png"


def alternatives(schema) -> dict:
    """A series route's OpenAPI 200 answer in its three media types: ``@blp.doc(responses=
    alternatives(Schema))`` beside ``@blp.response(200, Schema)`` (content written by hand
    replaces the one the response decorator would have made, so JSON is named here too)."""
    return {
        "200": {
            "content": {
                JSON: {"schema": schema},
                CSV: {"schema": {"type": "string", "description": "RFC 4180 table, one row per point"}},
                PNG: {"schema": {"type": "string", "format": "binary", "description": "a chart"}},
            }
        }
    }


def negotiated(kind: str, body: dict, *, title: str, name: str):
    """``body`` as the caller accepts it (JSON unless it prefers CSV or PNG); ``name`` is the
    download's file name without extension."""
    best = request.accept_mimetypes.best_match((JSON, CSV, PNG), default=JSON)
    if best == CSV:
        return Response(
            charts.to_csv(kind, body),
            mimetype=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if best == PNG:
        return Response(charts.to_png(kind, body, title=title), mimetype=PNG)
    return body
