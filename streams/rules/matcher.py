"""Watch-list rules: the rule language, validation, compilation into one matcher, and matching.

A rule has an id, a version, a severity, optional filters (regions, topics, sources, lang)
and a ``match`` expression (see ``docs/rules.md``)::

    match:
      all:
        - phrase: [خط احمر, خطوط حمراء]
          unless_near: {terms: [مترو, قطار], within: 3}
        - not: {phrase: تمرين}

Leaves are phrases (with their variants) or named term lists (``list: armed-groups``);
``any`` / ``all`` / ``not`` combine expressions; ``near`` asks for terms within N words of
each other (any order), optionally in the same sentence; ``min_count`` asks for K
occurrences; ``unless_near`` drops an occurrence that has a negative term close by. The
older flat form (``phrases`` + ``unless_near`` on the rule) is still accepted: it means one
phrase leaf.

Matching works on *tokens*, not characters:

* Article text is normalised and tokenised once per field (``streams.text.arabic``); every
  token gets a small set of candidate stems (:func:`stems`): the token itself, the token with
  proclitics stripped (و ف ب ك ل ال بال لل وال …) and with endings stripped (tanween alef,
  possessive pronouns, dual and sound plural endings).
* Each phrase word is normalised the same way; a phrase word written with the article
  («الخط») also accepts the bare form («خط»).
* Every distinct phrase of every enabled rule — positive or negative context — is a *term*.
  All terms of all rules are compiled into ONE automaton: a trie over phrase-word keys.
  One pass over the tokens walks the trie from every position, following every candidate
  stem, and finds every occurrence of every term; the cost depends on the text and on how
  many terms actually occur, not on the number of rules. No regular expression is built.
* Only the rules owning a term that occurred are evaluated (the expression is checked to be
  *anchored*: it cannot be true unless one of its positive terms occurred).

Possessives are deliberately accepted: «خطهم الأحمر» ("their red line") is the same idiom
and is reported. A final «ة» is never taken for the pronoun «ه», so «خطة حمراء» stays a
"red plan". A phrase never matches across sentence punctuation or a line break.
"""

from __future__ import annotations

import contextlib
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from streams.text.arabic import (
    Tokens,
    normalize_with_offsets,
    words_keeping_ta_marbuta,
)
from streams.text.memo import UNSEEN, WordMemo

__all__ = [
    "SEVERITIES",
    "Match",
    "Problem",
    "RuleError",
    "RuleFile",
    "RuleHit",
    "RuleSet",
    "RuleSpec",
    "default_rules_path",
    "load_rule_file",
    "parse_rule",
    "phrase_keys",
    "stems",
]

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")

SNIPPET_CONTEXT = 60  # characters of original context on each side of a match
DEFAULT_NEAR_WITHIN = 3  # tokens, when `unless_near` gives no `within`
MAX_PHRASE_WORDS = 12  # longer "phrases" are almost always a pasted sentence by mistake
MAX_WITHIN = 200  # tokens; a wider window is "anywhere in the article"
MAX_MATCHES = 20  # matches reported per rule hit (title first): enough to explain an alert

_MIN_STEM = 2  # never strip a word down to fewer letters than this


# --------------------------------------------------------------------------------------------
# Public value types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """One matched occurrence of a rule phrase in an article field.

    `start`/`end` are offsets into the ORIGINAL text of `field`, so
    ``fields[m.field][m.start:m.end] == m.text``.
    """

    term: str  # the phrase variant, as written in the rule, that matched
    text: str  # the original text matched, e.g. «والخطوطَ الحمراء»
    field: str  # "title" or "body"
    start: int
    end: int
    snippet: str  # single-line original context around the match


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired on an article, with every (deduplicated) match it found."""

    rule_id: str
    rule_version: int
    severity: str
    title: str
    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a rule file: where (file, rule, field) and what."""

    message: str
    rule: str | None = None  # rule id, or "#N" (position) when the id itself is unusable
    field: str | None = None  # dotted path inside the rule, e.g. "match.any[1].phrase"
    file: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.rule:
            parts.append(f"rule {self.rule}")
        if self.field:
            parts.append(f"field {self.field!r}")
        parts.append(self.message)
        return ": ".join(parts)


class RuleError(ValueError):
    """Invalid rule definitions. ``str()`` is the first problem; ``problems`` has them all."""

    def __init__(self, message: str | Problem, problems: Sequence[Problem] = ()) -> None:
        first = message if isinstance(message, Problem) else Problem(str(message))
        self.problems: list[Problem] = list(problems) or [first]
        super().__init__(str(first))


def default_rules_path() -> Path:
    """The repository's default watch-list, ``deploy/rules/default.yaml``."""
    return Path(__file__).resolve().parents[2] / "deploy/rules/default.yaml"


# --------------------------------------------------------------------------------------------
# Light stemming
# --------------------------------------------------------------------------------------------


def _build_proclitics() -> tuple[str, ...]:
    """Conjunction (و ف) + preposition (ب ك ل) + article (ال), with ل+ال written «لل»."""
    out: set[str] = set()
    for conj in ("", "و", "ف"):
        for prep in ("", "ب", "ك", "ل"):
            for art in ("", "ال"):
                prefix = conj + ("لل" if prep == "ل" and art else prep + art)
                if prefix:
                    out.add(prefix)
    return tuple(sorted(out, key=lambda p: (-len(p), p)))


_PROCLITICS = _build_proclitics()
# Attached pronouns (normalised: no «ة», so a final «ه» is the pronoun or a folded «ة»).
_POSSESSIVES = ("هما", "كما", "هم", "هن", "ها", "كم", "كن", "نا", "ه", "ي")
# Endings of feminine nouns whose singular ends in «ة» (folded to «ه»): عبوات/عبوتان → عبوه.
_FEMININE_ENDINGS = ("تان", "تين", "ات")
# Dual and masculine sound plural endings: احمران → احمر, مسلحون → مسلح.
_PLAIN_ENDINGS = ("ان", "ين", "ون")


