"""The deploy/ files: docker-compose (valid structure, every Rasid process and the monitoring
wired together), Grafana provisioning and dashboard, Alertmanager routing, the Dockerfile, and
the Kubernetes manifests validated offline against the Kubernetes schemas (kubernetes-validate
bundles them). Every process of PROCESSES (worker, ingest, api, webhooks) must have a
Deployment, a Service, a PodMonitor, a Prometheus scrape job and a docker-compose service."""

from __future__ import annotations

import copy
import os
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from streams.cli.main import build_parser
from streams.settings import Settings
from tests.ops.conftest import (
    DEPLOY,
    PROCESSES,
    PROMETHEUS_CONFIG,
    ROOT,
    Process,
    alert_rules,
    dashboard,
    dashboard_panels,
    scrape_jobs,
)

K8S = DEPLOY / "k8s"
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
by_name = pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# -------------------------------------------------------------------------- the processes
@by_name
def test_process_table_matches_the_code(process: Process, monkeypatch: pytest.MonkeyPatch) -> None:
    """PROCESSES (what the deploy files are checked against) names real commands and settings."""
    args = build_parser().parse_args([process.name])
    assert args.func.__name__ == f"cmd_{process.name}"
    for name in (process.port_setting, process.host_setting):
        monkeypatch.delenv(name, raising=False)
    port_field = process.port_setting.removeprefix("RASID_").lower()
    host_field = process.host_setting.removeprefix("RASID_").lower()
    assert getattr(Settings(), port_field) == process.port  # the default
    monkeypatch.setenv(process.port_setting, "16999")
    monkeypatch.setenv(process.host_setting, "0.0.0.0")
    settings = Settings()
    assert getattr(settings, port_field) == 16999
    assert getattr(settings, host_field) == "0.0.0.0"


def test_processes_have_distinct_ports_and_jobs() -> None:
    assert len({p.port for p in PROCESSES}) == len(PROCESSES)
    assert len({p.job for p in PROCESSES}) == len(PROCESSES)
    assert {p.name for p in PROCESSES} == {"worker", "ingest", "api", "webhooks"}


# ------------------------------------------------------------------------- docker-compose
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = _yaml(ROOT / "docker-compose.yml")
    return doc


def _host_path(volume: str) -> Path:
    return ROOT / volume.split(":", 1)[0]


def test_compose_runs_the_monitoring_stack() -> None:
    services = compose()["services"]
    assert {"kafka", "prometheus", "alertmanager", "grafana"} <= set(services)
    assert {p.name for p in PROCESSES} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for volume in service.get("volumes", []):
            assert _host_path(volume).exists(), f"{name}: {volume} does not exist"
        for dep in service.get("depends_on", []):
            assert dep in services, f"{name} depends on unknown service {dep}"


