from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from streams import resources
from streams.settings import Settings


def test_defaults() -> None:
    s = Settings()
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.web_port == 6066
    assert s.topics == (
        "rasid.articles.raw",
        "rasid.articles.enriched",
        "rasid.alerts",
        "rasid.deadletter",
    )
    assert s.topic_partitions == 6


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_KAFKA_BOOTSTRAP", "broker:29092")
    monkeypatch.setenv("RASID_WEB_PORT", "7000")
    monkeypatch.setenv("RASID_SOURCE_UTC_OFFSETS", '{"bbc": "+00:00", "irna": "+03:30"}')
    s = Settings()
    assert s.kafka_bootstrap == "broker:29092"
    assert s.web_port == 7000
    assert s.tz_for_source("bbc").utcoffset(None) == timedelta(0)
    assert s.tz_for_source("irna").utcoffset(None) == timedelta(hours=3, minutes=30)
    assert s.tz_for_source("baghdadtoday").utcoffset(None) == timedelta(hours=3)


def test_bad_offset_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_DEFAULT_UTC_OFFSET", "+ab:cd")
    with pytest.raises(ValueError):
        Settings()


# Nothing defaults to the checkout: file settings mean "the packaged copy" when unset, state goes
# under .cache/ of the working directory (an installed wheel has no source tree; issue 12).
PATH_VARIABLES = (
    "RASID_RULES_PATH",
    "RASID_SOURCES_PATH",
    "RASID_DATA_DIR",
    "RASID_REPLAY_CHECKPOINT_DIR",
)


@pytest.fixture
def unset_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in PATH_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize(
    ("field", "default"),
    [
        ("rules_path", None),
        ("sources_path", None),
        ("data_dir", Path(".cache/worker")),
        ("replay_checkpoint_dir", Path(".cache/replay")),
    ],
)
def test_path_defaults(unset_paths: None, field: str, default: Path | None) -> None:
    assert getattr(Settings(), field) == default


@pytest.mark.parametrize(
    ("prop", "packaged"),
    [("rules_file", resources.rule_pack), ("sources_file", resources.sources_file)],
)
def test_unset_file_settings_mean_the_packaged_copy(
    unset_paths: None, prop: str, packaged: Callable[[], Path]
) -> None:
    path = getattr(Settings(), prop)
    assert path == packaged()
    assert path.is_file()


@pytest.mark.parametrize(
    ("variable", "value", "prop", "expected"),
    [
        ("RASID_RULES_PATH", "/etc/rasid/rules.yaml", "rules_file", Path("/etc/rasid/rules.yaml")),
        ("RASID_RULES_PATH", "", "rules_file", resources.rule_pack()),
        ("RASID_SOURCES_PATH", "my/sources.yaml", "sources_file", Path("my/sources.yaml")),
        ("RASID_SOURCES_PATH", " ", "sources_file", resources.sources_file()),
        ("RASID_DATA_DIR", "/var/lib/rasid", "data_dir", Path("/var/lib/rasid")),
        ("RASID_REPLAY_CHECKPOINT_DIR", "ckpt", "replay_checkpoint_dir", Path("ckpt")),
    ],
)
def test_path_overrides(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, prop: str, expected: Path
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), prop) == expected


def test_no_path_default_is_absolute(unset_paths: None) -> None:
    """A computed absolute default (from __file__, the checkout, a home directory) would follow
    the code instead of the deployment: every path default is relative or unset."""
    paths = {k: v for k, v in Settings().model_dump().items() if isinstance(v, Path)}
    assert paths  # data_dir, replay_checkpoint_dir
    assert {k: v for k, v in paths.items() if v.is_absolute()} == {}


def test_state_goes_under_the_working_directory(
    unset_paths: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.data_dir.resolve() == tmp_path / ".cache" / "worker"
    assert s.replay_checkpoint_dir.resolve() == tmp_path / ".cache" / "replay"
