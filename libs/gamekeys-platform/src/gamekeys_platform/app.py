"""The service app factory: what every Flask service of the platform is built on.

It gives each service the same request id handling, JSON access log, §3 error bodies for
every failure, OpenAPI at /openapi.json (flask-smorest), /healthz, /readyz and /metrics.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import flask_smorest
import marshmallow as ma
import redis
import sqlalchemy.exc
from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from gamekeys_platform import tracing
from gamekeys_platform.auth import JwtVerifier, init_auth
from gamekeys_platform.errors import ApiError, error_body, service_unavailable
from gamekeys_platform.logs import configure_logging
from gamekeys_platform.metrics import HTTP_LATENCY, HTTP_REQUESTS, render_metrics
from gamekeys_platform.openapi import document_operation, note_path_parameters
from gamekeys_platform.refusals import Refusal
from gamekeys_platform.request_context import (
    current_request_id,
    new_request_id,
    reset_request_id,
    set_request_id,
)
from gamekeys_platform.settings import PlatformSettings

log = logging.getLogger("gamekeys.http")

REQUEST_ID_HEADER = "X-Request-Id"
# Probes and scrapes are neither logged nor traced: they would bury the requests that matter.
OPERATIONAL_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# HTTP errors raised by Flask/Werkzeug/webargs themselves, in §3 terms.
_CODE_BY_HTTP_STATUS = {
    400: ("VALIDATION_ERROR", "the request is malformed"),
    401: ("UNAUTHORIZED", "authentication required"),
    403: ("FORBIDDEN", "not allowed"),
    404: ("NOT_FOUND", "no such resource"),
    405: ("METHOD_NOT_ALLOWED", "method not allowed on this resource"),
    409: ("CONFLICT", "conflict with the current state"),
    413: ("PAYLOAD_TOO_LARGE", "request body too large"),
    415: ("VALIDATION_ERROR", "unsupported media type"),
    422: ("VALIDATION_ERROR", "the request does not match the schema"),
    429: ("RATE_LIMITED", "too many requests"),
}

# A readiness check raises when its dependency is unavailable; what it returns (a dict, e.g. the
# IP data's dates) is shown under /readyz's ``details``.
ReadyCheck = Callable[[], dict | None]


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(required=True)
    timestamp = ma.fields.String(required=True)
    requestId = ma.fields.String(required=True, allow_none=True)


class ErrorResponseSchema(ma.Schema):
    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class PlatformApi(flask_smorest.Api):
    """flask-smorest Api whose own error responses (schema 422, JSON 400) use §3's body."""

    ERROR_SCHEMA = ErrorResponseSchema
    # No "default" response: it would allow any status, and each operation lists its own.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException):
        return _render_http_exception(error)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint for the services' routes. ``arguments`` turns a schema class into
    one instance shared by every request: given the class, webargs builds the schema (and each
    nested one) per request, a few percent of a busy service's CPU. A marshmallow schema keeps
    no state between loads, so sharing it between threads is safe.

    Each operation's error answers, Idempotency-Key header and security are documented from what
    its route declares (``gamekeys_platform.openapi``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(document_operation)

    def add_url_rule(self, rule, endpoint=None, view_func=None, provide_automatic_options=None, **kwargs):
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **kwargs)
        for method, doc_info in self._docs[self._endpoints[-1]].items():
            if method != "parameters":
                note_path_parameters(doc_info, rule)

    def arguments(self, schema, *args, **kwargs):
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)


def create_service_app(
    settings: PlatformSettings,
    *,
    title: str,
    blueprints: Iterable[flask_smorest.Blueprint] = (),
    ready_checks: dict[str, ReadyCheck] | None = None,
    version: str = "1.0.0",
    security_schemes: dict[str, dict] | None = None,
) -> Flask:
    """``security_schemes``: OpenAPI security schemes beside the platform's bearer JWT
    (``bearerAuth``, every operation's default), for routes that declare them."""
    configure_logging(settings.service_name, settings.log_level)
    tracing.configure_tracing(settings)
    app = Flask(settings.service_name)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE=title,
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "security": [{"bearerAuth": []}],
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    **(security_schemes or {}),
                }
            },
        },
    )
    app.extensions["gamekeys_settings"] = settings
    init_auth(app, JwtVerifier.from_settings(settings))
    api = PlatformApi(app)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    app.extensions["gamekeys_api"] = api

    _install_request_hooks(app, settings.service_name)
    _install_error_handlers(app)
    _install_operational_routes(app, ready_checks or {})
    return app