@by_name
def test_compose_runs_the_process(process: Process) -> None:
    service = compose()["services"].get(process.name)
    assert service is not None, f"docker-compose.yml has no service {process.name}"
    assert service["build"] == "."
    assert service["command"] == ["rasid", process.name]
    env = service["environment"]
    assert env["RASID_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert int(env[process.port_setting]) == process.port
    assert env[process.host_setting] == "0.0.0.0", "must listen beyond the container's loopback"
    assert f"{process.port}:{process.port}" in service["ports"]
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
    check = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{process.port}/healthz" in check


@by_name
def test_compose_prometheus_scrapes_the_process(process: Process) -> None:
    services = compose()["services"]
    assert process.name in services["prometheus"]["depends_on"]
    job = scrape_jobs().get(process.job)
    assert job is not None, f"{PROMETHEUS_CONFIG.name} has no scrape job {process.job}"
    (static,) = job["static_configs"]
    port = int(services[process.name]["environment"][process.port_setting])
    assert static["targets"] == [f"{process.name}:{port}"]
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_compose_prometheus_loads_the_rules_and_alertmanager() -> None:
    services = compose()["services"]
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"])
    config_host = next(h for h, c in mounts.items() if c.endswith("prometheus.yml"))
    assert (ROOT / config_host).resolve() == PROMETHEUS_CONFIG.resolve()
    config = _yaml(ROOT / config_host)
    in_container = {c.rsplit("/", 1)[1] for c in mounts.values()}
    assert set(config["rule_files"]) <= in_container, "rule files must be mounted beside it"
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


# ---------------------------------------------------------------------------- Dockerfile
def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), args.strip()))
    return stages


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in stage:
        if keyword == "ENV":
            for item in shlex.split(args):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def test_dockerfile_installs_a_built_wheel_not_the_source_tree() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: build the wheel, install it in a clean image"
    *build, final = stages
    build_runs = " ".join(args for stage in build for kw, args in stage if kw == "RUN")
    assert "pip wheel" in build_runs or "python -m build" in build_runs
    assert "-r requirements.lock" in build_runs  # dependencies at the locked versions
    final_runs = " ".join(args for kw, args in final if kw == "RUN")
    assert "pip install" in final_runs and ".whl" in final_runs
    everything = " ".join(args for stage in stages for _, args in stage)
    assert " -e " not in f" {everything} " and "--editable" not in everything
    # The final image gets the wheels from the build stage and, of the source tree, only the
    # sources file: no schemas/, no streams/ (they are inside the wheel).
    final_copies = [args.split() for kw, args in final if kw == "COPY"]
    assert any(c[0].startswith("--from=") for c in final_copies)
    assert all(c[0].startswith("--from=") or c[0] == "deploy/sources.yaml" for c in final_copies)
    assert final[-1] == ("CMD", '["rasid", "worker"]')


def test_dockerfile_build_stage_resolves_the_packaged_symlinks() -> None:
    """streams/ links to the top-level schemas/, rule pack and sources file; the build stage
    must copy each target to the same place, or the wheel silently lacks those files."""
    build, *_ = dockerfile_stages()
    workdir = PurePosixPath("/")
    copies: dict[PurePosixPath, PurePosixPath] = {}  # source in the repository → in the image
    for keyword, args in build:
        if keyword == "WORKDIR":
            workdir = workdir / args
        if keyword == "COPY":
            *sources, destination = args.split()
            for name in sources:
                landing = workdir / destination
                if len(sources) > 1 or destination.endswith("/"):
                    landing = landing / PurePosixPath(name).name
                copies[PurePosixPath(name)] = PurePosixPath(os.path.normpath(landing))
    root = copies[PurePosixPath("streams")].parent  # where the package is built
    links = [p for p in (ROOT / "streams").rglob("*") if p.is_symlink()]
    assert links, "streams/ has no symlinks any more: simplify the build stage"
    for link in links:
        target = PurePosixPath(link.resolve().relative_to(ROOT).as_posix())
        copied = [s for s in copies if s == target or s in target.parents]
        where = link.relative_to(ROOT)
        assert copied, f"the build stage does not copy {target} (the target of {where})"
        (source,) = copied
        assert copies[source] == root / source, f"{source} must land at {root / source}"


def test_dockerfile_carries_the_sources_file_everywhere_it_is_read() -> None:
    *_, final = dockerfile_stages()
    (destination,) = [
        args.split()[1] for kw, args in final if kw == "COPY" and args.startswith("deploy/sources")
    ]
    assert _env(final)["RASID_SOURCES_PATH"] == destination
    assert _by_kind("ConfigMap")["data"]["RASID_SOURCES_PATH"] == destination
    ingest = compose()["services"]["ingest"]
    assert ingest["environment"]["RASID_SOURCES_PATH"] == destination
    assert f"./deploy/sources.yaml:{destination}:ro" in ingest["volumes"]