# The same as sets, looked up by slicing the word's ends (one lookup per length, not one
# `startswith` per affix: stems() runs for every word not seen before).
_PROCLITIC_SET = frozenset(_PROCLITICS)
_PROCLITIC_LENGTHS = tuple(sorted({len(p) for p in _PROCLITICS}))
_POSSESSIVE_SET = frozenset(_POSSESSIVES)
_POSSESSIVE_LENGTHS = tuple(sorted({len(p) for p in _POSSESSIVES}))
_PLAIN_SET = frozenset(_PLAIN_ENDINGS)
_FEMININE_3 = frozenset(e for e in _FEMININE_ENDINGS if len(e) == 3)


def _number_variants(word: str, out: set[str]) -> None:
    """Add singular candidates for a dual or sound-plural word (and tanween alef)."""
    n = len(word)
    if n - 1 >= _MIN_STEM and word[-1] == "ا":  # tanween alef: خطا(ً) → خط
        out.add(word[:-1])
    if n - 2 >= _MIN_STEM:
        end = word[-2:]
        if end == "ات":  # عبوات → عبوه, and the bare stem
            out.add(word[:-2] + "ه")
            out.add(word[:-2])
        elif end in _PLAIN_SET:  # احمران → احمر, مسلحون → مسلح (and «…تان» → «…ت»)
            out.add(word[:-2])
    if n - 3 >= _MIN_STEM and word[-3:] in _FEMININE_3:  # عبوتان → عبوه
        out.add(word[:-3] + "ه")


def _suffix_variants(word: str, ta_marbuta: bool, out: set[str]) -> None:
    bases = {word}
    n = len(word)
    for k in _POSSESSIVE_LENGTHS:
        if n - k < _MIN_STEM or word[-k:] not in _POSSESSIVE_SET:
            continue
        if k == 1 and ta_marbuta and word[-1] == "ه":
            continue  # «خطة» is not «خط» + «ه»
        stem = word[:-k]
        bases.add(stem)
        if stem[-1] == "ت" and len(stem) - 1 >= _MIN_STEM:
            bases.add(stem[:-1] + "ه")  # خطتهم → خطت → خطه
    out.update(bases)
    for base in bases:
        _number_variants(base, out)


@lru_cache(maxsize=65536)
def stems(word: str, ta_marbuta: bool = False) -> frozenset[str]:
    """Candidate stems of one NORMALISED token.

    The token itself, the token without proclitics, and each of those without endings
    (possessive pronouns, tanween alef, dual/plural endings). Nothing is stripped down to
    fewer than two letters. `ta_marbuta` says the token's original last letter was «ة»
    (folded to «ه» by normalisation), which is then not stripped as a pronoun.

    Over-generation is harmless: a candidate only matters if it equals a rule phrase word
    and the rest of the phrase matches too.
    """
    bases = {word}
    n = len(word)
    for k in _PROCLITIC_LENGTHS:
        if n - k >= _MIN_STEM and word[:k] in _PROCLITIC_SET:
            bases.add(word[k:])
    out: set[str] = set()
    for base in bases:
        _suffix_variants(base, ta_marbuta, out)
    return frozenset(out)


def _word_stems(word: str) -> frozenset[str]:
    """`stems` of a word from `words_keeping_ta_marbuta` (a final «ة» says: not a pronoun)."""
    if "ة" not in word:
        return stems(word)
    return stems(word.replace("ة", "ه"), word.endswith("ة"))


def phrase_keys(word: str) -> frozenset[str]:
    """Keys a NORMALISED phrase word accepts: itself and, if written with «ال», the bare form."""
    keys = {word}
    if word.startswith("ال") and len(word) - 2 >= _MIN_STEM:
        keys.add(word[2:])
    return frozenset(keys)


# Characters between two tokens that stop a phrase from running on (sentence/clause breaks).
_BREAKS = frozenset(".!?؟؛;:،,\n\r\u2029\u2028")


def _is_break(text: str, start: int, end: int) -> bool:
    return any(ch in _BREAKS for ch in text[start:end])


# --------------------------------------------------------------------------------------------
# Rule definitions and validation
# --------------------------------------------------------------------------------------------

_RULE_KEYS = frozenset(
    {
        "id",
        "version",
        "title",
        "description",
        "severity",
        "enabled",
        "owner",
        "tags",
        "match",
        "phrases",  # the older flat form: a single phrase leaf …
        "unless_near",  # … with its negative context
        "regions",
        "topics",
        "sources",
        "lang",
        "tests",
    }
)
_FILE_KEYS = frozenset({"rules", "version", "description", "lists"})
_UNLESS_KEYS = frozenset({"terms", "within"})
_NEAR_KEYS = frozenset({"terms", "within", "same_sentence"})
_LEAF_MODIFIERS = frozenset({"unless_near", "min_count"})
_OPERATORS = ("phrase", "list", "any", "all", "not", "near", "same_sentence")
_TEST_KEYS = frozenset({"fires", "quiet"})
# A phrase is literal text. These characters mean someone wrote a regular expression
# («مترو|قطار»), which would silently become a different phrase: refuse it.
_REGEX_CHARS = frozenset("|()[]{}*+?^$\\")


def _is_slug(value: str) -> bool:
    if not value or value[0] in "-_" or value[-1] in "-_":
        return False
    return all(ch.isascii() and (ch.isalnum() or ch in "-_") and not ch.isupper() for ch in value)


@dataclass(frozen=True, slots=True)
class _PhraseSpec:
    written: str  # as in the rule file
    words: tuple[str, ...]  # normalised words


@dataclass(frozen=True, slots=True)
class Leaf:
    """Any of `phrases` occurs (at least `min_count` times), each occurrence without a term of
    `unless` within `within` tokens."""

    phrases: tuple[_PhraseSpec, ...]
    unless: tuple[_PhraseSpec, ...] = ()
    within: int = DEFAULT_NEAR_WITHIN
    min_count: int = 1


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class NotOf:
    child: Expr


