"""Structured logs: one JSON object per line (time, level, logger, event, and any `extra`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


# Conditions every start meets on a fresh or restarting broker (the offsets topic is being
# created, a coordinator is being elected): the client retries them by itself, so they are
# warnings, not errors that page someone. A coordinator that never comes keeps /readyz at 503.
TRANSIENT_AT_START: tuple[tuple[str, str], ...] = (
    ("aiokafka.consumer.group_coordinator", "GroupCoordinatorNotAvailableError"),
    ("aiokafka.consumer.group_coordinator", "NotCoordinatorForGroupError"),
    ("aiokafka.consumer.group_coordinator", "CoordinatorLoadInProgressError"),
)


class TransientAsWarning(logging.Filter):
    """Logs the client's retried start-up conditions (TRANSIENT_AT_START) as warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            message = record.getMessage()
            if any(
                record.name == name and marker in message for name, marker in TRANSIENT_AT_START
            ):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(TransientAsWarning())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