def test_dockerfile_runs_as_the_kubernetes_user_and_exposes_every_port() -> None:
    *_, final = dockerfile_stages()
    (user,) = [args for kw, args in final if kw == "USER"]
    exposed = {int(p) for kw, args in final if kw == "EXPOSE" for p in args.split()}
    assert exposed == {p.port for p in PROCESSES}
    env = _env(final)
    assert env["RASID_WEB_HOST"] == env["RASID_API_HOST"] == "0.0.0.0"
    assert env["RASID_DATA_DIR"].startswith("/")  # not under the read-only install
    for deployment in _deployments().values():
        pod = deployment["spec"]["template"]["spec"]
        ids = pod["securityContext"]
        assert user == f"{ids['runAsUser']}:{ids['runAsGroup']}"


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
        # a failing or silent ingest source (issue 18)
        "rasid_ingest_source_consecutive_failures",
        "rasid_ingest_source_failures_total",
    ):
        assert needed in exprs, needed
    # Every process exports rasid_rules_loaded (0 outside the worker): select the worker.
    assert "rasid_rules_loaded{" in exprs and "min(rasid_rules_loaded)" not in exprs
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


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in k8s_documents() if d["kind"] == kind]


def _by_kind(kind: str) -> dict[str, Any]:
    (doc,) = _of_kind(kind)
    return doc


def _deployments() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _of_kind("Deployment")}


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def _selecting(kind: str, process: Process, path: tuple[str, ...]) -> list[dict[str, Any]]:
    """The documents of a kind whose selector (at path under spec) picks the process's pods."""
    pods = _pod_labels(_deployments()[process.deployment])
    found = []
    for doc in _of_kind(kind):
        selector = doc["spec"]
        for key in path:
            selector = selector[key]
        if _selects(selector, pods):
            found.append(doc)
    return found


def _job_of(monitor: dict[str, Any], pod_labels: dict[str, str]) -> str:
    """The job label a PodMonitor gives its targets: a relabeling to `job`, else jobLabel."""
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        for relabel in endpoint.get("relabelings", []):
            if relabel.get("targetLabel") == "job":
                assert relabel.get("action", "replace") == "replace"
                return str(relabel["replacement"])
    return pod_labels[monitor["spec"]["jobLabel"]]


