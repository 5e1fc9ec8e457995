"""/metrics with `name[]`: only the series asked for, and a bounded filter."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams import health, metrics


def _series(body: bytes) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in body.decode().splitlines()
        if line and not line.startswith("#")
    }


def test_the_whole_page_without_names() -> None:
    metrics.STAGE_OUT.labels(stage="parse").inc(0)
    series = _series(health.metrics_payload()[0])
    assert {"rasid_stage_out_total", "rasid_stage_in_total"} <= series
    assert len(series) > 20


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["rasid_stage_out_total"], {"rasid_stage_out_total"}),
        (
            ["rasid_stage_out_total", "rasid_rules_loaded"],
            {"rasid_stage_out_total", "rasid_rules_loaded"},
        ),
        (["no_such_metric"], set()),
    ],
)
def test_only_the_series_named(names: list[str], expected: set[str]) -> None:
    metrics.STAGE_OUT.labels(stage="parse").inc(0)
    body, content_type = health.metrics_payload(names)
    assert _series(body) == expected
    assert content_type.startswith("text/plain")


def test_the_filter_is_bounded() -> None:
    names = [f"x{i}" for i in range(1000)] + ["rasid_stage_out_total"]
    # the name past MAX_METRIC_NAMES is not read: nothing matches the first 32
    assert _series(health.metrics_payload(names)[0]) == set()
    long_name = "rasid_stage_out_total" + "x" * 10_000
    assert _series(health.metrics_payload([long_name])[0]) == set()


async def test_the_route_reads_name_parameters() -> None:
    app = web.Application()
    health.add_routes(app, lambda: {"ok": True})
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/metrics", params=[("name[]", "rasid_stage_out_total")])
        assert resp.status == 200
        assert _series(await resp.read()) == {"rasid_stage_out_total"}
        whole = await client.get("/metrics")
        assert len(_series(await whole.read())) > 20
