"""The deploy/ files: docker-compose (valid structure, monitoring wired together), Grafana
provisioning and dashboard, Alertmanager routing, and the Kubernetes manifests validated
offline against the Kubernetes schemas (kubernetes-validate bundles them)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.ops.conftest import DEPLOY, ROOT, alert_rules, dashboard, dashboard_panels

K8S = DEPLOY / "k8s"
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------- docker-compose
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = _yaml(ROOT / "docker-compose.yml")
    return doc


def _host_path(volume: str) -> Path:
    return ROOT / volume.split(":", 1)[0]


def test_compose_runs_the_monitoring_stack() -> None:
    services = compose()["services"]
    assert {"kafka", "worker", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for volume in service.get("volumes", []):
            assert _host_path(volume).exists(), f"{name}: {volume} does not exist"
        for dep in service.get("depends_on", []):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_compose_prometheus_scrapes_the_worker_and_loads_the_rules() -> None:
    services = compose()["services"]
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"])
    config_host = next(h for h, c in mounts.items() if c.endswith("prometheus.yml"))
    config = _yaml(ROOT / config_host)
    in_container = {c.rsplit("/", 1)[1] for c in mounts.values()}
    assert set(config["rule_files"]) <= in_container, "rule files must be mounted beside it"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = jobs["rasid"]["static_configs"][0]["targets"]
    worker_port = str(services["worker"]["environment"]["RASID_WEB_PORT"])
    assert targets == [f"worker:{worker_port}"]
    assert services["worker"]["environment"]["RASID_WEB_HOST"] == "0.0.0.0"
    (am,) = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am.split(":")[0] == "alertmanager"


def test_compose_grafana_provisions_datasource_and_dashboard() -> None:
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    provisioning = ROOT / next(h for h, c in mounts.items() if c == "/etc/grafana/provisioning")
    (datasource,) = _yaml(provisioning / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    (provider,) = _yaml(provisioning / "dashboards" / "rasid.yml")["providers"]
    dashboards_host = next(h for h, c in mounts.items() if c == provider["options"]["path"])
    assert (ROOT / dashboards_host / "rasid.json").is_file()
    uids = {t["datasource"]["uid"] for p in dashboard_panels() for t in p.get("targets", [])} | {
        p["datasource"]["uid"] for p in dashboard_panels() if "datasource" in p
    }
    assert uids == {datasource["uid"]}


def test_alertmanager_pages_critical_and_queues_warnings() -> None:
    config = _yaml(DEPLOY / "alertmanager" / "alertmanager.yml")
    receivers = {r["name"] for r in config["receivers"]}
    routes = {tuple(r["matchers"]): r["receiver"] for r in config["route"]["routes"]}
    assert routes[('severity="critical"',)] == "pager"
    assert routes[('severity="warning"',)] == "work-queue"
    assert set(routes.values()) | {config["route"]["receiver"]} <= receivers
    severities = {rule["labels"]["severity"] for rule in alert_rules()}
    assert severities == {"critical", "warning"}


# ---------------------------------------------------------------------------- dashboard
def test_dashboard_shows_what_operators_need() -> None:
    dash = dashboard()
    assert dash["uid"] == "rasid"
    exprs = " ".join(t["expr"] for p in dashboard_panels() for t in p.get("targets", []))
    for needed in (
        "rasid_stage_in_total",  # throughput per stage
        "rasid_stage_errors_total",
        "rasid_deadletters_total",
        "histogram_quantile(0.5, sum by (le) (rate(rasid_ingested_to_alerted_seconds_bucket",
        "histogram_quantile(0.95, sum by (le) (rate(rasid_ingested_to_alerted_seconds_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(rasid_ingested_to_alerted_seconds_bucket",
        "sum by (severity) (rate(rasid_alerts_total",
        "sum by (rule) (increase(rasid_alerts_total",
        "rasid_article_regions_total",
        "rasid_article_topics_total",
        "rasid_source_last_article_timestamp_seconds",
        "rasid_consumer_lag",
    ):
        assert needed in exprs, needed
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard_panels():
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


# ---------------------------------------------------------------------------- kubernetes
def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    kustomization = _yaml(K8S / "kustomization.yaml")
    docs = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")):
            docs.append((name, doc))
    return docs


def _by_kind(kind: str) -> dict[str, Any]:
    (doc,) = [d for _, d in k8s_documents() if d["kind"] == kind]
    return doc


def test_kustomization_lists_every_manifest() -> None:
    listed = set(_yaml(K8S / "kustomization.yaml")["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    "name,doc",
    [(n, d) for n, d in k8s_documents() if d["apiVersion"] != "monitoring.coreos.com/v1"],
    ids=lambda v: v if isinstance(v, str) else v["kind"],
)
def test_manifest_is_valid_kubernetes(name: str, doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest() -> None:
    """The schemas are really applied (offline): typos and wrong types are errors."""
    deployment = _by_kind("Deployment")
    typo = copy.deepcopy(deployment)
    container = typo["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbes"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSIONS[-1], strict=True)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSIONS[-1], strict=True)


def test_worker_deployment_probes_resources_and_shutdown() -> None:
    deployment = _by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["requests"]["memory"]
    config = _by_kind("ConfigMap")["data"]
    assert int(config["RASID_WEB_PORT"]) == port
    assert config["RASID_WEB_HOST"] == "0.0.0.0"
    # The kubelet's SIGKILL must come after the worker's own bound on a clean stop.
    assert pod["terminationGracePeriodSeconds"] > float(config["RASID_SHUTDOWN_TIMEOUT_SECONDS"])
    assert deployment["spec"]["replicas"] <= int(config["RASID_TOPIC_PARTITIONS"])
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_service_and_podmonitor_select_the_worker_pods() -> None:
    pod_labels = _by_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    service = _by_kind("Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    monitor = _by_kind("PodMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {**endpoint, "port": "http", "path": "/metrics"}
    # The rules and the dashboard select job="rasid": the job label comes from this pod label.
    assert pod_labels[monitor["spec"]["jobLabel"]] == "rasid"
    pdb = _by_kind("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
