"""Region classification: which countries an article is about (ISO 3166-1 alpha-2 codes).

Matching runs on normalised word tokens (see `streams.text.arabic`), longest phrase first, with
Arabic proclitics stripped from the first word of a phrase («والعراق», «بدمشق», «للعراق»).
The gazetteer (`streams/data/gazetteer.json`, built by `scripts/build_gazetteer.py` from GeoNames
plus `streams/data/places_curated.yaml`) is compiled once into a dict-based phrase index and
reused for every article. Per article, Python runs only for the tokens the shared automaton
(`streams.text.scan`) lets through and for the names found: what a word can start is
remembered per word (bounded memo), every written form of every context word is tabled at
load (`clitic_forms`), and a name with no context word around it skips the aside rules.

Scoring: every mention adds `field weight × name weight` to its country, where the title weighs
3, the dateline 2, the lead of the body (first 300 characters) 1.5 and the rest of the body 1;
countries, curated places, actors, demonyms and GeoNames-only names weigh 1.0/0.9/0.8/0.7/0.5.
A name right after a name of the same country adds nothing («دبي، الإمارات», «ريال مدريد
الإسباني»: one place). Asides count SOURCE_DISCOUNT (0.3) of their weight and never make a
country prominent: a place that only says where a source speaks from («مصدر مطلع من داخل
روسيا», «من موسكو قال»), where the outlet's desk sits («دبي، الإمارات العربية المتحدة (CNN)
--»: `desk_marks`) or anything after a later desk line (another story appended to the page),
and the context asides of `_is_aside` (a person's, a currency's or a militia's nationality, a
backer or a border, a medium, an event or institution, where somebody comes from, a country or
capital reacting or speaking), and a nationality used as a noun for the person named next
(`_names_a_person`: «أبدى الأرجنتيني هيكتور كوبر»). Countries named as a list of examples
(«السعودية والإمارات والكويت», «دول مثل مصر والأردن») count LIST_DISCOUNT (0.5), unless the
run is all the story's actors («تعهدت كل من …», «تقول الولايات المتحدة وبريطانيا وفرنسا إن»:
`_enumerated`). The context words are data (places_curated.yaml).
Ambiguous names («عمان», «صور», «طرابلس», GeoNames names shared by several countries) count
only when the article has another, unambiguous mention of the same country or a cue word next
to them («سلطنة عمان», «العاصمة الأردنية عمان»). Names that are also ordinary words («دوما»
"always", «حديثة» "modern": `common_words`) count only after a place cue («في دوما», «مدينة
حديثة», «بحديثة») or with another firm mention of the same country. The score is
raw / (raw + 3).

About, or only mentioned (issue 15): a country weighing at least MIN_RAW (1.0) is one the
article is *about* (`regions`) when the title or dateline names it (and it has HEADLINE_RELATIVE
of the strongest country's weight), or the body's first sentence does (LEAD_RELATIVE), or it is
the strongest and weighs at least MIN_TOP, or it is named at least MIN_MENTIONS times with
MENTION_RELATIVE of the strongest's weight; the others it merely *mentions* (`mentioned`: «a
Dubai business story that mentions America»), down to MENTIONED_RAW. The thresholds were
chosen on the dev half of bench/data/region_labels*.json (bench/eval_regions.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
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
_ARTICLE_PROCLITIC_ENDS = ("ال", "لل")  # a proclitic carrying the article: «بالعراق» → «العراق»


# Every caller on the worker's path memoises per word itself (the phrase indexes, the topic
# model): this cache only spares the same new word's variants to its next caller, a few
# moments later, and for the context words around place names (issue 13: 65,536 entries held
# ~13 MB and saved under one call per article over 8,192).
@lru_cache(maxsize=8192)
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
            if p.endswith(_ARTICLE_PROCLITIC_ENDS):
                stem = "ال" + stem
            if stem not in out:
                out.append(stem)
    return tuple(out)


def clitic_forms(word: str) -> list[str]:
    """Every word `word_variants` can take back to `word`: the word itself, and the word after
    each proclitic (one that carries the article, «بال»/«لل», replaces the word's own «ال»).
    A table of these forms answers for any word in one lookup (`Gazetteer.flags`)."""
    out = [word]
    bare = word[2:] if word.startswith("ال") else ""
    for p in PROCLITICS:
        if p.endswith(_ARTICLE_PROCLITIC_ENDS):
            if len(bare) >= _MIN_STEM:
                out.append(p + bare)
        elif len(word) >= _MIN_STEM:
            out.append(p + word)
    return out


def _endings(word: str) -> list[str]:
    """What every word in `clitic_forms(word)` ends with: the word itself, and for a word
    with the article and a stem of 3 letters or more, «لل» and the stem («للعراق», «وللعراق»)."""
    if word.startswith("ال") and len(word) - 2 >= _MIN_STEM:
        return [word, "لل" + word[2:]]
    return [word]


def _without_article(word: str) -> str:
    return word[2:] if word.startswith("ال") and len(word) > 2 else word


# What a word can start: the phrases of two words or more, as (size, first word variant),
# longest first and in `word_variants` order within a size; the payload when none of them is
# there (the one-word phrase of its first variant that is one, else a prefix hit); and the
# second words of those longer phrases (a word not among them after it: none is there).
_WordEntry = tuple[tuple[tuple[int, str], ...], T | None, frozenset[str]]
_NO_WORDS: frozenset[str] = frozenset()


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
        self._first: dict[str, set[int]] = {}  # first word -> lengths of the phrases it starts
        seconds: dict[str, set[str]] = {}  # first word -> second words of its phrases
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
            self._first.setdefault(key[0], set()).add(len(key))
            if len(key) > 1:
                seconds.setdefault(key[0], set()).add(key[1])
            self.max_len = max(self.max_len, len(words))
        self._seconds = {first: frozenset(words) for first, words in seconds.items()}
        # Tokens worth a look (see streams.text.scan): a token some first word is a variant
        # of ends with that word, or with «لل» and the word without its article («للعراق»:
        # `_endings`); a token a prefix term accepts contains the prefix, without its article.
        # A first word shorter than a stem is a variant of itself only: it is a word key, not
        # an ending («د»: every token ending with «د» would be a candidate).
        self.prefilter = Prefilter(
            endings=(
                e for first in self._first if len(first) >= _MIN_STEM for e in _endings(first)
            ),
            substrings=(_without_article(p) for p in self._prefix if len(p) >= _MIN_STEM),
            words=(first for first in self._first if len(first) < _MIN_STEM),
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
        """What a word can start (see `_WordEntry`), remembered for the next time.

        The longest phrase wins, and among phrases of one size the one whose first word is
        the earlier variant; one-word phrases do not depend on the words after, so the one
        that wins is chosen here, once per word.
        """
        variants = [v for v in word_variants(word) if v in self._first]
        if not variants and not self._prefix:
            return self._memo.remember(word, None)  # most words: no phrase starts with them
        longer = tuple(
            sorted(
                ((size, v) for v in variants for size in self._first[v] if size > 1),
                key=lambda sv: (-sv[0], variants.index(sv[1])),
            )
        )
        single = next((self._exact[(v,)] for v in variants if 1 in self._first[v]), None)
        if single is None and self._prefix:
            single = self._prefix_lookup(word)
        sets = [self._seconds[v] for v in variants if v in self._seconds]
        seconds = sets[0] if len(sets) == 1 else frozenset().union(*sets) or _NO_WORDS
        entry = (longer, single, seconds) if longer or single is not None else None
        return self._memo.remember(word, entry)

    def find(self, tokens: Sequence[Token]) -> Iterator[Match[T]]:
        """Non-overlapping matches, scanning left to right and preferring the longest phrase."""
        for start, end, payload in self.matches(tokens):
            yield Match(start, end, payload)

    def matches(self, tokens: Sequence[Token]) -> list[tuple[int, int, T]]:
        """`find` as (start, end, payload) tuples: what the hot path reads, without a
        generator or an object per match."""
        if isinstance(tokens, Tokens):
            words = tokens.words
            # Only the tokens the shared automaton hit can start a phrase: the rest is skipped.
            starts: Sequence[int] = candidates(tokens, self.prefilter)
        else:
            words = [t.text for t in tokens]
            starts = range(len(words))
        out: list[tuple[int, int, T]] = []
        if not starts:
            return out
        n = len(words)
        memo_get = self._memo.get
        exact_get = self._exact.get
        i = 0  # first word not inside a match already found
        for j in starts:
            if j < i:
                continue
            entry = memo_get(words[j], UNSEEN)
            if entry is UNSEEN:
                entry = self._entry(words[j])
            if entry is None:
                continue
            longer, payload, seconds = entry
            size = 1
            # «على» (folded to «علي») starts the name «علي صبيح» only before «صبيح»: one set
            # lookup of the next word, not a lookup per longer phrase
            if j + 1 < n and words[j + 1] in seconds:
                for length, variant in longer:  # longest first
                    if length <= n - j:
                        hit = exact_get((variant, *words[j + 1 : j + length]))
                        if hit is not None:
                            payload, size = hit, length
                            break
            if payload is not None:
                out.append((j, j + size, payload))
                i = j + size
        return out


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    name: str
    codes: tuple[tuple[str, float], ...]  # (ISO code, weight)
    kind: str
    needs_support: bool
    cues: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()  # code -> cue phrases
    code_set: frozenset[str] = frozenset()  # the codes, as a set
    # What `Gazetteer` lists say of the name, looked up once at load rather than per mention:
    stop: bool = False  # in the stoplist: matched (so it hides shorter names), never counted
    common: bool = False  # also an ordinary word (`common_words`): needs a place cue
    capital: bool = False  # a capital, which speaks for its government («قالت واشنطن»)
    person: bool = False  # a one-word definite singular demonym: can be a noun («الأرجنتيني»)


_DEFAULT_PATH = "gazetteer.json"
_PERSON_FORM = re.compile(r"^ال\S+(?:ي|يه)$")  # «الأرجنتيني», «الأمريكية» (normalised): not plural

FIELD_WEIGHT = {"title": 3.0, "dateline": 2.0, "body": 1.0}
LEAD_CHARS, LEAD_WEIGHT = 300, 1.5
SOURCE_DISCOUNT = 0.3  # a source's location, a desk line, an aside (see `_aside`)
LIST_DISCOUNT = 0.5  # a country in a list of examples
LIST_RUN = 3  # this many countries in a row are a list, cue or not
CUE_WINDOW = 3
MIN_RAW, MIN_RELATIVE = 1.0, 0.25
MIN_TOP = 3.0  # the strongest country, named nowhere prominent, needs this much to be about
HEADLINE_RELATIVE = 0.1  # a country in the title or dateline needs this share of the top's
LEAD_RELATIVE = 0.25  # a country in the first sentence needs this share of the top's
MIN_MENTIONS = 4  # a country named this often is what the article is about, when it has
MENTION_RELATIVE = 0.4  # this share of the strongest country's weight
MENTIONED_RAW = 0.3  # weaker than this, a name is not even reported as mentioned
MAX_EVIDENCE = 20
_SOURCE_PREPS = frozenset({"من", "داخل", "في"})
_NOUN_WINDOW, _MEDIA_WINDOW, _EVENT_WINDOW, _SOURCE_WINDOW = 2, 3, 6, 5

# Classes of context words (bit flags of `Gazetteer.flags`), from the gazetteer's word lists.
(SOURCE_CUE, SPEECH, PLACE_CUE, NATIONALITY, RELATION, MEDIA, EVENT, REACTION, LIST_CUE, PERSON,
 ORIGIN) = (1 << k for k in range(11))  # fmt: skip
# the classes `_is_aside` looks for (PERSON is `_names_a_person`'s, read for demonyms only)
_ASIDE = SOURCE_CUE | SPEECH | NATIONALITY | RELATION | MEDIA | EVENT | REACTION | ORIGIN
_CONTEXT_LISTS = (
    ("source_cues", SOURCE_CUE),
    ("speech_verbs", SPEECH),
    ("present_speech_verbs", SPEECH),
    ("place_cues", PLACE_CUE),
    ("nationality_nouns", NATIONALITY),
    ("relation_cues", RELATION),
    ("media_cues", MEDIA),
    ("event_cues", EVENT),
    ("reaction_verbs", REACTION),
    ("list_cues", LIST_CUE),
    ("person_cues", PERSON),
    ("origin_cues", ORIGIN),
)


class Gazetteer:
    """Compiled place-name index. Load once with `Gazetteer.load()` and reuse."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.stoplist = frozenset(doc.get("stoplist", []))
        self.source_cues = frozenset(doc.get("source_cues", []))
        self.speech_verbs = frozenset(doc.get("speech_verbs", []))
        self.common_words = frozenset(doc.get("common_words", []))
        self.place_cues = frozenset(doc.get("place_cues", []))
        self.capitals = frozenset(doc.get("capitals", []))
        self.desk_marks = tuple(doc.get("desk_marks", []))
        # any desk mark, for one search of a long body for the first later desk line
        self.desk_pattern = (
            re.compile("|".join(map(re.escape, self.desk_marks))) if self.desk_marks else None
        )
        # «كل من» right before a run of countries: all of them, not examples
        self.enumeration_cues = tuple(tuple(c.split()) for c in doc.get("enumeration_cues", []))
        self.attribution: str = doc.get("attribution", "")
        entries: list[tuple[str, GazetteerEntry]] = []
        for e in doc["entries"]:
            cues = tuple(
                (code, tuple(tuple(c.split()) for c in cs))
                for code, cs in e.get("cues", {}).items()
            )
            name = e["name"]
            entry = GazetteerEntry(
                name=name,
                codes=tuple((c, float(w)) for c, w in e["codes"].items()),
                kind=e["kind"],
                needs_support=bool(e["needs_support"]),
                cues=cues,
                code_set=frozenset(e["codes"]),
                stop=name in self.stoplist,
                common=name in self.common_words,
                capital=name in self.capitals,
                person=e["kind"] == "demonym" and _PERSON_FORM.match(name) is not None,
            )
            entries.append((name, entry))
        self.index: PhraseIndex[GazetteerEntry] = PhraseIndex(entries)
        classes: dict[str, int] = {}
        for key, flag in _CONTEXT_LISTS:
            for word in doc.get(key, []):
                classes[word] = classes.get(word, 0) | flag
        # Every written form of every context word, proclitics and all («وأدانت», «للمخرج»),
        # with its classes: the flags of any word are then one lookup, with no memo to fill
        # and none to bound (a word that is no such form has none).
        self.context_flags: dict[str, int] = {}
        for word in classes:
            for form in clitic_forms(word):
                if form not in self.context_flags:
                    found = 0
                    for variant in word_variants(form):
                        found |= classes.get(variant, 0)
                    self.context_flags[form] = found
        # The forms that can make a name an aside (see `_is_aside`): a name with none of them
        # around it is not one.
        self.aside_words = frozenset(w for w, f in self.context_flags.items() if f & _ASIDE)

    def flags(self, word: str) -> int:
        """The context classes of a word, with or without its proclitics («وأدانت», «للمخرج»)."""
        return self.context_flags.get(word, 0)

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
    return any(map(window.issuperset, cues))  # every word of some cue is in the window


def _is_aside(
    gaz: Gazetteer, words: Sequence[str], start: int, end: int, entry: GazetteerEntry, title: bool
) -> bool:
    """Whether the name at words[start:end] only says where a source speaks from, or says
    something about a person, a medium or an event rather than where the story is. The word
    lists are data (streams/data/places_curated.yaml); a word's classes are one lookup in a
    table of every written form of every context word (`Gazetteer.flags`).

    - where a source speaks from: «مصدر مطلع من داخل روسيا», «مصادر في موسكو», «من موسكو قال»;
    - a nationality up to 2 words after a person, a currency, a language or a militia
      (`nationality_nouns`): «النجم الإسباني», «الدولار الأمريكي», «ميليشيات الحوثي الإيرانية»;
    - a country up to 2 words after a backer's or a border's word (`relation_cues`): «الموالية
      لإيران», «الحدود مع الأردن»;
    - a name up to 3 words after a medium (`media_cues`): «صحيفة "إندبندنت" البريطانية»;
    - a name up to 6 words after an event or institution it names (`event_cues`): «لمونديال
      روسيا», «كأس العالم 2018 لكرة القدم في روسيا», «معهد ستوكهولم»;
    - where somebody comes from, up to 3 words after an origin word and «من» (`origin_cues`):
      «قادما من برشلونة», «قادما من ريال مدريد»;
    - a country or capital reacting, right after or before a reaction verb (`reaction_verbs`):
      «أدانت السعودية», «واشنطن تندد»; a capital speaking for its government (`capitals` with
      a speech verb): «قالت واشنطن», «موسكو ترى». Not in a title: «السعودية تدين …» heads an
      article about that reaction.
    """
    lo = start - _EVENT_WINDOW if start > _EVENT_WINDOW else 0
    if gaz.aside_words.isdisjoint(words[lo : end + 2]):
        return False  # no word around it that any of the rules below looks for
    flags = gaz.context_flags.get
    context = list(map(flags, words[lo:start], repeat(0)))  # [-1]: the word right before
    n = len(words)
    # where a source speaks from
    if not _SOURCE_PREPS.isdisjoint(words[max(0, start - 2) : start]) and any(
        f & SOURCE_CUE for f in context[-_SOURCE_WINDOW:]
    ):
        return True
    after = flags(words[end], 0) if end < n else 0
    if (
        start
        and words[start - 1] == "من"
        and (after & SPEECH or (end + 1 < n and flags(words[end + 1], 0) & SPEECH))
    ):
        return True
    near = NATIONALITY | RELATION if entry.kind == "demonym" else RELATION
    for k, f in enumerate(reversed(context)):  # k = 0: the word right before
        if f & EVENT or (f & MEDIA and k < _MEDIA_WINDOW) or (f & near and k < _NOUN_WINDOW):
            return True
        # «قادما من برشلونة», «قادما من ريال مدريد»: the origin word, then «من»
        if f & ORIGIN and 0 < k < _MEDIA_WINDOW and words[start - k] == "من":
            return True
    if title:
        return False
    capital = entry.capital
    if capital or entry.kind == "country":
        around = (context[-1] if context else 0) | after
        return bool(around & REACTION or (capital and around & SPEECH))
    return False


def _names_a_person(
    gaz: Gazetteer, tokens: Tokens, text: str, first: int, last: int, entry: GazetteerEntry
) -> bool:
    """A nationality used as a noun for the person named next («أبدى الأرجنتيني هيكتور كوبر»,
    «للأرجنتيني أنطونيو بيتزي»): a definite singular demonym after a `person_cues` word or a
    speech verb, or carrying a preposition itself, with a word of no article right after it
    and nothing between. After a noun it qualifies («المنتخب الأرجنتيني») it is an adjective."""
    words = tokens.words
    if last >= len(words):
        return False
    token = words[first]
    # the name keeps its «ال»: «لل» + stem; a preposition on the nationality itself
    proclitic = token[: len(token) - len(entry.name) + 2] if token != entry.name else ""
    if not ("ب" in proclitic or "ك" in proclitic or "لل" in proclitic) and not (
        first and gaz.flags(words[first - 1]) & (PERSON | SPEECH)
    ):
        return False  # most often an adjective after its noun: «المنتخب الأرجنتيني»
    after = words[last]
    if after.isdigit() or gaz.flags(after) or any(v.startswith("ال") for v in word_variants(after)):
        return False  # «الأرجنتيني العام», «الأمريكي إن», «الأرجنتيني والبرازيلي»: not a name
    # «الأرجنتيني، …»: the phrase ended
    return not text[tokens.span(first, last)[1] : tokens.span(last, last + 1)[0]].strip()


_LOCATIVE_PROCLITICS = ("وب", "ب")  # not «ل»: «خسارة لهيت» is "a loss for (Miami) Heat"


def _place_cued(gaz: Gazetteer, words: Sequence[str], start: int, entry: GazetteerEntry) -> bool:
    """A common-word name used as a place: a cue word right before it («في دوما», «مدينة
    حديثة»), or a locative proclitic on it («بحديثة»). A nationality («تركي», also a first
    name) is never a place: it always needs a firm mention of its country."""
    if entry.kind == "demonym":
        return False
    name = entry.name
    if start > 0 and gaz.flags(words[start - 1]) & PLACE_CUE:
        return True
    token, first = words[start], name.split(" ", 1)[0]
    return token != first and token.startswith(_LOCATIVE_PROCLITICS)


@dataclass(slots=True)
class _Hit:
    entry: GazetteerEntry
    field: str
    weight: float
    text: str  # the field's original text: the evidence is text[start:end]
    start: int
    end: int
    supported_codes: tuple[str, ...]  # for ambiguous names: codes backed by a nearby cue
    first: int  # token span [first, last) in its field
    last: int
    common: bool = False  # a common-word name without a place cue: needs a firm mention
    prominent: bool = False  # in the title, the dateline or the body's first sentence
    headline: bool = False  # in the title or the dateline
    counted: bool = True  # counts towards MIN_MENTIONS (not in an appended story)
    echo: frozenset[str] = frozenset()  # codes the name right before already gave


_NO_CODES: frozenset[str] = frozenset()


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


def _field_hits(gaz: Gazetteer, field: str, text: str) -> list[_Hit]:
    """The gazetteer's names in one field, weighed by where and how they are written."""
    tokens = tokenize(text)
    found = gaz.index.matches(tokens)
    if not found:
        return []
    body, title = field == "body", field == "title"
    first_sentence = _first_sentence_end(text) if body else len(text)
    desk, appended = _desk_spans(text, gaz.desk_marks, gaz.desk_pattern) if body else (0, len(text))
    words = tokens.words
    span = tokens.span
    aside_words = gaz.aside_words
    hits: list[_Hit] = []
    prev_last, prev_codes = -2, _NO_CODES
    field_weight = FIELD_WEIGHT[field]
    lead_weight = LEAD_WEIGHT if body else field_weight
    for first, last, entry in found:
        if entry.stop:
            continue
        start, end = span(first, last)
        weight = lead_weight if start < LEAD_CHARS else field_weight
        if start < desk or start >= appended:
            aside = True
        else:  # most names have no context word around them: `_is_aside`'s first test, inline
            lo = first - _EVENT_WINDOW if first > _EVENT_WINDOW else 0
            aside = not aside_words.isdisjoint(words[lo : last + 2]) and _is_aside(
                gaz, words, first, last, entry, title
            )
        if not aside and entry.person:
            aside = _names_a_person(gaz, tokens, text, first, last, entry)
        if aside:
            weight *= SOURCE_DISCOUNT
        supported: tuple[str, ...] = ()
        if entry.cues:
            window = _window_words(words, first, last, CUE_WINDOW)
            supported = tuple(c for c, cs in entry.cues if _cue_present(cs, window))
        common = entry.common and not _place_cued(gaz, words, first, entry)
        codes = entry.code_set
        # «دبي، الإمارات», «ريال مدريد الإسباني», «حمص السورية»: one place, named twice
        echo = codes & prev_codes if first <= prev_last + 1 else _NO_CODES
        prev_last, prev_codes = last, codes
        # what the article says it is about: not where a source speaks from, nor an aside
        prominent = start < first_sentence and not aside
        headline = prominent and not body
        counted = start < appended
        hit = _Hit(entry, field, weight, text, start, end, supported, first, last, common,
                   prominent, headline, counted, echo)  # fmt: skip
        hits.append(hit)
    if len(hits) > 1:  # a list needs two names at least
        _mark_lists(gaz, words, hits)
    return hits


def _mark_lists(gaz: Gazetteer, words: Sequence[str], hits: list[_Hit]) -> None:
    """Countries named in a list («السعودية والإمارات والكويت», «دول مثل مصر والأردن») are
    examples: each counts LIST_DISCOUNT and none is prominent."""
    n = len(hits)
    i = 0
    while i < n:
        j = i + 1
        codes = hits[i].entry.code_set
        while j < n and hits[j].first <= hits[j - 1].last + 1:
            new = hits[j].entry.code_set
            if new & codes:
                break
            codes |= new
            j += 1
        size = j - i
        first = hits[i].first
        cued = size >= 2 and first > 0 and bool(gaz.flags(words[first - 1]) & LIST_CUE)
        if (size >= LIST_RUN or cued) and not _enumerated(gaz, words, first):
            for h in hits[i:j]:
                h.weight *= LIST_DISCOUNT
                h.prominent = h.headline = False
        i = j


def _enumerated(gaz: Gazetteer, words: Sequence[str], first: int) -> bool:
    """Whether a run of countries starting at words[first] is all the story's actors, not
    examples: right after an `enumeration_cues` phrase («تعهدت كل من …», not «في كل من …») or
    a speech verb («تقول الولايات المتحدة وبريطانيا وفرنسا إن …»)."""
    if first and gaz.flags(words[first - 1]) & SPEECH:
        return True
    for cue in gaz.enumeration_cues:
        k = len(cue)
        if first >= k and tuple(words[first - k : first]) == cue:
            return first == k or words[first - k - 1] != "في"  # «في كل من»: examples
    return False


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
        if text:
            hits.extend(_field_hits(gaz, field, text))
    return _decide(hits)


def _firm_codes(hits: list[_Hit]) -> set[str]:
    """The countries of the unambiguous mentions among `hits`."""
    return {c for h in hits if not (h.entry.needs_support or h.common) for c in h.entry.code_set}


def _decide(hits: list[_Hit]) -> Regions:
    """The countries the hits make the article about, and those they only mention."""
    if not hits:
        return Regions([], [])
    # Countries with at least one unambiguous mention support ambiguous names (gathered when
    # the first ambiguous name asks: three articles in four have none).
    firm: set[str] | None = None
    raw: dict[str, float] = {}
    found: dict[str, list[_Hit]] = {}  # the evidence of each country
    prominent: set[str] = set()  # named in the title, the dateline or the first sentence
    headline: set[str] = set()  # named in the title or the dateline
    mentions: dict[str, int] = {}
    for h in hits:
        entry = h.entry
        guarded = entry.needs_support or h.common
        if guarded and firm is None:
            firm = _firm_codes(hits)
        for code, name_weight in entry.codes:
            if (
                guarded
                and code not in (firm or _NO_CODES)
                and (h.common or code not in h.supported_codes)
            ):
                continue
            if code in found:
                found[code].append(h)
            else:
                found[code] = [h]
            if h.echo and code in h.echo:
                continue
            raw[code] = raw.get(code, 0.0) + h.weight * name_weight
            if h.counted:
                mentions[code] = mentions.get(code, 0) + 1
            if h.prominent:
                prominent.add(code)
                if h.headline:
                    headline.add(code)
    if not raw:
        return Regions([], [])
    top = max(raw.values())
    about: list[Label] = []
    mentioned: list[Label] = []
    for code, value in sorted(raw.items(), key=_strongest):
        place = HEADLINE if code in headline else LEAD if code in prominent else 0
        if _is_about(value, top, place, mentions.get(code, 0)):
            about.append(Label(code, round(value / (value + 3.0), 3), _evidence(found[code])))
        elif value >= MENTIONED_RAW:
            mentioned.append(Label(code, round(value / (value + 3.0), 3), _evidence(found[code])))
    return Regions(about, mentioned)


def _strongest(item: tuple[str, float]) -> tuple[float, str]:
    return -item[1], item[0]


HEADLINE, LEAD = 2, 1  # where an article names a country: the title or dateline, the lead


def _is_about(value: float, top: float, place: int, mentions: int) -> bool:
    if value < MIN_RAW:
        return False
    if place == HEADLINE:  # the title or the dateline names it
        return value >= HEADLINE_RELATIVE * top
    if place == LEAD:  # the body's first sentence names it
        return value >= LEAD_RELATIVE * top
    if value == top:  # the strongest, named nowhere prominent: only when it is named enough
        return value >= MIN_TOP
    return mentions >= MIN_MENTIONS and value >= max(MIN_RELATIVE, MENTION_RELATIVE) * top


DESK_CHARS = 120


def _desk_spans(
    body: str, marks: Sequence[str], pattern: re.Pattern[str] | None
) -> tuple[int, int]:
    """Where an outlet's desk line at the top ends («دبي، الإمارات العربية المتحدة (CNN) --»),
    else 0; and where a later desk line's line starts (another story appended to the page),
    else len(body). `pattern`, any of the marks (None: there are none), finds the first later
    mark in one search."""
    head = body[:DESK_CHARS]
    found = [head.find(mark) + len(mark) for mark in marks if mark in head]
    desk = min(found) if found else 0
    appended = len(body)
    if appended <= DESK_CHARS or pattern is None:
        return desk, appended  # a short post: no room for a later desk line
    # the line of the first mark after the top: the earliest line start of any mark's
    later = pattern.search(body, max(desk, DESK_CHARS))
    if later is not None:
        appended = body.rfind("\n", 0, later.start()) + 1
    return desk, appended


_SENTENCE_END = re.compile(r"[.!?؟\n]")


def _first_sentence_end(body: str) -> int:
    """Where the body's first sentence ends (at most LEAD_CHARS): the article's own summary."""
    found = _SENTENCE_END.search(body, 40, LEAD_CHARS)
    return found.end() if found else LEAD_CHARS


def _evidence(hits: list[_Hit]) -> tuple[Evidence, ...]:
    """The hits' names as written, one per place in the text, at most MAX_EVIDENCE."""
    if len(hits) == 1:
        h = hits[0]
        return (Evidence(h.text[h.start : h.end], h.field, h.start, h.end),)
    seen: set[tuple[str, int]] = set()
    out: list[Evidence] = []
    for h in hits:
        if (h.field, h.start) not in seen:
            seen.add((h.field, h.start))
            out.append(Evidence(h.text[h.start : h.end], h.field, h.start, h.end))
            if len(out) == MAX_EVIDENCE:
                break
    return tuple(out)
