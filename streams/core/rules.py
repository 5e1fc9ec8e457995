"""Watch-list rules: definition, validation, compilation into one index, and matching.

A rule is a named list of phrase variants («خط احمر», «خطوط حمراء», …) with a severity, an
optional negative context (``unless_near``) and optional region/topic/source filters. Rules
are written in YAML (see ``deploy/rules/default.yaml``) or given as plain mappings.

Matching works on *tokens*, not characters:

* Article text is normalised and tokenised once per field (``streams.core.arabic``); every
  token gets a small set of candidate stems (:func:`stems`): the token itself, the token with
  proclitics stripped (و ف ب ك ل ال بال لل وال …) and with endings stripped (tanween alef,
  possessive pronouns, dual and sound plural endings).
* Each phrase word is normalised the same way; a phrase word written with the article
  («الخط») also accepts the bare form («خط»). A token matches a phrase word when one of its
  candidate stems is one of the phrase word's keys.
* Every distinct phrase of every enabled rule — and every ``unless_near`` term — is a *term*.
  All terms live in ONE index keyed by the keys of their first word; the following words
  are verified token by token. One pass over the tokens therefore finds every occurrence of
  every term of every rule; no regular expression is built per rule or per message.
* Rules are then evaluated over those term occurrences. Today a rule is "any of its phrases,
  unless one of its negative terms is within N tokens"; the occurrence lists are the natural
  input for richer operators later (all/not/near/min_count/shared term lists) without
  touching the index.

Possessives are deliberately accepted: «خطهم الأحمر» ("their red line") is the same idiom
and is reported. A final «ة» is never taken for the pronoun «ه», so «خطة حمراء» stays a
"red plan". A phrase never matches across sentence punctuation or a line break.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from streams.core.arabic import Token, normalize, normalize_with_offsets, tokenize_normalized

__all__ = [
    "SEVERITIES",
    "Match",
    "RuleError",
    "RuleHit",
    "RuleSet",
    "default_rules_path",
    "phrase_keys",
    "stems",
]

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")

SNIPPET_CONTEXT = 60  # characters of original context on each side of a match
DEFAULT_NEAR_WITHIN = 3  # tokens, when `unless_near` gives no `within`

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


class RuleError(ValueError):
    """An invalid rule definition; the message names the rule id and the offending field."""


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
_TA_MARBUTA = frozenset({"ة", "ۃ"})


def _number_variants(word: str, out: set[str]) -> None:
    """Add singular candidates for a dual or sound-plural word (and tanween alef)."""
    n = len(word)
    if word.endswith("ا") and n - 1 >= _MIN_STEM:  # tanween alef: خطا(ً) → خط
        out.add(word[:-1])
    for ending in _FEMININE_ENDINGS:
        if word.endswith(ending) and n - len(ending) >= _MIN_STEM:
            stem = word[: -len(ending)]
            out.add(stem + "ه")
            if ending == "ات":
                out.add(stem)
    for ending in _PLAIN_ENDINGS:
        if word.endswith(ending) and n - len(ending) >= _MIN_STEM:
            out.add(word[: -len(ending)])


def _suffix_variants(word: str, ta_marbuta: bool, out: set[str]) -> None:
    bases = {word}
    n = len(word)
    for pronoun in _POSSESSIVES:
        if pronoun == "ه" and ta_marbuta:
            continue  # «خطة» is not «خط» + «ه»
        if word.endswith(pronoun) and n - len(pronoun) >= _MIN_STEM:
            stem = word[: -len(pronoun)]
            bases.add(stem)
            if stem.endswith("ت") and len(stem) - 1 >= _MIN_STEM:
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
    for prefix in _PROCLITICS:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
            bases.add(word[len(prefix) :])
    out: set[str] = set()
    for base in bases:
        _suffix_variants(base, ta_marbuta, out)
    return frozenset(out)


def phrase_keys(word: str) -> frozenset[str]:
    """Keys a NORMALISED phrase word accepts: itself and, if written with «ال», the bare form."""
    keys = {word}
    if word.startswith("ال") and len(word) - 2 >= _MIN_STEM:
        keys.add(word[2:])
    return frozenset(keys)


def _ends_with_ta_marbuta(text: str, token: Token) -> bool:
    """Whether the token's last letter in the original text is «ة» (skipping harakat)."""
    if not token.text.endswith("ه"):
        return False  # «ة» always normalises to «ه»
    pos = token.end - 1
    while pos > token.start and not normalize(text[pos]):
        pos -= 1
    return unicodedata.normalize("NFKC", text[pos])[-1:] in _TA_MARBUTA


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
        "phrases",
        "unless_near",
        "regions",
        "topics",
        "sources",
    }
)
_NEAR_KEYS = frozenset({"terms", "within"})
_FILE_KEYS = frozenset({"rules", "version", "description"})


