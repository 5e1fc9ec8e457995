"""Burst detection over a file, offline: what `rasid trends --jsonl` prints and bench/trends.py
measures. The worker's code all the way: enriched articles (regions, topics, rule hits), story
clustering (`Clusterer`, as `rasid stories`), then the detector, in event-time order.

An article's event time is its `published_at`, else its `fetched_at` (else when it was
ingested), never later than when it was fetched: a page dated in the future is not allowed to
move the watermark ahead of the stream.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from streams.stories.cluster import Assignment, Clusterer, StoryParams
from streams.stories.features import StoryFeatures, places_of, story_features
from streams.stories.offline import StoryInput
from streams.trends.detector import (
    DEFAULTS,
    RULE_PREFIX,
    TrendDetector,
    TrendEvent,
    TrendParams,
    keys_for,
)

MAX_TERMS = 12


@dataclass(frozen=True, slots=True)
class TrendInput:
    """What the trend stage needs of an enriched article."""

    story: StoryInput  # id, source, event time, story features
    headline: str
    regions: tuple[str, ...]  # strongest first
    topics: tuple[str, ...]
    rules: tuple[str, ...] = ()  # ids of the rules that fired on it


def event_time(enriched: Mapping[str, Any]) -> float:
    def stamp(name: str) -> float | None:
        value = enriched.get(name)
        return datetime.fromisoformat(value).timestamp() if value else None

    fetched = stamp("fetched_at")
    fetched = stamp("ingested_at") if fetched is None else fetched
    published = stamp("published_at")
    if published is None or fetched is None:
        at = published if fetched is None else fetched
        if at is None:
            raise ValueError(f"article {enriched.get('id')!r} has no time")
        return at
    return min(published, fetched)


def terms_of(features: StoryFeatures) -> tuple[str, ...]:
    """The words that name an article's event: its title's terms, then its lead's most
    frequent ones (story terms: normalised, «ال» dropped)."""
    lead = sorted(features.lead.items(), key=lambda kv: (-kv[1], kv[0]))
    terms = dict.fromkeys([*features.title, *(t for t, _ in lead)])
    return tuple(terms)[:MAX_TERMS]


def trend_input(enriched: Mapping[str, Any], rules: Sequence[str] = ()) -> TrendInput:
    story = StoryInput(
        enriched["id"],
        enriched["source"],
        event_time(enriched),
        story_features(enriched["title"], enriched["body"], places_of(enriched)),
    )
    return TrendInput(
        story,
        enriched["title"],
        tuple(r["code"] for r in enriched.get("regions", ())),
        tuple(t["code"] for t in enriched.get("topics", ())),
        tuple(dict.fromkeys(rules)),
    )


def shuffled_times(inputs: Sequence[TrendInput], seed: int) -> list[TrendInput]:
    """The control: the same articles with their event times shuffled among them (the same
    times, in a random order), so that real bursts are spread over the whole period."""
    times = [i.story.at for i in inputs]
    random.Random(seed).shuffle(times)
    return [replace(i, story=replace(i.story, at=at)) for i, at in zip(inputs, times, strict=True)]


def article_events(
    *,
    at: float,
    source: str,
    headline: str,
    terms: tuple[str, ...],
    regions: Sequence[str],
    topics: Sequence[str],
    assignment: Assignment,
    new_outlet: bool,
    rules: Sequence[tuple[str, bool]] = (),
    params: TrendParams = DEFAULTS,
) -> list[tuple[TrendEvent, tuple[str, ...]]]:
    """What the detector is fed for one clustered article, as (event, keys): the article under
    its region/topic keys (not a same-outlet copy), and under `rule:<id>` for each of `rules`:
    (rule id, True) when the rule's alert on the story opens, (rule id, False) when it gains the
    article's outlet. Shared by the offline run (`events_of`) and the worker's trend stage
    (streams/worker/trend_stage.py), which find the rules' alerts each their own way."""

    def event(key: str, is_new: bool, joined: bool) -> TrendEvent:
        return TrendEvent(
            at,
            key,
            assignment.story_id,
            is_new,
            source,
            joined,
            headline,
            terms,
            assignment.size,
        )

    out = []
    keys = tuple(keys_for(regions, topics, params))
    if keys and not assignment.copy:
        out.append((event(keys[0], assignment.is_new, new_outlet), keys))
    for rule, opened in rules:
        key = RULE_PREFIX + rule
        out.append((event(key, opened, not opened), (key,)))
    return out


def events_of(
    item: TrendInput,
    assignment: Assignment,
    new_outlet: bool,
    rule_sources: dict[tuple[str, str], list[str]],
) -> list[tuple[TrendEvent, tuple[str, ...]]]:
    """`article_events` of one article of a file: a rule's alert on a story opens or gains an
    outlet as `rule_sources` ((rule, story) → outlets, the alert's `sources`, updated here)
    says; a copy still opens the alert of a rule that had none on the story, as the worker's
    story stage does."""
    s = item.story
    rules: list[tuple[str, bool]] = []
    for rule in item.rules:
        sources = rule_sources.get((rule, assignment.story_id))
        if sources is None:
            rule_sources[(rule, assignment.story_id)] = [s.source]
            rules.append((rule, True))
        elif not assignment.copy and s.source not in sources:
            sources.append(s.source)
            rules.append((rule, False))
    return article_events(
        at=s.at,
        source=s.source,
        headline=item.headline,
        terms=terms_of(s.features),
        regions=item.regions,
        topics=item.topics,
        assignment=assignment,
        new_outlet=new_outlet,
        rules=rules,
    )


def detect_in_order(
    inputs: Iterable[TrendInput],
    detector: TrendDetector,
    story_params: StoryParams | None = None,
) -> Iterator[dict[str, Any]]:
    """Cluster the articles in event-time order (ties keep input order) and feed the detector;
    yields the trend records."""
    clusterer = Clusterer(story_params or StoryParams())
    outlets: dict[str, int] = {}  # story → outlets so far: did this article bring a new one?
    rule_sources: dict[tuple[str, str], list[str]] = {}
    ordered = sorted(enumerate(inputs), key=lambda item: (item[1].story.at, item[0]))
    for _, item in ordered:
        s = item.story
        a = clusterer.add(s.article_id, s.source, s.features, s.at)
        new_outlet = not a.is_new and a.outlets > outlets.get(a.story_id, 0)
        outlets[a.story_id] = a.outlets
        detector.advance(s.at)
        for event, keys in events_of(item, a, new_outlet, rule_sources):
            yield from detector.observe_keys(event, keys)
