"""Region classification: which countries an article is about (ISO 3166-1 alpha-2 codes).

Matching runs on normalised word tokens (see `streams.text.arabic`), longest phrase first, with
Arabic proclitics stripped from the first word of a phrase («والعراق», «بدمشق», «للعراق»).
The gazetteer (`streams/data/gazetteer.json`, built by `scripts/build_gazetteer.py` from GeoNames
plus `streams/data/places_curated.yaml`) is compiled once into a dict-based phrase index and
reused for every article.

Scoring: every mention adds `field weight × name weight` to its country, where the title weighs
3, the dateline 2, the lead of the body (first 300 characters) 1.5 and the rest of the body 1;
countries, curated places, actors, demonyms and GeoNames-only names weigh 1.0/0.9/0.8/0.7/0.5.
A place that only says where a source speaks from («مصدر مطلع من داخل روسيا», «من موسكو قال»),
or where the outlet's desk sits («دبي، الإمارات العربية المتحدة (CNN) --»: `desk_marks`),
counts 0.3 of that. Ambiguous names («عمان», «صور», «طرابلس», GeoNames names shared by several
countries) count only when the article has another, unambiguous mention of the same country or
a cue word next to them («سلطنة عمان», «العاصمة الأردنية عمان»). Names that are also ordinary
words («دوما» "always", «حديثة» "modern": `common_words`) count only after a place cue («في
دوما», «مدينة حديثة», «بحديثة») or with another firm mention of the same country. A country
passes when its raw weight is >= MIN_RAW (1.0) and >= 25 % of the strongest country's; the score
is raw / (raw + 3).

About, or only mentioned (issue 15): a country that passes is one the article is *about*
(`regions`) when it is the strongest, or is named where an article says what it is about
(title, dateline, the body's first sentence), or is named at least MIN_MENTIONS times; the
others it merely *mentions* (`mentioned`: «a Dubai business story that mentions America»), as
are countries that do not pass but weigh at least MENTIONED_RAW.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from streams.model import Evidence, Label
from streams.resources import data_file
from streams.text.arabic import Token, Tokens, normalize, tokenize
from streams.text.memo import UNSEEN, WordMemo
from streams.text.scan import Prefilter, candidates, register

T = TypeVar("T")

# Longest first: «وبالعراق» must lose «وبال», not just «و».
PROCLITICS: tuple[str, ...] = (
    "وبال", "وكال", "وفال", "ولل", "فبال", "فلل",
    "وال", "فال", "بال", "كال", "لل", "ال",
    "وب", "ول", "وك", "فب", "فل", "فك",
    "و", "ف", "ب", "ل", "ك",
)  # fmt: skip
_MIN_STEM = 3
_PROCLITIC_SET = frozenset(PROCLITICS)
_PROCLITIC_LENGTHS = tuple(sorted({len(p) for p in PROCLITICS}, reverse=True))


@lru_cache(maxsize=65536)
def word_variants(word: str) -> tuple[str, ...]:
    """The word itself, then the word with each matching proclitic removed (stem >= 3 letters).

    A proclitic that carries the article keeps it: «بالعراق»/«للعراق» → «العراق», while
    «فرقة» → «رقه» (never «الرقه»), so a name with the article is not matched after a bare «ف».
    """
    out = [word]
    n = len(word)
    # The proclitics a word starts with are prefixes of each other: longest first is the
    # order of PROCLITICS. One set lookup per length instead of one `startswith` per proclitic.
    for k in _PROCLITIC_LENGTHS:
        p = word[:k]
        if n - k >= _MIN_STEM and p in _PROCLITIC_SET:
            stem = word[k:]
            if p.endswith("ال") or p.endswith("لل"):
                stem = "ال" + stem
            if stem not in out:
                out.append(stem)
    return tuple(out)


def _without_article(word: str) -> str:
    return word[2:] if word.startswith("ال") and len(word) > 2 else word


_WordEntry = tuple[tuple[str, ...], T | None]  # (variants that start a phrase, prefix hit)


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    """Tokens [start, end) of a token list matched a phrase carrying `payload`."""

    start: int
    end: int
    payload: T


class PhraseIndex(Generic[T]):
    """Exact phrase lookup over normalised tokens, compiled once.

    Phrases are normalised strings of one or more words. Only the first word of a phrase is
    matched with proclitics stripped (see `word_variants`). A one-word phrase ending in «*»
    matches any word starting with it, with or without proclitics and article, e.g. «اقتصاد*».
    """

    def __init__(self, phrases: Iterable[tuple[str, T]]) -> None:
        self._exact: dict[tuple[str, ...], T] = {}
        self._prefix: dict[str, T] = {}
        self._prefix_max = 0  # the longest prefix key: no longer slice can hit
        self._first: set[str] = set()
        self._memo: WordMemo[_WordEntry[T] | None] = WordMemo()  # word -> _entry(word)
        self.max_len = 1
        for phrase, payload in phrases:
            words = normalize(phrase).split()
            if not words:
                continue
            if len(words) == 1 and words[0].endswith("*"):
                self._prefix.setdefault(words[0][:-1], payload)
                self._prefix_max = max(self._prefix_max, len(words[0]) - 1)
                continue
            key = tuple(words)
            self._exact.setdefault(key, payload)
            self._first.add(key[0])
            self.max_len = max(self.max_len, len(words))
        # Tokens worth a look (see streams.text.scan): a token some first word is a variant
        # of ends with that word, without its article («للعراق» ends with «عراق»); a token a
        # prefix term accepts contains the prefix, without its article.
        self.prefilter = Prefilter(
            endings=map(_without_article, self._first),
            substrings=(_without_article(p) for p in self._prefix if len(p) >= _MIN_STEM),
        )
        register(self, self.prefilter)

    def __len__(self) -> int:
        return len(self._exact) + len(self._prefix)

    def _prefix_lookup(self, word: str) -> T | None:
        variants = word_variants(word)
        bare = [v[2:] for v in variants if v.startswith("ال") and len(v) - 2 >= _MIN_STEM]
        for variant in (*variants, *bare):
            for k in range(min(len(variant), self._prefix_max), _MIN_STEM - 1, -1):
                hit = self._prefix.get(variant[:k])
                if hit is not None:
                    return hit
        return None

    def _entry(self, word: str) -> _WordEntry[T] | None:
        """What a word can start: phrase first words among its variants, and a prefix hit."""
        firsts = tuple(v for v in word_variants(word) if v in self._first)
        prefix = self._prefix_lookup(word) if self._prefix else None
        entry = (firsts, prefix) if firsts or prefix is not None else None
        return self._memo.remember(word, entry)

    def find(self, tokens: Sequence[Token]) -> Iterator[Match[T]]:
        """Non-overlapping matches, scanning left to right and preferring the longest phrase."""
        if isinstance(tokens, Tokens):
            words = tokens.words
            # Only the tokens the shared automaton hit can start a phrase: the rest is skipped.
            starts: Sequence[int] = candidates(tokens, self.prefilter)
        else:
            words = [t.text for t in tokens]
            starts = range(len(words))
        n = len(words)
        memo = self._memo
        i = 0  # first word not inside a match already found
        for j in starts:
            if j < i:
                continue
            entry = memo.get(words[j], UNSEEN)
            if entry is UNSEEN:
                entry = self._entry(words[j])
            if entry is None:
                continue
            firsts, prefix_hit = entry
            found: Match[T] | None = None
            for variant in firsts:
                for size in range(min(self.max_len, n - j), 0, -1):
                    if found is not None and size <= found.end - found.start:
                        break
                    hit = self._exact.get((variant, *words[j + 1 : j + size]))
                    if hit is not None:
                        found = Match(j, j + size, hit)
                        break
            if found is None and prefix_hit is not None:
                found = Match(j, j + 1, prefix_hit)
            if found is not None:
                yield found
                i = found.end


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    name: str
    codes: tuple[tuple[str, float], ...]  # (ISO code, weight)
    kind: str
    needs_support: bool
    cues: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()  # code -> cue phrases


_DEFAULT_PATH = "gazetteer.json"

FIELD_WEIGHT = {"title": 3.0, "dateline": 2.0, "body": 1.0}
LEAD_CHARS, LEAD_WEIGHT = 300, 1.5
SOURCE_DISCOUNT = 0.3
CUE_WINDOW = 3
MIN_RAW, MIN_RELATIVE = 1.0, 0.25
MIN_MENTIONS = 4  # a country named this often is what the article is about
MENTIONED_RAW = 0.3  # weaker than this, a name is not even reported as mentioned
MAX_EVIDENCE = 20
_SOURCE_PREPS = frozenset({"من", "داخل", "في"})


class Gazetteer:
    """Compiled place-name index. Load once with `Gazetteer.load()` and reuse."""

    def __init__(self, doc: dict[str, Any]) -> None:
        entries: list[tuple[str, GazetteerEntry]] = []
        for e in doc["entries"]:
            cues = tuple(
                (code, tuple(tuple(c.split()) for c in cs))
                for code, cs in e.get("cues", {}).items()
            )
            entry = GazetteerEntry(
                name=e["name"],
                codes=tuple((c, float(w)) for c, w in e["codes"].items()),
                kind=e["kind"],
                needs_support=bool(e["needs_support"]),
                cues=cues,
            )
            entries.append((e["name"], entry))
        self.index: PhraseIndex[GazetteerEntry] = PhraseIndex(entries)
        self.stoplist = frozenset(doc.get("stoplist", []))
        self.source_cues = frozenset(doc.get("source_cues", []))
        self.speech_verbs = frozenset(doc.get("speech_verbs", []))
        self.common_words = frozenset(doc.get("common_words", []))
        self.place_cues = frozenset(doc.get("place_cues", []))
        self.desk_marks = tuple(doc.get("desk_marks", []))
        self.attribution: str = doc.get("attribution", "")

    @classmethod
    def load(cls, path: Path | None = None) -> Gazetteer:
        if path is None:
            text = data_file(_DEFAULT_PATH).read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return cls(json.loads(text))


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    return Gazetteer.load()


def _window_words(words: Sequence[str], start: int, end: int, size: int) -> set[str]:
    out: set[str] = set()
    for w in (*words[max(0, start - size) : start], *words[end : end + size]):
        out.update(word_variants(w))
    return out


def _cue_present(cues: tuple[tuple[str, ...], ...], window: set[str]) -> bool:
    return any(all(w in window for w in cue) for cue in cues)


def _is_source_location(gaz: Gazetteer, words: Sequence[str], start: int, end: int) -> bool:
    """«مصدر مطلع من داخل روسيا», «مصادر في موسكو», «من موسكو قال …»."""
    if start == 0:
        return False
    before = {v for w in words[max(0, start - 5) : start] for v in word_variants(w)}
    prev2 = set(words[max(0, start - 2) : start])
    if prev2 & _SOURCE_PREPS and before & gaz.source_cues:
        return True
    if words[start - 1] == "من":
        after = {v for w in words[end : end + 2] for v in word_variants(w)}
        if after & gaz.speech_verbs:
            return True
    return False


_LOCATIVE_PROCLITICS = ("وب", "ول", "ب", "ل")


def _place_cued(gaz: Gazetteer, words: Sequence[str], start: int, name: str) -> bool:
    """A common-word name used as a place: a cue word right before it («في دوما», «مدينة
    حديثة»), or a locative proclitic on it («بحديثة», «لدوما»)."""
    if start > 0 and not gaz.place_cues.isdisjoint(word_variants(words[start - 1])):
        return True
    token, first = words[start], name.split(" ", 1)[0]
    return token != first and token.startswith(_LOCATIVE_PROCLITICS)


@dataclass(slots=True)
class _Hit:
    entry: GazetteerEntry
    field: str
    weight: float
    evidence: Evidence
    supported_codes: tuple[str, ...]  # for ambiguous names: codes backed by a nearby cue
    common: bool = False  # a common-word name without a place cue: needs a firm mention
    prominent: bool = False  # in the title, the dateline or the body's first sentence


@dataclass(frozen=True, slots=True)
class Regions:
    """The countries an article is about, and those it only mentions; strongest first."""

    about: list[Label]
    mentioned: list[Label]


def classify_regions(
    title: str,
    body: str,
    *,
    dateline: str | None = None,
    gazetteer: Gazetteer | None = None,
) -> list[Label]:
    """Countries the article is about, strongest first (see the module docstring)."""
    return locate(title, body, dateline=dateline, gazetteer=gazetteer).about


def locate(
    title: str,
    body: str,
    *,
    dateline: str | None = None,
    gazetteer: Gazetteer | None = None,
) -> Regions:
    """Countries the article is about and those it mentions (see the module docstring).

    Evidence offsets point into the original `title`, `body` or `dateline` text
    (`Evidence.field` is "title", "body" or "dateline").
    """
    gaz = gazetteer or default_gazetteer()
    hits: list[_Hit] = []
    for field, text in (("title", title), ("dateline", dateline or ""), ("body", body)):
        if not text:
            continue
        first_sentence = _first_sentence_end(text) if field == "body" else len(text)
        desk = _desk_end(text, gaz.desk_marks) if field == "body" else 0
        tokens = tokenize(text)
        words = tokens.words
        for m in gaz.index.find(tokens):
            entry = m.payload
            if entry.name in gaz.stoplist:
                continue
            start, end = tokens.span(m.start, m.end)
            weight = FIELD_WEIGHT[field]
            if field == "body" and start < LEAD_CHARS:
                weight = LEAD_WEIGHT
            if start < desk or _is_source_location(gaz, words, m.start, m.end):
                weight *= SOURCE_DISCOUNT
            supported: tuple[str, ...] = ()
            if entry.cues:
                window = _window_words(words, m.start, m.end, CUE_WINDOW)
                supported = tuple(c for c, cs in entry.cues if _cue_present(cs, window))
            common = entry.name in gaz.common_words and not _place_cued(
                gaz, words, m.start, entry.name
            )
            # what the article says it is about: not where a source speaks from
            in_summary = start < first_sentence and weight >= FIELD_WEIGHT["body"]
            ev = Evidence(text[start:end], field, start, end)
            hits.append(_Hit(entry, field, weight, ev, supported, common, in_summary))

    # Countries with at least one unambiguous mention support ambiguous names.
    firm = {c for h in hits if not (h.entry.needs_support or h.common) for c, _ in h.entry.codes}
    raw: dict[str, float] = {}
    evidence: dict[str, list[Evidence]] = {}
    prominent: set[str] = set()  # named in the title, the dateline or the first sentence
    mentions: dict[str, int] = {}
    for h in hits:
        for code, name_weight in h.entry.codes:
            if h.entry.needs_support and code not in firm and code not in h.supported_codes:
                continue
            if h.common and code not in firm:
                continue
            raw[code] = raw.get(code, 0.0) + h.weight * name_weight
            evidence.setdefault(code, []).append(h.evidence)
            mentions[code] = mentions.get(code, 0) + 1
            if h.prominent:
                prominent.add(code)
    if not raw:
        return Regions([], [])
    top = max(raw.values())
    about: list[Label] = []
    mentioned: list[Label] = []
    for code, value in sorted(raw.items(), key=lambda kv: (-kv[1], kv[0])):
        label = Label(code, round(value / (value + 3.0), 3), _dedupe(evidence[code]))
        strong = value >= MIN_RAW and value >= MIN_RELATIVE * top
        if strong and (value == top or code in prominent or mentions[code] >= MIN_MENTIONS):
            about.append(label)
        elif value >= MENTIONED_RAW:
            mentioned.append(label)
    return Regions(about, mentioned)


DESK_CHARS = 120


def _desk_end(body: str, marks: Sequence[str]) -> int:
    """Where an outlet's desk line ends («دبي، الإمارات العربية المتحدة (CNN) --»), else 0."""
    head = body[:DESK_CHARS]
    found = [head.find(mark) + len(mark) for mark in marks if mark in head]
    return min(found) if found else 0


_SENTENCE_END = re.compile(r"[.!?؟\n]")


def _first_sentence_end(body: str) -> int:
    """Where the body's first sentence ends (at most LEAD_CHARS): the article's own summary."""
    found = _SENTENCE_END.search(body, 40, LEAD_CHARS)
    return found.end() if found else LEAD_CHARS


def _dedupe(items: list[Evidence]) -> tuple[Evidence, ...]:
    seen: set[tuple[str, int]] = set()
    out: list[Evidence] = []
    for e in items:
        if (e.field, e.start) not in seen:
            seen.add((e.field, e.start))
            out.append(e)
    return tuple(out[:MAX_EVIDENCE])
