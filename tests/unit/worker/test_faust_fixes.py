"""streams/worker/faust_fixes.py: each patch, on faust's own objects. Every test fails without it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams.settings import Settings
from streams.worker.app import create_app

TOPIC = "rasid.articles.enriched"
TP0 = TP(TOPIC, 0)


@pytest.fixture
async def consumer(tmp_path: Path) -> AsyncIterator[Consumer]:
    app = create_app(Settings(data_dir=tmp_path, web_port=16067)).app  # installs the fixes
    app.topics._acking_topics.add(TOPIC)  # an agent's topic (done when agents subscribe)
    app.flow_control.resume()
    yield app.consumer


def _message(offset: int, generation_id: int = 0) -> ConsumerMessage:
    return ConsumerMessage(
        TOPIC, 0, offset, 0.0, 0, None, b"k", b"v", None, tp=TP0, generation_id=generation_id
    )


async def test_resume_while_flowing_keeps_the_buffered_messages(consumer: Consumer) -> None:
    # The end of table recovery: flow already resumed, messages fetched into the buffer during
    # the seek, then `resume()` again. faust emptied the buffer and never read them again.
    flow = FlowControlEvent()
    queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()
    queue.put_nowait(5)
    flow.resume()
    assert queue.qsize() == 1
    # Resuming after a suspension still empties it (the seek re-reads those messages).
    flow.suspend()
    flow.resume()
    assert queue.qsize() == 0


async def test_no_commit_while_the_committed_offset_is_not_acked(consumer: Consumer) -> None:
    consumer._committed_offset[TP0] = 5
    for offset in (6, 7):  # 5 was fetched but never processed
        consumer._acked[TP0].append(offset)
        consumer._acked_index[TP0].add(offset)
    assert consumer._new_offset(TP0) is None  # faust: 8, committing over offset 5
    consumer._acked[TP0].append(5)
    consumer._acked_index[TP0].add(5)
    assert consumer._new_offset(TP0) == 8


async def test_a_skipped_message_is_not_acked(consumer: Consumer) -> None:
    app = consumer.app
    app.consumer_generation_id = 2
    stale = _message(3, generation_id=1)  # fetched before the last rebalance, never taken
    assert not stale.tracked
    assert stale.ack(consumer) is False
    assert list(consumer._acked[TP0]) == []
    taken = _message(3, generation_id=2)
    taken.tracked = True  # what the stream does when it takes the message
    taken.incref()
    assert taken.ack(consumer) is True
    assert list(consumer._acked[TP0]) == [3]


@pytest.mark.parametrize("idempotent", [True, False])
async def test_the_producer_is_idempotent_when_asked(tmp_path: Path, idempotent: bool) -> None:
    """faust turns aiokafka's idempotent producer on only for exactly-once transactions: a
    send retried after a lost ack could then be written twice (issue 20, item 4). The setting
    turns it on; it is off by default (a long outage leaves it failing every send)."""
    settings = Settings(data_dir=tmp_path, web_port=16074, producer_idempotent=idempotent)
    app = create_app(settings).app
    producer = app.producer._new_producer()
    try:
        # aiokafka's marker of enable_idempotence
        assert (producer._txn_manager is not None) is idempotent
        assert producer.client._request_timeout_ms == 1_200_000  # faust's own settings kept
    finally:
        producer._closed = True  # never started: nothing to close
    assert Settings().producer_idempotent is False


async def test_a_gap_over_acked_offsets_is_committed_at_once(consumer: Consumer) -> None:
    """faust merges the gap (offsets the fetch position jumped over) into the acked offsets
    without removing duplicates, and `consecutive_numbers` stops at the first repeat: when the
    messages in the gap were acknowledged too (read again after a restart), the commit crept
    forward one offset per commit interval (issue 20, item 6)."""
    consumer._committed_offset[TP0] = 5
    for offset in (*range(5, 41), 100, 101, 102):
        consumer._acked[TP0].append(offset)
        consumer._acked_index[TP0].add(offset)
    await consumer._add_gap(TP0, 8, 99)
    assert consumer._new_offset(TP0) == 103  # faust: 9, then 10, 11 … one per commit
    assert list(consumer._acked[TP0]) == []
    assert not consumer._gap[TP0]


async def test_the_last_offset_of_a_merged_gap_is_not_merged_again(consumer: Consumer) -> None:
    consumer._committed_offset[TP0] = 5
    for offset in (5, 6, 7, 8, 9):
        consumer._acked[TP0].append(offset)
        consumer._acked_index[TP0].add(offset)
    await consumer._add_gap(TP0, 8, 11)  # overlaps 8 and 9, which were acked too
    assert consumer._new_offset(TP0) == 12  # faust: 10, leaving [11, 12) to be merged again
    assert not consumer._gap[TP0]
