"""Web views on the worker's port: /metrics (Prometheus), /healthz, /readyz."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams import health

if TYPE_CHECKING:
    from streams.worker.context import WorkerContext


def register(ctx: WorkerContext) -> None:
    app = ctx.app

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        body, content_type = health.metrics_payload()
        return web.bytes(body, headers={"Content-Type": content_type})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json(health.HEALTHY)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        checks = {
            "rules_loaded": ctx.readiness.rules_loaded,
            "consumer_assigned": bool(app.consumer.assignment()) and not app.rebalancing,
        }
        body, status = health.readiness(checks)
        return web.json(body, status=status)
