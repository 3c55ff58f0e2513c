"""Blinks at natural, irregular intervals: a renewal process on the song's clock.

Intervals are a refractory period plus a gamma-distributed wait (mean ≈ 4 s, coefficient of
variation ≈ 0.5, as measured for people at rest; singers blink a little less), with a blink
preferred just after a sung line ends and an occasional double blink. The schedule depends only on
the seed and the song, so every shot — and both sides of a cut inside a take — sees the same blinks.
"""

from __future__ import annotations

import numpy as np

REFRACTORY_S = 1.2  # no two blinks closer than this (except the second of a double blink)
GAMMA_SHAPE, GAMMA_SCALE_S = 2.2, 1.35  # wait after the refractory period
CLOSE_S, HOLD_S, OPEN_S = 0.08, 0.04, 0.15  # lid down, shut, up
DOUBLE_P, DOUBLE_GAP_S = 0.08, 0.32
LINE_END_P = 0.55  # chance of a blink ~0.15 s after a sung line ends (when the clock allows it)


def blink_times(duration_s: float, seed: int, line_ends: list[float] | None = None) -> np.ndarray:
    """Start times (s) of every blink in a song of ``duration_s``."""
    rng = np.random.default_rng([seed, 0xB11C])
    ends = sorted(line_ends or [])
    out: list[float] = []
    t = float(rng.uniform(0.3, 2.5))
    while t < duration_s:
        # A line ending before the next scheduled blink pulls it forward (people blink at pauses).
        nxt = next((e + 0.15 for e in ends if out and e + 0.15 > out[-1] + REFRACTORY_S and e + 0.15 < t), None)
        if nxt is not None and rng.random() < LINE_END_P:
            t = nxt
        out.append(t)
        if rng.random() < DOUBLE_P:
            out.append(t + DOUBLE_GAP_S)
            t += DOUBLE_GAP_S
        t += REFRACTORY_S + float(rng.gamma(GAMMA_SHAPE, GAMMA_SCALE_S))
    return np.array([x for x in out if x < duration_s])


def blink_curve(times_s: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Lid closure 0..1 at ``times_s`` for blinks starting at ``starts`` (fast down, slower up)."""
    t = np.asarray(times_s, dtype=np.float64)
    out = np.zeros_like(t)
    if len(starts) == 0:
        return out
    idx = np.searchsorted(starts, t, side="right") - 1
    for back in (0, 1):  # the blink in progress, or the one before it still opening
        k = idx - back
        ok = k >= 0
        dt = np.where(ok, t - starts[np.clip(k, 0, None)], -1.0)
        down = np.clip(dt / CLOSE_S, 0.0, 1.0)
        up = 1.0 - np.clip((dt - CLOSE_S - HOLD_S) / OPEN_S, 0.0, 1.0)
        v = np.where(dt < 0, 0.0, np.minimum(_ease_in(down), _ease_out(up)))
        out = np.maximum(out, v)
    return out


def _ease_in(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


def _ease_out(x: np.ndarray) -> np.ndarray:
    return 1 - (1 - x) ** 2 * (1 + 0.0 * x)