@dataclass(frozen=True, slots=True)
class Near:
    """One term of every group, all within `within` tokens (any order) and/or in one sentence."""

    groups: tuple[tuple[_PhraseSpec, ...], ...]
    within: int | None
    same_sentence: bool


Expr = Leaf | AnyOf | AllOf | NotOf | Near


def _anchored(expr: Expr) -> bool:
    """Whether the expression can only be true when one of its positive terms occurred."""
    if isinstance(expr, Leaf | Near):
        return True
    if isinstance(expr, AllOf):
        return any(_anchored(c) for c in expr.children)
    if isinstance(expr, AnyOf):
        return all(_anchored(c) for c in expr.children)
    return False  # `not` alone is true on almost every article


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A validated rule."""

    id: str
    version: int
    title: str
    severity: str
    enabled: bool
    expr: Expr
    regions: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    langs: frozenset[str] = frozenset()
    owner: str | None = None
    tags: tuple[str, ...] = ()
    lists_used: tuple[str, ...] = ()  # named lists the rule references
    tests: tuple[tuple[str, bool], ...] = ()  # (text, should fire)


class _Invalid(Exception):
    """Internal: one field is wrong; the problem is already recorded."""


class _Validator:
    """Turns one raw mapping into a `RuleSpec`, recording every problem with rule id and field."""

    def __init__(
        self,
        raw: Any,
        position: int,
        lists: Mapping[str, tuple[_PhraseSpec, ...]],
        file: str | None = None,
    ) -> None:
        self.raw = raw
        self.name = f"#{position + 1}"
        self.lists = lists
        self.file = file
        self.problems: list[Problem] = []
        self.lists_used: dict[str, None] = {}

    def fail(self, field: str | None, problem: str) -> _Invalid:
        self.problems.append(Problem(problem, self.name, field, self.file))
        return _Invalid()

    def parse(self) -> RuleSpec | None:
        raw = self.raw
        if not isinstance(raw, Mapping):
            self.fail(None, f"must be a mapping, got {type(raw).__name__}")
            return None
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not _is_slug(rule_id):
            self.fail("id", f"must be a lowercase slug like 'red-line', got {rule_id!r}")
            return None
        self.name = repr(rule_id)
        for key in sorted(str(k) for k in raw if k not in _RULE_KEYS):
            self.fail(key, f"unknown key (allowed: {', '.join(sorted(_RULE_KEYS))})")

        version = self.field(self.version)
        title = self.field(self.title)
        severity = self.field(self.severity)
        enabled = self.field(self.enabled)
        self.field(self.description)
        owner = self.field(self.owner)
        tags = self.field(lambda: tuple(self.code_list("tags")))
        expr = self.field(self.expression)
        regions = self.field(lambda: frozenset(c.upper() for c in self.code_list("regions")))
        topics = self.field(lambda: frozenset(c.casefold() for c in self.code_list("topics")))
        sources = self.field(lambda: frozenset(self.code_list("sources")))
        langs = self.field(lambda: frozenset(c.casefold() for c in self.code_list("lang")))
        tests = self.field(self.tests)
        if self.problems:
            return None
        assert version is not None and title is not None and severity is not None
        assert enabled is not None and expr is not None
        return RuleSpec(
            id=rule_id,
            version=version,
            title=title,
            severity=severity,
            enabled=enabled,
            expr=expr,
            regions=regions or frozenset(),
            topics=topics or frozenset(),
            sources=sources or frozenset(),
            langs=langs or frozenset(),
            owner=owner,
            tags=tags or (),
            lists_used=tuple(self.lists_used),
            tests=tests or (),
        )

    @staticmethod
    def field(check: Any) -> Any:
        try:
            return check()
        except _Invalid:
            return None

    # -- scalar fields -----------------------------------------------------------------------

    def version(self) -> int:
        version = self.raw.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.fail("version", f"must be a positive integer, got {version!r}")
        return version

    def title(self) -> str:
        title = self.raw.get("title")
        if not isinstance(title, str) or not title.strip():
            raise self.fail("title", "must be a non-empty string")
        return title.strip()

    def severity(self) -> str:
        severity = self.raw.get("severity")
        if severity not in SEVERITIES:
            raise self.fail("severity", f"must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        return str(severity)

    def enabled(self) -> bool:
        enabled = self.raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.fail("enabled", f"must be true or false, got {enabled!r}")
        return enabled

    def description(self) -> None:
        if "description" in self.raw and not isinstance(self.raw["description"], str):
            raise self.fail("description", "must be a string")

    def owner(self) -> str | None:
        owner = self.raw.get("owner")
        if owner is not None and (not isinstance(owner, str) or not owner.strip()):
            raise self.fail("owner", "must be a non-empty string (a person or a desk)")
        return owner.strip() if owner else None

    def code_list(self, field: str) -> list[str]:
        value = self.raw.get(field)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(field, "must be a list of non-empty strings")
        return [v.strip() for v in value]

    def tests(self) -> tuple[tuple[str, bool], ...]:
        value = self.raw.get("tests")
        if value is None:
            return ()
        if not isinstance(value, Mapping):
            raise self.fail("tests", "must be a mapping with 'fires' and/or 'quiet' text lists")
        out: list[tuple[str, bool]] = []
        for key in sorted(str(k) for k in value if k not in _TEST_KEYS):
            raise self.fail(f"tests.{key}", "unknown key (allowed: fires, quiet)")
        for key, fires in (("fires", True), ("quiet", False)):
            texts = value.get(key, [])
            if not isinstance(texts, list) or not all(isinstance(t, str) and t for t in texts):
                raise self.fail(f"tests.{key}", "must be a list of texts")
            out.extend((t, fires) for t in texts)
        return tuple(out)

    # -- phrases and term lists --------------------------------------------------------------

    def phrase(self, path: str, item: Any) -> _PhraseSpec:
        if not isinstance(item, str):
            raise self.fail(path, f"phrases must be strings, got {item!r}")
        bad = sorted({ch for ch in item if ch in _REGEX_CHARS})
        if bad:
            raise self.fail(
                path,
                f"regex syntax is not supported in phrase {item!r} (found {' '.join(bad)}): "
                "phrases are literal; list each variant as its own phrase",
            )
        if any(unicodedata.category(ch) == "Cc" for ch in item):
            raise self.fail(path, f"control character in phrase {item!r}")
        words = tuple(Tokens(normalize_with_offsets(item)).words)
        if not words:
            raise self.fail(path, f"empty phrase {item!r}")
        if len(words) > MAX_PHRASE_WORDS:
            raise self.fail(path, f"phrase {item!r} has more than {MAX_PHRASE_WORDS} words")
        return _PhraseSpec(" ".join(item.split()), words)

    def named_list(self, path: str, name: Any) -> tuple[_PhraseSpec, ...]:
        if not isinstance(name, str) or name not in self.lists:
            raise self.fail(path, f"list {name!r} is referenced but not defined (under 'lists:')")
        self.lists_used[name] = None
        return self.lists[name]

    def phrase_list(
        self, path: str, value: Any, *, lists: bool = False, single: bool = False
    ) -> tuple[_PhraseSpec, ...]:
        """Non-empty list of phrases (`single`: a string is one phrase); `{list: NAME}` items
        are allowed where `lists` says so."""
        if single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.fail(path, "must be a non-empty list of phrases")
        out: dict[tuple[str, ...], _PhraseSpec] = {}
        ok = True
        for item in value:
            try:
                if lists and isinstance(item, Mapping) and set(item) == {"list"}:
                    specs: Iterable[_PhraseSpec] = self.named_list(path, item["list"])
                else:
                    specs = [self.phrase(path, item)]
            except _Invalid:
                ok = False
                continue
            for spec in specs:
                out.setdefault(spec.words, spec)  # drop spelling duplicates
        if not ok:
            raise _Invalid()
        return tuple(out.values())

    def within(self, path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WITHIN:
            raise self.fail(path, f"must be an integer from 0 to {MAX_WITHIN}, got {value!r}")
        return value

    def unless_near(self, path: str, near: Any) -> tuple[tuple[_PhraseSpec, ...], int]:
        if not isinstance(near, Mapping):
            raise self.fail(path, "must be a mapping with 'terms' and 'within'")
        bad = sorted(str(k) for k in near if k not in _UNLESS_KEYS)
        if bad:
            raise self.fail(f"{path}.{bad[0]}", "unknown key (allowed: terms, within)")
        terms = self.phrase_list(f"{path}.terms", near.get("terms"), lists=True)
        within = self.within(f"{path}.within", near.get("within", DEFAULT_NEAR_WITHIN))
        return terms, within

    # -- the match expression ----------------------------------------------------------------

    def expression(self) -> Expr:
        raw = self.raw
        if "match" in raw:
            if "phrases" in raw or "unless_near" in raw:
                raise self.fail(
                    "match", "give either 'match' or the older 'phrases'/'unless_near', not both"
                )
            expr = self.expr("match", raw["match"])
            if not _anchored(expr):
                raise self.fail(
                    "match",
                    "can fire on articles that contain none of its terms: it needs a positive "
                    "phrase outside 'not' in every 'any' branch (e.g. all: [phrase, not: …])",
                )
            return expr
        if "phrases" not in raw:
            raise self.fail("match", "missing: every rule needs a 'match' expression")
        phrases = self.phrase_list("phrases", raw["phrases"])
        unless: tuple[_PhraseSpec, ...] = ()
        within = DEFAULT_NEAR_WITHIN
        if raw.get("unless_near") is not None:
            unless, within = self.unless_near("unless_near", raw["unless_near"])
        return Leaf(phrases, unless, within)

    def expr(self, path: str, node: Any) -> Expr:
        if isinstance(node, str):
            return Leaf((self.phrase(path, node),))
        if not isinstance(node, Mapping):
            raise self.fail(
                path, f"must be a phrase or a mapping with one of {', '.join(_OPERATORS)}"
            )
        ops = [k for k in _OPERATORS if k in node]
        if len(ops) != 1:
            found = ", ".join(ops) if ops else ", ".join(sorted(map(str, node))) or "nothing"
            raise self.fail(path, f"needs exactly one of {', '.join(_OPERATORS)} (found {found})")
        op = ops[0]
        allowed = {op} | (_LEAF_MODIFIERS if op in ("phrase", "list") else set())
        for key in sorted(str(k) for k in node if k not in allowed):
            raise self.fail(
                f"{path}.{key}", f"unknown key here (allowed: {', '.join(sorted(allowed))})"
            )
        value = node[op]
        sub = f"{path}.{op}"
        if op in ("phrase", "list"):
            return self.leaf(path, node, op)
        if op in ("any", "all"):
            if not isinstance(value, list) or not value:
                raise self.fail(sub, "must be a non-empty list of expressions")
            children: list[Expr] = []
            for i, child in enumerate(value):
                with contextlib.suppress(_Invalid):
                    children.append(self.expr(f"{sub}[{i}]", child))
            if len(children) != len(value):
                raise _Invalid()
            return AnyOf(tuple(children)) if op == "any" else AllOf(tuple(children))
        if op == "not":
            return NotOf(self.expr(sub, value))
        return self.near(sub, value, op == "same_sentence")

    def leaf(self, path: str, node: Mapping[str, Any], op: str) -> Leaf:
        """`phrase:` or `list:` with its modifiers; each part is checked (and reported) alone."""
        sub = f"{path}.{op}"
        if op == "phrase":
            phrases = self.field(lambda: self.phrase_list(sub, node[op], single=True))
        else:
            phrases = self.field(lambda: self.named_list(sub, node[op]))
        near: tuple[tuple[_PhraseSpec, ...], int] | None = ((), DEFAULT_NEAR_WITHIN)
        if node.get("unless_near") is not None:
            near = self.field(lambda: self.unless_near(f"{path}.unless_near", node["unless_near"]))
        min_count = node.get("min_count", 1)
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise self.fail(f"{path}.min_count", f"must be a positive integer, got {min_count!r}")
        if phrases is None or near is None:
            raise _Invalid()
        return Leaf(phrases, near[0], near[1], min_count)

    def near(self, path: str, value: Any, same_sentence_op: bool) -> Near:
        if same_sentence_op and isinstance(value, list):
            value = {"terms": value}
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be a mapping with 'terms' (and 'within')")
        allowed = {"terms"} if same_sentence_op else _NEAR_KEYS
        for key in sorted(str(k) for k in value if k not in allowed):
            raise self.fail(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        within: int | None = None
        if "within" in value:
            within = self.field(lambda: self.within(f"{path}.within", value["within"]))
            if within is None:
                raise _Invalid()
        terms = value.get("terms")
        if not isinstance(terms, list) or len(terms) < 2:
            raise self.fail(f"{path}.terms", "must list at least two terms")
        groups: list[tuple[_PhraseSpec, ...]] = []
        for i, group in enumerate(terms):
            gpath = f"{path}.terms[{i}]"
            if isinstance(group, Mapping) and set(group) == {"list"}:
                groups.append(self.named_list(gpath, group["list"]))
            elif isinstance(group, list):
                groups.append(self.phrase_list(gpath, group, lists=True))
            else:
                groups.append((self.phrase(gpath, group),))
        same = same_sentence_op or value.get("same_sentence", False)
        if not isinstance(same, bool):
            raise self.fail(f"{path}.same_sentence", f"must be true or false, got {same!r}")
        if within is None and not same:
            raise self.fail(path, "needs 'within: N' and/or 'same_sentence: true'")
        return Near(tuple(groups), within, same)


def _parse_lists(
    raw: Any, file: str | None
) -> tuple[dict[str, tuple[_PhraseSpec, ...]], list[Problem]]:
    """The `lists:` section: name → phrases."""
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [Problem("must be a mapping of list name → phrases", None, "lists", file)]
    out: dict[str, tuple[_PhraseSpec, ...]] = {}
    problems: list[Problem] = []
    for name, value in raw.items():
        if not isinstance(name, str) or not _is_slug(name):
            problems.append(
                Problem(f"list name {name!r} must be a lowercase slug", None, "lists", file)
            )
            continue
        checker = _Validator({}, 0, {}, file)
        checker.name = f"list {name!r}"
        with contextlib.suppress(_Invalid):
            out[name] = checker.phrase_list(f"lists.{name}", value)
        problems.extend(Problem(p.message, None, p.field, file) for p in checker.problems)
    return out, problems


def parse_rule(
    raw: Any,
    lists: Mapping[str, Any] | None = None,
    *,
    position: int = 0,
    file: str | None = None,
) -> RuleSpec:
    """Validate one rule mapping (with the raw named lists it may reference)."""
    parsed, problems = _parse_lists(lists, file)
    spec, rule_problems = _parse_with_lists(raw, parsed, position, file)
    problems += rule_problems
    if problems or spec is None:
        raise RuleError(problems[0], problems)
    return spec


def _parse_with_lists(
    raw: Any, lists: Mapping[str, tuple[_PhraseSpec, ...]], position: int, file: str | None
) -> tuple[RuleSpec | None, list[Problem]]:
    validator = _Validator(raw, position, lists, file)
    spec = validator.parse()
    return spec, validator.problems


@dataclass
class RuleFile:
    """A parsed rule file: raw rules and lists (what gets pushed), validated specs, problems."""

    path: str
    rules: list[dict[str, Any]] = field(default_factory=list)
    lists: dict[str, Any] = field(default_factory=dict)
    specs: list[RuleSpec] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def raw_rule(self, rule_id: str) -> dict[str, Any]:
        return next(r for r in self.rules if isinstance(r, Mapping) and r.get("id") == rule_id)

    def lists_for(self, spec: RuleSpec) -> dict[str, Any]:
        """The raw named lists a rule references (shipped with the rule on the topic)."""
        return {name: self.lists[name] for name in spec.lists_used}


def parse_document(data: Any, path: str = "<rules>") -> RuleFile:
    """Validate a loaded YAML document: ``{rules: [...], lists: {...}}``; every problem is kept."""
    out = RuleFile(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        out.problems.append(
            Problem("expected a mapping with a 'rules' list at the top level", file=path)
        )
        return out
    for key in sorted(str(k) for k in data if k not in _FILE_KEYS):
        out.problems.append(Problem(f"unknown top-level key {key!r}", file=path))
    out.rules = list(data["rules"])
    out.lists = dict(data.get("lists") or {}) if isinstance(data.get("lists"), Mapping) else {}
    lists, problems = _parse_lists(data.get("lists"), path)
    out.problems += problems
    seen: set[str] = set()
    for position, raw in enumerate(out.rules):
        spec, rule_problems = _parse_with_lists(raw, lists, position, path)
        out.problems += rule_problems
        rule_id = raw.get("id") if isinstance(raw, Mapping) else None
        if isinstance(rule_id, str) and rule_id in seen:
            out.problems.append(Problem("duplicate rule id", repr(rule_id), "id", path))
            continue
        if isinstance(rule_id, str):
            seen.add(rule_id)
        if spec is not None:
            out.specs.append(spec)
    return out


def load_rule_file(path: str | Path) -> RuleFile:
    """Read and validate a YAML rule file; problems are collected, not raised."""
    name = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        return RuleFile(name, problems=[Problem(f"cannot read: {exc.strerror or exc}", file=name)])
    except yaml.YAMLError as exc:
        return RuleFile(name, problems=[Problem(f"not valid YAML: {exc}", file=name)])
    return parse_document(data, name)


def check_rule_tests(specs: Iterable[RuleSpec], file: str | None = None) -> list[Problem]:
    """Run the `tests:` examples of each rule (alone, enabled): `fires` texts must fire it,
    `quiet` texts must not."""
    problems: list[Problem] = []
    for spec in specs:
        if not spec.tests:
            continue
        alone = RuleSet([RuleSpec(**{**_spec_fields(spec), "enabled": True})])
        for text, should_fire in spec.tests:
            fired = bool(
                alone.match(
                    {"body": text},
                    regions=spec.regions,
                    topics=spec.topics,
                    source=next(iter(spec.sources), None),
                    lang=next(iter(spec.langs), None),
                )
            )
            if fired != should_fire:
                what = "does not fire on" if should_fire else "fires on"
                key = "fires" if should_fire else "quiet"
                problems.append(Problem(f"{what} {text!r}", repr(spec.id), f"tests.{key}", file))
    return problems


def _spec_fields(spec: RuleSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in RuleSpec.__dataclass_fields__}


# --------------------------------------------------------------------------------------------
# Compiled form
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    """One distinct token sequence to find: a rule phrase or a negative-context term."""

    id: int
    words: tuple[str, ...]  # normalised words as written


class _Node:
    """A state of the token automaton: the next word's keys, and the terms ending here."""

    __slots__ = ("children", "terms")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.terms: list[int] = []


