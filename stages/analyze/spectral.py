"""Spectral features at 22.05 kHz in numpy/scipy only, so analysing a song never imports librosa.

``import librosa`` costs 2.5-3 CPU-seconds (numba loads its compiled cache), half of the whole
analysis budget for a short song. These few functions are what the analysis needs; each one
matches librosa's function of the same name (same framing, filter shapes and scaling — checked in
tests/stages/test_analyze_spectral.py), so thresholds tuned on librosa features still hold.

- `stft_power`: |STFT|² with centred, zero-padded frames and a periodic Hann window.
- `mel_filterbank` (Slaney mel scale, area-normalised), `chroma_filterbank` (Ellis' Gaussian
  pitch-class bumps, octave-weighted around C5), `chroma` (peak-normalised per frame).
- `power_to_db`, `mfcc` (DCT-II, orthonormal, over mel bands), `onset_strength` (mean positive
  log-mel flux, delayed like librosa's centred version).
- `framewise`: one STFT per chunk of a long signal handed to several feature functions at once,
  so a song is transformed once however many features read it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from .frames import chunked

_BLOCK = 2048  # frames per FFT call


def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (the DFT-even window librosa and scipy use for spectra)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def stft_power(y: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """|STFT|² (1 + n_fft/2 bins × 1 + len(y)//hop frames, float32); frame i is centred on sample i·hop."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import fft

    y = np.asarray(y, np.float32)
    n_frames = 1 + len(y) // hop
    half = n_fft // 2
    padded = np.concatenate([np.zeros(half, np.float32), y, np.zeros(half + n_fft, np.float32)])
    frames = sliding_window_view(padded, n_fft)[::hop][:n_frames]
    window = _hann(n_fft)
    out = np.empty((half + 1, n_frames), np.float32)
    for a in range(0, n_frames, _BLOCK):
        spec = fft.rfft(frames[a : a + _BLOCK] * window, axis=1, workers=1)
        out[:, a : a + _BLOCK] = (spec.real**2 + spec.imag**2).T
    return out


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear to 1 kHz (15 mel), logarithmic above (27 mel per factor 6.4)."""
    f = np.asarray(f, dtype=float)
    step = np.log(6.4) / 27.0
    return np.where(f < 1000.0, 3.0 * f / 200.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / step)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=float)
    step = np.log(6.4) / 27.0
    return np.where(m < 15.0, 200.0 * m / 3.0, 1000.0 * np.exp(step * (m - 15.0)))


@functools.lru_cache(maxsize=16)
def mel_filterbank(sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters (n_mels × bins), each with unit area in Hz (librosa ``filters.mel`` defaults)."""
    fmax = sr / 2.0 if fmax is None else fmax
    bins = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lo) / (mid - lo)
    falling = (hi - bins[None, :]) / (hi - mid)
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (hi - lo))
    return weights.astype(np.float32)


@functools.lru_cache(maxsize=16)
def chroma_filterbank(sr: int, n_fft: int, tuning: float = 0.0, n_chroma: int = 12) -> np.ndarray:
    """Pitch-class filters (n_chroma × bins): a Gaussian bump per pitch class on every bin (Ellis' chroma).

    Each bin's pitch (in chroma steps) is compared with every class, the bump's width is the bin's
    own spacing (at least one step), each bin's column is unit-norm, the whole is weighted by a
    2-octave-wide Gaussian around octave 5, and rows start at C.
    """
    freqs = np.arange(1, n_fft) * (sr / n_fft)
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    steps = n_chroma * np.log2(freqs / (a440 / 16.0))  # pitch in chroma steps above C0-ish
    steps = np.r_[steps[0] - 1.5 * n_chroma, steps]  # the DC bin sits far below
    width = np.r_[np.maximum(np.diff(steps), 1.0), 1.0]
    half = round(n_chroma / 2)
    dist = np.remainder(steps[None, :] - np.arange(n_chroma)[:, None] + half + 10 * n_chroma, n_chroma) - half
    weights = np.exp(-0.5 * (2.0 * dist / width[None, :]) ** 2)
    weights /= np.maximum(np.sqrt((weights**2).sum(axis=0, keepdims=True)), np.finfo(float).tiny)
    weights *= np.exp(-0.5 * ((steps / n_chroma - 5.0) / 2.0) ** 2)[None, :]
    weights = np.roll(weights, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(weights[:, : 1 + n_fft // 2], dtype=np.float32)


def chroma(power: np.ndarray, sr: int, n_fft: int, tuning: float = 0.0) -> np.ndarray:
    """Chroma (12 × frames) of a power spectrogram, each frame scaled so its largest class is 1."""
    c = chroma_filterbank(sr, n_fft, float(tuning)) @ power
    peak = c.max(axis=0, keepdims=True)
    return c / np.where(peak > np.finfo(np.float32).tiny, peak, 1.0)


def power_to_db(power: np.ndarray, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """10·log10(power) (ref 1), floored at ``amin`` and at ``top_db`` below the array's maximum."""
    db = 10.0 * np.log10(np.maximum(amin, power))
    if top_db is not None and db.size:
        db = np.maximum(db, db.max() - top_db)
    return db


def mfcc(log_mel: np.ndarray, n_mfcc: int = 20) -> np.ndarray:
    """MFCCs: orthonormal DCT-II of log-mel frames (bands × frames) over the band axis, first ``n_mfcc``."""
    from scipy import fft

    return fft.dct(log_mel, type=2, axis=0, norm="ortho")[:n_mfcc]


def onset_strength(log_mel: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """Mean positive first difference of log-mel frames, delayed by one frame plus half a window (librosa)."""
    flux = np.maximum(0.0, log_mel[:, 1:] - log_mel[:, :-1]).mean(axis=0)
    delay = 1 + n_fft // (2 * hop)
    return np.r_[np.zeros(delay, flux.dtype), flux][: log_mel.shape[1]]


def framewise(
    y: np.ndarray,
    features: Sequence[Callable[[np.ndarray], np.ndarray]],
    n_fft: int = 2048,
    hop: int = 512,
    chunk_frames: int = 2600,
    pad_frames: int = 64,
) -> list[np.ndarray]:
    """Run each function (power spectrogram → rows × frames) over one STFT per chunk of ``y``.

    Chunks are widened by ``pad_frames`` of context each side and only their cores kept (see
    `frames.chunked`), so memory is one chunk's spectrogram however long the song.
    """
    sizes: list[int] = []

    def all_features(x: np.ndarray) -> np.ndarray:
        power = stft_power(x, n_fft, hop)
        outs = [np.atleast_2d(np.asarray(f(power), np.float32)) for f in features]
        sizes[:] = [o.shape[0] for o in outs]
        return np.vstack(outs)

    stacked = chunked(y, hop, all_features, chunk_frames, pad_frames)
    return list(np.split(stacked, np.cumsum(sizes)[:-1], axis=0))
