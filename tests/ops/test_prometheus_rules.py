"""The alert rules: promtool checks them and runs their unit tests (firing and not firing, one
evaluation before and at each `for:` boundary); the conventions on-call relies on hold."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops.conftest import ALERT_TESTS, ALERTS, DEPLOY, PROCESSES, alert_rules, scrape_jobs

REQUIRED = {
    "RasidWorkerDown",
    "RasidConsumerLagHigh",
    "RasidSourceSilent",
    "RasidDeadLetterRateHigh",
    "RasidAlertLatencyHigh",
    "RasidNoRulesLoaded",
    "RasidPipelineStalled",
    # the other processes (issue 12)
    "RasidApiDown",
    "RasidWebhooksDown",
    "RasidIngestDown",
    "RasidIngestStale",
    "RasidIngestNothingPublished",
    "RasidWebhookDeadLetters",
    "RasidWebhookReceiverPaused",  # issue 16, item 7
    "RasidIngestSourceFailing",  # issue 18: a failing or silent source
}
RUNBOOKS = DEPLOY / "runbooks"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: scripts/bootstrap installs Debian's prometheus"
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False
    )


@needs_promtool
def test_promtool_check_rules() -> None:
    proc = _promtool("check", "rules", str(ALERTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in proc.stdout


@needs_promtool
def test_promtool_check_config() -> None:
    proc = _promtool("check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    proc = _promtool("test", "rules", str(ALERT_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@needs_promtool
def test_promtool_unit_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    """The unit tests are tight: moving one `for:` or threshold makes them fail."""
    text = ALERTS.read_text(encoding="utf-8")
    for old, new in [
        ("for: 2m", "for: 3m"),
        ("> 1000", "> 1300"),
        ("> 60\n", "> 130\n"),
        ('rasid_rules_loaded{job="rasid"}', "rasid_rules_loaded"),  # other processes export 0
        ('up{job="rasid-api"} == 0 or', 'up{job="rasid-api"} == 0 and'),
        ("> 900\n", "> 1000\n"),  # RasidIngestStale
        ("> 3600", "> 3000"),  # RasidIngestNothingPublished
        ("for: 30m", "for: 31m"),
        ("[15m])", "[10m])"),  # RasidWebhookDeadLetters
        ("offset 15m\n", "offset 10m\n"),
        ("for: 0m", "for: 1m"),
        (
            'rasid_webhook_subscriptions_paused{job="rasid-webhooks"}) > 0',
            'rasid_webhook_subscriptions_paused{job="rasid-webhooks"}) > 1',
        ),
        (  # RasidIngestSourceFailing, both branches
            'rasid_ingest_source_consecutive_failures{job="rasid-ingest"}) >= 3',
            'rasid_ingest_source_consecutive_failures{job="rasid-ingest"}) >= 4',
        ),
        (
            'rasid_ingest_last_success_timestamp_seconds{job="rasid-ingest"}) > 1800',
            'rasid_ingest_last_success_timestamp_seconds{job="rasid-ingest"}) > 2000',
        ),
    ]:
        assert text.count(old) >= 1, old
        mutated = tmp_path / "alerts.yml"
        mutated.write_text(text.replace(old, new, 1), encoding="utf-8")
        tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
        tests["rule_files"] = [str(mutated)]
        test_file = tmp_path / "alerts_test.yml"
        test_file.write_text(yaml.safe_dump(tests, allow_unicode=True), encoding="utf-8")
        proc = _promtool("test", "rules", str(test_file))
        assert proc.returncode != 0, f"the unit tests did not notice {old!r} → {new!r}"


def test_every_required_alert_exists() -> None:
    assert {rule["alert"] for rule in alert_rules()} >= REQUIRED


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_conventions(rule: dict[str, object]) -> None:
    name = str(rule["alert"])
    assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), "every alert needs a for:"
    labels = rule["labels"]
    assert isinstance(labels, dict) and labels["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert isinstance(annotations, dict)
    assert annotations["summary"].strip()
    assert "{{" in annotations["description"], "description must be templated"
    url = annotations["runbook_url"]
    assert url.endswith(f"/deploy/runbooks/{name}.md")
    runbook = DEPLOY / "runbooks" / f"{name}.md"
    text = runbook.read_text(encoding="utf-8")
    for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation"):
        assert section in text, f"{runbook} lacks {section}"
    assert f"severity: {labels['severity']}".lower() in text.lower()


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    doc = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    firing: set[str] = set()
    silent: set[str] = set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case["exp_alerts"] else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names <= firing, names - firing
    assert names <= silent, names - silent


def test_every_alert_has_a_runbook_listed_in_the_index() -> None:
    """deploy/runbooks/README.md lists every alert with its severity and page, and every page
    belongs to an alert."""
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in index.splitlines():
        match = re.fullmatch(
            r"\| (Rasid\w+) \| (critical|warning) \(.+?\) \| \[(.+?)\]\((.+?)\) \|", line
        )
        if match:
            name, severity, text, link = match.groups()
            assert text == link == f"{name}.md", line
            rows[name] = severity
    rules = {str(r["alert"]): r["labels"]["severity"] for r in alert_rules()}
    assert rows == rules
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == set(rules), "a runbook page without an alert, or the reverse"


def test_rules_select_only_scraped_jobs_and_every_process_has_a_down_alert() -> None:
    """job="…" in the rules must be a job of deploy/prometheus/prometheus.yml (the PodMonitors
    give the same ones: tests/ops/test_deploy.py), and each process has an up == 0 alert."""
    jobs = set(scrape_jobs())
    exprs = [str(r["expr"]) for r in alert_rules()]
    used = {job for expr in exprs for job in re.findall(r'job="([^"]+)"', expr)}
    assert used <= jobs, used - jobs
    for process in PROCESSES:
        selector = f'up{{job="{process.job}"}}'
        assert any(
            f"{selector} == 0" in expr and f"absent({selector})" in expr for expr in exprs
        ), f"no alert fires when {process.name} (job {process.job}) is down or missing"
