"""W3C trace context across the platform, with OpenTelemetry (ARCHITECTURE.md §3 "Health").

One trace id follows a unit of work wherever it goes:

- an HTTP request continues the ``traceparent`` it came with (the API gateway's) or starts a
  trace, in a SERVER span (``app``);
- every internal call made while it runs sends ``traceparent`` from a CLIENT span
  (``http_client.ServiceClient``);
- an event written to the outbox takes the trace id as its envelope's ``traceId``
  (``events.Event``) and keeps the writer's ``traceparent`` beside it in the outbox row; the
  relay publishes it from a PRODUCER span with a ``traceparent`` Kafka header (``outbox``);
- a consumer handles it in a CONSUMER span continuing that header, or, for a record without
  one, the envelope's ``traceId`` (``consumer``): what the handler emits is in the same trace;
- every log line carries ``traceId`` and ``spanId`` (``logs``).

Propagation is always on and costs little: without an exporter, spans are not recorded (the
sampler drops them), yet their ids are made and passed on, so logs and events of one request
still share one trace id. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (an OpenTelemetry
Collector's OTLP/HTTP address, e.g. ``http://otel-collector:4318``), spans are recorded, a
``OTEL_TRACES_SAMPLER_ARG`` share of new traces (1.0: all; a caller's sampled flag is
followed), and exported in batches by OTLP/HTTP; ``OTEL_EXPORTER_OTLP_HEADERS`` adds headers
(a collector's token). Locally nothing is set, so nothing is exported.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger("gamekeys.tracing")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
OTLP_TRACES_PATH = "/v1/traces"
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class TracingConfig:
    """What the process traces with: ``endpoint`` None records and exports nothing."""

    service_name: str
    endpoint: str | None = None
    sample_ratio: float = 1.0

    @classmethod
    def from_settings(cls, settings) -> TracingConfig:
        return cls(
            service_name=settings.service_name,
            endpoint=settings.otel_exporter_otlp_endpoint or None,
            sample_ratio=settings.otel_traces_sampler_arg,
        )

    @property
    def exporting(self) -> bool:
        return self.endpoint is not None


class _Tracing:
    """The process's tracer provider and its configuration, replaced when it changes."""

    def __init__(self, config: TracingConfig) -> None:
        self.config = config
        # Without an exporter nothing is recorded, but the SDK still makes trace and span ids for
        # what it drops, so the context is propagated (and logged) all the same.
        sampler = ParentBased(TraceIdRatioBased(config.sample_ratio)) if config.exporting else ALWAYS_OFF
        self.provider = TracerProvider(
            sampler=sampler,
            resource=Resource.create({"service.name": config.service_name}),
            shutdown_on_exit=config.exporting,
        )
        if config.exporting:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=traces_url(config.endpoint))
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("gamekeys_platform")

    def shutdown(self) -> None:
        if self.config.exporting:
            self.provider.shutdown()  # what is batched is exported first


