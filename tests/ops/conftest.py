"""Shared helpers for the operations tests: the deploy/ files and the metric names they use."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "tests" / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "rasid.json"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"


@dataclass(frozen=True)
class Process:
    """A long-running Rasid process: `rasid <name>`, the docker-compose service <name>, the
    Kubernetes Deployment rasid-<name> (pod label app.kubernetes.io/component=<name>), scraped
    by Prometheus as job <job> on the port of <port_setting> (bound to <host_setting>)."""

    name: str
    job: str
    port: int
    port_setting: str
    host_setting: str

    @property
    def deployment(self) -> str:
        return f"rasid-{self.name}"


# Every process the deploy/ files must cover (issue 12), with its streams/settings.py names.
PROCESSES = (
    Process("worker", "rasid", 6066, "RASID_WEB_PORT", "RASID_WEB_HOST"),
    Process("ingest", "rasid-ingest", 6067, "RASID_INGEST_WEB_PORT", "RASID_WEB_HOST"),
    Process("api", "rasid-api", 6068, "RASID_API_PORT", "RASID_API_HOST"),
    Process("webhooks", "rasid-webhooks", 6069, "RASID_WEBHOOK_PORT", "RASID_WEB_HOST"),
)

# A metric name in PromQL: an identifier not followed by "(" (a function) and not a label,
# keyword or duration. Only rasid_* and faust_* names are ours to check.
_IDENT = re.compile(r"\b((?:rasid|faust)_[a-zA-Z0-9_]+)\b")


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def scrape_jobs() -> dict[str, dict[str, Any]]:
    """The scrape configs of deploy/prometheus/prometheus.yml by job name."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    return {job["job_name"]: job for job in config["scrape_configs"]}


def dashboard() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return result


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard_panels() for t in p.get("targets", [])]


def metric_names(exprs: list[str]) -> set[str]:
    return {name for expr in exprs for name in _IDENT.findall(expr)}


def exposed_names(exposition: str) -> set[str]:
    """Every sample name in a Prometheus text exposition (what a scrape stores)."""
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            names.add(name)
            if kind == "histogram":  # a family with no observation yet still has these
                names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return names