PhraseRef = tuple[int, int]  # (term id, index of the phrase as written in the rule)


@dataclass(frozen=True, slots=True)
class _CLeaf:
    phrases: tuple[PhraseRef, ...]
    unless: tuple[int, ...]
    within: int
    min_count: int


@dataclass(frozen=True, slots=True)
class _CAny:
    children: tuple[_CExpr, ...]


@dataclass(frozen=True, slots=True)
class _CAll:
    children: tuple[_CExpr, ...]


@dataclass(frozen=True, slots=True)
class _CNot:
    child: _CExpr


@dataclass(frozen=True, slots=True)
class _CNear:
    groups: tuple[tuple[PhraseRef, ...], ...]
    within: float
    same_sentence: bool


_CExpr = _CLeaf | _CAny | _CAll | _CNot | _CNear


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    id: str
    version: int
    title: str
    severity: str
    written: tuple[str, ...]  # phrases as written, in rule order (index = PhraseRef[1])
    expr: _CExpr
    regions: frozenset[str]
    topics: frozenset[str]
    sources: frozenset[str]
    langs: frozenset[str]

    def applies(
        self, regions: frozenset[str], topics: frozenset[str], source: str | None, lang: str | None
    ) -> bool:
        if self.regions and self.regions.isdisjoint(regions):
            return False
        if self.topics and self.topics.isdisjoint(topics):
            return False
        if self.langs and (lang or "").casefold() not in self.langs:
            return False
        return not self.sources or source in self.sources


