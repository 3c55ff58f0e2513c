"""The librosa beat tracker (``--beats librosa``, ISC licence, no network weights).

Dynamic-programming beat tracking (Ellis 2007) under a smoothed local tempo, then downbeats
from the bar phase where bass onsets and harmonic change line up. This path imports librosa;
the default madmom path does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .rhythm import Rhythm, rhythm_from


def track_librosa(
    y: np.ndarray,
    sr: int,
    meters: Sequence[int] = (2, 3, 4),
    min_bpm: float = 55.0,
    max_bpm: float = 215.0,
    hop: int = 512,
) -> Rhythm:
    """Track beats with librosa's dynamic programme under a smoothed local tempo, then find downbeats."""
    import librosa
    import scipy.ndimage

    oenv = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    fps = sr / hop
    # a global tempo prior keeps the local estimate from octave-jumping
    global_bpm = float(librosa.feature.tempo(onset_envelope=oenv, sr=sr, hop_length=hop, start_bpm=110.0)[0])
    local = librosa.feature.tempo(
        onset_envelope=oenv, sr=sr, hop_length=hop, aggregate=None, start_bpm=global_bpm, std_bpm=0.5
    )
    local = scipy.ndimage.median_filter(local, size=max(3, int(8 * fps)) | 1, mode="nearest")
    local = np.clip(local, min_bpm, max_bpm)
    _, frames = librosa.beat.beat_track(
        onset_envelope=oenv, sr=sr, hop_length=hop, bpm=local, tightness=200, trim=False, units="frames"
    )
    frames = np.asarray(frames, dtype=int)
    # spectral flux peaks one to two frames after a note's onset: move the beats back 1.5 hops
    times = np.maximum(0.0, librosa.frames_to_time(frames, sr=sr, hop_length=hop) - 1.5 * hop / sr)
    if times.size < 2:
        return rhythm_from(times, np.ones(times.size, dtype=int))
    positions = _downbeat_positions(y, sr, hop, frames, meters)
    return rhythm_from(times, positions)


def _zscore(x: np.ndarray) -> np.ndarray:
    s = x.std()
    return (x - x.mean()) / s if s > 1e-9 else np.zeros_like(x)


def _downbeat_positions(y: np.ndarray, sr: int, hop: int, frames: np.ndarray, meters: Sequence[int]) -> np.ndarray:
    """Positions in the bar: the meter and phase where bass onsets and chord changes peak.

    The meter is chosen over the whole song; the phase is chosen again for every 8 bars (with
    4 bars of context each side), so a bar of 2 or an edit that shifts the downbeat is followed.
    """
    import librosa

    from .frames import chunked

    freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)

    def frame_features(x: np.ndarray) -> np.ndarray:
        S = np.abs(librosa.stft(x, n_fft=2048, hop_length=hop))
        low = np.log1p(S[freqs < 200])
        low_on = np.maximum(0.0, np.diff(low, axis=1, prepend=low[:, :1])).sum(axis=0)
        chroma = librosa.feature.chroma_stft(S=S**2, sr=sr, tuning=0.0)
        return np.vstack([low_on[None, :], chroma])

    F = chunked(y, hop, frame_features)
    low_on, chroma = F[0], F[1:]
    bounds = np.r_[frames, F.shape[1]]
    sync = np.stack([chroma[:, a : max(a + 1, b)].mean(axis=1) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    sync /= np.linalg.norm(sync, axis=1, keepdims=True) + 1e-9
    change = np.r_[1.0, 1.0 - np.sum(sync[1:] * sync[:-1], axis=1)]
    win = [low_on[max(0, f - 2) : f + 3].max() for f in frames]
    feat = _zscore(np.asarray(win)) + _zscore(change)
    n = len(feat)

    def contrast(lo: int, hi: int, m: int, p: int) -> float:
        idx = np.arange(lo, hi)
        on = (idx - p) % m == 0
        if on.sum() == 0 or on.all():
            return -np.inf
        # longer bars see fewer, larger-contrast samples by chance; compare per-bar contrast fairly
        return float((feat[idx][on].mean() - feat[idx][~on].mean()) * np.sqrt(on.mean() * m))

    best = (-np.inf, 4, 0)
    for m in meters:
        if n < 2 * m:
            continue
        for p in range(m):
            score = contrast(0, n, m, p)
            if score > best[0]:
                best = (score, m, p)
    _, m, p_global = best
    positions = ((np.arange(n) - p_global) % m) + 1
    span = 8 * m
    if n < 3 * span:
        return positions
    for w in range(0, n, span):
        lo, hi = max(0, w - 4 * m), min(n, w + span + 4 * m)
        p = max(range(m), key=lambda q: contrast(lo, hi, m, q))
        idx = np.arange(w, min(n, w + span))
        positions[idx] = ((idx - p) % m) + 1
    return positions
