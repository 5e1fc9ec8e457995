"""Batched story candidates on a real broker: the hot stage sends one story-candidate message
per batch of raw articles (v4), and articles → alerts still hold at least once across a
`kill -9` of the worker (docs/guarantees.md)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from streams.validation import schema_errors
from tests.integration.conftest import Env, read_topic
from tests.integration.conftest import new_env as own_env
from tests.integration.corpus import articles, encode, expected_alert_ids
from tests.integration.test_faults import kill_9_mid_stream

pytestmark = pytest.mark.integration

N = 800
new_env = functools.partial(own_env, name="batches")


async def test_batched_candidates_keep_every_alert_across_a_kill_9(
    env: Env, tmp_path: Path
) -> None:
    deployment = new_env(env.bootstrap, tmp_path)
    deployment.rasid("topics")
    values = encode(articles(N, seed=13, tag=f"sb-{deployment.prefix}"))
    expected = expected_alert_ids(values)
    assert len(expected) > 100  # the corpus really exercises the alert path
    await kill_9_mid_stream(deployment, tmp_path, values, expected, kill_after=100)
    # Every article reached the story stage, in messages of several candidates each.
    batches = await read_topic(
        deployment.bootstrap, f"{deployment.topics['alerts']}.stories", expect=1, settle=2.0
    )
    assert batches and all(schema_errors("story-candidates", b) == [] for b in batches)
    ids = [c["article_id"] for b in batches for c in b["candidates"]]
    assert len(set(ids)) == N  # repeats allowed (re-read after the kill), losses not
    assert len(ids) / len(batches) > 2  # batched: far fewer messages than candidates