def _is_slug(value: str) -> bool:
    if not value or value[0] in "-_" or value[-1] in "-_":
        return False
    return all(ch.isascii() and (ch.isalnum() or ch in "-_") and not ch.isupper() for ch in value)


@dataclass(frozen=True, slots=True)
class _PhraseSpec:
    written: str  # as in the rule file
    words: tuple[str, ...]  # normalised words


@dataclass(frozen=True, slots=True)
class _RuleSpec:
    id: str
    version: int
    title: str
    severity: str
    enabled: bool
    phrases: tuple[_PhraseSpec, ...]
    unless_terms: tuple[_PhraseSpec, ...]
    unless_within: int
    regions: frozenset[str]
    topics: frozenset[str]
    sources: frozenset[str]


class _Validator:
    """Turns one raw mapping into a `_RuleSpec`, raising `RuleError` with rule id and field."""

    def __init__(self, raw: Any, position: int) -> None:
        self.raw = raw
        self.name = f"#{position + 1}"

    def fail(self, field: str, problem: str) -> RuleError:
        return RuleError(f"rule {self.name}: field {field!r}: {problem}")

    def parse(self) -> _RuleSpec:
        raw = self.raw
        if not isinstance(raw, Mapping):
            raise RuleError(f"rule {self.name}: must be a mapping, got {type(raw).__name__}")
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not _is_slug(rule_id):
            raise self.fail("id", f"must be a lowercase slug like 'red-line', got {rule_id!r}")
        self.name = repr(rule_id)
        unknown = sorted(str(k) for k in raw if k not in _RULE_KEYS)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (allowed: {', '.join(sorted(_RULE_KEYS))})")

        version = raw.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.fail("version", f"must be a positive integer, got {version!r}")
        title = raw.get("title")
        if not isinstance(title, str) or not title.strip():
            raise self.fail("title", "must be a non-empty string")
        severity = raw.get("severity")
        if severity not in SEVERITIES:
            raise self.fail("severity", f"must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.fail("enabled", f"must be true or false, got {enabled!r}")
        if "description" in raw and not isinstance(raw["description"], str):
            raise self.fail("description", "must be a string")

        phrases = self.phrase_list("phrases", raw.get("phrases"))
        unless_terms: tuple[_PhraseSpec, ...] = ()
        within = DEFAULT_NEAR_WITHIN
        near = raw.get("unless_near")
        if near is not None:
            if not isinstance(near, Mapping):
                raise self.fail("unless_near", "must be a mapping with 'terms' and 'within'")
            bad = sorted(str(k) for k in near if k not in _NEAR_KEYS)
            if bad:
                raise self.fail(f"unless_near.{bad[0]}", "unknown key (allowed: terms, within)")
            unless_terms = self.phrase_list("unless_near.terms", near.get("terms"))
            within = near.get("within", DEFAULT_NEAR_WITHIN)
            if isinstance(within, bool) or not isinstance(within, int) or within < 0:
                raise self.fail(
                    "unless_near.within", f"must be a non-negative integer, got {within!r}"
                )

        return _RuleSpec(
            id=rule_id,
            version=version,
            title=title.strip(),
            severity=severity,
            enabled=enabled,
            phrases=phrases,
            unless_terms=unless_terms,
            unless_within=within,
            regions=frozenset(c.upper() for c in self.code_list("regions")),
            topics=frozenset(c.casefold() for c in self.code_list("topics")),
            sources=frozenset(self.code_list("sources")),
        )

    def phrase_list(self, field: str, value: Any) -> tuple[_PhraseSpec, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(field, "must be a non-empty list of phrases")
        out: dict[tuple[str, ...], _PhraseSpec] = {}
        for item in value:
            if not isinstance(item, str):
                raise self.fail(field, f"phrases must be strings, got {item!r}")
            words = tuple(t.text for t in tokenize_normalized(normalize_with_offsets(item)))
            if not words:
                raise self.fail(field, f"empty phrase {item!r}")
            out.setdefault(words, _PhraseSpec(item.strip(), words))  # drop spelling duplicates
        return tuple(out.values())

    def code_list(self, field: str) -> list[str]:
        value = self.raw.get(field)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(field, "must be a list of non-empty strings")
        return [v.strip() for v in value]


# --------------------------------------------------------------------------------------------
# Compiled form
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    """One distinct token sequence to find: a rule phrase or a negative-context term."""

    id: int
    words: tuple[str, ...]  # normalised words as written
    keys: tuple[frozenset[str], ...]  # accepted stems per word


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    id: str
    version: int
    title: str
    severity: str
    phrases: tuple[tuple[int, str], ...]  # (term id, phrase as written), in rule order
    unless_terms: tuple[int, ...]
    unless_within: int
    regions: frozenset[str]
    topics: frozenset[str]
    sources: frozenset[str]

    def applies(self, regions: frozenset[str], topics: frozenset[str], source: str | None) -> bool:
        if self.regions and self.regions.isdisjoint(regions):
            return False
        if self.topics and self.topics.isdisjoint(topics):
            return False
        return not self.sources or source in self.sources


Span = tuple[int, int]  # [first token, last token + 1)


@dataclass(frozen=True, slots=True)
class _Scan:
    """One field, tokenised once, with every term occurrence found in it."""

    text: str
    tokens: list[Token]
    occurrences: dict[int, list[Span]]  # term id → token spans


class RuleSet:
    """A validated, compiled watch-list. Immutable and safe to share between tasks."""

    __slots__ = ("_by_first", "_rules", "_rules_by_term", "_terms")

    def __init__(self, specs: Sequence[_RuleSpec]) -> None:
        self._terms: list[_Term] = []
        term_ids: dict[tuple[str, ...], int] = {}
        self._by_first: dict[str, list[_Term]] = {}
        self._rules: list[_CompiledRule] = []
        self._rules_by_term: dict[int, list[int]] = {}

        def intern(phrase: _PhraseSpec) -> int:
            tid = term_ids.get(phrase.words)
            if tid is None:
                tid = len(self._terms)
                term_ids[phrase.words] = tid
                term = _Term(tid, phrase.words, tuple(phrase_keys(w) for w in phrase.words))
                self._terms.append(term)
                for key in term.keys[0]:
                    self._by_first.setdefault(key, []).append(term)
            return tid

        for spec in specs:
            if not spec.enabled:
                continue
            rule = _CompiledRule(
                id=spec.id,
                version=spec.version,
                title=spec.title,
                severity=spec.severity,
                phrases=tuple((intern(p), p.written) for p in spec.phrases),
                unless_terms=tuple(dict.fromkeys(intern(t) for t in spec.unless_terms)),
                unless_within=spec.unless_within,
                regions=spec.regions,
                topics=spec.topics,
                sources=spec.sources,
            )
            index = len(self._rules)
            self._rules.append(rule)
            for tid, _ in rule.phrases:
                owners = self._rules_by_term.setdefault(tid, [])
                if not owners or owners[-1] != index:
                    owners.append(index)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_dicts(cls, rules: Iterable[Mapping[str, Any]]) -> RuleSet:
        """Validate and compile rule mappings; raises `RuleError` on the first problem."""
        specs: list[_RuleSpec] = []
        seen: set[str] = set()
        for position, raw in enumerate(rules):
            spec = _Validator(raw, position).parse()
            if spec.id in seen:
                raise RuleError(f"rule {spec.id!r}: field 'id': duplicate rule id")
            seen.add(spec.id)
            specs.append(spec)
        return cls(specs)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RuleSet:
        """Load a YAML watch-list: a mapping whose key ``rules`` holds the list of rules."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise RuleError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
            raise RuleError(f"{path}: expected a mapping with a 'rules' list at the top level")
        unknown = sorted(str(k) for k in data if k not in _FILE_KEYS)
        if unknown:
            raise RuleError(f"{path}: unknown top-level key {unknown[0]!r}")
        try:
            return cls.from_dicts(data["rules"])
        except RuleError as exc:
            raise RuleError(f"{path}: {exc}") from exc

    # -- introspection -----------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of enabled (compiled) rules."""
        return len(self._rules)

    @property
    def rule_ids(self) -> list[str]:
        """Ids of the enabled rules, in file order."""
        return [rule.id for rule in self._rules]

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
    ) -> list[RuleHit]:
        """Rules that fire on an article, in rule-file order.

        `fields` maps field names ("title", "body") to ORIGINAL text. `regions`, `topics`
        and `source` describe the article and feed the rules' filters: a rule with a
        `regions` (`topics`) filter applies only if the article has one of those codes.
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
            if not rule.applies(region_set, topic_set, source):
                continue
            matches: list[Match] = []
            for name, scan in scans.items():
                matches.extend(self._rule_matches(rule, name, scan))
            if matches:
                hits.append(
                    RuleHit(rule.id, rule.version, rule.severity, rule.title, tuple(matches))
                )
        return hits

    def _scan(self, text: str) -> _Scan:
        tokens = tokenize_normalized(normalize_with_offsets(text))
        cands = [stems(t.text, _ends_with_ta_marbuta(text, t)) for t in tokens]
        occurrences: dict[int, list[Span]] = {}
        n = len(tokens)
        for i, token_stems in enumerate(cands):
            seen: set[int] = set()
            for stem in token_stems:
                for term in self._by_first.get(stem, ()):
                    if term.id in seen:
                        continue
                    seen.add(term.id)
                    end = i + len(term.keys)
                    if end > n:
                        continue
                    if all(
                        not term.keys[k - i].isdisjoint(cands[k])
                        and not _is_break(text, tokens[k - 1].end, tokens[k].start)
                        for k in range(i + 1, end)
                    ):
                        occurrences.setdefault(term.id, []).append((i, end))
        return _Scan(text, tokens, occurrences)

    def _rule_matches(self, rule: _CompiledRule, field: str, scan: _Scan) -> list[Match]:
        # span → (exactness score, -phrase order, phrase as written); best variant per span
        best: dict[Span, tuple[int, int, str]] = {}
        for order, (tid, written) in enumerate(rule.phrases):
            term = self._terms[tid]
            for span in scan.occurrences.get(tid, ()):
                if rule.unless_terms and self._near(rule, scan, span):
                    continue
                exact = sum(scan.tokens[k].text == term.words[k - span[0]] for k in range(*span))
                choice = (exact, -order, written)
                if span not in best or choice[:2] > best[span][:2]:
                    best[span] = choice

        matches: list[Match] = []
        last_end = -1
        for span in sorted(best, key=lambda s: (s[0], -s[1])):
            if span[1] <= last_end:
                continue  # nested inside a longer match already reported
            last_end = span[1]
            start = scan.tokens[span[0]].start
            end = scan.tokens[span[1] - 1].end
            matches.append(
                Match(
                    term=best[span][2],
                    text=scan.text[start:end],
                    field=field,
                    start=start,
                    end=end,
                    snippet=_snippet(scan.text, start, end),
                )
            )
        return matches

    @staticmethod
    def _near(rule: _CompiledRule, scan: _Scan, span: Span) -> bool:
        """Whether a negative term occurs within `unless_within` tokens of `span`."""
        first, last = span[0], span[1] - 1
        for tid in rule.unless_terms:
            for other in scan.occurrences.get(tid, ()):
                gap = max(other[0] - last, first - (other[1] - 1), 0)
                if gap <= rule.unless_within:
                    return True
        return False


# --------------------------------------------------------------------------------------------
# Snippets
# --------------------------------------------------------------------------------------------

_LINE_BREAKS = "\n\r\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85"


def _snippet(text: str, start: int, end: int, width: int = SNIPPET_CONTEXT) -> str:
    """Up to `width` characters of context each side, kept within the line, cut at spaces."""
    left_from = max(0, start - width)
    left = text[left_from:start]
    cut = max(left.rfind(ch) for ch in _LINE_BREAKS)
    if cut >= 0:
        left = left[cut + 1 :]
    elif left_from > 0 and not text[left_from - 1].isspace() and not left[:1].isspace():
        space = next((i for i, ch in enumerate(left) if ch.isspace()), len(left))
        left = left[space:]  # drop the partial first word

    right_to = min(len(text), end + width)
    right = text[end:right_to]
    cuts = [i for i in (right.find(ch) for ch in _LINE_BREAKS) if i >= 0]
    if cuts:
        right = right[: min(cuts)]
    elif right_to < len(text) and not text[right_to].isspace() and not right[-1:].isspace():
        space = next((i for i in range(len(right) - 1, -1, -1) if right[i].isspace()), 0)
        right = right[:space]  # drop the partial last word
    return " ".join((left + text[start:end] + right).split())
