"""Document frequencies learned from the stream: which terms are common, and so weigh little.

Pure code, no faust. The story stage counts every article's distinct terms; the inverse
document frequency of a term follows what the outlets actually write this month, not a corpus
frozen at build time. Memory is bounded twice: once `docs` passes `horizon` every count is
halved (and the ones reaching zero dropped), so old news fades at a fixed rate and the counts
stay those of roughly the last `horizon` articles; and past `max_terms` the terms seen once go,
the longest-ago seen first (`_drop_rarest`), so that the counts stop growing once a feed's
common vocabulary is in (MAX_TERMS) while a new story's rare names are kept.

The worker keeps the counts in memory and writes them to a changelog-backed table in
`SHARDS` pieces every few seconds (`shards`), so they survive a restart or a move to another
worker (`load`). What arrived between the last snapshot and a crash is counted again or not
at all; a few articles' worth of counts does not change any weight that matters.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

SHARDS = 16
# Terms counted at most (then trimmed to 3/4 of it). ANT brings 68,217 distinct terms in its
# first 10,000 articles and 107,989 in all 31,525: a cap of 60,000 is reached by ~8,000
# articles of a feed of 5,000 a day, so from there the counts are flat (issue 13: worker RSS
# flat from 10,000 articles; docs/performance.md, "Memory: round eleven"). What goes is terms
# seen in one article long ago: a term seen once weighs within ln 2 of an unseen one.
MAX_TERMS = 60_000
HORIZON = 200_000  # articles, then every count is halved
# ln(count + 1) for the counts most terms have: a list index instead of a call (the same
# doubles `math.log` returns)
_LOG1 = [math.log(c + 1) for c in range(4096)]


class DocFreq:
    __slots__ = ("counts", "docs", "horizon", "max_terms")

    def __init__(self, horizon: int = HORIZON, max_terms: int = MAX_TERMS) -> None:
        self.counts: dict[str, int] = {}
        self.docs = 0
        self.horizon = horizon
        self.max_terms = max_terms

    def add(self, terms: Iterable[str]) -> None:
        """Count one article's distinct terms."""
        counts = self.counts
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
        self.docs += 1
        if self.docs >= self.horizon:
            self._halve()
        elif len(counts) > self.max_terms:
            self._drop_rarest()

    def add_weighed(self, terms: Collection[str]) -> dict[str, float]:
        """`add`, returning each term's weight after counting it: 1 + ln(docs + 1) - ln(df +
        1), the exact doubles `streams.stories.cluster.article_vectors` computed from the
        counts (one dictionary probe per term instead of two)."""
        counts, docs = self.counts, self.docs + 1
        if docs >= self.horizon or len(counts) + len(terms) > self.max_terms:
            self.add(terms)  # the counts are halved or trimmed: weigh them afterwards
            base, get = 1.0 + math.log(self.docs + 1), self.counts.get
            return {t: base - math.log(get(t, 0) + 1) for t in terms}
        base, get, log1, log = 1.0 + math.log(docs + 1), counts.get, _LOG1, math.log
        out = dict.fromkeys(terms, 0.0)  # sized once (and in the terms' order): no resizing
        for t in terms:
            c = get(t, 0) + 1
            counts[t] = c
            out[t] = base - (log1[c] if c < 4096 else log(c + 1))
        self.docs = docs
        return out

    def idf(self, t: str) -> float:
        """Smoothed inverse document frequency: 1 + ln((docs + 1) / (df + 1)). A term never
        seen weighs most; a term in every article weighs 1."""
        return 1.0 + math.log((self.docs + 1) / (self.counts.get(t, 0) + 1))

    def _halve(self) -> None:
        self.counts = {t: c // 2 for t, c in self.counts.items() if c >= 2}
        self.docs //= 2

    def _drop_rarest(self) -> None:
        """Down to 3/4 of `max_terms` (so this runs once per ~max_terms/4 new terms, not per
        article): the terms seen once go first, in the order they were first seen (a dict
        keeps it), so a term seen once weeks ago goes before one seen once an hour ago, which
        may be the first report of a story whose next report is on its way; then, if too few
        were seen once, the rarest of the rest (the commonest kept, ties by first sight)."""
        counts, keep = self.counts, self.max_terms * 3 // 4
        excess = len(counts) - keep
        if excess <= 0:
            return
        once = [t for t, c in counts.items() if c == 1][:excess]
        if len(once) < excess:  # not enough seen once: keep the commonest `keep`
            ranked = sorted(counts, key=counts.__getitem__, reverse=True)  # stable: ties in order
            kept = set(ranked[:keep])
            self.counts = {t: c for t, c in counts.items() if t in kept}
            return
        gone = set(once)
        self.counts = {t: c for t, c in counts.items() if t not in gone}

    # ------------------------------------------------------------ snapshots
    def shards(self) -> dict[str, dict[str, Any]]:
        """The counts cut into SHARDS table values (term → shard by a stable hash), each small
        enough for one Kafka message (zlib, then base64 for the JSON table value)."""
        parts: list[dict[str, int]] = [{} for _ in range(SHARDS)]
        for t, c in self.counts.items():
            parts[zlib.crc32(t.encode()) % SHARDS][t] = c
        out: dict[str, dict[str, Any]] = {}
        for i, part in enumerate(parts):
            text = "\n".join(f"{t}\t{c}" for t, c in part.items())
            blob = base64.b64encode(zlib.compress(text.encode(), 6)).decode("ascii")
            out[f"df-{i:02d}"] = {"docs": self.docs, "terms": len(part), "blob": blob}
        return out

    @classmethod
    def load(
        cls, shards: Mapping[str, Any], horizon: int = HORIZON, max_terms: int = MAX_TERMS
    ) -> DocFreq:
        """Counts back from `shards` (missing shards: those terms start again from zero)."""
        df = cls(horizon, max_terms)
        for key in sorted(shards):
            value = shards[key]
            if not value or not str(key).startswith("df-"):
                continue
            df.docs = max(df.docs, int(value["docs"]))
            text = zlib.decompress(base64.b64decode(str(value["blob"]))).decode()
            for line in filter(None, text.split("\n")):
                t, _, c = line.partition("\t")
                df.counts[t] = int(c)
        return df
