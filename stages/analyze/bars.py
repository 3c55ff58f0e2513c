"""Downbeats on given beats: which beat of the bar each beat is, and how many beats a bar has.

The evidence per beat is the joint beat/downbeat network's opinion that this beat is a bar's
first, p = downbeat / (downbeat + beat) activation at the beat (the network's two beat classes,
so p is a share, not a raw level), sharpened by harmonic change: chords tend to change on a
downbeat, so a beat whose beat-synchronous chroma differs from the previous beat's counts as
evidence (z-scored across the song, weight `HARMONY_WEIGHT` in log-odds).

A hidden Markov model over (bar length, position) decodes the positions: the position advances
by one each beat and wraps at the bar's end, where the bar length may change (rarely, `CHANGE`);
a slip of one beat forwards or back (`SLIP`) lets the count recover after a beat the tracker added
or missed. Observations are Bernoulli: p for a downbeat state, 1 - p otherwise.

The bar length is chosen first (`choose_meter`): each candidate's best path is scored alone, and
a length other than 4 must beat 4's log-probability by `FOUR_BONUS` nats per beat — 4/4 is the
default unless the evidence for another bar length is clear, since weak, noisy downbeat evidence
otherwise favours 3 or 2 by chance. (madmom's
``DBNBarTrackingProcessor`` scores non-downbeats with (1 - p)/99, which charges every extra beat
in a bar and so prefers 3/4 and 2/4 to 4/4; that is one source of 4/4 songs reported as 3/4.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HARMONY_WEIGHT = 0.5
CHANGE = 1e-3
FOUR_BONUS = 0.06
SLIP = 1e-2
EPS = 0.02


def at_beats(x: np.ndarray, times: np.ndarray, fps: float = 100.0, reach_s: float = 0.05) -> np.ndarray:
    """The largest value of a frame-wise curve within ``reach_s`` of each time."""
    w = max(0, int(round(reach_s * fps)))
    idx = np.round(np.asarray(times) * fps).astype(int)
    out = np.zeros(len(idx), np.float32)
    for k, i in enumerate(idx):
        lo, hi = max(0, i - w), min(len(x), i + w + 1)
        if hi > lo:
            out[k] = x[lo:hi].max()
    return out


def harmonic_change(chroma: np.ndarray, times: np.ndarray, fps: float = 100.0) -> np.ndarray:
    """Per beat, how much the pitch-class content of its span differs from the previous beat's (z-score)."""
    n = len(times)
    if n < 3 or len(chroma) == 0:
        return np.zeros(n)
    idx = np.clip(np.round(np.asarray(times) * fps).astype(int), 0, len(chroma) - 1)
    bounds = np.r_[idx, len(chroma)]
    sync = np.stack(
        [
            chroma[a : max(a + 1, b)].astype(np.float64).mean(axis=0)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    )
    sync /= np.linalg.norm(sync, axis=1, keepdims=True) + 1e-9
    change = np.r_[0.0, 1.0 - np.sum(sync[1:] * sync[:-1], axis=1)]
    sd = change.std()
    return (change - change.mean()) / sd if sd > 1e-9 else np.zeros(n)


def downbeat_probability(downbeat: np.ndarray, beat: np.ndarray, chroma: np.ndarray, times: np.ndarray) -> np.ndarray:
    """P(beat starts a bar) from the joint network's two activations and the harmonic change at each beat."""
    d, b = at_beats(downbeat, times), at_beats(beat, times)
    p = np.clip(d / (d + b + 1e-3), EPS, 1 - EPS)
    logit = np.log(p / (1 - p)) + HARMONY_WEIGHT * harmonic_change(chroma, times)
    return 1.0 / (1.0 + np.exp(-logit))


def decode_bars(p: np.ndarray, meters: Sequence[int]) -> tuple[np.ndarray, float]:
    """1-based position in the bar of each beat (Viterbi path of the bar HMM above) and its log-probability."""
    n = len(p)
    meters = sorted({int(m) for m in meters})
    if n == 0:
        return np.zeros(0, int), 0.0
    states = [(m, k) for m in meters for k in range(m)]
    index = {s: i for i, s in enumerate(states)}
    trans = np.full((len(states), len(states)), -np.inf)
    for i, (m, k) in enumerate(states):
        if k < m - 1:
            trans[i, index[(m, k + 1)]] = np.log(1 - 2 * SLIP)
        else:
            for m2 in meters:
                stay = m2 == m
                trans[i, index[(m2, 0)]] = np.log(
                    (1 - 2 * SLIP) * (1 - CHANGE if stay else CHANGE / max(1, len(meters) - 1))
                )
        if m > 1:  # a beat too many or too few: the count slips by one
            for k2 in ((k + 2) % m, k):
                trans[i, index[(m, k2)]] = np.logaddexp(trans[i, index[(m, k2)]], np.log(SLIP))
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    first = np.array([k == 0 for _, k in states])
    obs = np.where(first[None, :], np.log(p)[:, None], np.log(1 - p)[:, None])
    delta = -np.log([m * len(meters) for m, _ in states]) + obs[0]
    back = np.zeros((n, len(states)), dtype=np.int32)
    for t in range(1, n):
        cand = delta[:, None] + trans
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(len(states))] + obs[t]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(delta))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return np.array([states[s][1] + 1 for s in path]), float(delta.max())


def choose_meter(p: np.ndarray, meters: Sequence[int]) -> int:
    """The bar length whose own best path explains ``p`` best, 4 winning unless beaten by `FOUR_BONUS` per beat."""
    meters = sorted({int(m) for m in meters})
    if len(meters) == 1 or len(p) < 8:
        return 4 if 4 in meters else meters[-1]
    score = {m: decode_bars(p, (m,))[1] / len(p) + (FOUR_BONUS if m == 4 else 0.0) for m in meters}
    return max(meters, key=lambda m: score[m])
