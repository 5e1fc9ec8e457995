"""Live rules on the real broker: a rule pushed while the worker runs fires within seconds
with its version; a changed rule fires with the new version; a deleted rule fires nothing —
all without restarting the worker."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.conftest import Env, Worker

pytestmark = pytest.mark.integration

PHRASE = "قنديل البحر البنفسجي"  # purple jellyfish: no default rule matches it
BODY = "رصد صيادون قنديل البحرِ البنفسجيَّ قرب شواطئ الفاو جنوب البصرة، وحذرت السلطات السباحين."


def _metrics(env: Env) -> str:
    url = f"http://127.0.0.1:{env.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def _metric(env: Env, name: str, labels: str) -> float | None:
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", _metrics(env), re.M)
    return float(m.group(1)) if m else None


async def _wait_for(predicate: object, timeout: float = 30.0) -> float:
    """Poll until predicate() is true; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def _alerts_for(env: Env, article_id: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The alerts raised for an article, once at least one has arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alerts = await env.read_all("alerts", expect=0, timeout=10, settle=0.5)
        got = [a for a in alerts if a["article"]["id"] == article_id]
        if got:
            await asyncio.sleep(1.0)  # a second alert for the article would show up now
            alerts = await env.read_all("alerts", expect=0, timeout=10, settle=0.5)
            return [a for a in alerts if a["article"]["id"] == article_id]
    raise AssertionError(f"no alert for {article_id}")


def _rule_file(tmp_path: Path, rule_id: str, title: str) -> Path:
    path = tmp_path / f"{rule_id}.yaml"
    path.write_text(
        "rules:\n"
        f"  - id: {rule_id}\n"
        f"    title: {title}\n"
        "    severity: low\n"
        "    owner: integration-test\n"
        f"    match: {{phrase: [{PHRASE}]}}\n",
        encoding="utf-8",
    )
    return path


async def _publish(env: Env, article_id: str) -> None:
    raw = {"schema_version": 1, "id": article_id, "source": "testwire", "body": BODY}
    await env.produce([orjson.dumps(raw)])


async def test_default_pack_was_pushed_on_first_start(env: Env, worker: Worker) -> None:
    out = env.rasid("rules", "list", "--json")
    rules = {m["id"]: m for m in map(orjson.loads, out.splitlines())}
    assert {"red-line", "factions-redeployment", "bombing-ied"} <= set(rules)
    assert rules["red-line"]["rule"]["severity"] == "high"
    assert _metric(env, "rasid_rule_version", 'rule="red-line"') == 2.0  # the pack's version


async def test_push_change_delete_without_restart(env: Env, worker: Worker, tmp_path: Path) -> None:
    assert worker.proc is not None
    pid = worker.proc.pid
    rule_id = f"jellyfish-{uuid.uuid4().hex[:8]}"
    tag = rule_id.split("-")[1]
    labels = f'rule="{rule_id}"'

    # 1. push a new rule: the worker applies it within seconds
    out = env.rasid("rules", "push", str(_rule_file(tmp_path, rule_id, "Jellyfish")))
    assert orjson.loads(out) == {"id": rule_id, "action": "create", "version": 1}
    applied = await _wait_for(lambda: _metric(env, "rasid_rule_version", labels) == 1.0)
    assert applied < 15, applied  # the target is 5 s; generous for a loaded CI machine
    await _publish(env, f"jf-{tag}-1")
    mine = await _alerts_for(env, f"jf-{tag}-1")
    assert [(a["rule"], a["rule_version"]) for a in mine] == [(rule_id, 1)]
    assert mine[0]["matches"][0]["term"] == PHRASE

    # 2. change it: pushing bumps the version, and the next alert carries it
    changed = _rule_file(tmp_path, rule_id, "Purple jellyfish")
    out = env.rasid("rules", "push", str(changed))
    assert orjson.loads(out) == {
        "id": rule_id,
        "action": "update",
        "version": 2,
        "previous_version": 1,
    }
    assert orjson.loads(env.rasid("rules", "push", str(changed)))["action"] == "unchanged"
    await _wait_for(lambda: _metric(env, "rasid_rule_version", labels) == 2.0)
    await _publish(env, f"jf-{tag}-2")

    got = await _alerts_for(env, f"jf-{tag}-2")
    assert [(a["rule"], a["rule_version"], a["rule_title"]) for a in got] == [
        (rule_id, 2, "Purple jellyfish")
    ]

    # 3. delete it: the same article under a new id fires nothing
    assert orjson.loads(env.rasid("rules", "delete", rule_id)) == {
        "id": rule_id,
        "action": "delete",
    }
    await _wait_for(lambda: _metric(env, "rasid_rule_version", labels) is None)
    listed = [orjson.loads(x)["id"] for x in env.rasid("rules", "list", "--json").splitlines()]
    assert rule_id not in listed
    matched_before = _metric(env, "rasid_stage_out_total", 'stage="match"') or 0.0
    await _publish(env, f"jf-{tag}-3")
    # the match agent has processed the article …
    await _wait_for(
        lambda: (_metric(env, "rasid_stage_out_total", 'stage="match"') or 0) > matched_before,
        timeout=60,
    )
    enriched = await env.read_all("enriched", expect=0, timeout=10, settle=0.5)
    assert any(e["id"] == f"jf-{tag}-3" for e in enriched)
    # … and raised nothing
    alerts = await env.read_all("alerts", expect=0, timeout=15, settle=3.0)
    assert [a for a in alerts if a["article"]["id"] == f"jf-{tag}-3"] == []
    assert worker.alive and worker.proc.pid == pid  # never restarted


def test_invalid_file_is_not_pushed(env: Env, worker: Worker, tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "bad.yaml"
    path.write_text(
        "rules:\n  - id: bad-one\n    title: x\n    severity: urgent\n    match: قصف\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "rules", "push", str(path)],
        env=env.environ(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "rule 'bad-one': field 'severity'" in proc.stderr.decode()
    listed = [orjson.loads(x)["id"] for x in env.rasid("rules", "list", "--json").splitlines()]
    assert "bad-one" not in listed


async def test_backtest_replays_the_raw_topic(env: Env, worker: Worker) -> None:
    from datetime import UTC, datetime, timedelta

    tag = uuid.uuid4().hex[:8]
    before = {"schema_version": 1, "id": f"bt-{tag}-old", "source": "testwire", "body": "خبر قديم"}
    await env.produce([orjson.dumps(before)])
    await asyncio.sleep(1.5)
    since = (datetime.now(UTC) - timedelta(seconds=0.5)).isoformat()
    bodies = [
        "قال نائب في البرلمان العراقي إن أمن الحدود خط أحمر لا يمكن تجاوزه.",
        "افتتحت السلطات الخط الأحمر لمترو الدوحة أمام الركاب.",
    ]
    raws = [
        {"schema_version": 1, "id": f"bt-{tag}-{i}", "source": "testwire", "body": body}
        for i, body in enumerate(bodies)
    ]
    await env.produce([orjson.dumps(r) for r in raws])
    out = env.rasid(
        "rules",
        "backtest",
        str(Path(__file__).resolve().parents[2] / "deploy" / "rules" / "default.yaml"),
        "--from-topic",
        "--since",
        since,
        "--json",
    )
    report = orjson.loads(out)
    assert report["articles"] >= 2
    red = next(r for r in report["rules"] if r["id"] == "red-line")
    assert f"bt-{tag}-0" in [s["article"] for s in red["samples"]]
    assert f"bt-{tag}-1" not in [s["article"] for s in red["samples"]]  # the metro line
    # --offset replays from an offset on every partition: from 0, everything published so far
    everything = orjson.loads(
        env.rasid(
            "rules",
            "backtest",
            str(Path(__file__).resolve().parents[2] / "deploy" / "rules" / "default.yaml"),
            "--from-topic",
            "--offset",
            "0",
            "--json",
        )
    )
    assert everything["articles"] + everything["errors"] > report["articles"]
