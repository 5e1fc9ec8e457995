"""Web views on the worker's port: /metrics (Prometheus), /healthz, /readyz."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from streams import health
from streams.worker import batches

if TYPE_CHECKING:
    from streams.worker.context import WorkerContext


log = logging.getLogger("rasid.worker")


def ready_checks(ctx: WorkerContext) -> dict[str, bool]:
    """What /readyz reports: rules loaded, partitions assigned, and the broker reachable."""
    app = ctx.app
    return {
        "rules_loaded": ctx.readiness.rules_loaded,
        "consumer_assigned": bool(app.consumer.assignment()) and not app.rebalancing,
        "broker_reachable": (
            batches.BROKER.unreachable_for() <= ctx.settings.broker_unready_after_seconds
        ),
    }


async def ping(client: Any) -> None:
    """One round trip to a broker the client knows: a metadata request for NO topics (brokers
    only), so its cost does not grow with the cluster's topics (a request for all of them, on
    a broker with ~700 topics, took ~5% of the worker's main thread every 5 s). Raises
    KafkaError if no broker answered."""
    nodes = [broker.nodeId for broker in client.cluster.brokers()] or [client.get_random_node()]
    last: Exception | None = None
    for node in nodes:
        if node is None:
            continue
        try:
            await client.send(node, MetadataRequest([]))
        except KafkaError as exc:
            last = exc
        else:
            return
    raise KafkaError(f"no broker answered: {last!r}")


async def probe_broker(ctx: WorkerContext) -> None:
    """One round trip on the producer's client: reached or failed (for /readyz).

    An idle worker sends nothing, so without it an outage would go unnoticed by `deliver`."""
    client = getattr(getattr(ctx.app.producer, "_producer", None), "client", None)
    if client is None:
        return  # the producer is not started yet
    try:
        await asyncio.wait_for(ping(client), timeout=ctx.settings.broker_probe_interval_seconds)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        batches.BROKER.failed()
        log.warning("broker unreachable", extra={"error": repr(exc)[:300]})
    else:
        batches.BROKER.reached()


def register(ctx: WorkerContext) -> None:
    app = ctx.app

    async def broker_probe() -> None:
        await probe_broker(ctx)

    app.timer(ctx.settings.broker_probe_interval_seconds, name="rasid.broker_probe")(broker_probe)

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        body, content_type = health.metrics_payload(request.query.getall("name[]", []))
        return web.bytes(body, headers={"Content-Type": content_type})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json(health.HEALTHY)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        unreachable = round(batches.BROKER.unreachable_for(), 1)
        body, status = health.readiness(
            ready_checks(ctx), {"broker_unreachable_seconds": unreachable}
        )
        return web.json(body, status=status)
