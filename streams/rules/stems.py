"""Light Arabic stemming for rule phrases and article words: proclitics, possessives, plural
and dual endings, the «ة» handling; and the punctuation that stops a phrase from running on."""

from __future__ import annotations

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


def _number_variants(word: str, out: set[str]) -> None:
    """Add singular candidates for a dual or sound-plural word (and tanween alef)."""
    n = len(word)
    if n - 1 >= _MIN_STEM and word[-1] == "ا":  # tanween alef: خطا(ً) → خط
        out.add(word[:-1])
    if n - 2 >= _MIN_STEM:
        end = word[-2:]
        if end == "ات":  # عبوات → عبوه, and the bare stem
            out.add(word[:-2] + "ه")
            out.add(word[:-2])
        elif end in _PLAIN_SET:  # احمران → احمر, مسلحون → مسلح (and «…تان» → «…ت»)
            out.add(word[:-2])
    if n - 3 >= _MIN_STEM and word[-3:] in _FEMININE_3:  # عبوتان → عبوه
        out.add(word[:-3] + "ه")


def _suffix_variants(word: str, ta_marbuta: bool, out: set[str]) -> None:
    bases = {word}
    n = len(word)
    for k in _POSSESSIVE_LENGTHS:
        if n - k < _MIN_STEM or word[-k:] not in _POSSESSIVE_SET:
            continue
        if k == 1 and ta_marbuta and word[-1] == "ه":
            continue  # «خطة» is not «خط» + «ه»
        stem = word[:-k]
        bases.add(stem)
        if stem[-1] == "ت" and len(stem) - 1 >= _MIN_STEM:
            bases.add(stem[:-1] + "ه")  # خطتهم → خطت → خطه
    out.update(bases)
    for base in bases:
        _number_variants(base, out)


def stems(word: str, ta_marbuta: bool = False) -> frozenset[str]:
    """Candidate stems of one NORMALISED token.

    The token itself, the token without proclitics, and each of those without endings
    (possessive pronouns, tanween alef, dual/plural endings). Nothing is stripped down to
    fewer than two letters. `ta_marbuta` says the token's original last letter was «ة»
    (folded to «ه» by normalisation), which is then not stripped as a pronoun.

    Over-generation is harmless: a candidate only matters if it equals a rule phrase word
    and the rest of the phrase matches too.

    Not memoised: its one production caller, the rule automaton (`word_stems`), keeps each
    word's classes in its own memo (round fourteen); an 8,192-word cache here missed nearly
    every time there and was used by nothing else (issue 13, round fifteen).
    """
    bases = {word}
    n = len(word)
    for k in _PROCLITIC_LENGTHS:
        if n - k >= _MIN_STEM and word[:k] in _PROCLITIC_SET:
            bases.add(word[k:])
    out: set[str] = set()
    for base in bases:
        _suffix_variants(base, ta_marbuta, out)
    return frozenset(out)


def word_stems(word: str) -> frozenset[str]:
    """`stems` of a word from `words_keeping_ta_marbuta` (a final «ة» says: not a pronoun)."""
    if "ة" not in word:
        return stems(word)
    return stems(word.replace("ة", "ه"), word.endswith("ة"))


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
