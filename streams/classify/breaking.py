"""Is an item breaking news? Outlets mark it themselves: «عاجل | …», «#عاجل …», «خبر عاجل: …»,
«RT @Desk: عاجل | …». The mark opens the headline (or, with no headline, the first line); the
same word later in a sentence is an adjective («اجتماع عاجل», «بشكل عاجل») and marks nothing."""

from __future__ import annotations

import re

from streams.text.arabic import normalize

# A retweet prefix and handles before the mark: «RT @AJABreaking: عاجل | …».
_PREFIX = re.compile(r"^\s*(?:RT\b\s*)?(?:@\w+\s*:?\s*)*", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# The marks as normalised words (streams.text.arabic.normalize folds hamza, ta marbuta, …);
# also what makes a ticker heading the news itself in a short post (streams/extract/parse.py).
BREAKING_MARKS = frozenset({("عاجل",), ("خبر", "عاجل"), ("اخبار", "عاجله"), ("عاجل", "جدا")})


def is_breaking(title: str, body: str) -> bool:
    """True if the headline (else the body's first line) opens with a breaking-news mark."""
    head = title.strip() or body.strip().split("\n", 1)[0]
    words = _WORD.findall(normalize(_PREFIX.sub("", head[:200])).replace("_", " "))
    return tuple(words[:1]) in BREAKING_MARKS or tuple(words[:2]) in BREAKING_MARKS
