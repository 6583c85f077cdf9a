"""Logs an operator can search: every line says which request or worker job it belongs to.

What is being done (a request's id, workspace and credential; a worker job's name) is kept in a context
variable, so that every line logged meanwhile carries it, whichever module logs. Lines are text by
default, or one JSON object each (`HELPDESK_LOG_FORMAT=json`) for a log collector. Nothing here logs
request bodies, headers or query strings: the callers log ids, route templates and outcomes only.
"""

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

_context: ContextVar[dict[str, Any] | None] = ContextVar("log_context", default=None)
# What `logging` puts on every record: anything else on a record was passed in `extra` (but uvicorn's
# colours for a terminal).
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


@contextmanager
def log_context(**values: Any) -> Iterator[dict[str, Any]]:
    """Lines logged within carry `values`, and what is added to the yielded dict meanwhile (e.g. the
    workspace, once the caller is authenticated)."""
    context = {**(_context.get() or {}), **values}
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    return _context.get() or {}


# More of the context, known elsewhere: the trace's id while tracing is on (app/kit/tracing.py).
_context_source: Callable[[], dict[str, Any]] | None = None


def add_context_source(source: Callable[[], dict[str, Any]] | None) -> None:
    """Every line logged carries what `source` returns too (None: no longer)."""
    global _context_source
    _context_source = source


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's context, and what the call passed in `extra`."""
    extra = {name: value for name, value in vars(record).items() if name not in _RECORD_FIELDS}
    return {**extra.pop("context", {}), **extra}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = current_context()
        if _context_source is not None:
            record.context = {**record.context, **_context_source()}
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message key=value …`, the context's and the extra's values after the message."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + " ".join(f"{name}={value}" for name, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str, log_format: LogFormat) -> None:
    """One handler on the root logger, to stderr; uvicorn's loggers go through it too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Not even at debug: the S3 client's debug lines carry request bodies (customers' files) and headers.
    for name in ("botocore", "aiobotocore"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