def _install_request_hooks(app: Flask, service_name: str) -> None:
    @app.before_request
    def start_request() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else new_request_id()
        g.request_id_token = set_request_id(request_id)
        g.started_at = time.perf_counter()
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        if route not in OPERATIONAL_ROUTES:
            # The caller's traceparent (the API gateway's, or a calling service's) is continued.
            g.trace_span = tracing.start_span(
                f"{request.method} {route}",
                kind=tracing.SpanKind.SERVER,
                parent=tracing.context_from_headers(request.headers),
                attributes={"http.request.method": request.method, "http.route": route},
            )

    @app.after_request
    def finish_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = current_request_id() or new_request_id()
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        status = str(response.status_code)
        elapsed = time.perf_counter() - g.get("started_at", time.perf_counter())
        HTTP_REQUESTS.labels(service_name, request.method, route, status).inc()
        HTTP_LATENCY.labels(service_name, request.method, route, status).observe(elapsed)
        trace_span = g.get("trace_span")
        if trace_span is not None and trace_span[0].is_recording():
            trace_span[0].set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                trace_span[0].set_status(tracing.Status(tracing.StatusCode.ERROR))
        if route not in OPERATIONAL_ROUTES and log.isEnabledFor(logging.INFO):
            principal = g.get("principal")
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "latencyMs": round(elapsed * 1000, 2),
                    "caller": getattr(principal, "subject", None),
                    "remoteAddr": request.remote_addr,
                },
            )
        return response

    @app.teardown_request
    def clear_request_id(_exc: BaseException | None) -> None:
        trace_span = g.pop("trace_span", None)
        if trace_span is not None:
            tracing.end_span(*trace_span)
        token = g.pop("request_id_token", None)
        if token is not None:
            reset_request_id(token)


def _install_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _render_api_error)
    app.register_error_handler(Refusal, lambda exc: _render_api_error(exc.as_api_error()))
    app.register_error_handler(HTTPException, _render_http_exception)

    @app.errorhandler(sqlalchemy.exc.OperationalError)
    @app.errorhandler(sqlalchemy.exc.InterfaceError)
    @app.errorhandler(sqlalchemy.exc.TimeoutError)  # every pooled connection busy: overload, not a bug
    def database_unavailable(exc: Exception):
        log.warning("database unavailable: %s", type(exc).__name__)
        return _render_api_error(
            ApiError(
                "DATABASE_ERROR", "the database is unavailable, retry later", headers={"Retry-After": "5"}
            )
        )

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def redis_unavailable(exc: Exception):
        log.warning("redis unavailable: %s", type(exc).__name__)
        return _render_api_error(service_unavailable("a dependency is unavailable, retry later"))

    @app.errorhandler(Exception)
    def unhandled(exc: Exception):
        # The traceback goes to the log only; the client learns nothing about internals.
        log.exception("unhandled error")
        return _render_api_error(ApiError("INTERNAL_ERROR", "internal error"))


def _render_api_error(exc: ApiError):
    response = jsonify(exc.body())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def _render_http_exception(exc: HTTPException):
    status = exc.code or 500
    code, message = _CODE_BY_HTTP_STATUS.get(status, ("INTERNAL_ERROR", "internal error"))
    details: dict[str, Any] = {}
    data = getattr(exc, "data", None) or {}
    if "messages" in data:  # webargs validation errors, keyed by location (json, query, ...)
        details["fields"] = data["messages"]
        if status == 400:
            message = "malformed JSON body"
    if status == 405 and exc.valid_methods:
        details["allowed"] = sorted(exc.valid_methods)
    api_error = ApiError(code, message, details, status=status if status in _CODE_BY_HTTP_STATUS else 500)
    response = _render_api_error(api_error)
    if status == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    return response


def _install_operational_routes(app: Flask, ready_checks: dict[str, ReadyCheck]) -> None:
    def healthz():
        return jsonify(status="ok")

    def readyz():
        results: dict[str, str] = {}
        details: dict[str, dict] = {}
        for name, check in ready_checks.items():
            try:
                shown = check()
                results[name] = "ok"
                if isinstance(shown, dict):
                    details[name] = shown
            except Exception as exc:  # any failure means "not ready"; say which, not why in detail
                results[name] = f"unavailable ({type(exc).__name__})"
        extra = {"details": details} if details else {}
        if all(result == "ok" for result in results.values()):
            return jsonify(status="ready", checks=results, **extra)
        response = jsonify(error_body("SERVICE_UNAVAILABLE", "not ready", {"checks": results, **extra}))
        response.status_code = 503
        return response

    def metrics():
        payload, content_type = render_metrics()
        return Response(payload, content_type=content_type)

    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
