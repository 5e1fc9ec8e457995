"""Helpers for the operations integration tests: a deployment with extra settings, a real
Prometheus (Debian's binary) on loopback, and reading a worker's /metrics."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.integration.conftest import BOOTSTRAP, Env, free_port, stop_process


@dataclass
class OpsEnv(Env):
    """An Env with its own topics, group and port, plus extra RASID_* settings."""

    extra: dict[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        env = super().environ()
        env.update(self.extra)
        return env


def new_env(tmp: Path, name: str, **extra: str) -> OpsEnv:
    assert BOOTSTRAP
    return OpsEnv(
        bootstrap=BOOTSTRAP,
        prefix=f"rasid-{name}-{uuid.uuid4().hex[:8]}",
        web_port=free_port(),
        data_dir=tmp / "worker",
        extra=extra,
    )


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body: bytes = resp.read()
        return body


def scrape(env: Env) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The worker's /metrics as {(name, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = http_get(f"http://127.0.0.1:{env.web_port}/metrics").decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def sample(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (OSError, urllib.error.URLError) as exc:  # not up yet
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Prometheus:
    """Debian's prometheus on 127.0.0.1, scraping one worker every second."""

    def __init__(self, workdir: Path, worker_port: int, rule_files: list[Path]) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus missing: scripts/bootstrap installs Debian's prometheus"
        self.port = free_port()
        self.workdir = workdir
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {
                    "job_name": "rasid",
                    "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
                }
            ],
        }
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_bytes(orjson.dumps(config))  # JSON is YAML
        self.log = workdir / "prometheus.log"
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        wait_for(self._ready, 60, "prometheus ready")

    def _ready(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
        return http_get(f"http://127.0.0.1:{self.port}/-/ready").startswith(b"Prometheus")

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        body = orjson.loads(http_get(f"http://127.0.0.1:{self.port}/api/v1/{path}?{query}"))
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> dict[frozenset[tuple[str, str]], float]:
        """An instant query → {labels (without job/instance): value}."""
        data = self.api("query", query=expr)
        out = {}
        for item in data["result"]:
            labels = {k: v for k, v in item["metric"].items() if k not in {"job", "instance"}}
            out[frozenset(labels.items())] = float(item["value"][1])
        return out

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        assert len(result) <= 1, result
        return next(iter(result.values()), None)

    def stop(self) -> None:
        stop_process(self.proc)
