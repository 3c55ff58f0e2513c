"""Sequence alignment of lyric words to recognised words, tolerant of misrecognitions.

Needleman–Wunsch over normalised words: a substitution scores by character similarity, so
"tonite" still pairs with "tonight" and a misheard word keeps its place in the sequence.
Given words that find no partner get times interpolated between their aligned neighbours.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Sequence

import numpy as np

GAP = -0.6
_WORD = re.compile(r"[^\w']+")


def normalize(word: str) -> str:
    """Lower-case a word and strip punctuation (apostrophes kept)."""
    return _WORD.sub("", word.lower()).strip("'")


@functools.lru_cache(maxsize=1 << 16)
def _similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def word_similarity(a: str, b: str) -> float:
    """1 for equal normalised words, down to 0 for unrelated ones (character ratio)."""
    return _similarity(normalize(a), normalize(b))


FULL_CELLS = 250_000
"""Up to this many word pairs the whole table is scored; beyond, a band around the diagonal (linear time)."""
BAND = 300
"""Half-width, in recognised words, of that band."""


def _bands(n: int, m: int) -> list[tuple[int, int]]:
    """The (first, last) hypothesis column scored in each row 0..n."""
    if n * m <= FULL_CELLS:
        return [(0, m)] * (n + 1)
    half = max(BAND, 2 * (m // max(n, 1)) + 2)
    out = []
    for i in range(n + 1):
        c = i * m // n
        out.append((max(0, c - half), min(m, c + half)))
    return out


def align_words(ref: Sequence[str], hyp: Sequence[str], min_sim: float = 0.5) -> list[tuple[int, int | None]]:
    """For each reference word index, the index of its aligned hypothesis word (or None).

    A pair is kept only when its words are at least ``min_sim`` similar; substitution scores
    2·sim − 1 so a poor match costs more than two gaps. Long sequences are aligned within a
    band around the diagonal (`FULL_CELLS`, `BAND`), so time grows linearly with the words.
    """
    n, m = len(ref), len(hyp)
    if n == 0:
        return []
    if m == 0:
        return [(i, None) for i in range(n)]
    a_words, b_words = [normalize(w) for w in ref], [normalize(w) for w in hyp]
    bands = _bands(n, m)
    neg = -np.inf
    lo0, hi0 = bands[0]
    prev = [GAP * j for j in range(lo0, hi0 + 1)]
    moves: list[list[int]] = [[2] * (hi0 - lo0 + 1)]
    for i in range(1, n + 1):
        lo, hi = bands[i]
        plo, phi = bands[i - 1]
        row: list[float] = []
        mv: list[int] = []
        a = a_words[i - 1]
        for j in range(lo, hi + 1):
            if j == 0:
                row.append(GAP * i)
                mv.append(1)
                continue
            diag = prev[j - 1 - plo] + 2 * _similarity(a, b_words[j - 1]) - 1 if plo <= j - 1 <= phi else neg
            up = prev[j - plo] + GAP if plo <= j <= phi else neg
            left = row[-1] + GAP if j > lo else neg
            k = 0 if diag >= up and diag >= left else (1 if up >= left else 2)
            row.append((diag, up, left)[k])
            mv.append(k)
        prev = row
        moves.append(mv)
    pairs: dict[int, int | None] = {}
    i, j = n, m
    while i > 0 or j > 0:
        lo = bands[i][0]
        k = moves[i][j - lo] if i > 0 else 2
        if k == 0 and i > 0 and j > 0:
            pairs[i - 1] = j - 1 if _similarity(a_words[i - 1], b_words[j - 1]) >= min_sim else None
            i, j = i - 1, j - 1
        elif k == 1 and i > 0:
            pairs[i - 1] = None
            i -= 1
        else:
            j -= 1
    return [(i, pairs.get(i)) for i in range(n)]


def fill_times(
    n_words: int,
    known: dict[int, tuple[float, float]],
    lo_s: float,
    hi_s: float,
    weights: Sequence[float] | None = None,
    place: Callable[[float, float, int], list[float] | None] | None = None,
) -> list[tuple[float, float]]:
    """Times for ``n_words`` words: known ones kept, the others placed between their neighbours.

    An unknown run fills the gap between the previous known end (or ``lo_s``) and the next
    known start (or ``hi_s``): at the ``place(start, end, n)`` onsets when that gives n times
    (e.g. where a voice starts inside the gap), else spread in proportion to ``weights``
    (e.g. character counts).
    """
    w = np.ones(n_words) if weights is None else np.maximum(np.asarray(weights, dtype=float), 1.0)
    out: list[tuple[float, float] | None] = [known.get(i) for i in range(n_words)]
    i = 0
    while i < n_words:
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < n_words and out[j] is None:
            j += 1
        start = out[i - 1][1] if i > 0 and out[i - 1] is not None else lo_s
        end = out[j][0] if j < n_words and out[j] is not None else hi_s
        if end <= start:
            end = start + 0.2 * (j - i)
        onsets = place(start, end, j - i) if place is not None else None
        if onsets is not None and len(onsets) == j - i:
            bounds = [*onsets, end]
            for k in range(i, j):
                a = float(bounds[k - i])
                out[k] = (a, float(min(bounds[k - i + 1], a + 1.0)))
        else:
            edges = start + (end - start) * np.r_[0.0, np.cumsum(w[i:j])] / w[i:j].sum()
            for k in range(i, j):
                out[k] = (float(edges[k - i]), float(edges[k - i + 1]))
        i = j
    return [(round(a, 4), round(b, 4)) for a, b in out]  # type: ignore[misc]
