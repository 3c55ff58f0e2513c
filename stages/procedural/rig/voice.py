"""Vocal features for the face rig, measured once per song (or vocal stem) and kept in the work directory.

At 100 frames per second: the vocal-band level (dB) and the posterior of four mouth classes — open
(a), spread (i, e), round (o, u) and closed (m, b, p: a nasal murmur or silence) — from MFCC
templates. The templates are not learned from data: they are the MFCCs of vowels synthesised here
from textbook formant frequencies (a glottal pulse train through formant resonators, several
pitches), compared after removing each side's mean cepstrum, so the song's and the synthesiser's
colourings cancel out.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

VERSION = "1"
SR = 16000
HOP = 160  # 10 ms
RATE = SR / HOP  # feature frames per second
N_FFT = 512
WIN = 400  # 25 ms
N_MELS = 24
N_MFCC = 12
CLASSES = ("open", "spread", "round", "closed")
# (F1, F2, F3) Hz per vowel, and which class it belongs to.
FORMANTS: dict[str, tuple[tuple[float, float, float], str]] = {
    "a": ((750.0, 1250.0, 2600.0), "open"),
    "ae": ((650.0, 1700.0, 2550.0), "open"),
    "i": ((300.0, 2300.0, 3000.0), "spread"),
    "e": ((450.0, 2000.0, 2600.0), "spread"),
    "o": ((450.0, 850.0, 2600.0), "round"),
    "u": ((320.0, 800.0, 2400.0), "round"),
    "m": ((250.0, 1100.0, 2300.0), "closed"),
}


@dataclass(frozen=True)
class VoiceFeatures:
    """Per 10 ms frame: vocal-band level in dB and mouth-class posteriors (n, 4)."""

    level_db: np.ndarray
    posteriors: np.ndarray

    @property
    def duration_s(self) -> float:
        """Length covered, seconds."""
        return len(self.level_db) / RATE

    def at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(level dB, posteriors) linearly interpolated at times ``t_s`` (frame centres at (k + 0.5) / RATE)."""
        x = np.asarray(t_s, dtype=np.float64) * RATE - 0.5
        k = np.arange(len(self.level_db))
        lvl = np.interp(x, k, self.level_db)
        post = np.stack([np.interp(x, k, self.posteriors[:, c]) for c in range(len(CLASSES))], axis=1)
        return lvl, post


