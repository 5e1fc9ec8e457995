"""Stories: near-duplicate articles across outlets, and the alert lifecycle over a story.

Pure code, no faust. The worker keeps story → state in a changelog-backed table and the LSH
band → story index in memory (rebuilt from the stories with `band_index`), and passes both in
as plain mutable mappings; the benchmark passes dicts.

Signature: MinHash over word shingles of the normalised title + body. Candidates come from LSH
banding (an article sharing any band with a story member is a candidate), and a candidate is
accepted only if the estimated Jaccard similarity to one of the story's kept signatures reaches
the threshold, so a chance band collision does not merge two stories.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from streams.ids import alert_id
from streams.severity import raised
from streams.text.arabic import normalize

K = TypeVar("K")
_WORD = re.compile(r"\w+")
_MAX_HASH = (1 << 32) - 1
MAX_KEPT_SIGNATURES = 8  # per story: compare a newcomer with a few members, not only the first
MAX_LISTED_ARTICLES = 200  # an alert lists at most this many articles (a runaway story)


@dataclass(frozen=True, slots=True)
class StoryParams:
    # Defaults = the worker's (settings.py), chosen with bench/dedup_eval.py.
    window_seconds: float = 48 * 3600.0
    shingle_size: int = 1
    bands: int = 64
    rows: int = 2
    threshold: float = 0.5  # minimum estimated Jaccard similarity to join a story

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


def words(text: str) -> list[str]:
    """Normalised words; one-letter tokens (stray letters, digits) carry no story signal."""
    return [w for w in _WORD.findall(normalize(text).lower()) if len(w) > 1]


def shingles(text: str, size: int = 3) -> set[str]:
    """Overlapping word n-grams; short texts give one shingle of all their words."""
    ws = words(text)
    if len(ws) <= size:
        return {" ".join(ws)} if ws else set()
    return {" ".join(ws[i : i + size]) for i in range(len(ws) - size + 1)}


def _hash64(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "little")


def minhash(items: set[str], num_perm: int = 128) -> tuple[int, ...]:
    """A MinHash signature of a set by one-permutation hashing with densification (Li, Owen &
    Zhang 2012; Shrivastava & Li 2014): ONE 64-bit hash per item, its value range cut into
    `num_perm` bins, the minimum kept per bin; an empty bin borrows from the next non-empty one
    (circularly) plus an offset per step. Equal bins estimate the Jaccard similarity as with
    `num_perm` independent permutations, at the cost of one hash per item instead of
    `num_perm`: about 10x faster in pure Python (bench/dedup_eval.py). All _MAX_HASH for an
    empty set."""
    k = num_perm
    if not items:
        return (_MAX_HASH,) * k
    width = (1 << 64) // k + 1
    bins: list[int | None] = [None] * k
    for item in items:
        h = _hash64(item)
        b, v = divmod(h, width)
        current = bins[b]
        if current is None or v < current:
            bins[b] = v
    filled = [i for i, v in enumerate(bins) if v is not None]
    out: list[int] = []
    for i, kept in enumerate(bins):
        if kept is None:
            # the next filled bin to the right, circularly; the step count keeps borrowed
            # values of different empty bins apart
            j = next((f for f in filled if f > i), filled[0])
            borrowed = bins[j]
            assert borrowed is not None
            value = borrowed + ((j - i) % k) * width
        else:
            value = kept
        out.append((value & _MAX_HASH) ^ (value >> 32))  # 32 bits, all of the value mixed in
    return tuple(out)


def signature(title: str, body: str, params: StoryParams) -> tuple[int, ...]:
    return minhash(shingles(f"{title}\n{body}", params.shingle_size), params.num_perm)


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity: the fraction of equal MinHash values."""
    if not a or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


BandKey = tuple[int, ...]


def band_keys(sig: Sequence[int], bands: int, rows: int) -> list[BandKey]:
    """One key per band, (band number, its `rows` values): articles sharing a key are
    candidates for the same story. The index lives in memory only, so the values themselves
    are the key (no digest), built in C."""
    return list(zip(range(bands), *(sig[r::rows] for r in range(rows)), strict=True))


