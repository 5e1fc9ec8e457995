"""What the worker's stages share, typed and built once by the app factory (app.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust

from streams.settings import Settings
from streams.worker.pipeline import Pipeline

if TYPE_CHECKING:
    from streams.worker.batches import Packer
    from streams.worker.emitted import EmittedIds
    from streams.worker.story_stage import StoryStage
    from streams.worker.trend_stage import TrendStage


@dataclass(frozen=True)
class Topics:
    """The pipeline topics (faust topic objects; values are raw bytes, decoded by the stages)."""

    raw: Any
    enriched: Any
    alerts: Any
    deadletter: Any


@dataclass
class Readiness:
    """Whether the full rule set is loaded: /readyz reports it, the match agent waits for it."""

    rules_loaded: bool = False
    rules_ready: asyncio.Event = field(default_factory=asyncio.Event)

    def waiting_for_rules(self) -> None:
        self.rules_loaded = False
        self.rules_ready.clear()

    def rules_arrived(self) -> None:
        self.rules_loaded = True
        self.rules_ready.set()


@dataclass(frozen=True)
class StoryHandOff:
    """How the hot stage passes every article, with its new hits, to the story stage: its
    story candidate (key, encoded v3 candidate), packed with the batch's other candidates into
    one message (`packer`, story-candidate v4), and what to remember once the broker
    acknowledged them."""

    candidate: Callable[[dict[str, Any], list[dict[str, Any]]], tuple[bytes, bytes]]
    forwarded: Callable[[list[dict[str, Any]], int], None]  # (hits, source partition)
    packer: Packer


@dataclass(frozen=True)
class WorkerContext:
    """The app and everything its agents, timers and views use."""

    app: faust.App
    settings: Settings
    pipeline: Pipeline  # its `rules` attribute is swapped whole by live rules
    topics: Topics
    emitted: EmittedIds  # article-level hit ids forwarded to the story stage (bounded horizon)
    stories: StoryStage
    readiness: Readiness
    trends: TrendStage | None = None  # burst detection in the story agent (None: disabled)
