"""/metrics, /healthz and /readyz, written once for the four processes (worker, api, webhooks,
ingest): the same bodies, status codes and content types everywhere, so probes, Prometheus
and the runbooks treat every process alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

Checks = Callable[[], Mapping[str, bool]]
Details = Callable[[], Mapping[str, Any]]

HEALTHY: dict[str, str] = {"status": "ok"}


# `name[]` query parameters read at most (each cut to MAX_METRIC_NAME characters): a query
# string cannot make the process build a large filter.
MAX_METRIC_NAMES = 32
MAX_METRIC_NAME = 200


def metrics_payload(names: Iterable[str] = ()) -> tuple[bytes, str]:
    """The process's Prometheus exposition and its content type; with `names` (the `name[]`
    query parameters, as prometheus_client's own handler reads them), only those series.
    A poller that wants one counter then does not make the process render every series: with
    a 10,000-rule pack the worker's whole page is ~22,000 lines, ~0.13 s of its CPU."""
    wanted = [name[:MAX_METRIC_NAME] for name in islice(names, MAX_METRIC_NAMES)]
    registry = REGISTRY.restricted_registry(wanted) if wanted else REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def readiness(
    checks: Mapping[str, bool], details: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], int]:
    """Ready when every named check holds: the body names each one (plus any details), the
    status is 200 or 503."""
    ok = all(checks.values())
    return {"ready": ok, **checks, **(details or {})}, 200 if ok else 503


def add_routes(app: web.Application, checks: Checks, details: Details | None = None) -> None:
    """The three endpoints on an aiohttp app (api, webhooks, ingest)."""

    async def metrics_view(request: web.Request) -> web.Response:
        body, content_type = metrics_payload(request.query.getall("name[]", []))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(HEALTHY)

    async def readyz(request: web.Request) -> web.Response:
        body, status = readiness(checks(), details() if details else None)
        return web.json_response(body, status=status)

    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
