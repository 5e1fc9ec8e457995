"""Light Arabic stemming for rule phrases and article words: proclitics, possessives, plural
and dual endings, the «ة» handling; and the punctuation that stops a phrase from running on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

V = TypeVar("V")

_MIN_STEM = 2  # never strip a word down to fewer letters than this


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


# The same as sets, looked up by slicing the word's ends (one lookup per length, not one
# `startswith` per affix: stems() runs for every word not seen before).
_PROCLITIC_SET = frozenset(_PROCLITICS)
_PROCLITIC_LENGTHS = tuple(sorted({len(p) for p in _PROCLITICS}))
_POSSESSIVE_SET = frozenset(_POSSESSIVES)
_POSSESSIVE_LENGTHS = tuple(sorted({len(p) for p in _POSSESSIVES}))
_PLAIN_SET = frozenset(_PLAIN_ENDINGS)
_FEMININE_3 = frozenset(e for e in _FEMININE_ENDINGS if len(e) == 3)


def _candidates(word: str, ta_marbuta: bool) -> list[str]:
    """`stems`' candidates of a NORMALISED token, possibly repeated, in one pass: the token and
    the token without each proclitic; each of those without a possessive pronoun (and «…ت» +
    pronoun → «…ه»); each of those without tanween alef or a dual/plural ending."""
    n = len(word)
    bases = [word]
    for k in _PROCLITIC_LENGTHS:
        if n - k >= _MIN_STEM and word[:k] in _PROCLITIC_SET:
            bases.append(word[k:])
    found: list[str] = []
    for base in bases:
        m = len(base)
        stripped = [base]
        for k in _POSSESSIVE_LENGTHS:
            if m - k < _MIN_STEM or base[-k:] not in _POSSESSIVE_SET:
                continue
            if k == 1 and ta_marbuta and base[-1] == "ه":
                continue  # «خطة» is not «خط» + «ه»
            stem = base[:-k]
            stripped.append(stem)
            if stem[-1] == "ت" and len(stem) - 1 >= _MIN_STEM:
                stripped.append(stem[:-1] + "ه")  # خطتهم → خطت → خطه
        found += stripped
        for w in stripped:
            size = len(w)
            if size - 1 >= _MIN_STEM and w[-1] == "ا":  # tanween alef: خطا(ً) → خط
                found.append(w[:-1])
            if size - 2 >= _MIN_STEM:
                end = w[-2:]
                if end == "ات":  # عبوات → عبوه, and the bare stem
                    found.append(w[:-2] + "ه")
                    found.append(w[:-2])
                elif end in _PLAIN_SET:  # احمران → احمر, مسلحون → مسلح (and «…تان» → «…ت»)
                    found.append(w[:-2])
            if size - 3 >= _MIN_STEM and w[-3:] in _FEMININE_3:  # عبوتان → عبوه
                found.append(w[:-3] + "ه")
    return found


def stems(word: str, ta_marbuta: bool = False) -> frozenset[str]:
    """Candidate stems of one NORMALISED token.

    The token itself, the token without proclitics, and each of those without endings
    (possessive pronouns, tanween alef, dual/plural endings). Nothing is stripped down to
    fewer than two letters. `ta_marbuta` says the token's original last letter was «ة»
    (folded to «ه» by normalisation), which is then not stripped as a pronoun.

    Over-generation is harmless: a candidate only matters if it equals a rule phrase word
    and the rest of the phrase matches too.

    Not memoised: its production use, the rule automaton (`stems_in`: the same candidates),
    keeps each word's classes in its own memo (round fourteen); an 8,192-word cache here
    missed nearly every time there and was used by nothing else (issue 13, round fifteen).
    """
    return frozenset(_candidates(word, ta_marbuta))


def word_stems(word: str) -> frozenset[str]:
    """`stems` of a word from `words_keeping_ta_marbuta` (a final «ة» says: not a pronoun)."""
    if "ة" not in word:
        return stems(word)
    return stems(word.replace("ة", "ه"), word.endswith("ة"))


def stems_in(word: str, keys: Mapping[str, V]) -> set[V]:
    """`{keys[s] for s in word_stems(word) if s in keys}`, without the frozenset of stems: the
    rule automaton runs this for every word it has not seen (~29 an ANT article in a fresh
    worker at 10,000 rules; docs/performance.md, "Rules at scale: round sixteen")."""
    if "ة" in word:
        found = _candidates(word.replace("ة", "ه"), word.endswith("ة"))
    else:
        found = _candidates(word, False)
    return {keys[s] for s in found if s in keys}


def phrase_keys(word: str) -> frozenset[str]:
    """Keys a NORMALISED phrase word accepts: itself and, if written with «ال», the bare form."""
    keys = {word}
    if word.startswith("ال") and len(word) - 2 >= _MIN_STEM:
        keys.add(word[2:])
    return frozenset(keys)


# Characters between two tokens that stop a phrase from running on (sentence/clause breaks).
_BREAKS = frozenset(".!?؟؛;:،,\n\r\u2029\u2028")


def is_break(text: str, start: int, end: int) -> bool:
    return any(ch in _BREAKS for ch in text[start:end])