Span = tuple[int, int]  # [first token, last token + 1)
# (field, first token, end token, term id, phrase index): one occurrence that made a rule true
_Hit = tuple[str, int, int, int, int]

# Sentence ends for `same_sentence` (a comma or a colon does not end a sentence: «قال: …»).
_SENTENCE_ENDS = frozenset(".!?؟؛;\n\r\u2029\u2028")


class _Scan:
    """One field, tokenised once, with every term occurrence found in it."""

    __slots__ = ("_sentences", "occurrences", "text", "tokens")

    def __init__(self, text: str, tokens: Tokens, occurrences: dict[int, list[Span]]) -> None:
        self.text = text
        self.tokens = tokens
        self.occurrences = occurrences
        self._sentences: list[int] | None = None

    def sentence(self, token: int) -> int:
        """Index of the sentence a token is in (computed on first use)."""
        if self._sentences is None:
            spans = self.tokens.original_spans()
            ids = [0] * len(spans)
            current = 0
            for k in range(1, len(spans)):
                gap = self.text[spans[k - 1][1] : spans[k][0]]
                if any(ch in _SENTENCE_ENDS for ch in gap):
                    current += 1
                ids[k] = current
            self._sentences = ids
        return self._sentences[token]


def _gap(a: Span, b: Span) -> int:
    """Tokens from one span to the other (0 when they overlap, 1 when adjacent)."""
    return max(b[0] - (a[1] - 1), a[0] - (b[1] - 1), 0)


