"""The one settings object. Every tunable comes from the environment with the RASID_ prefix;
nothing else in the code base reads os.environ."""

from __future__ import annotations

from datetime import timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


def _parse_utc_offset(value: str) -> timezone:
    """'+03:00' / '-0430' / '3' → a fixed-offset timezone."""
    v = value.strip().upper().removeprefix("UTC")
    sign = -1 if v.startswith("-") else 1
    v = v.lstrip("+-")
    digits = v.replace(":", "")
    if len(digits) <= 2:
        hours, minutes = digits or "0", "0"
    else:
        hours, minutes = digits[:-2], digits[-2:]
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RASID_", env_file=None, extra="ignore")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    app_id: str = "rasid"
    topic_raw: str = "rasid.articles.raw"
    topic_enriched: str = "rasid.articles.enriched"
    topic_alerts: str = "rasid.alerts"
    topic_deadletter: str = "rasid.deadletter"
    topic_partitions: int = Field(6, ge=1)
    topic_replication: int = Field(1, ge=1)

    # Worker
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    data_dir: Path = REPO_ROOT / ".cache" / "worker"
    log_level: str = "INFO"
    max_body_bytes: int = Field(1_000_000, ge=1)  # raw message size limit; larger → dead letter

    # Content
    rules_path: Path = REPO_ROOT / "deploy" / "rules" / "default.yaml"
    default_utc_offset: str = "+03:00"  # Iraqi outlets publish in Baghdad time
    source_utc_offsets: dict[str, str] = Field(default_factory=dict)  # JSON: {"bbc": "+00:00"}

    @field_validator("default_utc_offset")
    @classmethod
    def _check_offset(cls, v: str) -> str:
        _parse_utc_offset(v)
        return v

    def tz_for_source(self, source: str) -> tzinfo:
        """The timezone an outlet writes its local times in."""
        return _parse_utc_offset(self.source_utc_offsets.get(source, self.default_utc_offset))

    @property
    def topics(self) -> tuple[str, str, str, str]:
        return (self.topic_raw, self.topic_enriched, self.topic_alerts, self.topic_deadletter)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
