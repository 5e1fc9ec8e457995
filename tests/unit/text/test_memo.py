"""The matchers' bounded word memo (streams.text.memo)."""

from __future__ import annotations

import pytest

from streams.classify.places import PhraseIndex
from streams.text.arabic import tokenize
from streams.text.memo import Memo, WordMemo
from tests.unit.rules.test_rules import rules


def test_memo_stays_under_its_cap_keeps_the_first_half_and_turns_the_rest_over() -> None:
    memo: WordMemo[int] = WordMemo(cap=10)
    for i in range(25):
        assert memo.remember(f"w{i}", i) == i
        assert len(memo) <= 10
    # the first five stay; of the rest the oldest went at each overflow, the newest are here
    assert list(memo) == ["w0", "w1", "w2", "w3", "w4", "w21", "w22", "w23", "w24"]
    assert memo.get("w24") == 24


@pytest.mark.parametrize(
    ("cap", "n", "expected"),
    [
        (4, 9, [b"w0", b"w1", b"w7", b"w8"]),  # full at w4, w6, w8: w2 w3, w4 w5, w6 went
        (2, 5, [b"w0", b"w4"]),
        (1, 5, [b"w4"]),  # nothing kept: the newest only
    ],
)
def test_a_memo_of_other_keys_is_bounded_the_same_way(
    cap: int, n: int, expected: list[bytes]
) -> None:
    memo: Memo[bytes, int] = Memo(cap=cap)  # the topic model's forms, by their UTF-8 bytes
    for i in range(n):
        memo.remember(f"w{i}".encode(), i)
        assert len(memo) <= cap
    assert list(memo) == expected
    assert isinstance(WordMemo(), Memo)


def test_the_common_words_seen_first_survive_any_number_of_new_words() -> None:
    """Zipf: a feed's common words come first and keep coming; new words must not push them
    out (the old policy, oldest half out, computed them again after every overflow)."""
    memo: WordMemo[int] = WordMemo(cap=100)
    common = [f"common{i}" for i in range(50)]
    for word in common:
        memo.remember(word, 0)
    for i in range(10_000):
        memo.remember(f"rare{i}", i)
        assert len(memo) <= 100
    assert all(memo.get(word) == 0 for word in common)
    assert "rare9999" in memo and "rare0" not in memo


def test_phrase_index_and_rules_memos_are_bounded() -> None:

    index = PhraseIndex([("العراق", "IQ")])
    index._memo.cap = 50
    text = " ".join(f"كلمة{i}" for i in range(500)) + " العراق"
    assert [m.payload for m in index.find(tokenize(text))] == ["IQ"]
    assert len(index._memo) <= 50


def test_rule_memo_is_bounded_and_matching_survives_eviction() -> None:
    ruleset = rules()
    ruleset._automaton.memo.cap = 50
    text = " ".join(f"كلمة{i}" for i in range(500))
    for _ in range(2):  # the second pass runs after evictions
        hits = ruleset.match({"body": text + " تجاوز الخط الأحمر"})
        assert [h.rule_id for h in hits] == ["red-line"]
        assert len(ruleset._automaton.memo) <= 50
