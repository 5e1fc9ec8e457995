"""The phrase-key trie walk the rule matcher used before its terms became one automaton over
token symbols (streams/rules/matcher.py up to round eleven), kept as the reference the
compiled scan must equal: from every token, follow every candidate stem through a trie keyed
by phrase keys; a term found across a sentence break ends the walk."""

from __future__ import annotations

from collections.abc import Sequence

from streams.rules.stems import is_break, phrase_keys, word_stems
from streams.text.arabic import Tokens

Span = tuple[int, int]


class _Node:
    __slots__ = ("children", "terms")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.terms: list[int] = []


def build_trie(terms: Sequence[Sequence[str]]) -> _Node:
    root = _Node()
    for tid, words in enumerate(terms):
        nodes = [root]
        for word in words:
            keys = phrase_keys(word)
            nodes = [node.children.setdefault(key, _Node()) for node in nodes for key in keys]
        for node in nodes:
            node.terms.append(tid)
    return root


def _broken(text: str, tokens: Tokens, first: int, last: int) -> bool:
    return is_break(text, tokens.span(first, first + 1)[1], tokens.span(last, last + 1)[0])


def reference_scan(root: _Node, text: str, tokens: Tokens) -> dict[int, list[Span]]:
    """Every occurrence of every term (term id → spans), as the old `RuleSet._scan` found."""
    words = tokens.words_keeping_ta_marbuta
    occurrences: dict[int, list[Span]] = {}
    n = len(words)
    for i in range(n):
        starts = [root.children[s] for s in sorted(root.children.keys() & word_stems(words[i]))]
        for tid in dict.fromkeys(tid for node in starts for tid in node.terms):
            occurrences.setdefault(tid, []).append((i, i + 1))
        nodes = [node for node in starts if node.children]
        k = i + 1
        clear = i
        while nodes and k < n:
            following = word_stems(words[k])
            nodes = [
                child
                for node in nodes
                for s in following
                if (child := node.children.get(s)) is not None
            ]
            k += 1
            found = [tid for node in nodes for tid in node.terms]
            if found:
                if _broken(text, tokens, clear, k - 1):
                    break
                clear = k - 1
                for tid in dict.fromkeys(found):
                    occurrences.setdefault(tid, []).append((i, k))
            nodes = [node for node in nodes if node.children]
    return occurrences
