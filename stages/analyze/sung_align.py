"""Lyrics aligned to singing without recognised words: syllables matched to voice onsets.

A semi-Markov dynamic programme (Viterbi over segments) lays the lyrics' syllables end to end
over the song's frames. The states, in order: a lead-in gap, then for each line its words'
syllables (each word optionally followed by a short pause), then a gap after the line. A
syllable segment scores

- the voice-band onset strength where it starts (a sung syllable starts where the voice's
  harmonic energy rises),
- the vocal probability over its frames (syllables lie inside detected vocal regions),
- a log-normal prior on its length around the song's syllable pace (even pacing), and
- optionally, closeness of a word's first syllable to an anchor time (a recognised word).

Gap frames score the absence of voice, so line breaks fall on vocal pauses; a pause inside a
line costs an entry penalty. Word times are the starts and ends of their syllable runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mvdirector.schemas import Segment

W_ONSET = 1.0  # per syllable start, onset normalised so a strong vocal onset is 1
W_VOICE = 0.3  # per frame of a syllable, log vocal probability
W_GAP = 0.3  # per frame of a gap, log(1 − vocal probability)
W_PACE = 1.0  # log-normal pace prior weight
PACE_SIGMA = 0.55  # spread of the syllable length around the pace, in log units
PAUSE_COST = 3.0  # entering a pause inside a line
W_ANCHOR = 3.0  # a word starting exactly on its anchor
ANCHOR_SIGMA_S = 0.25
MIN_SYLLABLE_S = 0.08
MAX_SYLLABLE_S = 2.0


@dataclass(frozen=True)
class SungWord:
    """A word to place: its syllable count, whether it ends its line, and an optional anchor time (s)."""

    syllables: int
    line_end: bool
    anchor_s: float | None = None


def voice_from_segments(
    segments: Sequence[Segment], n_frames: int, fps: float, pad_s: float = 0.1, inside: float = 0.85
) -> np.ndarray:
    """Per-frame vocal probability: ``inside`` within the (padded) vocal segments, 1 − ``inside`` elsewhere.

    The thresholded segments locate singing better than the raw score, which also rises on
    moving instrumental lines for a moment.
    """
    v = np.full(n_frames, 1.0 - inside)
    for s in segments:
        v[max(0, int((s.start_s - pad_s) * fps)) : max(0, int((s.end_s + pad_s) * fps) + 1)] = inside
    return v


def normalised_onset(onset: np.ndarray, voice: np.ndarray) -> np.ndarray:
    """Onset strength divided by its 95th percentile inside voiced frames, clipped to [0, 2]."""
    on = np.asarray(onset, float)
    ref = on[voice > 0.5] if np.any(voice > 0.5) else on
    scale = float(np.percentile(ref, 95)) if ref.size else 1.0
    return np.clip(on / max(scale, 1e-9), 0.0, 2.0)


def syllable_pace(voice: np.ndarray, fps: float, n_syllables: int) -> float:
    """Typical syllable length (s): voiced time shared among the syllables, within [0.12, 0.8] s."""
    voiced = float(np.sum(voice > 0.5)) / fps
    return float(np.clip(0.85 * voiced / max(1, n_syllables), 0.12, 0.8))


PACES_S = tuple(float(x) for x in np.geomspace(0.15, 1.0, 9))


def align_syllables(
    words: Sequence[SungWord], voice: np.ndarray, onset: np.ndarray, fps: float, pace_s: float | None = None
) -> list[tuple[float, float]]:
    """(start, end) seconds of each word, from frame 0 to ``len(voice)``; see the module docstring.

    ``voice`` is the per-frame vocal probability and ``onset`` the normalised voice onset
    strength, both at ``fps``. The syllable pace is the most likely of `PACES_S` unless
    given. Raises ValueError when the syllables cannot fit the frames.
    """
    n_syl = sum(w.syllables for w in words)
    if (2 * n_syl + 1) * (len(voice) + 1) > MAX_CELLS and len(words) > 1:
        return _align_in_pieces(words, voice, onset, fps, pace_s)
    if pace_s is not None:
        return _align(words, voice, onset, fps, pace_s)[1]
    best = max((_align(words, voice, onset, fps, p) for p in PACES_S), key=lambda r: r[0])
    return best[1]


MAX_CELLS = 30_000_000
"""Largest programme (states × frames) solved whole; a longer song is cut into pieces (linear time)."""


def _align_in_pieces(
    words: Sequence[SungWord], voice: np.ndarray, onset: np.ndarray, fps: float, pace_s: float | None
) -> list[tuple[float, float]]:
    """Align a long song piece by piece: the words cut at line ends, the frames where the sung share matches."""
    n_syl = sum(w.syllables for w in words)
    pieces = int(np.ceil((2 * n_syl + 1) * (len(voice) + 1) / MAX_CELLS)) + 1
    mass = np.r_[0.0, np.cumsum(np.clip(voice, 0.05, 1.0))]
    done = np.cumsum([w.syllables for w in words])
    cuts_w, cuts_f = [0], [0]
    for k in range(1, pieces):
        target = n_syl * k / pieces
        i = int(np.searchsorted(done, target))  # a word near the target, moved to its line's end
        while i < len(words) - 1 and not words[i].line_end:
            i += 1
        if i + 1 <= cuts_w[-1] or i + 1 >= len(words):
            continue
        frame = int(np.searchsorted(mass, mass[-1] * done[i] / n_syl))
        if frame <= cuts_f[-1] or frame >= len(voice):
            continue
        cuts_w.append(i + 1)
        cuts_f.append(frame)
    cuts_w.append(len(words))
    cuts_f.append(len(voice))
    out: list[tuple[float, float]] = []
    for k in range(len(cuts_w) - 1):
        (w0, w1), (f0, f1) = cuts_w[k : k + 2], cuts_f[k : k + 2]
        part = list(words[w0:w1])
        small = (2 * sum(w.syllables for w in part) + 1) * (f1 - f0 + 1) <= MAX_CELLS
        try:
            sub = align_syllables(part, voice[f0:f1], onset[f0:f1], fps, pace_s) if small else None
        except ValueError:
            sub = None
        sub = sub or _spread(part, (f1 - f0) / fps)
        out += [(round(a + f0 / fps, 3), round(b + f0 / fps, 3)) for a, b in sub]
    return out


def _spread(words: Sequence[SungWord], span_s: float) -> list[tuple[float, float]]:
    """Words spread over ``span_s`` in proportion to their syllables (a piece too dense to align)."""
    edges = span_s * np.r_[0.0, np.cumsum([w.syllables for w in words])] / max(1, sum(w.syllables for w in words))
    return [(float(a), float(b)) for a, b in zip(edges, edges[1:], strict=False)]


def _align(
    words: Sequence[SungWord], voice: np.ndarray, onset: np.ndarray, fps: float, pace_s: float | None = None
) -> tuple[float, list[tuple[float, float]]]:
    T = len(voice)
    n_syl = sum(w.syllables for w in words)
    if not words:
        return 0.0, []
    dmin = max(1, int(round(MIN_SYLLABLE_S * fps)))
    if n_syl * dmin > T:
        raise ValueError(f"{n_syl} syllables do not fit {T / fps:.1f} s")
    pace = (pace_s or syllable_pace(voice, fps, n_syl)) * fps  # frames per syllable
    vc = np.clip(voice, 0.05, 0.95)
    cv = np.r_[0.0, np.cumsum(W_VOICE * np.log(vc))]  # cv[b] - cv[a]: voice score of frames a..b-1
    cg = np.r_[0.0, np.cumsum(W_GAP * np.log(1 - vc))]
    near = np.maximum.reduce([np.r_[voice[k:], np.zeros(k)] for k in range(4)])  # voiced within 3 frames
    on = np.r_[W_ONSET * onset * near, 0.0]
    times = np.arange(T + 1) / fps
    idx = np.arange(T + 1)

    # states: a lead-in gap, then per word: its syllables and a gap (a line break, or a pause in the line)
    units = [(i, 1, k == 0) for i, w in enumerate(words) for k in range(w.syllables)]
    states: list[tuple[str, int, int, bool, float]] = [("gap", -1, 0, False, 0.0)]
    for k, (i, n, first) in enumerate(units):
        states.append(("unit", i, n, first, 0.0))
        if k + 1 == len(units) or units[k + 1][0] != i:
            w = words[i]
            states.append(("gap", i, 0, False, 0.0 if w.line_end or i == len(words) - 1 else PAUSE_COST))

    F = np.full(T + 1, -np.inf)
    F[0] = 0.0
    back: list[np.ndarray] = []
    for kind, wi, n, first, penalty in states:
        if kind == "gap":
            x = F - cg
            best = np.maximum.accumulate(x)
            arg = np.maximum.accumulate(np.where(x >= np.r_[-np.inf, best[:-1]], idx, 0))
            entered = np.r_[-np.inf, best[:-1] + cg[1:]] - penalty  # max over a < t of F[a] + gap(a, t)
            use = entered > F
            F = np.where(use, entered, F)
            back.append(np.where(use, np.r_[0, arg[:-1]], idx).astype(np.int32))
            continue
        bonus = on.copy()
        anchor = words[wi].anchor_s if first else None
        if anchor is not None:
            bonus += W_ANCHOR * np.exp(-0.5 * ((times - anchor) / ANCHOR_SIGMA_S) ** 2)
        expected = n * pace
        dmax = min(T, max(dmin + 1, int(round(max(MAX_SYLLABLE_S * fps * n ** 0.5, 3 * expected)))))
        newF = np.full(T + 1, -np.inf)
        arg = np.zeros(T + 1, np.int32)
        for dd in range(n * dmin, dmax + 1):
            pen = W_PACE * np.log(dd / expected) ** 2 / (2 * PACE_SIGMA**2)
            cand = F[: T + 1 - dd] + bonus[: T + 1 - dd] + (cv[dd:] - cv[: T + 1 - dd]) - pen
            better = cand > newF[dd:]
            newF[dd:] = np.where(better, cand, newF[dd:])
            arg[dd:] = np.where(better, idx[: T + 1 - dd], arg[dd:])
        back.append(arg)
        F = newF
    if not np.isfinite(F[T]):
        raise ValueError("no alignment of the syllables to the frames")
    starts = np.zeros(len(states), int)
    t = T
    for s in range(len(states) - 1, -1, -1):
        starts[s] = back[s][t]
        t = starts[s]
    out: list[tuple[float, float]] = []
    first_of = {}
    for s, (kind, wi, _, first, _) in enumerate(states):
        if kind == "unit" and first:
            first_of[wi] = s
        elif kind == "gap" and wi >= 0:
            out.append((round(starts[first_of[wi]] / fps, 3), round(starts[s] / fps, 3)))
    return float(F[T]), out
