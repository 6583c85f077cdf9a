"""OpenTelemetry traces, sent by OTLP/HTTP when an endpoint is configured; off (and free) otherwise.

The standard variables turn it on and say where spans go (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces added; OTEL_EXPORTER_OTLP_HEADERS, ..._TIMEOUT and the
certificate variables are read by the exporter itself). While they are unset nothing of the SDK or the
exporter is imported, and every hook here is a check of one variable.

The spans are made here rather than by OpenTelemetry's instrumentation packages, so that what they hold
is decided here, and is little: a request's span is named by its route template (`GET
/v1/tickets/{ticket_id}`) and carries no path, query string, header or body; a statement's span carries
the statement with its placeholders, never the values bound to them; an outbound request's span names the
host it went to, not its path or query (webhook URLs and providers' `access_token` carry secrets there).
"""

import contextlib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import TracingSettings
from app.kit import logs

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, Tracer
    from sqlalchemy.engine import Engine

# On a worker job's round: how much it did. A round that did nothing is not sent (see `_WorkRoundsOnly`).
ROUND_ITEMS = "helpdesk.job.items"

# Set by `start_tracing`: None while tracing is off.
_provider: "TracerProvider | None" = None
_tracer: "Tracer | None" = None


def start_tracing(settings: TracingSettings, service_name: str) -> bool:
    """Send this process's spans to the configured endpoint, as `service_name` (unless OTEL_SERVICE_NAME
    names it); whether tracing is on. A second call in the same process keeps the first's provider."""
    global _provider, _tracer
    if not settings.enabled:
        return False
    if _provider is not None:
        return True
    # Imported only when tracing is on: the default path loads none of it.
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    try:
        service_version = version("helpdesk")
    except PackageNotFoundError:  # run from a checkout that was not installed
        service_version = "unknown"
    resource = Resource.create(
        {"service.name": settings.service_name or service_name, "service.version": service_version}
    )
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio))
    )
    # The exporter reads the endpoint, headers, timeout and certificates from the OTEL_* variables.
    provider.add_span_processor(_work_rounds_only(BatchSpanProcessor(OTLPSpanExporter())))
    trace.set_tracer_provider(provider)
    _provider = provider
    _tracer = provider.get_tracer("helpdesk", service_version)
    logs.add_context_source(_current_trace_id)
    return True


def stop_tracing() -> None:
    """Send the spans still buffered, then stop (at the end of the process)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
        _provider, _tracer = None, None
        logs.add_context_source(None)


def tracing_on() -> bool:
    return _tracer is not None


def _current_trace_id() -> dict[str, Any]:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return {"trace_id": format(context.trace_id, "032x")} if context.is_valid else {}


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator["Span | None"]:
    """An internal span around the block (a worker's service) when tracing is on; an exception that
    leaves the block is recorded on it."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


@contextlib.contextmanager
def round_span(name: str) -> Iterator["Span | None"]:
    """A span around a worker job's round, which the block gives how much it did (`ended_round`)."""
    with span(name, **{ROUND_ITEMS: -1}) as current:
        yield current


def ended_round(current: "Span | None", items: int) -> None:
    if current is not None:
        current.set_attribute(ROUND_ITEMS, items)


def _work_rounds_only(inner: "SpanProcessor") -> "SpanProcessor":
    """`inner`, but for the spans of worker job rounds that did nothing: each job polls every few
    seconds, and its idle rounds (with their statements) would drown the traces that tell something.
    A round's spans are held until the round ends, then sent or dropped with it."""
    from opentelemetry.sdk.trace import SpanProcessor

    class WorkRoundsOnly(SpanProcessor):
        def __init__(self) -> None:
            self.held: dict[int, list[ReadableSpan]] = {}

        def on_start(self, span: "Span", parent_context: "Context | None" = None) -> None:
            attributes = getattr(span, "attributes", None) or {}
            if getattr(span, "parent", None) is None and ROUND_ITEMS in attributes:
                self.held[span.get_span_context().trace_id] = []
            inner.on_start(span, parent_context)

        def on_end(self, span: "ReadableSpan") -> None:
            held = self.held.get(span.context.trace_id)
            if held is None:
                inner.on_end(span)
            elif span.parent is not None:
                held.append(span)
            else:
                del self.held[span.context.trace_id]
                if (span.attributes or {}).get(ROUND_ITEMS) != 0:
                    for finished in (*held, span):
                        inner.on_end(finished)

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return inner.force_flush(timeout_millis)

    return WorkRoundsOnly()


@contextlib.contextmanager
def client_span(method: str, scheme: str, host: str, port: int) -> Iterator["Span | None"]:
    """A span around an outbound HTTP request, named by its method: where it went (host and port, never
    the path or the query), and its status once known (`set_status_code`)."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    attributes = {
        "http.request.method": method,
        "url.scheme": scheme,
        "server.address": host,
        "server.port": port,
    }
    with _tracer.start_as_current_span(method, kind=SpanKind.CLIENT, attributes=attributes) as current:
        yield current


def set_status_code(current: "Span | None", status: int, error_from: int = 400) -> None:
    """The response's status on the span; an error from `error_from` on (a server's own errors are its
    5xx, a client's every 4xx and 5xx)."""
    if current is None:
        return
    from opentelemetry.trace import StatusCode

    current.set_attribute("http.response.status_code", status)
    if status >= error_from:
        current.set_status(StatusCode.ERROR)
        current.set_attribute("error.type", str(status))


def trace_statements(engine: "Engine") -> None:
    """A span for every statement `engine` runs, with the statement as written (placeholders, not the
    values bound to them); nothing when tracing is off."""
    if _tracer is None:
        return
    from opentelemetry.trace import SpanKind, StatusCode
    from sqlalchemy import event

    tracer = _tracer
    database = engine.url.database or ""

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool):
        operation = statement.split(maxsplit=1)[0].upper() if statement.strip() else "SQL"
        attributes = {
            "db.system.name": "postgresql",
            "db.namespace": database,
            "db.operation.name": operation,
            "db.query.text": statement,
        }
        # SQLAlchemy's asyncio layer runs this in a greenlet sharing the task's context: the current
        # span is the request's or the job's.
        statement_span = tracer.start_span(
            f"{operation} {database}".strip(), kind=SpanKind.CLIENT, attributes=attributes
        )
        if context is not None:
            context._helpdesk_span = statement_span

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool):
        statement_span = getattr(context, "_helpdesk_span", None)
        if statement_span is not None:
            statement_span.end()
            context._helpdesk_span = None

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        statement_span = getattr(context, "_helpdesk_span", None)
        if statement_span is not None:
            error = exception_context.original_exception
            statement_span.set_status(StatusCode.ERROR, type(error).__name__)
            statement_span.set_attribute("error.type", type(error).__qualname__)
            statement_span.end()
            context._helpdesk_span = None

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


class TracedRequests:
    """ASGI middleware: a server span for every HTTP request, continuing the caller's trace when it
    sends `traceparent`. Named `METHOD /route/{template}` once routing has matched (the method alone
    when no route did); it records the method, the template, the scheme and the status, nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _tracer is None:
            await self.app(scope, receive, send)
            return
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind

        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        method = scope["method"]
        attributes = {"http.request.method": method, "url.scheme": scope.get("scheme", "http")}
        with _tracer.start_as_current_span(
            method, context=propagate.extract(carrier), kind=SpanKind.SERVER, attributes=attributes
        ) as current:

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    set_status_code(current, message["status"], error_from=500)
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path_format", None)
                if route is not None:
                    current.update_name(f"{method} {route}")
                    current.set_attribute("http.route", route)
