"""Syllables per lyric word: pyphen's hyphenation dictionaries, then vowel nuclei inside each piece.

Hyphenation points are close to syllable boundaries but not equal to them (dictionaries keep
one-letter syllables at word edges and some clusters together), so each hyphenated piece is
counted as its runs of vowel letters (at least one per word); a final mute "e" (French, English) is no
syllable of its own. Languages pyphen lacks fall back to vowel runs alone.
"""

from __future__ import annotations

import functools
import re

_VOWELS = "aeiouyàâäéèêëîïôöùûüÿœæáíóúåãõąęėįųůěıøа-яё"
_RUN = re.compile(f"[{_VOWELS}]+")
_NON_LETTER = re.compile(r"[^\w]+")
_MUTE_E = {"fr": re.compile(f"[^{_VOWELS}]es?$"), "en": re.compile(r"[^aeiouy]e$")}
_SUNG_LE = re.compile(r"[^aeiouy]le$")  # English "little", "table": the final "le" is sung


@functools.lru_cache(maxsize=16)
def _dictionary(language: str | None):  # noqa: ANN202 - pyphen.Pyphen
    if not language:
        return None
    import pyphen

    code = pyphen.language_fallback(language.replace("-", "_"))
    return pyphen.Pyphen(lang=code, left=1, right=1) if code else None


def syllable_count(word: str, language: str | None = None) -> int:
    """Sung syllables of one word (at least 1)."""
    w = _NON_LETTER.sub("", word.lower())
    if not w:
        return 1
    d = _dictionary(language)
    pieces = d.inserted(w).split("-") if d is not None else [w]
    n = sum(len(_RUN.findall(p)) for p in pieces)  # a hyphen inside a vowel run splits it (hiatus)
    mute = _MUTE_E.get((language or "")[:2])
    if mute is not None and n > 1 and mute.search(w) and not _SUNG_LE.search(w):
        n -= 1
    return max(1, n)


def syllable_counts(words: list[str], language: str | None = None) -> list[int]:
    """`syllable_count` of each word."""
    return [syllable_count(w, language) for w in words]
