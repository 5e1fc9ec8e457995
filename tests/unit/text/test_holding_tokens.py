"""`holding_tokens` (issue 13, round fifteen): inside the block every text tokenised is kept, so
a batch processed stage by stage tokenises each field once; outside it only the 8 most recent
texts are, as before; blocks nest; nothing is held once the outermost block ends."""

from __future__ import annotations

import pytest

from streams.text.arabic import holding_tokens, tokenize
from streams.text.scan import Prefilter, candidates, register, scan_hits

RECENT = 8  # `_tokenize_recent`'s size


def _texts(n: int, tag: str) -> list[str]:
    """n distinct texts no other test tokenises."""
    return [f"خبر رقم {i} عن {tag} في بغداد" for i in range(n)]


@pytest.mark.parametrize("n", [1, RECENT, RECENT + 1, 3 * RECENT])
def test_inside_the_block_every_text_is_tokenised_once(n: int) -> None:
    texts = _texts(n, f"held{n}")
    with holding_tokens():
        first = [tokenize(t) for t in texts]
        again = [tokenize(t) for t in texts]
    assert all(a is b for a, b in zip(first, again, strict=True))


def test_outside_the_block_only_the_recent_texts_are_kept() -> None:
    texts = _texts(RECENT + 1, "outside")
    first = [tokenize(t) for t in texts]
    assert tokenize(texts[0]) is not first[0]  # pushed out by the 8 after it
    assert tokenize(texts[-1]) is first[-1]


def test_blocks_nest_and_let_go_at_the_end() -> None:
    texts = _texts(2 * RECENT, "nested")
    with holding_tokens():
        outer = tokenize(texts[0])
        with holding_tokens():
            for t in texts[1:]:
                tokenize(t)
            assert tokenize(texts[0]) is outer  # the inner block shares the outer one's
        assert tokenize(texts[0]) is outer  # still held after the inner block
    for t in _texts(RECENT, "flush"):
        tokenize(t)
    assert tokenize(texts[0]) is not outer  # let go with the outer block


def test_an_error_inside_ends_the_hold() -> None:
    texts = _texts(RECENT + 1, "error")
    with pytest.raises(RuntimeError), holding_tokens():
        held = tokenize(texts[0])
        raise RuntimeError
    for t in texts[1:]:
        tokenize(t)
    assert tokenize(texts[0]) is not held


class _Owner:
    """Keeps a registered prefilter alive."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قصف على بغداد", [2]),
        ("بغداد والبصرة", [0]),
        ("لا شيء هنا", []),
    ],
)
def test_scan_hits_is_one_scan_kept_on_the_tokens(text: str, expected: list[int]) -> None:
    owner = _Owner()
    prefilter = Prefilter(endings=["بغداد"])
    register(owner, prefilter)
    tokens = tokenize(text)
    hits = scan_hits(tokens)
    assert scan_hits(tokens) is hits  # kept: scanned once
    assert list(candidates(tokens, prefilter)) == expected
    assert tokens.scan_hits is hits
