"""Head motion and breathing as functions of song time: nods on the beat, a sway over two bars, slow
turns, and a breath before each sung line.

Amplitudes are a few degrees at most and scale with the song's energy; everything is seeded by the
song (not the shot), so a cut inside a take continues the same motion.
"""

from __future__ import annotations

import numpy as np

from mvdirector.schemas import AudioAnalysis

NOD_DEG = 1.3  # nod on a beat at full energy (downbeats 1.4x)
SWAY_DEG = 1.6  # tilt of the two-bar sway at full energy
TURN_DEG = 2.0  # slow wandering turn
BREATH_S = 4.2  # breathing period while not singing


def _value_noise(t: np.ndarray, knot_s: float, rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """Smooth noise in -1..1: random values on knots every ``knot_s`` seconds, cosine-interpolated."""
    n = int(duration_s / knot_s) + 3
    vals = rng.uniform(-1.0, 1.0, n)
    x = np.clip(t / knot_s, 0.0, n - 2.0001)
    i = np.floor(x).astype(int)
    f = x - i
    w = 0.5 - 0.5 * np.cos(np.pi * f)
    return vals[i] * (1 - w) + vals[i + 1] * w


def head_motion(analysis: AudioAnalysis, times_s: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Per time: roll, pitch and yaw in degrees, and breath (-1..1)."""
    t = np.asarray(times_s, dtype=np.float64)
    dur = max(analysis.source.duration_s, float(t.max(initial=0.0)) + 1.0)
    rng = np.random.default_rng([seed, 0x4EAD])
    energy = np.interp(t, np.arange(len(analysis.energy.values)) / analysis.energy.fps,
                       analysis.energy.values) if analysis.energy.values else np.full_like(t, 0.5)
    # Nods: a quick dip after each beat, deeper on downbeats, scaled by energy.
    nod = np.zeros_like(t)
    beats = np.array([b.t_s for b in analysis.beats])
    down = np.array([b.position == 1 for b in analysis.beats])
    if len(beats):
        k = np.searchsorted(beats, t, side="right") - 1
        ok = k >= 0
        dt = np.where(ok, t - beats[np.clip(k, 0, None)], 10.0)
        pulse = np.where(dt < 0.09, np.sin(0.5 * np.pi * np.clip(dt / 0.09, 0, 1)), np.exp(-(dt - 0.09) / 0.22))
        nod = pulse * np.where(ok & down[np.clip(k, 0, None)], 1.4, 1.0)
    bar_s = 60.0 / max(analysis.bpm, 1.0) * analysis.beats_per_bar
    phase = float(rng.uniform(0, 2 * np.pi))
    sway = np.sin(2 * np.pi * t / (2 * bar_s) + phase)
    level = 0.35 + 0.65 * energy
    roll = SWAY_DEG * level * (0.7 * sway + 0.3 * _value_noise(t, 1.7, rng, dur))
    pitch = NOD_DEG * energy**1.5 * nod + 0.8 * _value_noise(t, 2.3, rng, dur)
    yaw = TURN_DEG * (0.5 + 0.5 * energy) * _value_noise(t, 2.9, rng, dur)
    breath = np.sin(2 * np.pi * t / BREATH_S + float(rng.uniform(0, 2 * np.pi)))
    # An inhale before each line that follows a pause: the head lifts a little, then settles.
    for line in analysis.lyrics.lines:
        dt = t - line.start_s
        bump = np.exp(-0.5 * ((dt + 0.25) / 0.18) ** 2)
        breath = np.maximum(breath, bump)
    return {"roll_deg": roll, "pitch_deg": pitch, "yaw_deg": yaw, "breath": breath}
