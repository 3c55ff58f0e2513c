"""Vocal activity: where a voice is singing or speaking.

Classical estimate: harmonic/percussive separation (median filtering, Fitzgerald 2010) keeps
the pitched part; in the voice band (150 Hz – 4 kHz) a voice's spectral envelope moves from
phoneme to phoneme several times a second, while sustained instruments hold theirs. The
frame-to-frame change of the harmonic part's MFCCs 1–12, averaged over 0.3 s, is the vocal
score; runs above a threshold (tuned on the ground-truth fixtures, ROC AUC ≈ 0.9–0.96) are
the segments. When Whisper ran, its words and no-speech probabilities cross-check the
estimate: segments with a recognised word are kept, segments inside phrases Whisper
rejects as no-speech are dropped, and word spans are added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mvdirector.schemas import Segment

from .lyrics import AsrResult, trusted_segments

HOP = 512
N_FFT = 2048
VOCAL_THRESHOLD = 4.0


def vocal_score(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-frame vocal score (mean |ΔMFCC| of the harmonic voice band over 0.3 s), voice-band onset
    strength (positive log-flux of that harmonic part) and their frame rate.

    The harmonic/percussive split runs on a 96-band mel spectrogram (150 Hz – 4 kHz) rather
    than the linear STFT: the same separation for a tenth of the median-filter work.
    """
    import scipy.ndimage

    from . import spectral

    bank = spectral.mel_filterbank(sr, N_FFT, 96, 150.0, 4000.0)

    def frame_features(S: np.ndarray) -> np.ndarray:
        mel = bank @ S
        harm = scipy.ndimage.median_filter(mel, size=(1, 17))
        perc = scipy.ndimage.median_filter(mel, size=(9, 1))
        H = mel * harm**2 / (harm**2 + 4.0 * perc**2 + 1e-20)  # soft mask, margin 2
        mfcc = spectral.mfcc(spectral.power_to_db(H), 13)[1:]
        flux = np.abs(np.diff(mfcc, axis=1, prepend=mfcc[:, :1])).mean(axis=0)
        loud = 10 * np.log10(mel.sum(axis=0) + 1e-10)
        h_energy = np.log(H + 1e-9)  # absolute, so chunks of a long song agree
        onset = np.maximum(0.0, np.diff(h_energy, axis=1, prepend=h_energy[:, :1])).mean(axis=0)
        return np.vstack([flux, loud, onset]).astype(np.float32)

    (features,) = spectral.framewise(y, [frame_features], N_FFT, HOP)
    score, loud, onset = features
    fps = sr / HOP
    quiet = loud < loud.max() - 45
    score[quiet] = 0.0  # near-silence has noisy envelopes, not voices
    onset[quiet] = 0.0
    return scipy.ndimage.uniform_filter1d(score, size=max(1, int(0.3 * fps))), onset, fps


def segments_from_score(
    score: np.ndarray, fps: float, threshold: float = VOCAL_THRESHOLD, min_len_s: float = 0.3, merge_gap_s: float = 0.6
) -> list[Segment]:
    """Runs where the score exceeds ``threshold``, gaps shorter than ``merge_gap_s`` bridged."""
    on = score > threshold
    spans = _runs(on, fps)
    return _as_segments(_merge(spans, merge_gap_s), min_len_s)


def _runs(mask: np.ndarray, fps: float) -> list[tuple[float, float]]:
    d = np.diff(np.r_[0, mask.astype(int), 0])
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [(a / fps, b / fps) for a, b in zip(starts, ends, strict=True)]