def test_kustomization_lists_every_manifest() -> None:
    listed = set(_yaml(K8S / "kustomization.yaml")["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def _doc_id(item: tuple[str, dict[str, Any]]) -> str:
    name, doc = item
    return f"{name}:{doc['kind']}/{doc['metadata']['name']}"


K8S_CORE_DOCS = [d for d in k8s_documents() if d[1]["apiVersion"] != "monitoring.coreos.com/v1"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("item", K8S_CORE_DOCS, ids=[_doc_id(d) for d in K8S_CORE_DOCS])
def test_manifest_is_valid_kubernetes(item: tuple[str, dict[str, Any]], version: str) -> None:
    kubernetes_validate.validate(item[1], version, strict=True)


def test_every_manifest_is_validated() -> None:
    """Only the Prometheus Operator's CRDs (no bundled schema) escape the validator."""
    kinds = {(d["apiVersion"], d["kind"]) for _, d in k8s_documents()} - {
        (d["apiVersion"], d["kind"]) for _, d in K8S_CORE_DOCS
    }
    assert kinds == {("monitoring.coreos.com/v1", "PodMonitor")}
    assert {d["metadata"]["name"] for d in _of_kind("Deployment")} == {
        p.deployment for p in PROCESSES
    }


def test_the_validator_rejects_a_broken_manifest() -> None:
    """The schemas are really applied (offline): typos and wrong types are errors."""
    deployment = _deployments()["rasid-worker"]
    typo = copy.deepcopy(deployment)
    container = typo["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSIONS[-1], strict=True)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSIONS[-1], strict=True)


@by_name
def test_deployment_runs_the_process_with_probes(process: Process) -> None:
    deployment = _deployments().get(process.deployment)
    assert deployment is not None, f"deploy/k8s has no Deployment {process.deployment}"
    labels = _pod_labels(deployment)
    assert labels == {
        "app.kubernetes.io/name": "rasid",
        "app.kubernetes.io/component": process.name,
    }
    assert _selects(deployment["spec"]["selector"]["matchLabels"], labels)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["rasid", process.name]
    assert container["envFrom"] == [{"configMapRef": {"name": "rasid-config"}}]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert port == process.port
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] > 0
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    # The settings come from the ConfigMap: the process listens where the probes look.
    config = _by_kind("ConfigMap")["data"]
    assert int(config[process.port_setting]) == port
    assert config[process.host_setting] == "0.0.0.0"


def test_every_deployment_runs_the_same_image() -> None:
    images = {
        c["image"]
        for d in _deployments().values()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert len(images) == 1, images


@by_name
def test_service_selects_only_the_process_pods(process: Process) -> None:
    (service,) = _selecting("Service", process, ("selector",))
    assert service["metadata"]["name"] == process.deployment
    ((name, port),) = [(p["name"], p) for p in service["spec"]["ports"]]
    assert name == "http" and port["targetPort"] == "http" and port["port"] == process.port
    for other in PROCESSES:
        if other != process:
            assert not _selects(
                service["spec"]["selector"], _pod_labels(_deployments()[other.deployment])
            )


@by_name
def test_podmonitor_scrapes_the_process_as_its_job(process: Process) -> None:
    """The rules select on the job label: the PodMonitor must give the same job as
    deploy/prometheus/prometheus.yml, and select this process's pods only."""
    (monitor,) = _selecting("PodMonitor", process, ("selector", "matchLabels"))
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {**endpoint, "port": "http", "path": "/metrics"}
    pods = _pod_labels(_deployments()[process.deployment])
    assert _job_of(monitor, pods) == process.job
    assert process.job in scrape_jobs()


def test_worker_deployment_rollout_and_shutdown() -> None:
    deployment = _deployments()["rasid-worker"]
    pod = deployment["spec"]["template"]["spec"]
    config = _by_kind("ConfigMap")["data"]
    # The kubelet's SIGKILL must come after the worker's own bound on a clean stop.
    assert pod["terminationGracePeriodSeconds"] > float(config["RASID_SHUTDOWN_TIMEOUT_SECONDS"])
    assert deployment["spec"]["replicas"] <= int(config["RASID_TOPIC_PARTITIONS"])


@pytest.mark.parametrize("name", ["rasid-worker", "rasid-webhooks"])
def test_consumer_group_processes_roll_one_at_a_time(name: str) -> None:
    """Readiness needs partitions: a surge pod could wait for the old pod's partitions forever,
    and every replacement is a rebalance."""
    strategy = _deployments()[name]["spec"]["strategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }


def test_ingest_runs_alone() -> None:
    """Two ingesters polling the same sources double the load on the outlets and race on new
    URLs (docs/ingest.md): one replica, replaced (not overlapped) on a rollout."""
    deployment = _deployments()["rasid-ingest"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_disruption_budgets_protect_without_blocking_drains() -> None:
    budgets = _of_kind("PodDisruptionBudget")
    assert budgets, "the worker and the API have PodDisruptionBudgets"
    covered = set()
    for pdb in budgets:
        selector = pdb["spec"]["selector"]["matchLabels"]
        (name,) = [n for n, d in _deployments().items() if _selects(selector, _pod_labels(d))]
        covered.add(name)
        replicas = _deployments()[name]["spec"]["replicas"]
        assert replicas >= 2, f"{pdb['metadata']['name']}: a budget on one replica blocks drains"
        assert pdb["spec"].get("maxUnavailable", 1) >= 1
        assert pdb["spec"].get("minAvailable", 0) < replicas
    assert {"rasid-worker", "rasid-api"} <= covered
