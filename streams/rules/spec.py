"""The rule language: rule files, their validation (one Problem per mistake) and the rule
expression tree (phrase, list, any, all, not, near)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streams.rules.gcpause import gc_paused
from streams.rules.model import Problem, RuleError
from streams.severity import SEVERITIES
from streams.text.arabic import (
    Tokens,
    normalize_with_offsets,
)
from streams.text.memo import WordMemo

DEFAULT_NEAR_WITHIN = 3  # tokens, when `unless_near` gives no `within`
MAX_PHRASE_WORDS = 12  # longer "phrases" are almost always a pasted sentence by mistake
MAX_WITHIN = 200  # tokens; a wider window is "anywhere in the article"


_RULE_KEYS = frozenset(
    {
        "id",
        "version",
        "title",
        "title_en",
        "description",
        "severity",
        "enabled",
        "breaking",
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
# The checks below as one regular expression each, not a Python step per character: a
# 10,000-rule push checks ~100,000 ids and phrases, and these per-character loops were ~10%
# of its checks' CPU. Same answers (tests/unit/rules/test_spec_checks.py).
_REGEX_CHAR = re.compile("[" + re.escape("".join(sorted(_REGEX_CHARS))) + "]")
# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F
_CONTROL_CHAR = re.compile("[\x00-\x1f\x7f-\x9f]")
# ASCII lowercase letters, digits, '-' and '_', neither first nor last a '-' or '_'
_SLUG = re.compile("[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?")


def _is_slug(value: str) -> bool:
    return _SLUG.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class PhraseSpec:
    written: str  # as in the rule file
    words: tuple[str, ...]  # normalised words


@dataclass(frozen=True, slots=True)
class Leaf:
    """Any of `phrases` occurs (at least `min_count` times), each occurrence without a term of
    `unless` within `within` tokens."""

    phrases: tuple[PhraseSpec, ...]
    unless: tuple[PhraseSpec, ...] = ()
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

    groups: tuple[tuple[PhraseSpec, ...], ...]
    within: int | None
    same_sentence: bool


Expr = Leaf | AnyOf | AllOf | NotOf | Near


def anchored(expr: Expr) -> bool:
    """Whether the expression can only be true when one of its positive terms occurred."""
    if isinstance(expr, Leaf | Near):
        return True
    if isinstance(expr, AllOf):
        return any(anchored(c) for c in expr.children)
    if isinstance(expr, AnyOf):
        return all(anchored(c) for c in expr.children)
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
    title_en: str | None = None  # the English title when `title` is Arabic
    regions: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    langs: frozenset[str] = frozenset()
    breaking: bool | None = None  # True: breaking items only; False: never them; None: any
    owner: str | None = None
    tags: tuple[str, ...] = ()
    lists_used: tuple[str, ...] = ()  # named lists the rule references
    tests: tuple[tuple[str, bool], ...] = ()  # (text, should fire)


# Valid phrases already checked, by the string as written: a pack's phrases recur (every rule
# message carries the named lists it uses) and a reload checks them all again. The checks and
# the normalisation depend on the string alone, so a remembered phrase is the same PhraseSpec.
# Bounded (a long-running worker sees every pushed edition of every phrase): a 10,000-rule
# pack has ~25,000 distinct phrases, ~10 MB remembered at this cap.
_PHRASES: WordMemo[PhraseSpec] = WordMemo(60_000)


class _Invalid(Exception):
    """Internal: one field is wrong; the problem is already recorded."""


class _Validator:
    """Turns one raw mapping into a `RuleSpec`, recording every problem with rule id and field."""

    def __init__(
        self,
        raw: Any,
        position: int,
        lists: Mapping[str, tuple[PhraseSpec, ...]],
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
        title_en = self.field(self.title_en)
        severity = self.field(self.severity)
        enabled = self.field(self.enabled)
        breaking = self.field(self.breaking)
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
            title_en=title_en,
            severity=severity,
            enabled=enabled,
            expr=expr,
            regions=regions or frozenset(),
            topics=topics or frozenset(),
            sources=sources or frozenset(),
            langs=langs or frozenset(),
            breaking=breaking,
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

    def title_en(self) -> str | None:
        title = self.raw.get("title_en")
        if title is None:
            return None
        if not isinstance(title, str) or not title.strip():
            raise self.fail("title_en", "must be a non-empty string")
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

    def breaking(self) -> bool | None:
        breaking = self.raw.get("breaking")
        if breaking is not None and not isinstance(breaking, bool):
            raise self.fail("breaking", f"must be true or false, got {breaking!r}")
        return breaking

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

    def phrase(self, path: str, item: Any) -> PhraseSpec:
        if not isinstance(item, str):
            raise self.fail(path, f"phrases must be strings, got {item!r}")
        known = _PHRASES.get(item)
        if known is not None:  # a valid phrase seen before: same checks, same result
            return known
        if _REGEX_CHAR.search(item):
            bad = sorted({ch for ch in item if ch in _REGEX_CHARS})
            raise self.fail(
                path,
                f"regex syntax is not supported in phrase {item!r} (found {' '.join(bad)}): "
                "phrases are literal; list each variant as its own phrase",
            )
        if _CONTROL_CHAR.search(item):
            raise self.fail(path, f"control character in phrase {item!r}")
        words = tuple(Tokens(normalize_with_offsets(item)).words)
        if not words:
            raise self.fail(path, f"empty phrase {item!r}")
        if len(words) > MAX_PHRASE_WORDS:
            raise self.fail(path, f"phrase {item!r} has more than {MAX_PHRASE_WORDS} words")
        return _PHRASES.remember(item, PhraseSpec(" ".join(item.split()), words))

    def named_list(self, path: str, name: Any) -> tuple[PhraseSpec, ...]:
        if not isinstance(name, str) or name not in self.lists:
            raise self.fail(path, f"list {name!r} is referenced but not defined (under 'lists:')")
        self.lists_used[name] = None
        return self.lists[name]

    def phrase_list(
        self, path: str, value: Any, *, lists: bool = False, single: bool = False
    ) -> tuple[PhraseSpec, ...]:
        """Non-empty list of phrases (`single`: a string is one phrase); `{list: NAME}` items
        are allowed where `lists` says so."""
        if single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.fail(path, "must be a non-empty list of phrases")
        out: dict[tuple[str, ...], PhraseSpec] = {}
        ok = True
        for item in value:
            try:
                if lists and isinstance(item, Mapping) and set(item) == {"list"}:
                    specs: Iterable[PhraseSpec] = self.named_list(path, item["list"])
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

    def unless_near(self, path: str, near: Any) -> tuple[tuple[PhraseSpec, ...], int]:
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
            if not anchored(expr):
                raise self.fail(
                    "match",
                    "can fire on articles that contain none of its terms: it needs a positive "
                    "phrase outside 'not' in every 'any' branch (e.g. all: [phrase, not: …])",
                )
            return expr
        if "phrases" not in raw:
            raise self.fail("match", "missing: every rule needs a 'match' expression")
        phrases = self.phrase_list("phrases", raw["phrases"])
        unless: tuple[PhraseSpec, ...] = ()
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
        near: tuple[tuple[PhraseSpec, ...], int] | None = ((), DEFAULT_NEAR_WITHIN)
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
        groups: list[tuple[PhraseSpec, ...]] = []
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
) -> tuple[dict[str, tuple[PhraseSpec, ...]], list[Problem]]:
    """The `lists:` section: name → phrases."""
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [Problem("must be a mapping of list name → phrases", None, "lists", file)]
    out: dict[str, tuple[PhraseSpec, ...]] = {}
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
    raw: Any, lists: Mapping[str, tuple[PhraseSpec, ...]], position: int, file: str | None
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
    _by_id: dict[str, dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def raw_rule(self, rule_id: str) -> dict[str, Any]:
        """The rule as written (the first of that id); found through an index built once, so
        planning a push of n rules is not n² (10,000 rules took 45 s of scanning)."""
        if self._by_id is None:
            self._by_id = {}
            for raw in self.rules:
                if isinstance(raw, Mapping) and isinstance(raw.get("id"), str):
                    self._by_id.setdefault(raw["id"], raw)
        return self._by_id[rule_id]

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


# libyaml's parser when PyYAML has it (its wheels do): the pure-Python one took 15 s of CPU
# for a 10,000-rule pack. Both build the same documents from the same safe subset of YAML.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str | bytes) -> Any:
    """A YAML document, read with libyaml's safe loader when PyYAML has it (yaml.YAMLError as
    raised): the pure-Python one took ~4 s of CPU for a 10,000-rule pack."""
    return yaml.load(text, Loader=_YAML_LOADER)


def read_yaml(path: str | Path) -> Any:
    """A YAML file's document (OSError, yaml.YAMLError as raised)."""
    return parse_yaml(Path(path).read_text(encoding="utf-8"))


def read_rule_file(path: str | Path) -> tuple[RuleFile, Any]:
    """`load_rule_file`, and the YAML document it read (None when it could not read one), for
    callers that check the document further without reading the file again."""
    name = str(path)
    with gc_paused():  # a large pack is a few million objects, all kept: nothing to collect
        try:
            data = read_yaml(path)
        except OSError as exc:
            problem = Problem(f"cannot read: {exc.strerror or exc}", file=name)
            return RuleFile(name, problems=[problem]), None
        except yaml.YAMLError as exc:
            return RuleFile(name, problems=[Problem(f"not valid YAML: {exc}", file=name)]), None
        return parse_document(data, name), data


def load_rule_file(path: str | Path) -> RuleFile:
    """Read and validate a YAML rule file; problems are collected, not raised."""
    return read_rule_file(path)[0]
