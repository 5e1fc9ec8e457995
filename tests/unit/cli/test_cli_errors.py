"""`rasid` errors: one line on stderr, never a traceback; exit 2 for a usage error, 1 for a
failure (no broker needed: an unreachable one is 127.0.0.1:1, which refuses at once)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError

from streams.errors import SchemaViolation
from streams.settings import get_settings
from tests.conftest import SAMPLE

cli = importlib.import_module("streams.cli.main")  # the module: streams.cli.main is the function
RULES = Path(__file__).resolve().parents[3] / "deploy" / "rules" / "default.yaml"
UNREACHABLE = "127.0.0.1:1"
SECRET = "s3cret-value-never-shown-0123456789"


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh settings from the environment of each test; a broker that refuses at once."""
    monkeypatch.setenv("RASID_KAFKA_BOOTSTRAP", UNREACHABLE)
    monkeypatch.delenv("RASID_LOG_LEVEL", raising=False)
    monkeypatch.setattr("streams.cli.broker.ATTEMPTS", 1)
    monkeypatch.setattr("streams.logs.setup_logging", lambda level: None)  # keep pytest's
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    bad_utf8 = tmp_path / "outlet-latin1.txt"
    bad_utf8.write_bytes("خبر".encode() + b"\xff\xfe caf\xe9")
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"id": "a", "rules": []}\n{"id": "b", "rules": [\n', encoding="utf-8")
    archive = tmp_path / "archive.jsonl"
    archive.write_text('{"source": "s", "body": "نص"}\n', encoding="utf-8")
    return {
        "MISSING": str(tmp_path / "missing.txt"),
        "BAD_UTF8": str(bad_utf8),
        "LABELS": str(labels),
        "ARCHIVE": str(archive),
        "SAMPLE": str(SAMPLE),
        "RULES": str(RULES),
        "DIR": str(tmp_path),
    }


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rasid: error: ")
    return lines[0]


# (argv with {NAME} placeholders from `files`, exit code, text the error line must contain)
CASES = [
    # usage errors: 2
    (["keys", "create", "x", "--region", "iraq"], 2, "two-letter ISO 3166"),
    (["keys", "create", "x", "--region", "IQ,syria"], 2, "SYRIA"),
    (["keys", "create", " ", "--region", "IQ"], 2, "needs a name"),
    (["subscriptions", "add", "file:///etc/passwd"], 2, "http:// or https://"),
    (["subscriptions", "add", "ftp://example.org/hook"], 2, "got a ftp: URL"),
    (["subscriptions", "add", "example.org/hook"], 2, "got no scheme"),
    (["subscriptions", "add", "https:///hook"], 2, "no host"),
    (["subscriptions", "add", "http://127.0.0.1:8080/hook"], 2, "loopback, private"),
    (["subscriptions", "add", "http://0x7f000001/hook"], 2, "loopback, private"),
    (["subscriptions", "add", "http://169.254.169.254/latest"], 2, "loopback, private"),
    (["subscriptions", "add", "http://localhost/hook"], 2, "local host"),
    (["subscriptions", "add", "https://u:p4ss@h.example/x"], 2, "credentials"),
    (["subscriptions", "add", "https://h.example/x", "--region", "Baghdad"], 2, "ISO 3166"),
    (["subscriptions", "add", "https://h.example/x", "--secret", "short"], 2, "16 characters"),
    (["subscriptions", "add", "https://h.example/x", "--throttle", "-5"], 2, "--throttle"),
    (["subscriptions", "add", "https://h.example/x", "--kind", "alerts,gossip"], 2, "--kind"),
    (["subscriptions", "add", "https://h.example/x", "--digest-minutes", "-1"], 2, "--digest"),
    (["subscriptions", "add", "https://h.example/x", "--quiet-hours", "10pm-7am"], 2, "HH:MM"),
    (["subscriptions", "add", "https://h.example/x", "--quiet-hours", "25:00-07:00"], 2, "hour"),
    (
        [
            "subscriptions",
            "add",
            "https://h.example/x",
            "--quiet-hours",
            "22:00-07:00",
            "--quiet-utc-offset",
            "Baghdad",
        ],
        2,
        "--quiet-utc-offset",
    ),
    (["publish", "--raw", "--source", "x", "{SAMPLE}"], 2, "--raw"),
    (["publish", "--key", "k", "{SAMPLE}"], 2, "--key only applies with --raw"),
    (["publish", "-", "-"], 2, "stdin"),
    (["tail", "--max", "-1"], 2, "--max"),
    (["tail", "--timeout", "0"], 2, "--timeout"),
    (["classify", "--jsonl", "{ARCHIVE}", "{SAMPLE}"], 2, "not both"),
    (["rules", "backtest", "{RULES}"], 2, "--jsonl ARCHIVE or --from-topic"),
    (["rules", "backtest", "{RULES}", "--jsonl", "{ARCHIVE}", "--from-topic"], 2, "one of"),
    (["rules", "backtest", "{RULES}", "--from-topic", "--since", "yesterday"], 2, "--since"),
    (["replay", "--jsonl", "{ARCHIVE}", "--rate", "-1"], 2, "--rate"),
    # failures: 1
    (["publish", "{MISSING}"], 1, "missing.txt: No such file or directory"),
    (["publish", "{DIR}"], 1, "Is a directory"),
    (["publish", "{BAD_UTF8}"], 1, "not UTF-8 text (byte 0xff at offset 6); to publish its bytes"),
    (["publish", "--raw", "{MISSING}"], 1, "No such file or directory"),
    (["publish", "{SAMPLE}"], 1, f"cannot reach the Kafka broker at {UNREACHABLE}"),
    (["publish", "--raw", "{BAD_UTF8}"], 1, "cannot reach the Kafka broker"),
    (["topics"], 1, "cannot reach the Kafka broker"),
    (["tail", "--max", "1"], 1, "cannot reach the Kafka broker"),
    (["keys", "create", "x", "--region", "iq"], 1, "cannot reach the Kafka broker"),
    (["keys", "list"], 1, "cannot reach the Kafka broker"),
    (["keys", "revoke", "abc"], 1, "cannot reach the Kafka broker"),
    (["subscriptions", "add", "https://h.example/x"], 1, "cannot reach the Kafka broker"),
    (["subscriptions", "list"], 1, "cannot reach the Kafka broker"),
    (["subscriptions", "remove", "abc"], 1, "cannot reach the Kafka broker"),
    (["rules", "list"], 1, "cannot reach the Kafka broker"),
    (["rules", "delete", "red-line"], 1, "cannot reach the Kafka broker"),
    (["rules", "push", "--no-tests", "{RULES}"], 1, "cannot reach the Kafka broker"),
    (["rules", "backtest", "{RULES}", "--from-topic"], 1, "cannot reach the Kafka broker"),
    (["replay", "--jsonl", "{ARCHIVE}", "--from-start"], 1, "cannot reach the Kafka broker"),
    (["replay", "--jsonl", "{MISSING}"], 1, "missing.txt: no such file"),
    (["classify", "{MISSING}"], 1, "No such file or directory"),
    (["classify", "--jsonl", "{MISSING}"], 1, "No such file or directory"),
    (["rules", "backtest", "{RULES}", "--jsonl", "{MISSING}"], 1, "No such file or directory"),
    (["rules", "backtest", "{RULES}", "--jsonl", "{ARCHIVE}", "--labels", "{LABELS}"], 1, ":2:"),
]


@pytest.mark.parametrize(
    ("argv", "code", "expected"), CASES, ids=[" ".join(c[0])[:60] for c in CASES]
)
def test_error_is_one_line_with_its_exit_code(
    argv: list[str],
    code: int,
    expected: str,
    files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("RASID_REPLAY_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    got, out, err = _run(capsys, [a.format(**files) for a in argv])
    assert got == code, err
    line = _assert_one_line(err)
    assert expected in line
    assert out == ""


def test_invalid_settings_name_the_variable_not_its_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASID_API_PORT", "not-a-port-secret")
    get_settings.cache_clear()
    code, _, err = _run(capsys, ["keys", "list"])
    assert code == 2
    line = _assert_one_line(err)
    assert "RASID_API_PORT" in line and "not-a-port-secret" not in line


def test_a_kafka_error_from_inside_a_command_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def reachable(settings: object) -> None:
        return None

    async def refuse(settings: object) -> list[str]:
        raise KafkaConnectionError(f"Unable to bootstrap from {UNREACHABLE}")

    monkeypatch.setattr("streams.cli.broker.check", reachable)
    monkeypatch.setattr("streams.kafka.admin.ensure_topics", refuse)
    code, _, err = _run(capsys, ["topics"])
    assert code == 1
    assert "KafkaConnectionError: Unable to bootstrap" in _assert_one_line(err)


def test_not_found_on_the_topic_is_a_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def reachable(settings: object) -> None:
        return None

    async def empty(settings: object, topic: str) -> dict[str, object]:
        return {}

    monkeypatch.setattr("streams.cli.broker.check", reachable)
    monkeypatch.setattr("streams.cli.subscribers.read_compacted", empty)
    for argv, text in [
        (["keys", "revoke", "abc"], "no key abc"),
        (["subscriptions", "remove", "abc"], "no subscription abc"),
    ]:
        code, out, err = _run(capsys, argv)
        assert (code, out) == (1, "")
        assert text in _assert_one_line(err)


def test_secrets_never_appear_in_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def leaky(kind: str, record: dict[str, object]) -> None:
        raise SchemaViolation(f"{kind}: {record}")  # a message quoting the whole record

    monkeypatch.setattr("streams.validation.check_outgoing", leaky)
    code, _, err = _run(capsys, ["subscriptions", "add", "https://h.example/x", "--secret", SECRET])
    assert code == 1
    line = _assert_one_line(err)
    assert SECRET not in line and "'secret': '…'" in line


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_one_line_unless_debug(
    debug: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args: object, settings: object) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(cli, "cmd_topics", broken)
    if debug:
        monkeypatch.setenv("RASID_LOG_LEVEL", "DEBUG")
    code, _, err = _run(capsys, ["topics"])
    assert code == 1
    if debug:
        assert "Traceback" in err and "KeyError: 'oops'" in err
        assert err.splitlines()[-1].startswith("rasid: error: unexpected KeyError")
    else:
        assert "unexpected KeyError: 'oops'" in _assert_one_line(err)


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["keys", "create"])
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "code", "expected"),
    [
        (["keys", "create", "x", "--region", "iraq"], 2, "two-letter ISO 3166"),
        (["keys", "list"], 1, f"cannot reach the Kafka broker at {UNREACHABLE}"),
    ],
)
def test_the_real_command_prints_one_line(argv: list[str], code: int, expected: str) -> None:
    """In a process of its own: no pytest log capture to hide the Kafka client's own logs."""
    env = {"RASID_KAFKA_BOOTSTRAP": UNREACHABLE, "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert proc.returncode == code, proc.stderr
    assert expected in _assert_one_line(proc.stderr)
