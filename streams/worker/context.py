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
    from streams.worker.batches import Outgoing
    from streams.worker.emitted import EmittedIds
    from streams.worker.story_stage import StoryStage


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
    """How the match stage passes an article's new hits to the story stage: the messages to
    send with the batch, and what to remember once the broker acknowledged them."""

    outgoing: Callable[[dict[str, Any], list[dict[str, Any]]], list[Outgoing]]
    forwarded: Callable[[list[dict[str, Any]], int], None]  # (hits, source partition)


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
