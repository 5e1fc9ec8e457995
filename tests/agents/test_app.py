"""The worker's app factory: settings reach faust, and the stages are wired by the factory."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings
from streams.worker.app import create_app


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
async def test_web_server_binds_to_the_configured_host(tmp_path: Path, host: str) -> None:
    ctx = create_app(Settings(data_dir=tmp_path, web_host=host, web_port=16069))
    assert ctx.app.conf.web_bind == host


async def test_factory_registers_the_hot_stage_and_the_story_stage(tmp_path: Path) -> None:
    ctx = create_app(Settings(data_dir=tmp_path, web_port=16070))
    assert set(ctx.app.agents) == {"rasid.articles", "rasid.stories"}
    assert ctx.readiness.rules_loaded and ctx.readiness.rules_ready.is_set()