class RuleSet:
    """A validated, compiled watch-list. Immutable and safe to share between tasks."""

    __slots__ = ("_root", "_rules", "_rules_by_term", "_specs", "_starts", "_term_ids", "_terms")

    def __init__(self, specs: Sequence[RuleSpec]) -> None:
        self._specs = tuple(specs)
        self._terms: list[_Term] = []
        self._root = _Node()
        self._starts: WordMemo[tuple[str, ...]] = WordMemo()  # word -> trie keys it starts
        self._rules: list[_CompiledRule] = []
        self._rules_by_term: dict[int, list[int]] = {}

        self._term_ids: dict[tuple[str, ...], int] = {}
        for spec in specs:
            if spec.enabled:
                self._add_rule(spec)
        del self._term_ids  # only needed while compiling

    def _intern(self, phrase: _PhraseSpec) -> int:
        """The term id of a phrase; a new term is added to the automaton."""
        tid = self._term_ids.get(phrase.words)
        if tid is None:
            tid = len(self._terms)
            self._term_ids[phrase.words] = tid
            self._terms.append(_Term(tid, phrase.words))
            nodes = [self._root]
            for word in phrase.words:
                nodes = [
                    n.children.setdefault(k, _Node()) for n in nodes for k in phrase_keys(word)
                ]
            for node in nodes:
                node.terms.append(tid)
        return tid

    def _add_rule(self, spec: RuleSpec) -> None:
        written: dict[str, int] = {}

        def ref(phrase: _PhraseSpec, positive: bool) -> PhraseRef:
            return self._intern(phrase), written.setdefault(phrase.written, len(written))

        def build(expr: Expr, positive: bool) -> _CExpr:
            if isinstance(expr, Leaf):
                return _CLeaf(
                    tuple(ref(p, positive) for p in expr.phrases),
                    tuple(dict.fromkeys(self._intern(t) for t in expr.unless)),
                    expr.within,
                    expr.min_count,
                )
            if isinstance(expr, Near):
                return _CNear(
                    tuple(tuple(ref(p, positive) for p in g) for g in expr.groups),
                    math.inf if expr.within is None else expr.within,
                    expr.same_sentence,
                )
            if isinstance(expr, AnyOf):
                return _CAny(tuple(build(c, positive) for c in expr.children))
            if isinstance(expr, AllOf):
                return _CAll(tuple(build(c, positive) for c in expr.children))
            return _CNot(build(expr.child, False))

        compiled = build(spec.expr, True)
        index = len(self._rules)
        self._rules.append(
            _CompiledRule(
                id=spec.id,
                version=spec.version,
                title=spec.title,
                severity=spec.severity,
                written=tuple(written),
                expr=compiled,
                regions=spec.regions,
                topics=spec.topics,
                sources=spec.sources,
                langs=spec.langs,
            )
        )
        # The rule is evaluated only for articles where one of its trigger terms occurred.
        for tid in dict.fromkeys(self._intern(p) for p in _triggers(spec.expr)):
            self._rules_by_term.setdefault(tid, []).append(index)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_dicts(
        cls, rules: Iterable[Mapping[str, Any]], lists: Mapping[str, Any] | None = None
    ) -> RuleSet:
        """Validate and compile rule mappings; raises `RuleError` listing every problem."""
        doc = parse_document({"rules": list(rules), "lists": lists}, "")
        if doc.problems:
            problems = [Problem(p.message, p.rule, p.field) for p in doc.problems]
            raise RuleError(problems[0], problems)
        return cls(doc.specs)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RuleSet:
        """Load a YAML watch-list: ``rules:`` (a list of rules) and optional ``lists:``."""
        doc = load_rule_file(path)
        if doc.problems:
            raise RuleError(doc.problems[0], doc.problems)
        return cls(doc.specs)

    # -- introspection -----------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of enabled (compiled) rules."""
        return len(self._rules)

    @property
    def rule_ids(self) -> list[str]:
        """Ids of the enabled rules, in file order."""
        return [rule.id for rule in self._rules]

    @property
    def specs(self) -> tuple[RuleSpec, ...]:
        """Every rule given, enabled or not."""
        return self._specs

    @property
    def term_count(self) -> int:
        return len(self._terms)

    def __repr__(self) -> str:
        return f"RuleSet({len(self._rules)} rules, {len(self._terms)} terms)"

    # -- matching ----------------------------------------------------------------------------

    def match(
        self,
        fields: Mapping[str, str],
        *,
        regions: Collection[str] = (),
        topics: Collection[str] = (),
        source: str | None = None,
        lang: str | None = None,
    ) -> list[RuleHit]:
        """Rules that fire on an article, in rule-file order.

        `fields` maps field names ("title", "body") to ORIGINAL text. `regions`, `topics`,
        `source` and `lang` describe the article and feed the rules' filters: a rule with a
        `regions` (`topics`, `lang`) filter applies only if the article has one of those.
        """
        scans = {name: self._scan(text) for name, text in fields.items() if text}
        found: set[int] = set()
        for scan in scans.values():
            found.update(scan.occurrences)
        candidates = sorted({r for tid in found for r in self._rules_by_term.get(tid, ())})
        if not candidates:
            return []

        region_set = frozenset(r.upper() for r in regions)
        topic_set = frozenset(t.casefold() for t in topics)
        hits: list[RuleHit] = []
        for index in candidates:
            rule = self._rules[index]
            if not rule.applies(region_set, topic_set, source, lang):
                continue
            found_hits = self._eval(rule.expr, scans)
            if found_hits:
                matches = self._matches(rule, scans, found_hits)
                hits.append(
                    RuleHit(rule.id, rule.version, rule.severity, rule.title, tuple(matches))
                )
        return hits

    def _scan(self, text: str) -> _Scan:
        norm = normalize_with_offsets(text)
        tokens = Tokens(norm)
        # The same words with «ة» kept: stems() must not strip a «ه» that was a «ة» (خطة ≠ خط+ه).
        words = words_keeping_ta_marbuta(norm)
        occurrences: dict[int, list[Span]] = {}
        root = self._root.children
        memo = self._starts
        n = len(words)
        for i, starts in memo.candidates(words):  # most words start no term: skipped
            if starts is UNSEEN:
                starts = memo.remember(words[i], tuple(_word_stems(words[i]) & root.keys()))
                if not starts:
                    continue
            nodes = [root[s] for s in starts]
            k = i
            # The trie is a tree and a token's stems are distinct keys, so a node is never
            # reached twice from one start; a term may end at several nodes (it is stored under
            # each spelling of its words), so its occurrence is recorded once.
            while nodes:
                k += 1
                found = [tid for node in nodes for tid in node.terms]
                for tid in dict.fromkeys(found) if len(nodes) > 1 else found:
                    occurrences.setdefault(tid, []).append((i, k))
                if k >= n:
                    break
                following = _word_stems(words[k])
                nodes = [
                    child
                    for node in nodes
                    if node.children
                    for s in following
                    if (child := node.children.get(s)) is not None
                ]
                if nodes and _is_break(text, tokens.span(k - 1, k)[1], tokens.span(k, k + 1)[0]):
                    break
        return _Scan(text, tokens, occurrences)

    # -- evaluation --------------------------------------------------------------------------

    def _eval(self, expr: _CExpr, scans: Mapping[str, _Scan]) -> list[_Hit] | None:
        """The occurrences that make `expr` true (empty for a true `not`), or None if false."""
        if isinstance(expr, _CLeaf):
            return self._eval_leaf(expr, scans)
        if isinstance(expr, _CAll):
            out: list[_Hit] = []
            for child in expr.children:
                got = self._eval(child, scans)
                if got is None:
                    return None
                out.extend(got)
            return out
        if isinstance(expr, _CAny):
            result: list[_Hit] | None = None
            for child in expr.children:
                got = self._eval(child, scans)
                if got is not None:
                    result = (result or []) + got
            return result
        if isinstance(expr, _CNot):
            return [] if self._eval(expr.child, scans) is None else None
        return self._eval_near(expr, scans)

    @staticmethod
    def _eval_leaf(leaf: _CLeaf, scans: Mapping[str, _Scan]) -> list[_Hit] | None:
        out: list[_Hit] = []
        for name, scan in scans.items():
            for tid, order in leaf.phrases:
                for span in scan.occurrences.get(tid, ()):
                    if leaf.unless and any(
                        _gap(span, other) <= leaf.within
                        for neg in leaf.unless
                        for other in scan.occurrences.get(neg, ())
                    ):
                        continue
                    out.append((name, span[0], span[1], tid, order))
        if not out:
            return None
        if leaf.min_count > 1 and len({h[:3] for h in out}) < leaf.min_count:
            return None
        return out

    @staticmethod
    def _eval_near(near: _CNear, scans: Mapping[str, _Scan]) -> list[_Hit] | None:
        out: list[_Hit] = []
        for name, scan in scans.items():
            groups = [
                [
                    ((s0, s1), tid, order)
                    for tid, order in g
                    for s0, s1 in scan.occurrences.get(tid, ())
                ]
                for g in near.groups
            ]
            if not all(groups):
                continue
            # Anchor on each occurrence as the one that ends first; every other group then needs
            # an occurrence ending no earlier and starting at most `within` tokens after it.
            for gi, anchors in enumerate(groups):
                for span, tid, order in anchors:
                    last = span[1] - 1
                    sentence = scan.sentence(span[0]) if near.same_sentence else 0
                    picked: list[_Hit] = []
                    for gj, others in enumerate(groups):
                        if gj == gi:
                            continue
                        ok = [
                            (name, o[0], o[1], otid, oorder)
                            for o, otid, oorder in others
                            if o[1] - 1 >= last
                            and o[0] - last <= near.within
                            and (not near.same_sentence or scan.sentence(o[0]) == sentence)
                        ]
                        if not ok:
                            break
                        picked.extend(ok)
                    else:
                        out.append((name, span[0], span[1], tid, order))
                        out.extend(picked)
        return out or None

    def _matches(
        self, rule: _CompiledRule, scans: Mapping[str, _Scan], found: list[_Hit]
    ) -> list[Match]:
        # (field, span) → (exactness score, -phrase order, phrase as written); best per span
        best: dict[tuple[str, Span], tuple[int, int, str]] = {}
        for name, start, end, tid, order in found:
            scan, words = scans[name], self._terms[tid].words
            exact = sum(scan.tokens[k].text == words[k - start] for k in range(start, end))
            choice = (exact, -order, rule.written[order])
            key = (name, (start, end))
            if key not in best or choice[:2] > best[key][:2]:
                best[key] = choice

        matches: list[Match] = []
        for name, scan in scans.items():
            last_end = -1
            spans = sorted((s for f, s in best if f == name), key=lambda s: (s[0], -s[1]))
            for span in spans:
                if span[1] <= last_end:
                    continue  # nested inside a longer match already reported
                if len(matches) >= MAX_MATCHES:
                    return matches
                last_end = span[1]
                start, end = scan.tokens.span(*span)
                matches.append(
                    Match(
                        term=best[(name, span)][2],
                        text=scan.text[start:end],
                        field=name,
                        start=start,
                        end=end,
                        snippet=_snippet(scan.text, start, end),
                    )
                )
        return matches


