"""JSON logging with the request id, and a last-line redaction of identity numbers and phone numbers."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from servicekit.context import current_request_id
from servicekit.tracing import current_trace_id

# Personal data must never reach logs; the code does not log it, and this catches mistakes.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")


def redact(text: str) -> str:
    """Mask anything shaped like a resident id number or a mainland mobile number."""
    text = _ID_NUMBER.sub(lambda m: m.group(0)[:6] + "********" + m.group(0)[-4:], text)
    return _PHONE.sub(lambda m: m.group(0)[:-8] + "****" + m.group(0)[-4:], text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, request id and message."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        trace_id = current_trace_id()
        if trace_id:
            entry["trace_id"] = trace_id
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """Human-readable lines for a terminal, still redacted and carrying the request id."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = current_request_id()
        prefix = f"[{request_id[:8]}] " if request_id else ""
        return redact(f"{record.levelname:<7} {record.name}: {prefix}{super().format(record)}")


def configure_logging(service: str, level: str = "INFO", json_output: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_output else PlainFormatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every rebalance and connection retry at INFO; keep them for debugging only.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
