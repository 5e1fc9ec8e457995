"""Graceful shutdown with a bound, and without losing the message that was next in line.

On SIGTERM (or SIGINT) `RasidWorker` first *drains*: it pauses fetching on every assigned
partition and waits until the agents have processed and acknowledged every message already
fetched (nothing buffered, nothing taken but unacknowledged). Only then does it hand over to
faust's own stop: suspend flow control, wait for the streams, commit the acknowledged offsets,
flush the producer, stop, exit 0.

Why drain first: when faust suspends flow control, a stream that takes a message from its
buffer after that moment *skips* it — and acknowledges it (faust acks skipped messages "so the
lag does not grow", faust/streams.py), so the final commit could move past a message no agent
processed. With fetching stopped and the buffers empty there is nothing left to skip. (Such
acks are ignored now too, and the next worker's start no longer drops messages:
streams/worker/faust_fixes.py.)

faust gives no bound either: a stuck send would keep the pod Terminating until Kubernetes
kills it. A watchdog started with the signal exits with code 70 (EX_SOFTWARE) if the clean stop
takes longer than RASID_SHUTDOWN_TIMEOUT_SECONDS; whatever was not committed by then is simply
processed again by the next worker (at-least-once; alert ids are deterministic). The drain may
use at most half of that time. A second signal skips the drain.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

from faust.worker import Worker

log = logging.getLogger("rasid.worker")

EX_SOFTWARE = 70


async def drain(app: Any, timeout: float, poll: float = 0.05, quiet_polls: int = 3) -> bool:
    """Stop fetching and wait until every fetched message was processed and acknowledged.
    Returns False if that did not happen within `timeout` seconds."""
    consumer = app.consumer
    consumer.pause_partitions(consumer.assignment())
    # A fetch already under way would still deliver records of the paused partitions (its
    # partition set was taken before the pause) after we saw the buffers empty: stop the
    # fetcher, as faust's own stop does a moment later.
    await app._stop_fetcher()
    # faust's channel queues (buffered, not yet taken by a stream) register with flow control.
    queues = getattr(app.flow_control, "_queues", ())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet = 0
    while loop.time() < deadline:
        busy = bool(consumer.unacked) or any(q.qsize() for q in list(queues))
        quiet = 0 if busy else quiet + 1
        if quiet >= quiet_polls:
            return True
        await asyncio.sleep(poll)
    return False


class RasidWorker(Worker):
    def __init__(self, *args: Any, shutdown_timeout: float = 20.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No terminal spinner: it writes escape codes into the JSON log stream, even to a pipe.
        self.spinner = None
        self.shutdown_timeout = shutdown_timeout
        self._watchdog: threading.Timer | None = None
        self._draining: asyncio.Future[None] | None = None

    def _schedule_shutdown(self, signal_: signal.Signals) -> None:
        if self._watchdog is None:
            log.info(
                "shutdown",
                extra={"signal": signal_.name, "timeout_seconds": self.shutdown_timeout},
            )
            self._watchdog = threading.Timer(self.shutdown_timeout, _force_exit)
            self._watchdog.daemon = True
            self._watchdog.start()
            if _has_assignment(self.app):
                self._draining = asyncio.ensure_future(self._drain_then_stop(signal_))
                return
        super()._schedule_shutdown(signal_)

    async def _drain_then_stop(self, signal_: signal.Signals) -> None:
        try:
            drained = await drain(self.app, self.shutdown_timeout / 2)
            log.info("drained" if drained else "drain timed out")
        except Exception:  # never let the drain stand between a signal and the stop
            log.warning("drain failed", exc_info=True)
        super()._schedule_shutdown(signal_)


def _has_assignment(app: Any) -> bool:
    try:
        return bool(app.consumer.assignment())
    except Exception:  # not started yet (a signal during startup): nothing to drain
        return False


def _force_exit() -> None:
    log.error("shutdown took too long: exiting without a clean stop")
    logging.shutdown()
    os._exit(EX_SOFTWARE)
