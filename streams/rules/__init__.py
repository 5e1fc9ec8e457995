"""Watch-list rules: the language (spec.py), stemming (stems.py), the compiled matcher
(matcher.py), explanations (explain.py), article-level hits (hits.py), backtests
(backtest.py) and the live-rules topic's messages (messages.py)."""

from streams.rules.matcher import RuleSet, check_rule_tests
from streams.rules.model import Match, Problem, RuleError, RuleHit, default_rules_path
from streams.rules.spec import (
    RuleFile,
    RuleSpec,
    load_rule_file,
    parse_document,
    parse_rule,
    read_rule_file,
    read_yaml,
)
from streams.rules.stems import phrase_keys, stems
from streams.severity import SEVERITIES

__all__ = [
    "SEVERITIES",
    "Match",
    "Problem",
    "RuleError",
    "RuleFile",
    "RuleHit",
    "RuleSet",
    "RuleSpec",
    "check_rule_tests",
    "default_rules_path",
    "load_rule_file",
    "parse_document",
    "parse_rule",
    "phrase_keys",
    "read_rule_file",
    "read_yaml",
    "stems",
]
