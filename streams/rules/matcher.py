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

* Article text is normalised and tokenised once per field (``streams.text.arabic.tokenize``,
  shared with the region and topic classifiers); every token gets a small set of candidate
  stems (:func:`stems`): the token itself, the token with proclitics stripped (و ف ب ك ل
  ال بال لل وال …) and with endings stripped (tanween alef, possessive pronouns, dual and
  sound plural endings).
* Each phrase word is normalised the same way; a phrase word written with the article
  («الخط») also accepts the bare form («خط»).
* Every distinct phrase of every enabled rule — positive or negative context — is a *term*.
  All terms of all rules are compiled into ONE Aho-Corasick automaton over tokens
  (``streams.rules.automaton``): each token becomes one symbol (memoised per word: which
  phrase words its stems can stand for), every spelling of every term a string of symbols,
  and one C scan of the field's symbol string finds every occurrence of every term; Python
  runs only for the hits and for the tokens whose stems stand for words no one symbol covers
  (looked up exactly through the automaton's keys). A small pack's first keys are part of the
  shared Aho-Corasick automaton (``streams.text.scan``), so only the tokens that can start a
  term, and those after them, are looked up.
  The cost depends on the text and on how many terms actually occur, not on the number of
  rules. No regular expression is built. A rule set is compiled once (per rule-set version)
  and is immutable: the live store swaps whole rule sets.
* Only the rules owning a term that occurred are evaluated (the expression is checked to be
  *anchored*: it cannot be true unless one of its positive terms occurred).

Possessives are deliberately accepted: «خطهم الأحمر» ("their red line") is the same idiom
and is reported. A final «ة» is never taken for the pronoun «ه», so «خطة حمراء» stays a
"red plan". A phrase never matches across sentence punctuation or a line break.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.rules.automaton import TermAutomaton
from streams.rules.explain import snippet
from streams.rules.model import Match, Problem, RuleError, RuleHit
from streams.rules.spec import (
    AllOf,
    AnyOf,
    Expr,
    Leaf,
    Near,
    PhraseSpec,
    RuleSpec,
    anchored,
    load_rule_file,
    parse_document,
)
from streams.rules.stems import phrase_keys
from streams.text.arabic import Tokens, tokenize
from streams.text.scan import Prefilter, candidates, register

MAX_MATCHES = 20  # matches reported per rule hit (title first): enough to explain an alert
# A pack with at most this many phrase keys puts its first words' keys in the shared automaton
# as a prefilter (the default pack has 258 keys; bench/match.py's generated 1,000-rule pack
# 5,856, its 10,000-rule pack 19,991).
PREFILTER_KEYS = 5_000


@dataclass(frozen=True, slots=True)
class _Term:
    """One distinct token sequence to find: a rule phrase or a negative-context term."""

    id: int
    words: tuple[str, ...]  # normalised words as written


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
    title_en: str | None
    severity: str
    written: tuple[str, ...]  # phrases as written, in rule order (index = PhraseRef[1])
    expr: _CExpr
    regions: frozenset[str]
    topics: frozenset[str]
    sources: frozenset[str]
    langs: frozenset[str]
    breaking: bool | None

    def applies(
        self,
        regions: frozenset[str],
        topics: frozenset[str],
        source: str | None,
        lang: str | None,
        breaking: bool,
    ) -> bool:
        if self.breaking is not None and self.breaking != breaking:
            return False
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
_SENTENCE_END = re.compile("[.!?؟؛;\n\r\u2029\u2028]")


class _Scan:
    """One field, tokenised once, with every term occurrence found in it."""

    __slots__ = ("_sentences", "occurrences", "shown", "text", "tokens")

    def __init__(self, text: str, tokens: Tokens, occurrences: dict[int, list[Span]]) -> None:
        self.text = text
        self.tokens = tokens
        self.occurrences = occurrences
        self._sentences: list[int] | None = None
        # span → (start, end, its original text, its snippet): the rules of an article that
        # report the same occurrence (a shared term or list word) map and cut it once
        self.shown: dict[Span, tuple[int, int, str, str]] = {}

    def sentence(self, token: int) -> int:
        """A number that two tokens share iff they are in the same sentence: how many sentence
        ends precede the token's start in the text (no sentence end is part of a token, so
        two tokens differ exactly when a gap between them has one). The ends are found on
        first use, in C; only the asked tokens' offsets are computed."""
        if self._sentences is None:
            self._sentences = [m.start() for m in _SENTENCE_END.finditer(self.text)]
        return bisect_right(self._sentences, self.tokens.span(token, token + 1)[0])


def _substrings(keys: Iterable[str]) -> set[str]:
    """Strings one of which a token contains if it has one of `keys` among its stems. stems()
    only strips, but for a final «ه» it may add: for «ت» (خطتهم → خطت → خطه, خطتان → خطه) or
    «ات» (عبوات → عبوه). So a key, less such an «ه» when two letters are left (they are in the
    token), else the key with its «ه», «ت» or «ات»: «له» from «الله» (a one-letter key would
    let every token through)."""
    out: set[str] = set()
    for key in keys:
        if not key.endswith("ه"):
            out.add(key)
        elif len(key) > 2:
            out.add(key[:-1])
        else:
            out.update((key, key[:-1] + "ت", key[:-1] + "ات"))
    return out


def _gap(a: Span, b: Span) -> int:
    """Tokens from one span to the other (0 when they overlap, 1 when adjacent)."""
    return max(b[0] - (a[1] - 1), a[0] - (b[1] - 1), 0)


class RuleSet:
    """A validated, compiled watch-list. Immutable and safe to share between tasks."""

    __slots__ = (
        "__weakref__",
        "_automaton",
        "_prefilter",
        "_requires",
        "_rules",
        "_rules_by_term",
        "_specs",
        "_term_ids",
        "_terms",
    )

    def __init__(self, specs: Sequence[RuleSpec]) -> None:
        self._specs = tuple(specs)
        self._terms: list[_Term] = []
        self._rules: list[_CompiledRule] = []
        self._rules_by_term: dict[int, list[int]] = {}
        self._requires: dict[int, tuple[frozenset[int], ...]] = {}  # rule → its other groups

        self._term_ids: dict[tuple[str, ...], int] = {}
        for spec in specs:
            if spec.enabled:
                self._add_rule(spec)
        del self._term_ids  # only needed while compiling
        # Every term in one automaton over tokens (streams.rules.automaton).
        self._automaton = TermAutomaton([term.words for term in self._terms])
        # A small pack's first keys join the shared automaton (streams.text.scan), whose one
        # scan of the field (for the classifiers too) gives the few tokens that can start a
        # term (`_substrings`); the automaton then reads those and the tokens after them only.
        # A large pack's are left out: nearly every token would pass, and its keys made the
        # classifiers' scan dearer.
        self._prefilter: Prefilter | None = None
        if len(self._automaton.keys) <= PREFILTER_KEYS:
            first = {k for term in self._terms for k in phrase_keys(term.words[0])}
            prefilter = Prefilter(substrings=_substrings(first))
            if not prefilter.everywhere:
                self._prefilter = prefilter
                register(self, prefilter)

    def _intern(self, phrase: PhraseSpec) -> int:
        """The term id of a phrase (a new term for a new token sequence)."""
        tid = self._term_ids.get(phrase.words)
        if tid is None:
            tid = len(self._terms)
            self._term_ids[phrase.words] = tid
            self._terms.append(_Term(tid, phrase.words))
        return tid

    def _add_rule(self, spec: RuleSpec) -> None:
        written: dict[str, int] = {}

        def ref(phrase: PhraseSpec, positive: bool) -> PhraseRef:
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
                title_en=spec.title_en,
                severity=spec.severity,
                written=tuple(written),
                expr=compiled,
                regions=spec.regions,
                topics=spec.topics,
                sources=spec.sources,
                langs=spec.langs,
                breaking=spec.breaking,
            )
        )
        # The rule is evaluated only for articles where one of its trigger terms occurred, and
        # one term of each of its other required groups (an `all` or `near` needs every part).
        trigger = frozenset(self._intern(p) for p in _triggers(spec.expr))
        for tid in sorted(trigger):
            self._rules_by_term.setdefault(tid, []).append(index)
        groups = {frozenset(self._intern(p) for p in g) for g in _required(spec.expr)}
        groups.discard(trigger)
        if groups:
            # smallest first: the groups least likely to have occurred reject soonest
            self._requires[index] = tuple(sorted(groups, key=len))

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
        breaking: bool = False,
    ) -> list[RuleHit]:
        """Rules that fire on an article, in rule-file order.

        `fields` maps field names ("title", "body") to ORIGINAL text. `regions`, `topics`,
        `source`, `lang` and `breaking` describe the article and feed the rules' filters: a
        rule with a `regions` (`topics`, `lang`) filter applies only if the article has one of
        those, one with `breaking: true` (false) only if it is (is not) breaking news.
        """
        scans = {name: self._scan(text) for name, text in fields.items() if text}
        found: set[int] = set()
        for scan in scans.values():
            found.update(scan.occurrences)
        candidates = sorted({r for tid in found for r in self._rules_by_term.get(tid, ())})
        if not candidates:
            return []
        # Evaluate only the rules every required group of which occurred (not just the trigger).
        requires = self._requires
        candidates = [
            r for r in candidates if all(not found.isdisjoint(g) for g in requires.get(r, ()))
        ]

        region_set = frozenset(r.upper() for r in regions)
        topic_set = frozenset(t.casefold() for t in topics)
        hits: list[RuleHit] = []
        for index in candidates:
            rule = self._rules[index]
            if not rule.applies(region_set, topic_set, source, lang, breaking):
                continue
            found_hits = self._eval(rule.expr, scans)
            if found_hits:
                matches = self._matches(rule, scans, found_hits)
                hits.append(
                    RuleHit(
                        rule.id,
                        rule.version,
                        rule.severity,
                        rule.title,
                        tuple(matches),
                        rule.title_en,
                    )
                )
        return hits

    def _scan(self, text: str) -> _Scan:
        tokens = tokenize(text)  # shared with the classifiers (the same title and body)
        among = None if self._prefilter is None else candidates(tokens, self._prefilter)
        return _Scan(text, tokens, self._automaton.scan(text, tokens, among))

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
        # (field, span) → (exactness score, -phrase order, phrase as written); best per span.
        # An occurrence can make a rule true several times (`near`: once per anchor): scored once.
        best: dict[tuple[str, Span], tuple[int, int, str]] = {}
        terms, written = self._terms, rule.written
        for name, start, end, tid, order in dict.fromkeys(found):
            # tokens equal to the phrase's words as written (the token words, not `Token`s)
            exact = sum(map(str.__eq__, scans[name].tokens.words[start:end], terms[tid].words))
            key = (name, (start, end))
            kept = best.get(key)
            if kept is None or (exact, -order) > kept[:2]:
                best[key] = (exact, -order, written[order])

        matches: list[Match] = []
        for name, scan in scans.items():
            last_end = -1
            spans = sorted((s for f, s in best if f == name), key=lambda s: (s[0], -s[1]))
            shown = scan.shown
            for span in spans:
                if span[1] <= last_end:
                    continue  # nested inside a longer match already reported
                if len(matches) >= MAX_MATCHES:
                    return matches
                last_end = span[1]
                where = shown.get(span)
                if where is None:
                    start, end = scan.tokens.span(*span)
                    text = scan.text
                    where = shown[span] = (start, end, text[start:end], snippet(text, start, end))
                start, end, matched, context = where
                matches.append(
                    Match(
                        term=best[(name, span)][2],
                        text=matched,
                        field=name,
                        start=start,
                        end=end,
                        snippet=context,
                    )
                )
        return matches


