"""Story clustering of a file, offline: what `rasid stories --jsonl` prints and the benchmarks
measure, with the worker's own code (pipeline parse + enrich, story features, `assign_story`).

Articles are clustered in publication order (ingest time when a record has none), as a live
stream would have brought them; ties keep file order, so one file always gives the same stories.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.stories.cluster import Clusterer, StoryParams
from streams.stories.features import StoryFeatures, places_of, story_features


@dataclass(frozen=True, slots=True)
class StoryInput:
    article_id: str
    source: str
    at: float  # seconds since the epoch
    features: StoryFeatures
    revision: int = 1


def story_input(enriched: Mapping[str, Any], *, published: bool = False) -> StoryInput:
    """What the story stage needs of an enriched article. The worker clusters by ingest time
    (when the article reached Rasid); offline runs by publication time when there is one."""
    stamp = (enriched.get("published_at") if published else None) or enriched["ingested_at"]
    return StoryInput(
        enriched["id"],
        enriched["source"],
        datetime.fromisoformat(stamp).timestamp(),
        story_features(enriched["title"], enriched["body"], places_of(enriched)),
        int(enriched.get("revision", 1)),
    )


def cluster_in_order(
    inputs: Iterable[StoryInput], params: StoryParams | None = None
) -> Iterator[dict[str, Any]]:
    """One result per input, in publication order: id, story_id, is_new, similarity, copy,
    revised (a later revision of an article already in the story), the story's size and
    sources at that moment (its first MAX_STORY_SOURCES outlets; past them, `outlets` too:
    how many distinct outlets reported it, `streams.stories.cluster.outlets`)."""
    clusterer = Clusterer(params or StoryParams())
    ordered = sorted(enumerate(inputs), key=lambda item: (item[1].at, item[0]))
    for _, item in ordered:
        a = clusterer.add(item.article_id, item.source, item.features, item.at, item.revision)
        out: dict[str, Any] = {
            "id": item.article_id,
            "story_id": a.story_id,
            "is_new": a.is_new,
            "similarity": a.similarity,
            "copy": a.copy,
            "revised": a.revised,
            "size": a.size,
            "sources": list(a.sources),
            "at": datetime.fromtimestamp(item.at, UTC).isoformat(),
        }
        if a.outlets > len(a.sources):  # past the listed outlets only
            out["outlets"] = a.outlets
        yield out
