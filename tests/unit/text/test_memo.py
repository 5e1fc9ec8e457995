"""The matchers' bounded word memo (streams.text.memo)."""

from __future__ import annotations

from streams.classify.places import PhraseIndex
from streams.text.arabic import tokenize
from streams.text.memo import Memo, WordMemo
from tests.unit.rules.test_rules import rules


def test_memo_stays_under_its_cap_and_drops_the_oldest_half() -> None:
    memo: WordMemo[int] = WordMemo(cap=10)
    for i in range(25):
        assert memo.remember(f"w{i}", i) == i
        assert len(memo) <= 10
    assert "w24" in memo and "w0" not in memo
    assert memo.get("w24") == 24


def test_a_memo_of_other_keys_is_bounded_the_same_way() -> None:
    memo: Memo[bytes, int] = Memo(cap=4)  # the topic model's forms, by their UTF-8 bytes
    for i in range(9):
        memo.remember(f"w{i}".encode(), i)
        assert len(memo) <= 4
    assert list(memo) == [b"w6", b"w7", b"w8"]  # full at w4, w6, w8: the oldest half went
    assert isinstance(WordMemo(), Memo)


def test_phrase_index_and_rules_memos_are_bounded() -> None:

    index = PhraseIndex([("العراق", "IQ")])
    index._memo.cap = 50
    text = " ".join(f"كلمة{i}" for i in range(500)) + " العراق"
    assert [m.payload for m in index.find(tokenize(text))] == ["IQ"]
    assert len(index._memo) <= 50


def test_rule_memo_is_bounded_and_matching_survives_eviction() -> None:
    ruleset = rules()
    ruleset._starts.cap = 50
    text = " ".join(f"كلمة{i}" for i in range(500))
    for _ in range(2):  # the second pass runs after evictions
        hits = ruleset.match({"body": text + " تجاوز الخط الأحمر"})
        assert [h.rule_id for h in hits] == ["red-line"]
        assert len(ruleset._starts) <= 50
