"""Issue 14, round nine: evidence the story model lacks (who said what, and when), measured.

    .venv/bin/python bench/story_evidence.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--sets base s_both,s_sim d_diff ...] [--thresholds 0.73 0.8] [--no-stream]

Per article, from its original title and the first LEAD_WORDS words of title and body (the
worker's normalisation and story terms; word lists in bench/data/story_evidence_words.json):

- **speakers**: who speaks. The words after a speech verb («قال», «أعلن», «أكد», «حذر», «دعا»
  and a dozen more, with «و»/«ف»), at most 5 besides role words, up to a complementiser, a
  preposition, a day or a number; in a title the words before its verb when it leads with the speaker («ترامب يعلن
  …»), and the part before «:» («ظريف: …», at most 4 words). Role words («وزير», «رئيس»,
  «متحدث», …) are dropped, so «وزير الخارجية الإيراني محمد جواد ظريف» → خارجيه ايراني محمد
  جواد ظريف. Title speakers apart (`t_*`).
- **event days**: the days the text says things happened, resolved against its publication day
  (UTC+3): a weekday name is its most recent such day, «أمس» the day before, «أول أمس» two,
  «اليوم»/«الليلة» that day, «8 مايو» that date if within a week; in order of first mention.

A story keeps its members' speakers and days with counts; an article is compared with it (and
with the story's first article for the anchor) by: `s_both` (both name a speaker), `s_sim`
(cosine of the speakers' terms weighted by the stream's idf), `s_diff` (no speaker term shared),
`t_diff` (title speakers disjoint), `h_same`/`h_diff` (the title's first two story terms, its
event verb or noun, shared / not: `title_head`), `h0_diff` (the same from the story features'
first two title terms, speakers not left out: what the story stage has without a new field),
`d_same`/`d_diff` (an event day shared / both give days, none shared), `dm_same`/`dm_diff` (the article's first day is / is not the story's most
mentioned one), `sd_diff` (a shared speaker on disjoint days: the same people, another day).

Measured with the project's protocol, for each feature set (`base` = the six shipped features,
retrained; every other set adds to it):

1. the pair model (bench/train_story_model.py's examples; folds by day): out-of-fold log-loss
   and pair threshold / precision / recall at precision ≥ 0.95, and the held-out pairs' (model
   fitted on all training pairs) at that threshold;
2. (unless --no-stream) whole-stream clustering scored as bench/dedup_eval.py scores it: the
   worker's `assign_story` with the model retrained on the six + the set, each threshold of
   --thresholds, anchor 0.2. For this the story stage's `probability`, `add_member` and
   `opener` are wrapped in this process (the extra features' log-odds added; the story's
   speakers and days kept beside its state); the worker's code is not changed.

Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import (
    DEFAULT_CORPUS,
    HERE,
    NEGATIVE,
    POSITIVE,
    cached_inputs,
    pair_figures,
    score,
)
from train_story_model import cross_validated, fit, pr, prob

import streams.stories.cluster as cluster
from streams.stories.docfreq import DocFreq
from streams.stories.features import term
from streams.stories.offline import StoryInput, cluster_in_order
from streams.text.arabic import normalize, tokenize

LEAD_WORDS = 120  # title + body words looked at
MAX_AFTER = 5  # speaker words after a verb (role words not counted)
MAX_BEFORE = 3  # speaker words before a title's verb
MAX_SPEAKER_TERMS = 16
TZ_HOURS = 3  # publication days in UTC+3 (the Gulf and the Levant in summer)
BASE = ("title", "lead", "body", "places", "numbers", "age_hours")
EXTRA = (
    "h_same",
    "h_diff",
    "h0_diff",
    "s_both",
    "s_sim",
    "s_diff",
    "t_diff",
    "d_same",
    "d_diff",
    "dm_same",
    "dm_diff",
    "sd_diff",
)
KINDS = ("s", "t", "days", "h", "h0")
HEAD_TERMS = 2  # a title's first story terms: its event verb or noun («مقتل», «انفجار», «يعلن»)


@dataclass(frozen=True)
class Words:
    verbs: frozenset[str]
    ends: frozenset[str]
    roles: frozenset[str]
    weekdays: dict[str, int]
    today: frozenset[str]
    yesterday: str
    day_before: str
    day_prefixes: tuple[str, ...]
    months: dict[str, int]


@lru_cache(maxsize=1)
def words() -> Words:
    from streams.text.dates import _MONTHS  # the date parser's month names, normalised

    data = orjson.loads((HERE / "data" / "story_evidence_words.json").read_bytes())
    verbs = {normalize(v) for v in data["speech_verbs"]}
    verbs |= {p + v for v in verbs for p in data["verb_prefixes"]}
    return Words(
        frozenset(verbs),
        frozenset(normalize(w) for w in data["speaker_ends"]),
        frozenset(filter(None, (term(normalize(w)) for w in data["roles"]))),
        {normalize(k): v for k, v in data["weekdays"].items()},
        frozenset(normalize(w) for w in data["today"]),
        normalize(data["yesterday"]),
        normalize(data["day_before"]),
        tuple(data["day_prefixes"]),
        dict(_MONTHS),
    )


def _speaker_terms(ws: Sequence[str], out: dict[str, None]) -> None:
    roles = words().roles
    for w in ws:
        t = term(w)
        if t and t not in roles:
            out[t] = None


def _after(ws: Sequence[str], i: int, out: dict[str, None]) -> None:
    """At most MAX_AFTER words after the verb, role words not counted (a name comes after its
    title: «وزير الخارجية الإيراني محمد جواد ظريف»), up to a word that ends the subject."""
    w = words()
    taken: list[str] = []
    names = 0
    for word in ws[i + 1 : i + 1 + 2 * MAX_AFTER]:
        if word in w.ends or word in w.verbs or word.isdigit():
            break
        taken.append(word)
        names += term(word) not in w.roles
        if names == MAX_AFTER:
            break
    _speaker_terms(taken, out)


def speakers(title: str, body: str, *, with_body: bool = True) -> tuple[str, ...]:
    """The story terms naming who speaks in the title (and the body's first words)."""
    w = words()
    out: dict[str, None] = {}
    head, colon, _ = title.partition(":")
    if colon and 0 < len(head.split()) <= 4:
        _speaker_terms(tokenize(head).words, out)
    title_words = tokenize(title).words
    for i, word in enumerate(title_words):
        if word in w.verbs:
            _speaker_terms(title_words[max(0, i - MAX_BEFORE) : i], out)
            if i == 0:  # the title leads with its verb: the speaker follows
                _after(title_words, i, out)
            break
    if with_body:
        body_words = tokenize(body).words[:LEAD_WORDS]
        for i, word in enumerate(body_words):
            if word in w.verbs:
                _after(body_words, i, out)
    return tuple(out)[:MAX_SPEAKER_TERMS]


def event_days(ws: Sequence[str], published: float) -> tuple[int, ...]:
    """The days (ordinals) the words say things happened, resolved against the publication
    time (seconds since the epoch), in order of first mention."""
    w = words()
    day = dt.datetime.fromtimestamp(published + TZ_HOURS * 3600, dt.UTC).date()
    out: dict[int, None] = {}
    for i, word in enumerate(ws):
        base = word
        for prefix in w.day_prefixes:
            rest = word[len(prefix) :]
            if word.startswith(prefix) and (
                rest in w.weekdays or rest in w.today or rest == w.yesterday
            ):
                base = rest
                break
        if base in w.weekdays:
            out[(day - dt.timedelta(days=(day.weekday() - w.weekdays[base]) % 7)).toordinal()] = (
                None
            )
        elif base == w.yesterday:
            back = 2 if i > 0 and ws[i - 1] == w.day_before else 1
            out[(day - dt.timedelta(days=back)).toordinal()] = None
        elif base in w.today:
            out[day.toordinal()] = None
        elif word.isdigit() and len(word) <= 2 and i + 1 < len(ws) and ws[i + 1] in w.months:
            try:
                stated = dt.date(day.year, w.months[ws[i + 1]], int(word))
            except ValueError:
                continue
            if abs((stated - day).days) <= 7:
                out[stated.toordinal()] = None
    return tuple(out)


Evidence = dict[str, tuple[Any, ...]]
Counts = dict[str, dict[Any, int]]


def evidence(title: str, body: str, published: float, title_terms: Sequence[str] = ()) -> Evidence:
    """`title_terms`: the story features' title terms (in order of first occurrence)."""
    lead = tokenize(title).words + tokenize(body).words[:LEAD_WORDS]
    return {
        "h0": tuple(title_terms[:HEAD_TERMS]),
        "s": speakers(title, body),
        "t": speakers(title, "", with_body=False),
        "days": event_days(lead[:LEAD_WORDS], published),
        "h": title_head(title),
    }


def title_head(title: str) -> tuple[str, ...]:
    """The title's first HEAD_TERMS story terms, speakers and role words left out: what
    happened, as a headline says it first."""
    skip = set(speakers(title, "", with_body=False)) | words().roles
    heads = [t for t in map(term, tokenize(title).words) if t and t not in skip]
    return tuple(heads[:HEAD_TERMS])


def features(article: Evidence, story: Counts, idf: Callable[[str], float]) -> dict[str, float]:
    """The extra features of an article against a story's counts (`EXTRA`)."""
    out = dict.fromkeys(EXTRA, 0.0)
    mine, theirs = article["s"], story["s"]
    if mine and theirs:
        wa = {t: idf(t) for t in mine}
        ws = {t: c * idf(t) for t, c in theirs.items()}
        dot = sum(wa[t] * ws[t] for t in wa if t in ws)
        norm = math.sqrt(sum(v * v for v in wa.values()) * sum(v * v for v in ws.values()))
        out.update(s_both=1.0, s_sim=dot / norm if norm else 0.0, s_diff=float(dot == 0))
    out["t_diff"] = float(
        bool(article["t"] and story["t"]) and not any(t in story["t"] for t in article["t"])
    )
    days, counts = article["days"], story["days"]
    if days and counts:
        shared = any(d in counts for d in days)
        out["d_same"], out["d_diff"] = float(shared), float(not shared)
        # the story's most mentioned day, the earliest of ties
        main = max(counts, key=lambda d: (counts[d], -d))
        out["dm_same"], out["dm_diff"] = float(days[0] == main), float(days[0] != main)
    heads, story_heads = article.get("h", ()), story.get("h", {})
    if heads and story_heads:
        shared = any(t in story_heads for t in heads)
        out["h_same"], out["h_diff"] = float(shared), float(not shared)
    heads, story_heads = article.get("h0", ()), story.get("h0", {})
    if heads and story_heads:
        out["h0_diff"] = float(not any(t in story_heads for t in heads))
    out["sd_diff"] = float(out["s_both"] == 1.0 and out["s_diff"] == 0.0 and out["d_diff"] == 1.0)
    return out


def _counted(counts: Counts, article: Evidence) -> Counts:
    out = {k: dict(counts.get(k, {})) for k in KINDS}
    for k in KINDS:
        for item in article.get(k, ()):
            out[k][item] = out[k].get(item, 0) + 1
    return out


def load_evidence(corpus: Path, inputs: Sequence[StoryInput]) -> dict[str, Evidence]:
    """Every article's evidence, from its record's original title and text (as `to_raw` takes
    them: the text, else the abstract)."""
    at = {i.article_id: i.at for i in inputs}
    titles = {i.article_id: list(i.features.title) for i in inputs}
    out: dict[str, Evidence] = {}
    with gzip.open(corpus, "rb") as fh:
        for line in fh:
            record = orjson.loads(line)
            aid = record.get("id")
            if aid in at and aid not in out:
                body = record.get("text") or record.get("abstract") or ""
                out[aid] = evidence(record.get("title") or "", body, at[aid], titles[aid])
    return out


class Stage:
    """The story stage's scoring with extra features: wraps `cluster.probability`,
    `add_member` and `opener` while active (`patched`). The story's counts live in its state
    (`_evidence`, `_evidence_first`: this process only)."""

    def __init__(self, ev: Mapping[str, Evidence]) -> None:
        self.ev = ev
        self.weights: dict[str, float] = {}
        self.current: Evidence = {k: () for k in KINDS}
        self.df: DocFreq = DocFreq()

    def idf(self, t: str) -> float:
        return 1.0 + math.log((self.df.docs + 1) / (self.df.counts.get(t, 0) + 1))

    @contextmanager
    def patched(self) -> Iterator[None]:
        saved = (cluster.probability, cluster.add_member, cluster.opener, cluster.Clusterer.add)
        probability, add_member, opener, add = saved
        stage = self

        def probability_(*args: Any, **kwargs: Any) -> float:
            p = probability(*args, **kwargs)
            if not stage.weights:
                return p
            story = args[2]
            f = features(stage.current, story.get("_evidence", {k: {} for k in KINDS}), stage.idf)
            z = math.log(p / (1 - p)) if 0.0 < p < 1.0 else math.copysign(50.0, p - 0.5)
            return cluster._z_to_probability(z + sum(w * f[k] for k, w in stage.weights.items()))

        def add_member_(story: dict[str, Any], *args: Any) -> None:
            if "first" not in story and story["size"]:
                story["_evidence_first"] = story.get("_evidence", {k: {} for k in KINDS})
            add_member(story, *args)
            story["_evidence"] = _counted(story.get("_evidence", {}), stage.current)

        def opener_(story: Mapping[str, Any]) -> dict[str, Any]:
            out = opener(story)
            out["_evidence"] = story.get("_evidence_first") or story.get("_evidence")
            return out

        def add_(self_: cluster.Clusterer, article_id: str, *args: Any, **kwargs: Any) -> Any:
            stage.current, stage.df = stage.ev[article_id], self_.df
            return add(self_, article_id, *args, **kwargs)

        cluster.probability, cluster.add_member, cluster.opener = probability_, add_member_, opener_
        cluster.Clusterer.add = add_  # type: ignore[method-assign]
        try:
            yield
        finally:
            cluster.probability, cluster.add_member, cluster.opener = saved[:3]
            cluster.Clusterer.add = saved[3]  # type: ignore[method-assign]


def pair_rows(
    pairs: Sequence[Mapping[str, Any]],
    by_id: Mapping[str, StoryInput],
    ev: Mapping[str, Evidence],
    df: DocFreq,
) -> list[tuple[dict[str, float], int, str]]:
    """Each labelled pair (follow-ups left out) as train_story_model computes it (the later
    article against a story of the earlier one), with the extra features."""
    stage = Stage(ev)
    stage.df = df
    rows = []
    for pair in pairs:
        if pair["label"] != POSITIVE and pair["label"] not in NEGATIVE:
            continue
        a, b = sorted((by_id[pair["a"]], by_id[pair["b"]]), key=lambda i: (i.at, i.article_id))
        story = cluster.new_story(a.at)
        cluster.add_member(story, cluster.article_vectors(a.features, df), a.features, a.at)
        sim = cluster.compare(cluster.article_vectors(b.features, df), b.features, story, b.at)
        row = {n: float(getattr(sim, n)) for n in BASE}
        row.update(features(ev[b.article_id], _counted({}, ev[a.article_id]), stage.idf))
        rows.append((row, int(pair["label"] == POSITIVE), str(pair["day"])))
    return rows


def _log_loss(scores: Sequence[float], ys: Sequence[int]) -> float:
    return -sum(
        math.log(max(1e-12, s if y else 1.0 - s)) for s, y in zip(scores, ys, strict=True)
    ) / len(ys)


def pair_model(
    names: Sequence[str],
    rows: Sequence[tuple[dict[str, float], int, str]],
    held: Sequence[tuple[dict[str, float], int, str]],
) -> tuple[list[float], dict[str, Any]]:
    xs = [[r[n] for n in names] for r, _, _ in rows]
    ys = [y for _, y, _ in rows]
    scores = cross_validated(xs, ys, [d for _, _, d in rows])
    ok = [t / 100 for t in range(5, 96) if pr(scores, ys, t / 100)[0] >= 0.95]
    threshold = min(ok) if ok else 0.95
    p, r = pr(scores, ys, threshold)
    w = fit(xs, ys)
    hs = [prob(w, [x[n] for n in names]) for x, _, _ in held]
    hy = [y for _, y, _ in held]
    hp, hr = pr(hs, hy, threshold)
    return w, {
        "cv_log_loss": round(_log_loss(scores, ys), 4),
        "pair_threshold": threshold,
        "cv": [round(p, 3), round(r, 3)],
        "heldout_log_loss": round(_log_loss(hs, hy), 4),
        "heldout": [round(hp, 3), round(hr, 3)],
        "weights": [round(x, 3) for x in w],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument(
        "--sets",
        nargs="+",
        default=[
            "base",
            "s_both,s_sim",
            "s_diff",
            "t_diff",
            "d_diff",
            "d_same,d_diff",
            "dm_same,dm_diff",
            "dm_diff",
            "sd_diff",
            "s_both,s_sim,dm_diff",
            "h_same,h_diff",
            "h_diff",
        ],
        help="feature sets added to the six ('base': none)",
    )
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.73, 0.8])
    ap.add_argument("--no-stream", action="store_true", help="the pair model only")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    inputs = cached_inputs(corpus)
    started = time.process_time()
    ev = load_evidence(corpus, inputs)
    print(f"evidence of {len(ev)} articles: {time.process_time() - started:.1f} s CPU", flush=True)
    for key, label in (("s", "speakers"), ("t", "title speakers"), ("days", "event days")):
        print(f"  {label}: {sum(bool(e[key]) for e in ev.values())} articles give some", flush=True)
    df = DocFreq(horizon=10**9, max_terms=10**9)
    for item in sorted(inputs, key=lambda i: i.at):
        df.add(item.features.terms())
    by_id = {i.article_id: i for i in inputs}
    pairs = orjson.loads((HERE / "data" / "story_pairs.json").read_bytes())["pairs"]
    heldout = orjson.loads((HERE / "data" / "story_pairs_heldout.json").read_bytes())["pairs"]
    days = orjson.loads((HERE / "data" / "dedup_labels.json").read_bytes())
    rows, held = pair_rows(pairs, by_id, ev, df), pair_rows(heldout, by_id, ev, df)
    for name in EXTRA:
        both = [
            (sum(r[name] > 0 for r, y, _ in rs if y == v)) for rs in (rows, held) for v in (1, 0)
        ]
        print(
            f"  {name} > 0: pairs same_event {both[0]}, different {both[1]}; held-out {both[2]}, {both[3]}"
        )
    stage = Stage(ev)
    for feature_set in args.sets:
        extra = [] if feature_set == "base" else feature_set.split(",")
        w, figures = pair_model([*BASE, *extra], rows, held)
        print(orjson.dumps({"set": feature_set, "pair_model": figures}).decode(), flush=True)
        if args.no_stream:
            continue
        model = cluster.StoryModel(w[0], *w[1 : 1 + len(BASE)])
        stage.weights = dict(zip(extra, w[1 + len(BASE) :], strict=True))
        for threshold in args.thresholds:
            params = cluster.StoryParams(threshold=threshold, anchor=0.2, model=model)
            started = time.process_time()
            with stage.patched():
                results = list(cluster_in_order(inputs, params))
            cpu = time.process_time() - started
            story_of = {r["id"]: r["story_id"] for r in results}
            scored = score(story_of, pairs, days)
            out = {
                "set": feature_set,
                "threshold": threshold,
                "pairs": [scored["pairs"][k] for k in ("precision", "recall", "f1")],
                "heldout_pairs": [
                    pair_figures(story_of, heldout)[k] for k in ("precision", "recall", "f1")
                ],
                "days_bcubed": [
                    scored["days"][k] for k in ("bcubed_precision", "bcubed_recall", "bcubed_f1")
                ],
                "cpu_ms_per_article": round(1000 * cpu / len(results), 3),
            }
            print(orjson.dumps(out).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
