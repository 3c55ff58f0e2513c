"""Beat-synchronous features for song structure: harmony, timbre, rhythm and voice per bar.

One STFT pass (4096-point, hop 512 at 22.05 kHz, chunked so memory stays bounded) gives
per frame: a 36-bin pitch-class profile, MFCCs 1–13 of a log-mel spectrum, loudness and a
log-mel spectral-flux onset curve. Frames are pooled per beat (each bar cut at its beats,
or into equal slots where beats are missing), and beats are stacked per bar:

- ``chroma``: one unit-norm 12-bin chroma per beat, tuned to the recording (the third of a
  semitone that collects most energy), so a bar keeps its chord sequence;
- ``timbre``: the bar's mean MFCCs and loudness (instrumentation, density, level);
- ``rhythm``: a beat-relative tempogram per band (below 200 Hz, 200 Hz–5 kHz, above 5 kHz:
  kick, snare and voice, cymbals) — each band's onset autocorrelation at lags of ¼ … 4 beats
  over a two-bar window — which tells a half-time groove or a shuffle from a straight one
  whatever the tempo, and is barely touched by the singer;
- ``vocal``: the share of the bar covered by detected vocal activity.

Songs of more than ``MAX_UNITS`` bars are pooled into units of several bars, so the
quadratic steps after this one stay small even on hour-long files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mvdirector.schemas import Segment

HOP = 512
N_FFT = 4096
N_MELS = 64
N_MFCC = 13
MAX_UNITS = 400
RHYTHM_LAGS = (0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)  # in beats
CHROMA_FMIN, CHROMA_FMAX = 55.0, 5000.0
ONSET_BANDS_HZ = (200.0, 5000.0)  # kick and bass | voice, snare, chords | hats and cymbals


@dataclass(frozen=True)
class UnitFeatures:
    """Features of the song's units (bars, or groups of bars on very long songs).

    ``grid`` holds the unit start times plus the song's end; ``chroma`` is (units, slots, 12)
    with unit-norm rows, ``timbre`` (units, 14), ``rhythm`` (units, 3·len(RHYTHM_LAGS)) and
    ``vocal`` (units,) in 0..1.
    """

    grid: np.ndarray
    chroma: np.ndarray
    timbre: np.ndarray
    rhythm: np.ndarray
    vocal: np.ndarray

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.grid) - 1


def bar_grid(downbeats: Sequence[float], duration_s: float, fallback_s: float = 2.0) -> np.ndarray:
    """Bar start times covering the song: 0, the downbeats, and the end (a lead-in counts as a bar)."""
    d = np.asarray([t for t in downbeats if 0.0 < t < duration_s - 0.25], dtype=float)
    if d.size < 4:
        d = np.arange(fallback_s, duration_s - 0.25, fallback_s)
    grid = np.r_[0.0, d, duration_s]
    if grid.size > 3 and grid[1] - grid[0] < 0.35 * float(np.median(np.diff(grid[1:-1]))):
        grid = np.delete(grid, 1)  # a lead-in shorter than a third of a bar joins the first bar
    return grid


def _pitch_class_bank(sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse map from STFT bins (55 Hz–5 kHz) to 36 third-of-semitone pitch classes (linear split
    between the two nearest classes); returns (bin index, class index, weight) triplets."""
    freqs = np.arange(N_FFT // 2 + 1) * sr / N_FFT
    bins = np.flatnonzero((freqs >= CHROMA_FMIN) & (freqs <= CHROMA_FMAX))
    pos = (36.0 * np.log2(freqs[bins] / 440.0) + 9 * 3) % 36  # 0 = C
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    return (
        np.r_[bins, bins],
        np.r_[lo % 36, (lo + 1) % 36],
        np.r_[1.0 - frac, frac].astype(np.float32),
    )


def frame_features(y: np.ndarray, sr: int) -> np.ndarray:
    """Per-frame rows: 36 pitch classes, MFCC 1–13, loudness (dB), onset strength in three bands (hop ``HOP``)."""
    import scipy.sparse

    from . import spectral

    bi, ci, w = _pitch_class_bank(sr)
    pcp_bank = scipy.sparse.csr_matrix((w, (ci, bi)), shape=(36, N_FFT // 2 + 1))
    mel = spectral.mel_filterbank(sr, N_FFT, N_MELS)
    centre = np.argmax(mel, axis=1) * sr / N_FFT
    bands = [centre < ONSET_BANDS_HZ[0], (centre >= ONSET_BANDS_HZ[0]) & (centre < ONSET_BANDS_HZ[1])]
    bands.append(centre >= ONSET_BANDS_HZ[1])
    mel_bank = scipy.sparse.csr_matrix(mel)

    def features(power: np.ndarray) -> np.ndarray:
        pcp = pcp_bank @ np.sqrt(power)
        mel_power = mel_bank @ power
        logmel = spectral.power_to_db(mel_power, top_db=None)
        mfcc = spectral.mfcc(logmel, N_MFCC + 1)[1:]
        loud = 10.0 * np.log10(mel_power.sum(axis=0) + 1e-10)
        flux = np.maximum(0.0, np.diff(logmel, axis=1, prepend=logmel[:, :1]))
        return np.vstack([pcp, mfcc, loud[None], *(flux[band].mean(axis=0)[None] for band in bands)])

    (out,) = spectral.framewise(y, [features], n_fft=N_FFT, hop=HOP)
    return out


def _tune(pcp36: np.ndarray) -> np.ndarray:
    """Fold 36 pitch classes to 12 around the third of a semitone that holds most energy."""
    offset = int(np.argmax(pcp36.reshape(12, 3, -1).sum(axis=(0, 2))))
    rolled = np.roll(pcp36, 1 - offset, axis=0)  # the winning sub-bin becomes the middle of each triple
    return rolled.reshape(12, 3, -1).sum(axis=1)


def _slots(grid: np.ndarray, beats: np.ndarray, meter: int) -> np.ndarray:
    """Slot boundaries (s), ``meter`` per bar: the bar's beats when it has exactly that many."""
    out = np.empty((len(grid) - 1, meter + 1))
    for i, (a, b) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
        inner = beats[(beats >= a - 0.05) & (beats < b - 0.05)]
        if len(inner) == meter and abs(inner[0] - a) < 0.1:
            out[i] = np.r_[a, inner[1:], b]
        else:
            out[i] = np.linspace(a, b, meter + 1)
    return out


def _pool(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Means of frame columns of ``x`` between frame ``edges`` (any shape, last axis = boundaries)."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1, dtype=np.float64)], axis=1)
    a = np.clip(edges[..., :-1], 0, x.shape[1] - 1)
    b = np.clip(np.maximum(edges[..., 1:], a + 1), 1, x.shape[1])
    return (c[:, b] - c[:, a]) / (b - a)  # (rows, *edges.shape[:-1], slots)


def _rhythm(onset: np.ndarray, grid: np.ndarray, beat_s: np.ndarray, fps: float) -> np.ndarray:
    """Beat-relative tempogram per bar: normalised onset autocorrelation at ``RHYTHM_LAGS`` beats."""
    out = np.zeros((len(grid) - 1, len(RHYTHM_LAGS)))
    for i, (a, b) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
        half = 0.5 * (b - a)
        f0, f1 = int(max(0.0, a - half) * fps), int(min(len(onset) / fps, b + half) * fps)
        seg = onset[f0:f1] - onset[f0:f1].mean() if f1 - f0 > 8 else None
        if seg is None:
            continue
        energy = float(seg @ seg) + 1e-9
        for k, lag in enumerate(RHYTHM_LAGS):
            d = int(round(lag * beat_s[i] * fps))
            if 0 < d < len(seg) - 4:
                out[i, k] = float(seg[:-d] @ seg[d:]) / energy
    return out


def _covered(vocals: Sequence[Segment], a: float, b: float) -> float:
    total = sum(max(0.0, min(b, v.end_s) - max(a, v.start_s)) for v in vocals)
    return total / max(1e-6, b - a)


def unit_features(
    frames: np.ndarray,
    sr: int,
    grid: np.ndarray,
    beats: Sequence[float],
    meter: int,
    vocals: Sequence[Segment] = (),
) -> UnitFeatures:
    """Pool ``frame_features`` output onto the bar ``grid`` (beat slots inside each bar)."""
    fps = sr / HOP
    meter = max(2, min(8, int(meter)))
    k = max(1, int(np.ceil((len(grid) - 1) / MAX_UNITS)))
    grid = np.r_[grid[:-1:k], grid[-1]] if k > 1 else grid
    beats_arr = np.asarray(beats, dtype=float)
    slots = _slots(grid, beats_arr, meter) if k == 1 else np.linspace(grid[:-1], grid[1:], meter + 1, axis=1)
    fr = np.round(slots * fps).astype(int)
    chroma = _pool(_tune(frames[:36]), fr).transpose(1, 2, 0)  # (units, slots, 12)
    chroma = chroma / (np.linalg.norm(chroma, axis=2, keepdims=True) + 1e-9)
    beat_timbre = _pool(frames[36 : 36 + N_MFCC + 1], fr)  # (14, units, slots)
    beat_timbre[-1] /= 3.0  # loudness in dB, scaled near the MFCCs' spread
    timbre = beat_timbre.transpose(1, 2, 0).reshape(len(fr), -1)
    beat_s = (grid[1:] - grid[:-1]) / (meter * k)
    rhythm = np.hstack([_rhythm(band, grid, beat_s, fps) for band in frames[-3:]])
    vocal = np.array([_covered(vocals, a, b) for a, b in zip(grid[:-1], grid[1:], strict=True)])
    return UnitFeatures(grid=grid, chroma=chroma, timbre=timbre, rhythm=rhythm, vocal=vocal)