def _mel_bank() -> np.ndarray:
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(100.0), mel(4500.0), N_MELS + 2))
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SR)
    bank = np.zeros((N_MELS, len(freqs)))
    for i in range(N_MELS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        bank[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)
    return bank


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.arange(N_MELS)
    dct = np.cos(np.pi / N_MELS * (n[None, :] + 0.5) * np.arange(1, N_MFCC + 1)[:, None])
    band = (np.fft.rfftfreq(N_FFT, 1.0 / SR) >= 200.0) & (np.fft.rfftfreq(N_FFT, 1.0 / SR) <= 4000.0)
    return _mel_bank(), dct, band


def frame_features(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level dB (n,), MFCC c1..c12 (n, 12)) of 16 kHz mono samples, 10 ms hop, computed in chunks."""
    bank, dct, band = _tables()
    window = np.hanning(WIN).astype(np.float32)
    pad = np.concatenate([np.zeros(WIN // 2, np.float32), y.astype(np.float32), np.zeros(WIN, np.float32)])
    n = max(1, len(y) // HOP)
    levels, mfccs = [], []
    chunk = 4096
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        idx = (np.arange(a, b) * HOP)[:, None] + np.arange(WIN)[None, :]
        spec = np.abs(np.fft.rfft(pad[idx] * window, n=N_FFT, axis=1)) ** 2
        levels.append(10.0 * np.log10(spec[:, band].sum(axis=1) / WIN + 1e-10))
        mfccs.append(np.log(spec @ bank.T + 1e-8) @ dct.T)
    return np.concatenate(levels).astype(np.float32), np.concatenate(mfccs).astype(np.float32)


def synth_vowel(formants: tuple[float, float, float], f0: float, seconds: float = 0.3, nasal: bool = False,
                seed: int = 0) -> np.ndarray:
    """A vowel from a glottal pulse train (with a little jitter) through three formant resonators."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    src = np.zeros(n)
    t = 0.0
    while t < n:
        src[int(t)] = 1.0
        t += SR / (f0 * (1.0 + 0.01 * rng.standard_normal()))
    src = lfilter([1.0], [1.0, -0.97], src)  # glottal roll-off
    out = src
    for f, bw in zip(formants, (90.0, 110.0, 160.0), strict=True):
        r = np.exp(-np.pi * bw / SR)
        c = 2 * r * np.cos(2 * np.pi * f / SR)
        out = lfilter([1.0 - r], [1.0, -c, r * r], out)
    if nasal:  # a murmur: everything above ~500 Hz strongly damped
        from scipy.signal import butter, sosfilt

        out = sosfilt(butter(4, 500.0, fs=SR, output="sos"), out) + 0.03 * out
    return (0.3 * out / (np.abs(out).max() + 1e-9)).astype(np.float32)


PITCHES = (130.0, 190.0, 260.0, 340.0)  # Hz: the synthetic vowels' voices, low to high
TEMPLATE_FILE = Path(__file__).with_name("vowel_templates.npz")
"""The templates as ``synthesise_templates`` makes them, saved so a run need not synthesise them (about
2 s of CPU with scipy.signal's import); ``python -m stages.procedural.rig.voice`` writes it again."""


def template_digest() -> str:
    """What the templates are made from: formants, pitches and the feature settings."""
    made_of = (sorted(FORMANTS.items()), PITCHES, SR, HOP, N_FFT, WIN, N_MELS, N_MFCC, CLASSES)
    return hashlib.sha256(repr(made_of).encode()).hexdigest()[:16]


def synthesise_templates() -> tuple[np.ndarray, np.ndarray]:
    """(class means (4, 12), pooled per-coefficient spread (12,)) of mean-removed synthetic MFCCs."""
    per_class: dict[str, list[np.ndarray]] = {c: [] for c in CLASSES}
    allv = []
    for k, (name, (fm, cls)) in enumerate(FORMANTS.items()):
        for j, f0 in enumerate(PITCHES):
            _, m = frame_features(synth_vowel(fm, f0, nasal=name == "m", seed=31 * k + j))
            m = m[3:-3]
            per_class[cls].append(m)
            allv.append(m)
    mean = np.concatenate(allv).mean(axis=0)
    means = np.stack([np.concatenate(per_class[c]).mean(axis=0) - mean for c in CLASSES])
    spread = np.concatenate([np.concatenate(per_class[c]) - mean - means[i] for i, c in enumerate(CLASSES)]).std(axis=0)
    return means, np.maximum(spread, 0.3)


def write_templates(path: Path = TEMPLATE_FILE) -> None:
    """Synthesise the templates and save them, with their digest, to ``path``."""
    means, spread = synthesise_templates()
    with open(path, "wb") as fh:
        np.savez(fh, means=means, spread=spread, digest=np.array(template_digest()))


@lru_cache(maxsize=1)
def templates() -> tuple[np.ndarray, np.ndarray]:
    """The class templates: from ``TEMPLATE_FILE`` when it was made from today's settings, else synthesised."""
    try:
        with np.load(TEMPLATE_FILE, allow_pickle=False) as z:
            if str(z["digest"]) == template_digest():
                return z["means"], z["spread"]
    except (OSError, KeyError, ValueError):
        pass
    log.debug("vowel templates synthesised (%s is missing or stale)", TEMPLATE_FILE.name)
    return synthesise_templates()


def classify(mfcc: np.ndarray, level_db: np.ndarray, temperature: float = 4.0) -> np.ndarray:
    """Posteriors (n, 4) of the mouth classes for MFCC frames; the mean is taken over the louder half."""
    means, spread = templates()
    if len(mfcc) == 0:
        return np.zeros((0, len(CLASSES)), np.float32)
    loud = level_db >= np.median(level_db)
    centre = mfcc[loud].mean(axis=0) if loud.any() else mfcc.mean(axis=0)
    x = (mfcc - centre) / spread
    d = (((x[:, None, :] - (means / spread)[None]) ** 2).mean(axis=2))
    logit = -d / (2.0 * temperature / N_MFCC)
    logit -= logit.max(axis=1, keepdims=True)
    p = np.exp(logit)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def compute(path: Path) -> VoiceFeatures:
    """Decode ``path`` at 16 kHz mono and measure its features."""
    from mvdirector.media.audio import load_audio

    y, _ = load_audio(path, sr=SR, mono=True)
    level, mfcc = frame_features(y)
    return VoiceFeatures(level_db=level, posteriors=classify(mfcc, level))


_MEMO: dict[tuple[str, int, int], VoiceFeatures] = {}


def voice_features(path: Path, cache_dir: Path | None) -> VoiceFeatures:
    """The features of ``path``: from this process' memo, the work directory's cache, or measured."""
    from mvdirector.media.atomic import atomic_output, file_sha256

    p = Path(path)
    st = p.stat()
    memo_key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    disk = None
    if cache_dir is not None:
        key = hashlib.sha256(f"{VERSION}:{file_sha256(p)}".encode()).hexdigest()[:24]
        disk = Path(cache_dir) / f"voice-{key}.npz"
        try:
            with np.load(disk, allow_pickle=False) as z:
                feats = VoiceFeatures(level_db=z["level_db"], posteriors=z["posteriors"])
            _MEMO.clear()
            _MEMO[memo_key] = feats
            return feats
        except (OSError, KeyError, ValueError):
            pass
    feats = compute(p)
    if disk is not None:
        with atomic_output(disk) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, level_db=feats.level_db, posteriors=feats.posteriors)
    _MEMO.clear()
    _MEMO[memo_key] = feats
    return feats


if __name__ == "__main__":
    write_templates()
    print(f"wrote {TEMPLATE_FILE}")
