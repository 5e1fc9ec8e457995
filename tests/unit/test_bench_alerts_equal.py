"""bench/alerts_equal.py: the ingest span it prints and its pace warning (story assignment
weighs the articles' age, so two runs at a different pace may differ with the same code)."""

from __future__ import annotations

import orjson
import pytest

from bench import alerts_equal


def _records(*ingested: str) -> list[tuple[int, bytes, bytes, list[object]]]:
    return [
        (0, f"a{i}".encode(), orjson.dumps({"ingested_at": at}), [])
        for i, at in enumerate(ingested)
    ]


@pytest.mark.parametrize(
    ("ingested", "span"),
    [
        ((), 0.0),
        (("2030-01-01T00:00:00+00:00",), 0.0),
        (("2030-01-01T00:00:10+00:00", "2030-01-01T00:00:00+00:00"), 10.0),
        (
            (
                "2030-01-01T00:00:00+00:00",
                "2030-01-01T00:00:19.5+00:00",
                "2030-01-01T00:00:05+00:00",
            ),
            19.5,
        ),
    ],
)
def test_ingest_span(ingested: tuple[str, ...], span: float) -> None:
    assert alerts_equal.ingest_span(_records(*ingested)) == pytest.approx(span)


@pytest.mark.parametrize(
    ("new_end", "warned"),
    [
        ("2030-01-01T00:00:20+00:00", False),  # the same pace
        ("2030-01-01T00:00:20.4+00:00", False),  # 2% apart
        ("2030-01-01T00:00:18.6+00:00", True),  # 7% apart (alerts17's run: 18.6 against 19.8 s)
        ("2030-01-01T00:00:30+00:00", True),
    ],
)
def test_pace_warning(capsys: pytest.CaptureFixture[str], new_end: str, warned: bool) -> None:
    base = _records("2030-01-01T00:00:00+00:00", "2030-01-01T00:00:20+00:00")
    new = _records("2030-01-01T00:00:00+00:00", new_end)
    alerts_equal.compare(base, new)
    assert ("different pace" in capsys.readouterr().out) is warned