def _triggers(expr: Expr) -> list[_PhraseSpec]:
    """Phrases of which at least one must occur for `expr` to be true (`expr` is anchored).

    Small and specific sets mean fewer rules to evaluate per article: `all` and `near` need
    every part, so one part suffices — the most specific one (longest shortest phrase, then
    fewest phrases): a phrase beats a shared list of single words.
    """
    if isinstance(expr, Leaf):
        return list(expr.phrases)
    if isinstance(expr, Near):
        return min((list(g) for g in expr.groups), key=_specificity)
    if isinstance(expr, AnyOf):
        return [p for child in expr.children for p in _triggers(child)]
    if isinstance(expr, AllOf):
        parts = [_triggers(c) for c in expr.children if _anchored(c)]
        return min(parts, key=_specificity)
    return []  # `not`: never a trigger (anchoring guarantees another part is)


def _specificity(phrases: list[_PhraseSpec]) -> tuple[int, int]:
    """Sort key, lower = more specific: longer shortest phrase, then fewer phrases."""
    return (-min(len(p.words) for p in phrases), len(phrases))


def iter_phrases(expr: Expr) -> Iterator[str]:
    """Every positive phrase of an expression, as written (for listings)."""
    if isinstance(expr, Leaf):
        yield from (p.written for p in expr.phrases)
    elif isinstance(expr, Near):
        yield from (p.written for g in expr.groups for p in g)
    elif isinstance(expr, AnyOf | AllOf):
        for child in expr.children:
            yield from iter_phrases(child)


