"""End to end with a real Prometheus: Debian's prometheus binary on loopback scrapes a running
worker and evaluates deploy/prometheus/alerts.yml; the sample articles are published, and the
rasid series are checked through Prometheus's HTTP API against what the pipeline computes
offline for the same articles."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from streams.cli.main import raw_message
from streams.settings import Settings
from streams.worker.observe import region_codes
from streams.worker.pipeline import Pipeline
from tests.conftest import FIXTURES
from tests.integration.conftest import Worker
from tests.integration.ops_support import OpsEnv, Prometheus, new_env, wait_for
from tests.ops.conftest import ALERTS, alert_rules, dashboard_exprs, metric_names

pytestmark = pytest.mark.integration

ARTICLES = sorted(FIXTURES.glob("baghdadtoday-*.txt"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpsEnv, Prometheus]]:
    tmp = tmp_path_factory.mktemp("prom-e2e")
    env = new_env(
        tmp, "prom", RASID_SOURCE_INTERVALS='{"baghdadtoday": 3600}', RASID_LAG_INTERVAL_SECONDS="1"
    )
    env.rasid("topics")
    worker = Worker(env, tmp / "worker.log")
    worker.start()
    prometheus = Prometheus(tmp / "prometheus", env.web_port, [ALERTS])
    try:
        yield env, prometheus
    finally:
        prometheus.stop()
        worker.stop()


def expected_from_pipeline() -> dict[str, Any]:
    """What the worker must count for the fixtures: computed by the same pure pipeline."""
    pipe = Pipeline.load(Settings())
    alerts: Counter[tuple[str, str]] = Counter()
    regions: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    with_alerts = 0
    for path in ARTICLES:
        message = raw_message(
            path.read_text(encoding="utf-8"), source="baghdadtoday", url=None, content_type=None
        )
        enriched, found = pipe.classify(orjson.dumps(message))
        regions.update(
            {r["code"] if r["code"] in region_codes() else "other" for r in enriched["regions"]}
            or {"none"}
        )
        topics.update({t["code"] for t in enriched["topics"]} or {"none"})
        alerts.update((a["rule"], a["severity"]) for a in found)
        with_alerts += bool(found)
    return {
        "articles": len(ARTICLES),
        "alerts": alerts,
        "regions": regions,
        "topics": topics,
        "with_alerts": with_alerts,
        "rules": len(pipe.rules),
    }


def test_prometheus_sees_the_pipeline(stack: tuple[OpsEnv, Prometheus]) -> None:
    env, prom = stack
    assert ARTICLES, "no sample articles in tests/fixtures"
    expected = expected_from_pipeline()
    assert expected["alerts"], "the sample articles must raise alerts"
    n = expected["articles"]

    wait_for(lambda: prom.value('up{job="rasid"}') == 1.0, 60, "the worker scraped")
    published_at = time.time()
    env.rasid("publish", *map(str, ARTICLES))
    asyncio.run(env.produce([b"{not json"]))  # one dead letter

    n_alerts = sum(expected["alerts"].values())
    wait_for(
        lambda: (
            prom.value("sum(rasid_alerts_total)") == n_alerts
            and prom.value("sum(rasid_deadletters_total)") == 1
        ),
        120,
        "alerts and the dead letter in Prometheus",
    )

    stage = {
        (name, dict(labels)["stage"]): value
        for name in ("rasid_stage_in_total", "rasid_stage_out_total", "rasid_stage_errors_total")
        for labels, value in prom.query(name).items()
    }
    assert stage[("rasid_stage_in_total", "parse")] == n + 1
    assert stage[("rasid_stage_errors_total", "parse")] == 1
    assert stage[("rasid_stage_out_total", "enrich")] == n
    assert stage[("rasid_stage_in_total", "match")] == n
    assert stage[("rasid_stage_out_total", "match")] == n
    assert stage[("rasid_stage_out_total", "alert")] == expected["with_alerts"]
    assert prom.value('rasid_deadletters_total{reason="invalid_json"}') == 1
    assert prom.value('rasid_stage_seconds_count{stage="enrich"}') == n

    alerts = {
        (dict(k)["rule"], dict(k)["severity"]): v
        for k, v in prom.query("rasid_alerts_total").items()
    }
    assert alerts == dict(expected["alerts"])

    assert prom.value('rasid_articles_total{source="baghdadtoday"}') == n
    regions = {dict(k)["region"]: v for k, v in prom.query("rasid_article_regions_total").items()}
    assert regions == dict(expected["regions"])
    topics = {dict(k)["topic"]: v for k, v in prom.query("rasid_article_topics_total").items()}
    assert topics == dict(expected["topics"])

    # Latency histograms: one end-to-end observation per alert, well under a minute here.
    assert prom.value("rasid_ingested_to_alerted_seconds_count") == n_alerts
    assert prom.value('rasid_ingested_to_alerted_seconds_bucket{le="60.0"}') == n_alerts
    assert prom.value("rasid_raw_wait_seconds_count") == n
    assert prom.value("rasid_published_to_ingested_seconds_count") == n
    p99 = prom.value(
        "histogram_quantile(0.99, sum by (le) (rasid_ingested_to_alerted_seconds_bucket))"
    )
    assert p99 is not None and 0 < p99 <= 60

    # Sources, rules, consumer lag.
    assert prom.value('rasid_source_expected_interval_seconds{source="baghdadtoday"}') == 3600
    last_seen = prom.value('rasid_source_last_article_timestamp_seconds{source="baghdadtoday"}')
    assert last_seen is not None and published_at - 1 <= last_seen <= time.time()
    assert prom.value("rasid_rules_loaded") == expected["rules"]
    assert prom.value("count(rasid_ruleset_info == 1)") == 1
    lag_topics = {dict(k)["topic"] for k in prom.query("rasid_consumer_lag")}
    # what the worker consumes: raw articles (the hot stage) and story candidates
    assert lag_topics == {env.topics["raw"], f"{env.topics['alerts']}.stories"}
    wait_for(lambda: prom.value("sum(rasid_consumer_lag)") == 0, 60, "consumer lag back to 0")
    assert prom.value("sum(faust_total_events_total)") is not None  # faust's sensors kept


OTHER_PROCESS_PREFIXES = ("rasid_ingest_", "rasid_webhook_", "rasid_api_")


def test_every_metric_used_in_deploy_is_scraped(stack: tuple[OpsEnv, Prometheus]) -> None:
    _env, prom = stack
    wait_for(lambda: prom.value('up{job="rasid"}') == 1.0, 60, "the worker scraped")
    used = metric_names(dashboard_exprs() + [str(r["expr"]) for r in alert_rules()])
    # This stack scrapes one worker: metrics that only the ingest, webhooks and API processes
    # fill in have no samples here (their names are checked against the registry by
    # tests/ops/test_metrics_catalogue.py).
    other_processes = {m for m in used if m.startswith(OTHER_PROCESS_PREFIXES)}
    stored = set(prom.api("label/__name__/values"))
    missing = sorted(used - other_processes - stored)
    assert not missing, f"not in Prometheus: {missing}"


def test_prometheus_evaluates_the_alert_rules(stack: tuple[OpsEnv, Prometheus]) -> None:
    _env, prom = stack
    names = {rule["alert"] for rule in alert_rules()}

    def evaluated() -> dict[str, dict[str, Any]] | None:
        groups = prom.api("rules")["groups"]
        rules = {r["name"]: r for g in groups for r in g["rules"]}
        if set(rules) == names and all(
            r.get("lastEvaluation", "0001").startswith("2") for r in rules.values()
        ):
            return rules
        return None

    rules = wait_for(evaluated, 60, "rules evaluated")
    for name, rule in rules.items():
        assert rule["health"] == "ok", (name, rule.get("lastError"))
    # A healthy worker with rules: neither of these may be pending or firing.
    assert rules["RasidWorkerDown"]["state"] == "inactive"
    assert rules["RasidNoRulesLoaded"]["state"] == "inactive"
