"""Web views on the worker's port: /metrics (Prometheus), /healthz, /readyz."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

if TYPE_CHECKING:
    from streams.worker.app import Rasid


def register(rasid: Rasid) -> None:
    app = rasid.app

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        checks = {
            "rules_loaded": rasid.state.get("rules_loaded", False),
            "consumer_assigned": bool(app.consumer.assignment()) and not app.rebalancing,
        }
        ok = all(checks.values())
        return web.json({"ready": ok, **checks}, status=200 if ok else 503)