def _triggers(expr: Expr) -> list[PhraseSpec]:
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
        parts = [_triggers(c) for c in expr.children if anchored(c)]
        return min(parts, key=_specificity)
    return []  # `not`: never a trigger (anchoring guarantees another part is)


def _required(expr: Expr) -> list[list[PhraseSpec]]:
    """Groups of phrases such that `expr` can be true only if one phrase of EACH group occurred
    (a necessary condition, not a sufficient one): a leaf needs one of its phrases, `near` one
    of every group, `all` what each of its anchored parts needs, `any` one of its triggers."""
    if isinstance(expr, Leaf):
        return [list(expr.phrases)]
    if isinstance(expr, Near):
        return [list(g) for g in expr.groups]
    if isinstance(expr, AllOf):
        return [g for c in expr.children if anchored(c) for g in _required(c)]
    if isinstance(expr, AnyOf):
        return [_triggers(expr)]
    return []  # `not`: requires nothing to occur


def _specificity(phrases: list[PhraseSpec]) -> tuple[int, int]:
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
                    breaking=spec.breaking is True,
                )
            )
            if fired != should_fire:
                what = "does not fire on" if should_fire else "fires on"
                key = "fires" if should_fire else "quiet"
                problems.append(Problem(f"{what} {text!r}", repr(spec.id), f"tests.{key}", file))
    return problems


def _spec_fields(spec: RuleSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in RuleSpec.__dataclass_fields__}
