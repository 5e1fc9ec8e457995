"""Structured logs: one JSON object per line (time, level, logger, event, and any `extra`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
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


class RepeatFilter(logging.Filter):
    """Logs a repeated line once per window, then once more with the count of those held back.

    A broker outage made the clients log the same few errors ~7,000 times a second. Records
    are keyed by logger, level and message *template* (`record.msg`, before its arguments are
    filled in), so "Unable connect to node %s: %s" is one key whatever the node and error. The
    first record of a key passes; the others within `window_seconds` are counted and dropped;
    the first one after the window passes with " (repeated N times)" appended and a `repeated`
    field. A burst that stops inside a window is not summarised (its first line was logged).
    At most `max_keys` templates are remembered (the oldest half is forgotten beyond that).
    """

    def __init__(
        self,
        window_seconds: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1000,
    ) -> None:
        super().__init__()
        self.window = window_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [passed at, held]

    def __len__(self) -> int:
        return len(self._seen)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        entry = self._seen.get(key)
        if entry is not None and now - entry[0] < self.window:
            entry[1] += 1
            return False
        held = int(entry[1]) if entry is not None else 0
        if entry is None and len(self._seen) >= self.max_keys:
            for old in list(self._seen)[: len(self._seen) // 2 or 1]:
                del self._seen[old]
        self._seen[key] = [now, 0]
        if held:
            record.msg = f"{record.msg} (repeated {held} times)"
            record.repeated = held
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(TransientAsWarning())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