def story_id_for(article_id: str) -> str:
    """A story is named after the article that opened it: deterministic across replays."""
    return "st-" + hashlib.sha256(article_id.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Assignment:
    story_id: str
    is_new: bool  # this article opened the story
    similarity: float  # to the closest kept member (1.0 for a new story)


def assign_story(
    article_id: str,
    source: str,
    sig: Sequence[int],
    at: float,
    *,
    bands: MutableMapping[BandKey, Any],
    stories: MutableMapping[str, Any],
    params: StoryParams,
) -> Assignment:
    """Find the live story this article belongs to, or open one; record the article in it.

    `bands`: band key → {"story": id, "at": seconds}; `stories`: story id → {"sigs", "articles",
    "sources", "first_seen", "last_seen"}. Stories not seen for `window_seconds` are ignored.
    Re-assigning an article already in a story returns that story and changes nothing else.
    """
    keys = band_keys(sig, params.bands, params.rows)
    horizon = at - params.window_seconds
    candidates: list[str] = []
    for key in keys:
        entry = bands.get(key)
        if entry and entry["at"] >= horizon and entry["story"] not in candidates:
            candidates.append(entry["story"])
    best: tuple[float, str] | None = None
    for sid in candidates:
        story = stories.get(sid)
        if not story or story["last_seen"] < horizon:
            continue
        if article_id in story["articles"]:
            return Assignment(sid, False, 1.0)
        score = max(similarity(sig, kept) for kept in story["sigs"])
        if score >= params.threshold and (best is None or score > best[0]):
            best = (score, sid)
    if best is None:
        sid = story_id_for(article_id)
        existing = stories.get(sid)
        if existing and article_id in existing["articles"]:
            return Assignment(sid, existing["articles"][0] == article_id, 1.0)
        story = {"sigs": [], "articles": [], "sources": [], "first_seen": at, "last_seen": at}
        score, is_new = 1.0, True
    else:
        score, sid = best
        story = dict(stories[sid])
        is_new = False
    if len(story["sigs"]) < MAX_KEPT_SIGNATURES:
        story["sigs"] = [*story["sigs"], list(sig)]
    story["articles"] = [*story["articles"], article_id][-MAX_LISTED_ARTICLES:]
    if source not in story["sources"]:
        story["sources"] = [*story["sources"], source]
    story["last_seen"] = max(story["last_seen"], at)
    stories[sid] = story  # re-assigned, not mutated: a changelog table sees the change
    entry = {"story": sid, "at": at}  # shared by the article's bands: replaced, never mutated
    for key in keys:
        bands[key] = entry
    return Assignment(sid, is_new, score)


def band_index(
    stories: Mapping[str, Any], params: StoryParams, horizon: float
) -> dict[BandKey, dict[str, Any]]:
    """The band → story index (the `bands` of `assign_story`) rebuilt from the live stories'
    kept signatures, each band stamped with its story's last_seen.

    The worker keeps the index in memory and rebuilds it when the stories table may have moved
    (restart, rebalance): writing 64 band entries per article to a changelog would cost more
    than everything else the story stage does. Bands of members whose signature was not kept
    are not restored; a newcomer is only ever compared with kept signatures anyway. Where two
    stories share a band, the one seen last wins, as it does when the bands are written live.
    """
    index: dict[BandKey, dict[str, Any]] = {}
    for sid, story in stories.items():
        if not story or story["last_seen"] < horizon:
            continue
        mine = {"story": sid, "at": story["last_seen"]}
        for sig in story["sigs"]:
            for key in band_keys(sig, params.bands, params.rows):
                entry = index.get(key)
                if entry is None or entry["at"] < mine["at"]:
                    index[key] = mine
    return index


def expired_keys(table: Mapping[K, Any], field: str, horizon: float) -> list[K]:
    """Keys whose entry's `field` timestamp is older than the horizon (to delete)."""
    return [k for k, v in table.items() if v and v.get(field, 0) < horizon]


# ------------------------------------------------------------------ alert lifecycle
def escalate(severity: str, sources: int, escalate_at: int) -> str:
    """One level up once `escalate_at` distinct sources report the story (0 disables)."""
    if escalate_at <= 0 or sources < escalate_at:
        return severity
    return raised(severity)


def _union(first: Sequence[str], more: Sequence[str]) -> list[str]:
    out = list(first)
    out.extend(x for x in more if x not in out)
    return out


def _article_ref(hit: Mapping[str, Any]) -> dict[str, Any]:
    return dict(hit["article"])


def story_alert(
    hit: Mapping[str, Any],
    story_id: str,
    previous: Mapping[str, Any] | None,
    *,
    now: str,
    escalate_at: int,
) -> dict[str, Any] | None:
    """The alert (schema v2) after an article-level hit (schema alert.v1) joins a story.

    No previous alert: status "new", revision 1. Otherwise "updated", with the article and its
    source added. None when the article is already in the alert (a re-publish or a replay):
    that must look like nothing happened, not like a new source.
    """
    article = _article_ref(hit)
    if previous is not None and any(a["id"] == article["id"] for a in previous["articles"]):
        return None
    if previous is None:
        articles = [article]
        sources = [article["source"]]
        regions, topics = list(hit["regions"]), list(hit["topics"])
        created, revision, status = now, 1, "new"
    else:
        articles = [*previous["articles"], article][-MAX_LISTED_ARTICLES:]
        sources = _union(previous["sources"], [article["source"]])
        regions = _union(previous["regions"], hit["regions"])
        topics = _union(previous["topics"], hit["topics"])
        created, revision, status = previous["created_at"], previous["revision"] + 1, "updated"
    alert = {k: v for k, v in hit.items() if k not in ("schema_version", "id")}
    severity = escalate(hit["severity"], len(sources), escalate_at)
    alert.update(
        schema_version=2,
        id=alert_id(hit["rule"], hit["rule_version"], story_id),
        story_id=story_id,
        status=status,
        revision=revision,
        rule_severity=hit["severity"],
        severity=severity,
        escalated=severity != hit["severity"],
        sources=sources,
        articles=articles,
        regions=regions,
        topics=topics,
        created_at=created,
        updated_at=now,
        alerted_at=now,
    )
    return alert


def params_tag(params: StoryParams) -> str:
    """Signatures are comparable only when made with the same parameters."""
    return f"s{params.shingle_size}-b{params.bands}-r{params.rows}"


def candidate_message(
    enriched: Mapping[str, Any], hits: Sequence[Mapping[str, Any]], params: StoryParams
) -> dict[str, Any]:
    """What the match stage sends to the story stage (schema story-candidate.v1)."""
    return {
        "schema_version": 1,
        "article_id": enriched["id"],
        "source": enriched["source"],
        "at": enriched["ingested_at"],
        "signature_params": params_tag(params),
        "signature": list(signature(enriched["title"], enriched["body"], params)),
        "hits": [dict(h) for h in hits],
    }
