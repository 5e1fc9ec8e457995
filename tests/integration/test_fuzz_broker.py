"""Hostile raw messages through the real worker on the broker (bounded): every message ends on
the dead-letter topic or as an enriched article, the worker never stops, and its memory does
not grow with the number of hostile messages."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from streams.errors import BadInput
from streams.worker.pipeline import DEADLETTER_MAX_VALUE_BYTES
from tests.integration.conftest import Env, Worker
from tests.integration.test_faults import TopicReader, new_env, produce_fast
from tests.unit.test_fuzz_input import JSON, PIPE, TEXT, _html_bomb, _nested, _raw

pytestmark = pytest.mark.integration

HOSTILE = st.one_of(
    st.binary(max_size=3000),
    st.binary(min_size=1, max_size=100).map(lambda b: b'{"source": "x", "body": "' + b + b'\xff"}'),
    JSON.map(lambda d: json.dumps(d).encode()),
    st.builds(lambda t: _raw(source="fuzz", body=t), TEXT),
    st.builds(lambda t: _raw(source="fuzz", body=t, content_type="text/html"), TEXT),
    st.integers(2, 600).map(_nested),
    st.integers(50, 1500).map(_html_bomb),
    st.integers(150_000, 900_000).map(lambda n: _raw(source="x", body="ض" * (n // 2))),
)


def hostile_messages(n: int) -> list[bytes]:
    """n messages drawn by hypothesis, one per example (derandomized: the same list on every
    run; one example per draw so that they are varied, not n copies of the simplest one)."""
    out: list[bytes] = []

    @settings(
        max_examples=n, deadline=None, derandomize=True, database=None, phases=[Phase.generate]
    )
    @given(HOSTILE)
    def draw(value: bytes) -> None:
        out.append(value)

    draw()
    return out[:n]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def offline_outcome(value: bytes) -> str:
    # The worker runs with RASID_MAX_BODY_BYTES=200000 (tests/integration/conftest.py).
    if len(value) > 200_000:
        return "too_large"
    try:
        PIPE.parse(value, _now())
    except BadInput as exc:
        return exc.reason.value
    return "parsed"


def _now() -> Any:
    from streams.times import utcnow

    return utcnow()


def deadletter_keys(doc: dict[str, Any]) -> bytes:
    return base64.b64decode(doc["value_b64"])


def enriched_keys(doc: dict[str, Any]) -> str:
    return str(doc["id"])


async def test_hostile_messages_through_the_worker(env: Env, tmp_path: Path) -> None:
    fuzz_env = new_env(env.bootstrap, tmp_path)
    fuzz_env.rasid("topics")
    values = hostile_messages(120)
    sentinel = {
        "schema_version": 1,
        "id": "fuzz-sentinel",
        "source": "testwire",
        "body": "قال نائب عراقي في بغداد إن أمن الحدود مع سوريا خط أحمر.",
    }
    worker = Worker(fuzz_env, tmp_path / "worker.log")
    worker.start()
    try:
        async with (
            TopicReader(fuzz_env, "deadletter", deadletter_keys) as letters,
            TopicReader(fuzz_env, "enriched", enriched_keys) as enriched,
        ):
            await produce_fast(fuzz_env, values)
            total = lambda: sum(letters.seen.values()) + sum(enriched.seen.values())  # noqa: E731
            await letters.wait_for(lambda: total() >= len(values), 240, "every message out")
            assert worker.alive, worker.tail_log()
            assert worker.proc is not None
            after_first = rss_bytes(worker.proc.pid)
            # The same again: memory must not grow with the number of hostile messages.
            await produce_fast(fuzz_env, values)
            await letters.wait_for(lambda: total() >= 2 * len(values), 240, "second pass out")
            after_second = rss_bytes(worker.proc.pid)
            await produce_fast(fuzz_env, [orjson.dumps(sentinel)])
            await enriched.wait_for(lambda: "fuzz-sentinel" in enriched.seen, 120, "sentinel")
            await letters.settle(quiet=2)
        assert worker.alive, worker.tail_log()
    finally:
        worker.stop()
    # Exactly one outcome per message (no failure path in this run, so no repeats).
    assert total() == 2 * len(values) + 1
    for value, times in Counter(values).items():
        if offline_outcome(value) == "parsed":
            continue  # may still be dead-lettered later (unparseable), or enriched
        kept = value[:DEADLETTER_MAX_VALUE_BYTES]
        assert letters.seen[kept] >= 2 * times, f"{value[:80]!r} not dead-lettered twice"
    growth = after_second - after_first
    assert growth < 150 * 2**20, f"worker RSS grew {growth / 2**20:.0f} MiB on the second pass"
