"""Which newly created topics are not ready to be written to yet (describe_topics answers)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.kafka.admin import leaderless


def _topic(name: str, leaders: list[int], error_code: int = 0) -> dict[str, Any]:
    partitions = [
        {"error_code": 0, "partition": i, "leader": lead} for i, lead in enumerate(leaders)
    ]
    return {"error_code": error_code, "topic": name, "partitions": partitions}


@pytest.mark.parametrize(
    ("described", "expected"),
    [
        ([_topic("a", [1, 1]), _topic("b", [1])], []),  # every partition led
        ([_topic("a", [1, -1])], ["a"]),  # one partition still electing
        ([_topic("a", [], error_code=3)], ["a"]),  # not known to this broker yet
        ([_topic("a", [])], ["a"]),  # no partitions in the answer yet
        ([_topic("a", [1]), _topic("b", [-1, -1])], ["b"]),
    ],
)
def test_leaderless(described: list[dict[str, Any]], expected: list[str]) -> None:
    assert leaderless(described) == expected
