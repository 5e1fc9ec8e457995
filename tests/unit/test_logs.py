"""streams.logs: JSON lines, and the client's retried start-up conditions logged as warnings."""

from __future__ import annotations

import logging

import orjson
import pytest

from streams.logs import JsonFormatter, TransientAsWarning


def _record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


@pytest.mark.parametrize(
    ("name", "level", "message", "expected"),
    [
        (
            "aiokafka.consumer.group_coordinator",
            logging.ERROR,
            "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError",
            "warning",
        ),
        (
            "aiokafka.consumer.group_coordinator",
            logging.ERROR,
            "OffsetCommit failed: [Error 16] NotCoordinatorForGroupError",
            "warning",
        ),
        # the same words from another logger, or another error, stay errors
        ("rasid.worker", logging.ERROR, "GroupCoordinatorNotAvailableError", "error"),
        ("aiokafka.consumer.group_coordinator", logging.ERROR, "UnknownMemberIdError", "error"),
        (
            "aiokafka.consumer.group_coordinator",
            logging.INFO,
            "GroupCoordinatorNotAvailableError",
            "info",
        ),
    ],
)
def test_transient_start_conditions_are_warnings(
    name: str, level: int, message: str, expected: str
) -> None:
    record = _record(name, level, message)
    assert TransientAsWarning().filter(record) is True  # never dropped
    line = orjson.loads(JsonFormatter().format(record))
    assert line["level"] == expected
    assert line["logger"] == name
    assert line["event"] == message
