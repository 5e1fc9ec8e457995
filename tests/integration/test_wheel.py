"""A wheel that works anywhere (issue 12): build Rasid's wheel, install it (not editable) into a
fresh virtual environment outside the repository, and run the installed `rasid` from a directory
outside the repository: `classify` offline, and a worker on the test broker, fed by the installed
`publish` and read back by the installed `tail`.

The wheel is built from a copy of the files a build needs (what the Dockerfile copies), so the
repository's working tree gets no build/ directory. The new environment reuses this project's
installed dependencies through a .pth file (fast, no download), but `streams` itself comes only
from the wheel: schemas, the default rule pack or the live page missing from the wheel make
these tests fail, since the installed package has no checkout to fall back on."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.validation import SCHEMA_FILES, schema_errors
from tests.conftest import SAMPLE
from tests.integration.conftest import BOOTSTRAP, free_port, stop_process, wait_ready

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# What a wheel build needs: the package and the top-level files its symlinks point at.
BUILD_INPUTS = (
    "pyproject.toml",
    "README.md",
    "streams",
    "schemas",
    "deploy/rules/default.yaml",
    "deploy/sources.yaml",
)
# Packaged copies of top-level files: wheel path → the repository's file.
PACKAGED = {
    **{f"streams/schemas/{p.name}": p for p in sorted((ROOT / "schemas").glob("*.json"))},
    "streams/data/rules/default.yaml": ROOT / "deploy" / "rules" / "default.yaml",
    "streams/data/sources.yaml": ROOT / "deploy" / "sources.yaml",
    "streams/api/static/index.html": ROOT / "streams" / "api" / "static" / "index.html",
    # the console's modules and vendored map files (package-data api/static/**/*)
    **{
        f"streams/api/static/{p.relative_to(ROOT / 'streams' / 'api' / 'static')}": p
        for p in sorted((ROOT / "streams" / "api" / "static").rglob("*"))
        if p.is_file()
    },
    "streams/data/places_geo.json": ROOT / "streams" / "data" / "places_geo.json",
    "streams/data/gazetteer.json": ROOT / "streams" / "data" / "gazetteer.json",
    "streams/data/topic_lexicons.yaml": ROOT / "streams" / "data" / "topic_lexicons.yaml",
    "streams/data/names.yaml": ROOT / "streams" / "data" / "names.yaml",
}


@dataclass
class Installed:
    venv: Path
    wheel: Path
    cwd: Path  # outside the repository

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def environ(self, **extra: str) -> dict[str, str]:
        """This environment, minus every RASID_ setting (defaults are under test) and anything
        that could put the checkout on sys.path."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("RASID_") and k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env.update(extra)
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.cwd,
            env=env or self.environ(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )


