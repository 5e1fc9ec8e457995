"""The story stage sends the alerts of a batch of candidates together (one `deliver` for the
message, or one more each time a candidate revises an alert still unacknowledged), and the
alerts are the same, byte for byte, as when every candidate comes in a message of its own."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson
from aiokafka.errors import RecordTooLargeError

from streams.settings import Settings
from streams.stories.cluster import story_id_for
from streams.worker import story_stage
from streams.worker.app import create_app
from streams.worker.batches import Outgoing, deliver
from tests.agents.test_agents import Capture, _copy, _other_story, _sample_candidate


class Sends:
    """Wraps story_stage.deliver: the alert bytes of each call; `refuse`: messages whose
    bytes contain it are refused for good (too large), the others delivered."""

    def __init__(self, refuse: bytes | None = None) -> None:
        self.calls: list[list[bytes]] = []
        self.refuse = refuse

    def install(self) -> Any:
        async def sending(messages: Sequence[Outgoing]) -> list[Outgoing]:
            alerts = [m for m in messages if m.topic.get_topic_name() == "rasid.alerts"]
            if alerts:
                self.calls.append([m.value for m in alerts])
            refused = [m for m in alerts if self.refuse and self.refuse in m.value]
            for m in refused:
                m.error = RecordTooLargeError()
            return refused + await deliver([m for m in messages if m not in refused])

        return patch.object(story_stage, "deliver", sending)


def _feed(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    """Two stories, each reported again by another outlet (its alerts revised)."""
    return [
        candidate,
        _other_story(candidate, "x", "outlet-x"),
        _copy(candidate, "copy-2", "outlet2"),  # revises the first story's alerts
        _other_story(candidate, "y", "outlet-y"),  # revises the second story's
    ]


async def _run(
    tmp_path: Path, messages: list[bytes], sends: Sends
) -> tuple[Any, list[str], Capture]:
    rasid = create_app(Settings(data_dir=tmp_path, web_port=16066))
    capture = Capture()
    with capture.install(rasid), sends.install():
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            for i, message in enumerate(messages):
                await ctx.put(message, key=f"m{i}".encode())
            results = [ctx.results[i] for i in range(len(messages))]
    return rasid, results, capture


async def test_batch_alerts_sent_together_and_equal_to_single_candidates(
    tmp_path: Path,
) -> None:
    rasid = create_app(Settings(data_dir=tmp_path / "sample", web_port=16066))
    _, candidate = await _sample_candidate(rasid)
    feed = _feed(candidate)
    n = len({h["rule"] for h in candidate["hits"]})
    single, batch = Sends(), Sends()
    one, one_results, _ = await _run(tmp_path / "one", [orjson.dumps(c) for c in feed], single)
    many, many_results, _ = await _run(
        tmp_path / "batch", [orjson.dumps({"schema_version": 4, "candidates": feed})], batch
    )
    assert one_results == [f"alerts:{n}"] * 4
    assert many_results == [f"alerts:{4 * n}"]
    # the same alerts, byte for byte, in the same order
    assert [v for call in batch.calls for v in call] == [v for call in single.calls for v in call]
    # one send for the first two candidates, one more for the two that revise their alerts
    assert [len(call) for call in single.calls] == [n] * 4
    assert [len(call) for call in batch.calls] == [2 * n, 2 * n]
    revised = [orjson.loads(v) for v in batch.calls[1]]
    assert {(a["status"], a["revision"]) for a in revised} == {("updated", 2)}
    # the same table state
    assert dict(many.stories.alerts.items()) == dict(one.stories.alerts.items())


async def test_an_alert_refused_fails_its_candidate_alone(tmp_path: Path) -> None:
    rasid = create_app(Settings(data_dir=tmp_path / "sample", web_port=16066))
    _, candidate = await _sample_candidate(rasid)
    feed = _feed(candidate)[:2]
    n = len({h["rule"] for h in candidate["hits"]})
    sends = Sends(refuse=b'"outlet-x"')  # the second candidate's alerts name its outlet
    stage_ctx, results, capture = await _run(
        tmp_path / "batch", [orjson.dumps({"schema_version": 4, "candidates": feed})], sends
    )
    assert results == [f"alerts:{n} processing_error"]
    (letter,) = capture.on("rasid.deadletter")
    assert letter["detail"].startswith("candidate 2 of 2: ")
    assert "alert refused by Kafka" in letter["detail"]
    assert orjson.loads(base64.b64decode(letter["value_b64"]))["article_id"] == "x"
    table = stage_ctx.stories.alerts
    assert table.get(story_id_for(candidate["article_id"])) is not None  # stored after its ack
    assert table.get(story_id_for("x")) is None  # nothing stored for the refused one
