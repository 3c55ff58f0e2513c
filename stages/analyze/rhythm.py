"""Beats, downbeats, tempo and meter from the madmom networks' activations.

1. Beats: madmom's beat tracker — the ``RNNBeatProcessor`` activation decoded by
   ``DBNBeatTrackingProcessor`` (Böck, Krebs and Widmer 2014/2015), in bounded windows on long
   files. Left alone this is exactly plain madmom's output.
2. Level: `levels.choose_level` checks those beats against both networks, the kick drum and
   the downbeat network, and doubles, halves, regroups (compound meter) or shifts them by half
   a beat when the evidence says a listener taps elsewhere.
3. Edges: beats before the first and after the last beat-like activation are dropped (a DBN
   keeps counting through silence and reverb tails).
4. Downbeats: `bars` chooses the bar length among the configured ones (4 unless another is
   clearly better; 2 covers 2/4 and 6/8 as two dotted-quarter beats, a 12/8 shuffle is four
   dotted-quarter beats) and decodes bar positions on those beats from the joint network's
   downbeat share and harmonic change.

The librosa alternative lives in `rhythm_librosa`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mvdirector.schemas import Beat

from .activations import FPS, Activations
from .bars import at_beats, choose_meter, decode_bars, downbeat_probability
from .levels import choose_level

log = logging.getLogger(__name__)

EDGE_SHARE = 0.1  # an edge beat whose activation is below this share of the median beat's is dropped


@dataclass(frozen=True)
class Rhythm:
    """Beat times (s), their 1-based positions in the bar, the prevailing meter and tempo."""

    times: np.ndarray
    positions: np.ndarray
    beats_per_bar: int
    bpm: float
    level: str = "as tracked"

    def to_beats(self) -> list[Beat]:
        """The beats as contract objects; beats before the first downbeat form bar 0 (a pickup)."""
        beats: list[Beat] = []
        bar = 0
        for t, p in zip(self.times, self.positions, strict=True):
            if p == 1:
                bar += 1
            beats.append(Beat(t_s=round(float(t), 4), bar=bar, position=int(p)))
        return beats


def rhythm_from(times: np.ndarray, positions: np.ndarray, level: str = "as tracked") -> Rhythm:
    """Build a `Rhythm`, deriving bpm from the median beat interval and the meter from bar lengths."""
    times = np.asarray(times, dtype=float)
    positions = np.asarray(positions, dtype=int)
    bpm = float(60.0 / np.median(np.diff(times))) if times.size >= 2 else 120.0
    down = np.flatnonzero(positions == 1)
    if down.size >= 2:
        values, counts = np.unique(np.diff(down), return_counts=True)
        bpb = int(values[np.argmax(counts)])
    elif positions.size:
        bpb = int(positions.max())
    else:
        bpb = 4
    return Rhythm(times=times, positions=positions, beats_per_bar=max(1, min(16, bpb)), bpm=bpm, level=level)


def _windows(n: int, core: int, pad: int) -> list[tuple[int, int, int, int]]:
    """Split ``range(n)`` into cores of length ``core`` each widened by ``pad``: (lo, hi, core_lo, core_hi)."""
    if n <= core + 2 * pad:
        return [(0, n, 0, n)]
    out = []
    for c0 in range(0, n, core):
        c1 = min(n, c0 + core)
        out.append((max(0, c0 - pad), min(n, c1 + pad), c0, c1))
    return out


def _dedupe(times: np.ndarray) -> np.ndarray:
    """Sort and drop beats closer than 40 % of the median interval to the previous kept beat (window seams)."""
    times = np.sort(np.asarray(times, float))
    if times.size < 3:
        return times
    min_gap = 0.4 * float(np.median(np.diff(times)))
    keep = [0]
    for i in range(1, len(times)):
        if times[i] - times[keep[-1]] >= min_gap:
            keep.append(i)
    return times[keep]


@functools.lru_cache(maxsize=4)
def _beat_dbn(min_bpm: float, max_bpm: float):  # noqa: ANN202 - madmom type
    from madmom.features.beats import DBNBeatTrackingProcessor

    return DBNBeatTrackingProcessor(min_bpm=min_bpm, max_bpm=max_bpm, fps=FPS)


def track_beats(beat_act: np.ndarray, min_bpm: float, max_bpm: float, chunk_s: float = 60.0, pad_s: float = 10.0):
    """madmom's DBN beat tracking of a beat activation; windows of ``chunk_s`` (+ pads) bound its memory."""
    dbn = _beat_dbn(float(min_bpm), float(max_bpm))
    times: list[float] = []
    for lo, hi, c0, c1 in _windows(len(beat_act), int(chunk_s * FPS), int(pad_s * FPS)):
        t = np.asarray(dbn(np.ascontiguousarray(beat_act[lo:hi])), float) + lo / FPS
        times.extend(t[(t >= c0 / FPS) & (t < c1 / FPS)].tolist())
    return _dedupe(np.asarray(times))


def trim_edges(times: np.ndarray, act: Activations) -> np.ndarray:
    """Drop leading and trailing beats with (almost) no beat activation of their own."""
    if len(times) < 4:
        return times
    s = np.maximum(at_beats(act.beat, times), at_beats(act.joint[:, 0], times))
    alive = np.flatnonzero(s >= EDGE_SHARE * float(np.median(s)))
    if alive.size == 0:
        return times
    return times[alive[0] : alive[-1] + 1]


def track_madmom(
    act: Activations, meters: Sequence[int] = (2, 3, 4), min_bpm: float = 55.0, max_bpm: float = 215.0
) -> Rhythm:
    """Beats, level correction, edge trimming and downbeats (steps 1-4 above) from activations."""
    tracked = track_beats(act.beat, min_bpm, max_bpm)
    level = choose_level(act, tracked, min_bpm, max_bpm)
    times = trim_edges(level.times, act)
    if level.change != "as tracked":
        log.info(
            "beat level: %s (%.1f -> %.1f bpm)",
            level.change,
            60 / np.median(np.diff(tracked)),
            60 / np.median(np.diff(times)),
        )
    p = downbeat_probability(act.joint[:, 1], act.joint[:, 0], act.chroma, times)
    positions, _ = decode_bars(p, (choose_meter(p, meters),))
    return rhythm_from(times, positions, level.change)


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
