"""The story stage's document frequencies stay under their cap, and a trim keeps what weighs:
the terms seen in several articles, and of those seen once the most recent
(streams/stories/docfreq.py, docs/performance.md "Memory: round eleven")."""

from __future__ import annotations

import random

import pytest

from streams.stories.docfreq import MAX_TERMS, DocFreq


@pytest.mark.parametrize(
    ("max_terms", "articles", "per_article", "vocabulary"),
    [
        (40, 500, 8, 10_000),  # nearly every term new: trims over and over
        (40, 500, 8, 60),  # a small vocabulary: most terms repeat
        (7, 200, 3, 1_000),  # a tiny cap
        (100, 300, 30, 400),  # articles of many terms against the cap
    ],
)
def test_the_counts_never_pass_max_terms(
    max_terms: int, articles: int, per_article: int, vocabulary: int
) -> None:
    rng = random.Random(max_terms * articles + vocabulary)
    for weighed in (False, True):  # both ways the story stage counts
        df = DocFreq(max_terms=max_terms)
        for _ in range(articles):
            terms = {f"t{int(rng.paretovariate(1.0)) % vocabulary}" for _ in range(per_article)}
            terms |= {f"n{rng.randrange(vocabulary)}" for _ in range(per_article // 2)}
            if weighed:
                df.add_weighed(terms)
            else:
                df.add(terms)
            # an article may bring the counts past the cap by its own terms, never further
            assert len(df.counts) <= max_terms
        assert df.docs == articles


@pytest.mark.parametrize(
    ("counts", "max_terms", "kept", "gone"),
    [
        # past the cap (5 > 4): down to 3: the oldest terms seen once go first
        ({"قديم1": 1, "شائع": 9, "قديم2": 1, "متوسط": 2, "جديد": 1}, 4, ["شائع", "متوسط", "جديد"], ["قديم1", "قديم2"]),
        # too few seen once: the commonest three stay (ties: the first seen)
        ({"ا": 5, "ب": 2, "ج": 7, "د": 2, "ه": 3}, 4, ["ا", "ج", "ه"], ["ب", "د"]),
        ({"ا": 2, "ب": 2, "ج": 2, "د": 2, "ه": 1}, 4, ["ا", "ب", "ج"], ["د", "ه"]),
    ],
)  # fmt: skip
def test_a_trim_drops_the_oldest_terms_seen_once_then_the_rarest(
    counts: dict[str, int], max_terms: int, kept: list[str], gone: list[str]
) -> None:
    df = DocFreq(max_terms=max_terms)
    df.counts = dict(counts)
    df._drop_rarest()
    assert list(df.counts) == kept  # in the order first seen
    assert all(df.counts[t] == counts[t] for t in kept)  # counts unchanged
    assert not set(gone) & set(df.counts)


def test_at_the_cap_an_article_of_known_terms_trims_nothing() -> None:
    df = DocFreq(max_terms=4)
    df.counts = {"ا": 1, "ب": 1, "ج": 1, "د": 1}
    df.add({"ا", "د"})
    assert df.counts == {"ا": 2, "ب": 1, "ج": 1, "د": 2}
    df.add({"جديد"})  # the fifth term: down to three, the oldest seen once first
    assert df.counts == {"ا": 2, "د": 2, "جديد": 1}


def test_a_frequent_term_keeps_its_count_through_the_trims_and_a_recent_rare_one_survives() -> None:
    df = DocFreq(max_terms=100)
    for i in range(2_000):  # every article: one common term, two never seen again
        df.add({"شائع", f"نادر{i}", f"اخر{i}"})
    assert df.counts["شائع"] == 2_000
    assert "نادر1999" in df.counts and "نادر0" not in df.counts
    assert len(df.counts) <= 100


def test_the_cap_is_reached_early_and_snapshots_keep_it() -> None:
    """The default cap: below ANT's 68,217 terms after 10,000 articles (so the counts are flat
    from there) and well above a day's new terms; a restored snapshot is trimmed again by its
    first article when an older worker saved more."""
    assert 20_000 <= MAX_TERMS < 68_217
    df = DocFreq()
    df.counts = {f"t{i}": 1 + i % 3 for i in range(MAX_TERMS + 10)}
    restored = DocFreq.load(df.shards())
    assert len(restored.counts) == MAX_TERMS + 10
    restored.add({"جديد"})
    assert len(restored.counts) <= MAX_TERMS * 3 // 4 + 1
