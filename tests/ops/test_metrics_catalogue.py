"""Every metric the dashboard and the alert rules use is one the worker exposes on /metrics,
and docs/metrics.md documents every rasid_* metric."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest

from streams.settings import Settings
from streams.worker.app import create_app
from streams.worker.context import WorkerContext
from tests.ops.conftest import (
    ROOT,
    alert_rules,
    dashboard_exprs,
    exposed_names,
    metric_names,
)


@pytest.fixture
async def rasid(tmp_path: Path) -> AsyncIterator[WorkerContext]:
    yield create_app(Settings(data_dir=tmp_path, web_port=16067))


async def _scrape(rasid: WorkerContext) -> str:
    """What GET /metrics answers (streams/worker/web.py serves exactly this registry); the
    integration test tests/integration/test_prometheus_e2e.py checks the real endpoint."""
    assert rasid.app.monitor is not None  # faust's sensors are registered too
    return generate_latest(REGISTRY).decode()


async def test_dashboard_and_rules_use_only_exposed_metrics(rasid: WorkerContext) -> None:
    exposed = exposed_names(await _scrape(rasid))
    used = metric_names(dashboard_exprs() + [str(r["expr"]) for r in alert_rules()])
    assert {"rasid_stage_in_total", "rasid_consumer_lag", "faust_total_events_total"} <= used
    missing = sorted(used - exposed)
    assert not missing, f"used in deploy/ but not on /metrics: {missing}"


def test_metric_name_extraction() -> None:
    exprs = [
        'histogram_quantile(0.99, sum by (le) (rate(rasid_x_seconds_bucket{a="b"}[5m])))',
        "time() - max by (source) (rasid_last) > faust_y",
    ]
    assert metric_names(exprs) == {"rasid_x_seconds_bucket", "rasid_last", "faust_y"}
    text = '# TYPE rasid_h histogram\nrasid_c_total 1.0\nrasid_g{a="b"} 2\n'
    assert exposed_names(text) == {
        "rasid_h",
        "rasid_h_bucket",
        "rasid_h_sum",
        "rasid_h_count",
        "rasid_c_total",
        "rasid_g",
    }


async def test_every_rasid_metric_is_documented(rasid: WorkerContext) -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    families = {metric.name for metric in REGISTRY.collect() if metric.name.startswith("rasid_")}
    assert len(families) >= 15
    undocumented = sorted(name for name in families if f"`{name}" not in doc)
    assert not undocumented, f"add to docs/metrics.md: {undocumented}"


# Metrics the rules use that are not Rasid's own: Prometheus's `up`, and prometheus_client's
# process collector, which every Rasid process serves from the same default registry.
FOREIGN_METRICS = {"up", "process_start_time_seconds"}


@pytest.mark.skipif(sys.platform != "linux", reason="the process collector reads /proc")
async def test_rules_use_only_known_foreign_metrics(rasid: WorkerContext) -> None:
    exprs = dashboard_exprs() + [str(r["expr"]) for r in alert_rules()]
    selected = {name for expr in exprs for name in re.findall(r"\b([a-zA-Z_:][\w:]*)\{", expr)}
    foreign = {name for name in selected if not name.startswith(("rasid_", "faust_"))}
    assert foreign <= FOREIGN_METRICS, foreign - FOREIGN_METRICS
    exposed = exposed_names(await _scrape(rasid))
    assert FOREIGN_METRICS - {"up"} <= exposed