def _copy_build_inputs(dest: Path) -> None:
    for name in BUILD_INPUTS:
        source, target = ROOT / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            # symlinks=True: the package's relative links stay links, as in a checkout
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".cache")
            shutil.copytree(source, target, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(source, target)


def _pip(*args: str, timeout: float = 300) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT)
    src, dist, venv, cwd = base / "src", base / "dist", base / "venv", base / "work"
    _copy_build_inputs(src)
    _pip("wheel", "--no-deps", "--wheel-dir", str(dist), str(src))
    (wheel,) = dist.glob("rasid-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Installed before the .pth below exists: pip sees an empty environment (it must not
    # see this project's editable install, let alone touch it).
    _pip("--python", str(python), "install", "--no-deps", "--no-index", str(wheel))
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
    # A plain path line: the project's site-packages is appended to sys.path for the
    # dependencies, but its own .pth files (the editable install's finder) are not run.
    (Path(site) / "_rasid_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    cwd.mkdir()
    return Installed(venv=venv, wheel=wheel, cwd=cwd)


def test_wheel_holds_real_files_not_links(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        infos = {i.filename: i for i in whl.infolist()}
        assert set(SCHEMA_FILES.values()) <= {
            n.removeprefix("streams/schemas/") for n in infos if n.startswith("streams/schemas/")
        }
        for name, original in PACKAGED.items():
            assert name in infos, f"{name} is not in the wheel"
            info = infos[name]
            assert not stat.S_ISLNK(info.external_attr >> 16), f"{name} is a link in the wheel"
            assert whl.read(name) == original.read_bytes(), name


def test_installed_package_does_not_come_from_the_checkout(installed: Installed) -> None:
    code = (
        "import json, streams, streams.resources as r, streams.settings as s;"
        "print(json.dumps([streams.__file__, str(r.rule_pack()), str(r.sources_file()),"
        " str(r.schema_dir()), str(r.static_dir()), str(s.Settings().rules_file)]))"
    )
    proc = installed.run("python", "-c", code)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    paths = [Path(p).resolve() for p in orjson.loads(proc.stdout)]
    for path in paths:
        assert path.is_relative_to(installed.venv.resolve()), path
        assert not path.is_relative_to(ROOT), path
    assert all(p.exists() for p in paths)


def test_installed_classify(installed: Installed) -> None:
    sample = installed.cwd / SAMPLE.name
    shutil.copyfile(SAMPLE, sample)
    proc = installed.run("rasid", "classify", sample.name)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    (out,) = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert out["source"] == "baghdadtoday"
    assert [r["code"] for r in out["regions"]][:2] == ["SY", "IQ"]
    assert "security" in [t["code"] for t in out["topics"]]
    assert "red-line" in [a["rule"] for a in out["alerts"]]
    assert any(m["rule"] == "red-line" and m["text"] == "خط احمر" for m in out["matches"])


@pytest.fixture
def installed_worker(installed: Installed) -> Iterator[tuple[Installed, dict[str, str]]]:
    """The installed `rasid worker` on the test broker, with its own topics and group, every
    other setting at its default (rules: the packaged pack; data: .cache/ of its directory)."""
    assert BOOTSTRAP
    prefix = f"rasid-wheel-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = installed.environ(
        RASID_KAFKA_BOOTSTRAP=BOOTSTRAP,
        RASID_APP_ID=prefix,
        RASID_TOPIC_RAW=f"{prefix}.raw",
        RASID_TOPIC_ENRICHED=f"{prefix}.enriched",
        RASID_TOPIC_ALERTS=f"{prefix}.alerts",
        RASID_TOPIC_DEADLETTER=f"{prefix}.deadletter",
        RASID_TOPIC_RULES=f"{prefix}.rules",
        RASID_TOPIC_PARTITIONS="1",
        RASID_WEB_PORT=str(port),
    )
    log = installed.cwd / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(installed.bin / "rasid"), "worker"],
            cwd=installed.cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}/readyz", log, "installed worker", 120)
        yield installed, env
    finally:
        stop_process(proc)
    assert proc.returncode == 0, log.read_text(errors="replace")[-4000:]


def _tail_alert(
    installed: Installed, env: dict[str, str], rule: str, timeout: float = 90
) -> dict[str, Any]:
    """The first alert of `rule` on the alerts topic, read with the installed `rasid tail`."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        args = ("rasid", "tail", "--topic", "alerts", "--from-beginning", "--max", "20")
        proc = installed.run(*args, "--timeout", "3", env=env)
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        alerts = [orjson.loads(line) for line in proc.stdout.splitlines()]
        seen = [a["rule"] for a in alerts]
        for alert in alerts:
            if alert["rule"] == rule:
                return dict(alert)
    raise AssertionError(f"no {rule} alert arrived; alerts of {seen}")


def test_installed_worker_publish_tail(
    installed_worker: tuple[Installed, dict[str, str]],
) -> None:
    installed, env = installed_worker
    sample = installed.cwd / SAMPLE.name
    shutil.copyfile(SAMPLE, sample)
    proc = installed.run("rasid", "publish", sample.name, env=env)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    (published,) = [orjson.loads(line) for line in proc.stdout.splitlines()]
    alert = _tail_alert(installed, env, "red-line")
    assert schema_errors("alert", alert) == []
    assert alert["article"]["id"] == published["id"]
    assert {"SY", "IQ"} <= set(alert["regions"])
    # State went under the working directory, as the default says, not into the checkout.
    assert (installed.cwd / ".cache" / "worker").is_dir()