_tracing = _Tracing(TracingConfig("gamekeys"))


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base address (``OTEL_EXPORTER_OTLP_ENDPOINT``,
    as OpenTelemetry's specification reads it: the signal's path is appended)."""
    return endpoint.rstrip("/") + OTLP_TRACES_PATH


def configure_tracing(settings_or_config) -> TracingConfig:
    """Trace as the settings say (``PlatformSettings`` or a ``TracingConfig``); called by the app
    factory and by each worker at start-up. Calling it again with the same configuration keeps
    the provider (tests build many apps); a different one flushes and replaces it."""
    global _tracing
    config = (
        settings_or_config
        if isinstance(settings_or_config, TracingConfig)
        else TracingConfig.from_settings(settings_or_config)
    )
    if config != _tracing.config:
        previous, _tracing = _tracing, _Tracing(config)
        previous.shutdown()
        if config.exporting:
            log.info(
                "exporting traces",
                extra={"endpoint": traces_url(config.endpoint), "sampleRatio": config.sample_ratio},
            )
    return config


def force_flush(timeout_millis: int = 5_000) -> bool:
    """Export what is batched now (tests)."""
    return _tracing.provider.force_flush(timeout_millis)


def shutdown() -> None:
    """Export what is batched and stop exporting: a process that is about to exit (gunicorn's
    ``worker_exit``; worker processes do it at exit on their own)."""
    _tracing.shutdown()


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    attributes: Mapping[str, str | int | float | bool] | None = None,
) -> Iterator[trace.Span]:
    """A span made current for the block, a child of ``parent`` (a context from
    ``context_from_headers``/``context_from_event``) or of the current span. An exception
    escaping the block marks it failed."""
    current = _tracing.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
    token = otel_context.attach(trace.set_span_in_context(current, parent))
    try:
        yield current
    except BaseException as exc:
        if current.is_recording():
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        otel_context.detach(token)
        current.end()


def start_span(name: str, *, kind: SpanKind, parent: Context | None = None, attributes=None):
    """A span made current until ``end_span(span, token)``, for hooks that open and close it in
    different functions (the app's before/teardown request hooks)."""
    current = _tracing.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
    return current, otel_context.attach(trace.set_span_in_context(current, parent))


def end_span(current: trace.Span, token) -> None:
    otel_context.detach(token)
    current.end()


def current_trace_id() -> str | None:
    """The current trace id (32 lowercase hex digits), or None outside any trace."""
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


def current_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) of the current span, or (None, None) outside any trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None, None
    return trace.format_trace_id(span_context.trace_id), trace.format_span_id(span_context.span_id)


def current_traceparent() -> str | None:
    """``traceparent`` of the current span, or None outside any trace."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def new_trace_id() -> str:
    """A trace id for work that starts outside any trace (an event written by a worker loop)."""
    return f"{random.getrandbits(128) or 1:032x}"


def is_trace_id(value: object) -> bool:
    return isinstance(value, str) and bool(_TRACE_ID.match(value)) and value != "0" * 32


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current span's ``traceparent`` (and ``tracestate``) to ``headers``."""
    _PROPAGATOR.inject(headers)
    return headers


def context_from_headers(headers) -> Context:
    """The trace context a request or record came with (``traceparent``), or an empty one.
    ``headers``: HTTP headers (anything with a case-insensitive ``get``) or Kafka's list of
    ``(name, bytes)`` pairs."""
    if headers is None:
        return Context()
    if isinstance(headers, list | tuple):
        headers = _kafka_headers_as_dict(headers)
    return _PROPAGATOR.extract(headers)


def context_from_event(headers, trace_id: str | None, event_id) -> Context:
    """The context an event is handled in: its record's ``traceparent`` header when present
    and in the envelope's trace, else the envelope's ``traceId`` alone (a record from a producer
    that sends no header): a remote parent whose span id is made from the event id, so the
    trace id is the envelope's in either case (recorded when exporting: nothing says the trace
    was sampled out). Empty when neither names a trace."""
    extracted = context_from_headers(headers)
    span_context = trace.get_current_span(extracted).get_span_context()
    if span_context.is_valid and (
        trace_id is None or trace.format_trace_id(span_context.trace_id) == trace_id
    ):
        return extracted
    if not is_trace_id(trace_id):
        return Context()
    span_id = int.from_bytes(event_id.bytes[:8], "big") or 1
    parent = trace.SpanContext(
        trace_id=int(trace_id, 16),
        span_id=span_id,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def kafka_headers(traceparent: str | None) -> list[tuple[str, bytes]]:
    return [(TRACEPARENT, traceparent.encode())] if traceparent else []


def traceparent_of(headers: Iterable[tuple[str, bytes | None]] | None) -> bytes | None:
    """The ``traceparent`` value among a Kafka record's headers."""
    for name, value in headers or ():
        if name == TRACEPARENT:
            return value
    return None


def _kafka_headers_as_dict(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    found = {}
    for name, value in headers:
        if name in (TRACEPARENT, TRACESTATE) and value is not None:
            found[name] = value.decode(errors="replace")
    return found
