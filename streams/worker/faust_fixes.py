"""Patches to faust-streaming so that no offset is committed for a message no agent processed.

`install()` (called by `create_app`) applies them once per process. Each one names the
upstream issue; drop it when faust fixes that issue. What went wrong before them, with the
traces that showed it: docs/guarantees.md, "Rebalances and restarts".

1. Buffers cleared after the seek (faust-streaming #596). At the end of table recovery faust
   resumes the stream partitions, awaits the seek to the committed offsets while the fetcher
   is already running (flow was resumed for the changelog restore), then calls
   `flow_control.resume()` again, which empties every stream buffer. When the seek took
   effect before a fetch returned, that fetch, the first messages after the committed
   offsets, was thrown away and never read again. Here `resume` empties the buffers only
   when flow was suspended: then they hold only messages from before the rebalance, which
   the seek reads again. Buffers kept while flow is active can repeat a message, not lose it.
2. Commit over a hole at the head (faust-streaming #606). `Consumer._new_offset` commits the
   acked run even when it starts one offset past the committed one
   (`min(acked) - committed > 1`), i.e. past the one message that was not acknowledged.
   Here nothing is committed until the committed offset itself is acknowledged. Rasid's
   input topics are neither compacted nor transactional, so their offsets have no holes.
3. Skipped messages acknowledged (faust-streaming #527). Faust's pure-Python stream iterator
   (used without its C extension) acknowledges the messages it skips while flow is suspended
   or because they belong to an earlier consumer generation. Here such an ack is ignored:
   the message is read again from the committed offset.
4. Idempotent producer, when RASID_PRODUCER_IDEMPOTENT is set. faust passes
   `enable_idempotence=True` to aiokafka only inside an exactly-once transaction
   (`Producer._settings_extra`); otherwise a send retried after a lost ack can be written
   twice. With the setting every producer is idempotent (acks=all, which Rasid uses anyway);
   faust-streaming 0.15.3 has no setting for it. Off by default: see Settings.
5. Gaps merged with duplicates. `Consumer._new_offset` adds the offsets of the gaps (where
   the fetch position jumped) to the acked offsets without removing those already acked, and
   chops the gap tree only up to the last gap offset minus one, so that offset is merged
   again at the next commit. `consecutive_numbers` stops at the first repeated offset: after
   a restart that re-read messages inside a gap, the commit crept forward one offset per
   commit interval. Here the gaps are merged first, each offset once, and chopped entirely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import Producer
from faust.types import TP, Message
from mode.utils.queues import FlowControlEvent

_installed = False
_idempotent = False  # patch 4, from Settings.producer_idempotent


def install(*, idempotent_producer: bool = False) -> None:
    global _installed, _idempotent
    _idempotent = idempotent_producer
    if _installed:
        return
    _installed = True
    _patch(FlowControlEvent, "resume", _resume_wrapper)
    _patch(Consumer, "_new_offset", _new_offset_wrapper)
    _patch(Consumer, "ack", _ack_wrapper)
    _patch(Producer, "_settings_extra", _idempotent_wrapper)


def _patch(cls: type, name: str, wrapper: Callable[[Any], Any]) -> None:
    setattr(cls, name, wrapper(getattr(cls, name)))


def _resume_wrapper(resume: Callable[[FlowControlEvent], None]) -> Any:
    def patched(self: FlowControlEvent) -> None:
        if self.is_active():
            return  # already flowing: the buffers hold current messages, keep them (1)
        resume(self)

    return patched


def _new_offset_wrapper(new_offset: Callable[[Consumer, TP], int | None]) -> Any:
    def patched(self: Consumer, tp: TP) -> int | None:
        committed = self._committed_offset[tp]
        acked = self._acked[tp]
        # `committed` is the next offset to read; the commit may only move once that very
        # message is acknowledged (2). (None: nothing committed yet; faust's own rule.)
        if committed is not None and acked and min(acked) > committed:
            return None
        _merge_gaps(self, tp)
        return new_offset(self, tp)

    return patched


def _merge_gaps(consumer: Consumer, tp: TP) -> None:
    """Merge the gaps up to the highest acked offset into the acked offsets, each offset once,
    and drop them from the gap tree entirely (5); faust's own merge then finds nothing."""
    acked = consumer._acked[tp]
    gaps = consumer._gap.get(tp)
    if not acked or not gaps:
        return
    candidates = gaps.overlap(0, max(acked))
    if not candidates:
        return
    merged = set(acked)
    for interval in candidates:
        merged.update(range(interval.begin, interval.end))
    acked[:] = sorted(merged)
    gaps.chop(0, acked[-1] + 1)


def _ack_wrapper(ack: Callable[[Consumer, Message], bool]) -> Any:
    def patched(self: Consumer, message: Message) -> bool:
        # A stream marks every message of an acking topic it takes as `tracked`; an untracked
        # one acknowledged under the skip condition of faust/streams.py was skipped (3).
        app = self.app
        skipped = not app.flow_control.is_active() or (
            message.generation_id != app.consumer_generation_id
        )
        if skipped and not message.tracked and app.topics.acks_enabled_for(message.topic):
            return False
        return ack(self, message)

    return patched


def _idempotent_wrapper(settings_extra: Callable[[Producer], Any]) -> Any:
    def patched(self: Producer) -> Any:
        extra = settings_extra(self)
        if not _idempotent:
            return extra
        return {**extra, "acks": "all", "enable_idempotence": True}  # (4)

    return patched