def _merge(spans: list[tuple[float, float]], gap_s: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a - out[-1][1] <= gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _as_segments(spans: list[tuple[float, float]], min_len_s: float) -> list[Segment]:
    return [Segment(start_s=round(a, 3), end_s=round(b, 3)) for a, b in spans if b - a >= min_len_s]


def asr_clips(classical: list[Segment], pad_s: float = 0.5, merge_gap_s: float = 1.5) -> list[tuple[float, float]]:
    """Regions to send to Whisper: the classical vocal segments, padded and merged (empty = whole song).

    Asking Whisper only where a voice is likely keeps it from hallucinating over instrumentals
    and from stretching word times across long instrumental gaps (on the fixtures: word-onset
    MAE 0.40 → 0.19 s).
    """
    return _merge([(max(0.0, s.start_s - pad_s), s.end_s + pad_s) for s in classical], merge_gap_s)


def cross_check(classical: list[Segment], asr: AsrResult | None, duration_s: float) -> list[Segment]:
    """Combine the classical segments with Whisper: drop those inside phrases Whisper rejects as
    no-speech, add the spans of recognised words."""
    if asr is None:
        return classical
    trusted = trusted_segments(asr)
    words = [(w.start_s, w.end_s) for s in trusted for w in s.words]
    rejected = [(s.start_s, s.end_s) for s in asr.segments if s not in trusted and s.no_speech_prob > 0.5]
    keep = [
        (seg.start_s, seg.end_s)
        for seg in classical
        if any(a < seg.end_s and b > seg.start_s for a, b in words)
        or not any(a <= seg.start_s and seg.end_s <= b for a, b in rejected)
    ]
    spans = _merge(keep + [(a, min(b, duration_s)) for a, b in words], 0.6)
    return _as_segments([(max(0.0, a), min(duration_s, b)) for a, b in spans], 0.1)


def refine_word_starts(
    starts: Sequence[float],
    onset: np.ndarray,
    fps: float,
    ends: Sequence[float] | None = None,
    reach_s: float = 0.35,
    min_gap_s: float = 0.08,
) -> list[float]:
    """Move each recognised word start to the strongest voice-band onset near it.

    Whisper's word times (cross-attention alignment) are often a few hundred milliseconds off,
    and the first word after a pause tends to start far too early, stretching back over the
    gap. A word starts where the voice's energy rises: candidates lie within ``reach_s`` of
    Whisper's start, and for a stretched word (longer than 0.6 s) anywhere up to 0.15 s before
    its end; they are weighted by a Gaussian on the distance from Whisper's start, wider for
    stretched words. Words stay in order, ``min_gap_s`` apart.
    """
    out: list[float] = []
    n = len(onset)
    floor = float(np.median(onset)) if n else 0.0
    for k, s in enumerate(starts):
        e = ends[k] if ends is not None else s
        stretched = e - s > 0.6
        sigma = max(0.6 * reach_s, 0.5 * (e - s)) if stretched else 0.6 * reach_s
        right = max(s + reach_s, e - 0.15) if stretched else s + reach_s
        lo = max(int((s - reach_s) * fps), int(((out[-1] + min_gap_s) if out else 0.0) * fps))
        hi = min(n - 1, int(right * fps))
        best, best_v = s, 0.0
        for i in range(max(lo, 1), hi):
            if onset[i] <= floor or onset[i] < onset[i - 1] or onset[i] < onset[min(n - 1, i + 1)]:
                continue
            v = onset[i] * np.exp(-0.5 * ((i / fps - s) / sigma) ** 2)
            if v > best_v:
                best, best_v = i / fps, v
        if out and best < out[-1] + min_gap_s:
            best = max(s, out[-1] + min_gap_s)
        out.append(round(float(best), 3))
    return out


def onset_placer(
    onset: np.ndarray, fps: float, segments: Sequence[Segment], min_gap_s: float = 0.15
) -> Callable[[float, float, int], list[float] | None]:
    """A ``place(start, end, n)`` for `align.fill_times`: the n strongest voice onsets in the gap.

    Only onsets inside vocal segments count, at least ``min_gap_s`` apart; None when the gap
    holds fewer than n of them (the caller then spreads the words evenly).
    """
    floor = float(np.median(onset)) if len(onset) else 0.0
    spans = [(s.start_s, s.end_s) for s in segments]

    def place(start: float, end: float, n: int) -> list[float] | None:
        lo, hi = max(1, int(start * fps)), min(len(onset) - 1, int(end * fps))
        peaks = [
            i
            for i in range(lo, hi)
            if onset[i] > floor
            and onset[i] >= onset[i - 1]
            and onset[i] >= onset[i + 1]
            and any(a - 0.1 <= i / fps <= b for a, b in spans)
        ]
        chosen: list[int] = []
        for i in sorted(peaks, key=lambda i: -onset[i]):
            if all(abs(i - c) >= min_gap_s * fps for c in chosen):
                chosen.append(i)
            if len(chosen) == n:
                break
        if len(chosen) < n:
            return None
        return [round(i / fps, 3) for i in sorted(chosen)]

    return place