# --------------------------------------------------------------------------------------------
# Snippets
# --------------------------------------------------------------------------------------------

_LINE_BREAKS = "\n\r\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85"
_LINE_BREAK = re.compile(f"[{_LINE_BREAKS}]")
_LAST_LINE_BREAK = re.compile(f"[{_LINE_BREAKS}](?=[^{_LINE_BREAKS}]*\\Z)")
_FIRST_SPACE = re.compile(r"\s")
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


def _snippet(text: str, start: int, end: int, width: int = SNIPPET_CONTEXT) -> str:
    """Up to `width` characters of context each side, kept within the line, cut at spaces."""
    left_from = max(0, start - width)
    left = text[left_from:start]
    cut = _LAST_LINE_BREAK.search(left)
    if cut is not None:
        left = left[cut.end() :]
    elif left_from > 0 and not text[left_from - 1].isspace() and not left[:1].isspace():
        space = _FIRST_SPACE.search(left)
        left = left[space.start() :] if space else ""  # drop the partial first word

    right_to = min(len(text), end + width)
    right = text[end:right_to]
    first = _LINE_BREAK.search(right)
    if first is not None:
        right = right[: first.start()]
    elif right_to < len(text) and not text[right_to].isspace() and not right[-1:].isspace():
        space = _LAST_SPACE.search(right)
        right = right[: space.start()] if space else ""  # drop the partial last word
    return " ".join((left + text[start:end] + right).split())
