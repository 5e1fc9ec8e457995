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


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _rec(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_repeated_error_is_logged_once_then_with_its_count() -> None:
    """Issue 20: a broker outage logged ~7,000 lines/s, the same few errors over and over."""
    from streams.logs import RepeatFilter

    clock = _Clock()
    repeats = RepeatFilter(window_seconds=5.0, clock=clock)
    out = []
    for i in range(7_000):  # one second of the outage: the same template, other arguments
        clock.now += 1 / 7_000
        record = _rec("aiokafka", "Unable connect to node with id %s: %s", 1, f"refused {i}")
        if repeats.filter(record):
            out.append(record)
    assert [r.getMessage() for r in out] == ["Unable connect to node with id 1: refused 0"]
    clock.now += 5.0  # the next one after the window carries the count of those held back
    record = _rec("aiokafka", "Unable connect to node with id %s: %s", 1, "refused again")
    assert repeats.filter(record)
    assert (
        record.getMessage()
        == "Unable connect to node with id 1: refused again (repeated 6999 times)"
    )
    assert record.repeated == 6999
    clock.now += 1.0
    assert not repeats.filter(_rec("aiokafka", "Unable connect to node with id %s: %s", 1, "x"))


def test_other_templates_loggers_and_levels_are_not_held_back() -> None:
    from streams.logs import RepeatFilter

    repeats = RepeatFilter(window_seconds=5.0, clock=_Clock())
    records = [
        _rec("a", "one %s", 1),
        _rec("a", "two %s", 1),
        _rec("b", "one %s", 1),
        _rec("a", "one %s", 1, level=logging.WARNING),
    ]
    assert all(repeats.filter(r) for r in records)


def test_the_repeat_filter_remembers_a_bounded_number_of_templates() -> None:
    from streams.logs import RepeatFilter

    repeats = RepeatFilter(window_seconds=5.0, clock=_Clock(), max_keys=100)
    for i in range(10_000):
        assert repeats.filter(_rec("a", f"unique {i}"))
    assert len(repeats) <= 100


def test_setup_logging_installs_the_repeat_filter() -> None:
    from streams.logs import RepeatFilter, setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO")
        assert any(isinstance(f, RepeatFilter) for f in root.handlers[0].filters)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
