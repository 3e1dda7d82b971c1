"""The 4xx answers, headers and security of each operation in /openapi.json, derived once from
what its route already declares: the auth decorators, ``@idempotent``, ``@blp.arguments``, path
parameters, rate limits. Decorators record facts with ``declare``; the library's Blueprint turns
them into responses with §3's error schema (``document_operation``), so the spec lists what an
operation really answers and a fuzzer can check it."""

from __future__ import annotations

import http
from copy import deepcopy
from typing import Any

# Where the facts live: inside flask-smorest's own ``_apidoc``, which ``functools.wraps`` carries
# up through every decorator to the function the route registers.
_FACTS = "gamekeys"

IDEMPOTENCY_HEADER_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "A retry with the same key and body replays the first answer (same status and "
    "body); with another body 422 IDEMPOTENCY_CONFLICT; while the first still runs 409 with "
    "Retry-After. Scoped to the caller, kept 24 h.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}

# What each status means on this platform (ARCHITECTURE.md §3), the part every route shares.
_WHY = {
    "body": {
        400: "VALIDATION_ERROR: malformed JSON",
        413: "PAYLOAD_TOO_LARGE: the body is over the size limit",
        422: "VALIDATION_ERROR: the body breaks the schema (the fields in details.fields)",
    },
    "query": {422: "VALIDATION_ERROR: a query parameter breaks the schema (details.fields)"},
    "auth": {
        401: "UNAUTHORIZED: no token, or an expired or forged one",
        403: "FORBIDDEN: the token lacks the role, scope or ownership this operation needs",
    },
    "path": {404: "NOT_FOUND (or KEY_NOT_FOUND): no such resource, or not one the caller may see"},
    "idempotent": {
        400: "VALIDATION_ERROR: Idempotency-Key is not 1-255 visible ASCII characters (or is missing "
        "where required)",
        409: "CONFLICT (details.reason IDEMPOTENCY_IN_PROGRESS): a request with this Idempotency-Key "
        "is still running; retry after Retry-After",
        422: "IDEMPOTENCY_CONFLICT: this Idempotency-Key was used with another request",
    },
    "rate_limited": {429: "RATE_LIMITED: too many calls; retry after Retry-After"},
}
SERVER_ERRORS = (
    "INTERNAL_ERROR 500; EXTERNAL_SERVICE_ERROR 502; DATABASE_ERROR or SERVICE_UNAVAILABLE 503 (Retry-After)"
)


def declare(view: Any, **facts: Any) -> None:
    """Record facts about ``view`` for its operation's documentation: ``security`` (an OpenAPI
    security requirement list), ``authenticated``, ``idempotent``, ``rate_limited``,
    ``errors`` ({status: why}, answers of the route's own)."""
    apidoc = deepcopy(getattr(view, "_apidoc", {}))
    recorded = apidoc.setdefault(_FACTS, {})
    errors = {**recorded.get("errors", {}), **facts.pop("errors", {})}
    recorded.update(facts, errors=errors)
    view._apidoc = apidoc


def error_responses(statuses: dict[int, str]):
    """Decorator: ``@error_responses({409: "CONFLICT: ..."})`` documents answers a route gives beyond
    those its declarations imply."""

    def decorator(view):
        declare(view, errors=statuses)
        return view

    return decorator


def note_path_parameters(doc_info: dict, rule: str) -> None:
    """Record whether the operation's URL rule has path parameters (an id that may not exist)."""
    doc_info.setdefault(_FACTS, {})["path_parameters"] = "<" in rule


def document_operation(doc: dict, doc_info: dict, *, api, **_kwargs) -> dict:
    """flask-smorest doc callback: complete one operation from the recorded facts."""
    facts = doc_info.get(_FACTS, {})
    locations = {
        parameter.get("in") for parameter in doc.get("parameters", []) if isinstance(parameter, dict)
    }
    why: dict[int, list[str]] = {}

    def add(kind: str) -> None:
        for status, text in _WHY[kind].items():
            why.setdefault(status, []).append(text)

    if "requestBody" in doc:
        add("body")
    if "query" in locations:
        add("query")
    if facts.get("authenticated"):
        add("auth")
    if facts.get("path_parameters"):
        add("path")
    if facts.get("idempotent"):
        add("idempotent")
        doc.setdefault("parameters", []).append(
            {**IDEMPOTENCY_HEADER_PARAMETER, "required": facts["idempotent"] == "required"}
        )
    if facts.get("rate_limited"):
        add("rate_limited")
    for status, text in facts.get("errors", {}).items():
        why.setdefault(int(status), []).append(text)
    if "security" in facts:
        doc["security"] = facts["security"]

    responses = doc.setdefault("responses", {})
    for status, texts in sorted(why.items()):
        declared = responses.get(status, responses.get(str(status)))
        if isinstance(declared, dict):  # the route's own answer for it (e.g. a RedemptionResult)
            continue
        responses.pop(status, None)
        responses[str(status)] = _error_response(
            api, f"{http.HTTPStatus(status).phrase}. " + "; ".join(texts)
        )
    responses["5XX"] = _error_response(api, SERVER_ERRORS)
    return doc


def _error_response(api, description: str) -> dict:
    return {
        "description": description,
        "content": {api.DEFAULT_RESPONSE_CONTENT_TYPE: {"schema": api.ERROR_SCHEMA}},
    }
