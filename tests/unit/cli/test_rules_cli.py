"""`rasid rules validate` messages and `rasid rules backtest` on an archive (no broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli.main import main
from streams.rules import default_rules_path
from tests.conftest import FIXTURES

ARCHIVE = FIXTURES / "rules-backtest.jsonl"
LABELS = FIXTURES / "rules-backtest-labels.json"

BAD = """\
lists:
  transport: [مترو, قطار]
rules:
  - id: red-line
    title: Red line
    severity: urgent
    colour: red
    match:
      phrase: ["مترو|قطار", ""]
      unless_near: {terms: [{list: transit}]}
  - id: red-line
    title: again
    severity: low
    match: {list: factions}
  - id: ok-rule
    title: fine
    severity: low
    match: اغتيال
    tests:
      fires: [خطف]
"""


def test_validate_reports_one_error_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    assert main(["rules", "validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    f = str(path)
    assert err == [
        f"error: {f}: rule 'red-line': field 'colour': unknown key (allowed: breaking, description, "
        "enabled, id, lang, match, owner, phrases, regions, severity, sources, tags, tests, "
        "title, title_en, topics, unless_near, version)",
        f"error: {f}: rule 'red-line': field 'severity': must be one of info, low, medium, "
        "high, critical, got 'urgent'",
        f"error: {f}: rule 'red-line': field 'match.phrase': regex syntax is not supported in "
        "phrase 'مترو|قطار' (found |): phrases are literal; list each variant as its own phrase",
        f"error: {f}: rule 'red-line': field 'match.phrase': empty phrase ''",
        f"error: {f}: rule 'red-line': field 'match.unless_near.terms': list 'transit' is "
        "referenced but not defined (under 'lists:')",
        f"error: {f}: rule 'red-line': field 'match.list': list 'factions' is referenced but "
        "not defined (under 'lists:')",
        f"error: {f}: rule 'red-line': field 'id': duplicate rule id",
        f"error: {f}: rule 'ok-rule': field 'tests.fires': does not fire on 'خطف'",
        "8 problem(s)",
    ]


def test_validate_across_files_and_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text(default_rules_path().read_text(encoding="utf-8"), encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    assert (
        main(["rules", "validate", str(default_rules_path()), str(copy), str(broken), str(missing)])
        == 1
    )
    err = capsys.readouterr().err
    assert (
        f"{copy}: rule 'red-line': field 'id': duplicate rule id (also in {default_rules_path()})"
        in err
    )
    assert f"{broken}: not valid YAML" in err
    assert f"{missing}: cannot read" in err


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "validate", str(default_rules_path())]) == 0
    out = capsys.readouterr().out
    assert "12 rules valid" in out and "rule tests pass" in out


def test_backtest_json_with_labels(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rules", "backtest", str(default_rules_path()), "--jsonl", str(ARCHIVE)]
    assert main([*args, "--labels", str(LABELS), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert (report["articles"], report["labelled"], report["errors"]) == (6, 6, 1)
    rules = {r["id"]: r for r in report["rules"]}
    red = rules["red-line"]
    # bt-1 and bt-5 are red lines; bt-2 (metro) and bt-6 (train) are not
    assert (red["hits"], red["tp"], red["fp"], red["fn"]) == (2, 2, 0, 0)
    assert red["hit_rate"] == pytest.approx(2 / 6)
    assert (red["precision"], red["recall"]) == (1.0, 1.0)
    assert [s["article"] for s in red["samples"]] == ["bt-1", "bt-5"]
    assert red["samples"][1]["text"] == "خط أحمر"
    assert "أمن الحدود خط أحمر" in red["samples"][1]["snippet"]
    assert (rules["bombing-ied"]["tp"], rules["bombing-ied"]["precision"]) == (1, 1.0)
    shrines = rules["shrines-threat"]  # labelled on bt-1, but not fired: a miss
    assert (shrines["fn"], shrines["recall"], shrines["precision"]) == (1, 0.0, None)


def test_backtest_table(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rules", "backtest", str(default_rules_path()), "--jsonl", str(ARCHIVE)]
    assert main([*args, "--samples", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "6 articles, 1 unreadable"
    assert out[1].split() == ["rule", "sev", "hits", "hit", "rate"]
    red = next(line for line in out if line.startswith("red-line "))
    assert red.split() == ["red-line", "high", "2", "33.3%"]
    assert "red-line — sample hits:" in out
    assert sum(line.startswith("  [bt-") for line in out) == len(
        [line for line in out if line.endswith("— sample hits:")]
    )  # --samples 1: one sample per rule that hit


def test_backtest_refuses_invalid_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    assert main(["rules", "backtest", str(path), "--jsonl", str(ARCHIVE)]) == 1
    assert "problem(s)" in capsys.readouterr().err


def test_a_problem_only_the_schema_sees_is_still_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The compiled schema check answers first; a file it rejects gets the reference's
    explanation (here a file-level field the rule checks do not look at)."""
    path = tmp_path / "versioned.yaml"
    path.write_text("version: 2\nrules:\n  - {id: ok, title: t, severity: low, match: اغتيال}\n")
    assert main(["rules", "validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {path}: field 'version': schema: 1 was expected", "1 problem(s)"]


GOOD = """\
rules:
  - id: ok-rule
    title: fine
    severity: low
    match: اغتيال
    tests:
      fires: [اغتيال]
"""

# (file, broker answers, what `check_and_push` does: "problems", "no broker" or "pushed")
PUSH_CASES = [
    (BAD, True, "problems"),
    (BAD, False, "problems"),  # the file's problems, not the broker's, as before
    (GOOD, False, "no broker"),
    (GOOD, True, "pushed"),
]


@pytest.mark.parametrize(("text", "answers", "expected"), PUSH_CASES)
async def test_push_reads_the_topic_while_it_checks_and_pushes_only_a_valid_file(
    text: str, answers: bool, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import time

    from streams.cli import broker
    from streams.cli import rules as cli_rules
    from streams.errors import CommandFailed
    from streams.rules.messages import LiveMessages
    from streams.settings import Settings
    from streams.worker import live_rules

    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    events: list[str] = []
    live = LiveMessages()

    async def check(settings: Settings) -> None:
        events.append("broker check")
        if not answers:
            raise CommandFailed("cannot reach the Kafka broker")

    async def read_live(settings: Settings) -> LiveMessages:
        events.append("read")
        await asyncio.sleep(0.05)
        events.append("read done")
        return live

    async def push_files(settings: Settings, docs: list[Any], **kwargs: Any) -> list[str]:
        assert kwargs["live"] is live and kwargs["updated_by"] == "amal"
        events.append("push")
        return ["planned"]

    def check_files(paths: list[str], *, run_tests: bool) -> Any:
        # on its thread while the loop goes to the broker (checked first, in sequence, this
        # would wait out its 2 s and the order below would fail)
        waited = time.monotonic()
        while "broker check" not in events and time.monotonic() - waited < 2:
            time.sleep(0.01)
        events.append("checks")
        return checked(paths, run_tests=run_tests)

    checked = cli_rules.check_files
    monkeypatch.setattr(broker, "check", check)
    monkeypatch.setattr(live_rules, "read_live", read_live)
    monkeypatch.setattr(live_rules, "push_files", push_files)
    monkeypatch.setattr(cli_rules, "check_files", check_files)
    try:
        problems, plan = await cli_rules.check_and_push(Settings(), [str(path)], updated_by="amal")
    except CommandFailed:
        outcome = "no broker"
    else:
        outcome = "problems" if problems else "pushed"
        assert bool(plan) is (outcome == "pushed")
    assert outcome == expected
    assert events[:2] == ["broker check", "checks"] or events[:3] == [
        "broker check",
        "read",
        "checks",
    ]
    assert ("push" in events) is (expected == "pushed")
    if expected == "pushed":  # the topic was read before the plan
        assert events.index("read done") < events.index("push")
