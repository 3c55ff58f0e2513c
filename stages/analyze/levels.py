"""Which metrical level is the beat: checks of a tracked beat sequence against all the evidence.

madmom's beat DBN picks the level that best explains its network's activation; a listener
picks one they can tap. The two disagree in known ways, each with its own tell-tale:

- **too slow** (half-time drums, classical, disco reported at half tempo): the points half-way
  between the beats carry beat activation too — at least half the beats' own in both networks
  and three quarters in one (``MID_IS_BEAT``). The beat is doubled (up to ``DOUBLE_MAX_BPM``).
- **off-beat** (syncopated guitar chops): the kick drum lands between the tracked beats
  (low-band onsets at the mid-points ``OFFBEAT_LOW`` times those on the beats) while the
  downbeat network does not side with the tracked beats. The beats move by half a beat.
- **a compound meter counted in its subdivisions** (12/8 shuffle at three times its pulse, or
  at the 3:2 "quarter" level): every third tracked beat is accented in the beat network, in
  the joint network and in the kick, while the downbeat network does not call it a 3/4 bar.
  The beat becomes the group of three (or, when that would be below ``min_bpm``, every
  second half-beat: the dotted quarter).
- **too fast** (8th notes as beats): alternate beats are weak in both networks and in the
  kick; the stronger phase is kept.

Every check compares the evidence at the tracked beats with the evidence at the alternative
positions, so a loud song and a quiet one are judged alike; thresholds are shares, not levels.
Moved beats are snapped to the strongest activation within a tenth of a beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import FPS, Activations
from .bars import at_beats

MID_IS_BEAT = (0.5, 0.75)  # mid-point / beat activation: in both networks, in at least one
DOUBLE_MAX_BPM = 170.0
OFFBEAT_LOW = 2.0
ACCENT_3 = (0.75, 0.6, 0.6)  # beat, joint, kick: weak/strong share in groups of three
WALTZ_DOWNBEAT = 0.2  # below this the downbeat network itself hears bars of three: a waltz, not 12/8
ACCENT_2 = (0.65, 0.65, 0.75)  # beat, joint, kick: weak/strong share in groups of two


@dataclass(frozen=True)
class Level:
    """The chosen beat times and what was changed (``"as tracked"``, ``"doubled"``, ...)."""

    times: np.ndarray
    change: str


def _accent(values: np.ndarray, k: int) -> tuple[float, int]:
    """Mean of the weaker phases over the strongest phase, in groups of ``k`` beats; and that phase."""
    if len(values) < 2 * k:
        return 1.0, 0
    phases = np.array([values[p::k].mean() for p in range(k)])
    strong = int(np.argmax(phases))
    return float(np.delete(phases, strong).mean() / (phases[strong] + 1e-9)), strong


def subdivide(times: np.ndarray, parts: int) -> np.ndarray:
    """The beats with ``parts - 1`` evenly spaced points inserted in every interval."""
    if parts == 1 or len(times) < 2:
        return np.asarray(times, float)
    inner = [times[:-1] + (times[1:] - times[:-1]) * k / parts for k in range(1, parts)]
    return np.sort(np.r_[times, np.concatenate(inner)])


def snap(times: np.ndarray, strength: np.ndarray, period_s: float, share: float = 0.1) -> np.ndarray:
    """Move each time to the strongest frame within ``share`` of a beat period (if stronger than where it is)."""
    w = max(1, int(share * period_s * FPS))
    out = np.empty(len(times))
    for k, i in enumerate(np.round(np.asarray(times) * FPS).astype(int)):
        lo, hi = max(0, i - w), min(len(strength), i + w + 1)
        best = lo + int(np.argmax(strength[lo:hi])) if hi > lo else i
        out[k] = (best if 0 <= i < len(strength) and strength[best] > strength[i] else i) / FPS
    return out


def low_band(act: Activations) -> np.ndarray:
    """The kick-drum onset curve scaled so its 99th percentile is 1 (clipped there)."""
    top = float(np.percentile(act.low, 99)) if act.low.size else 0.0
    return np.clip(act.low / top, 0.0, 1.0) if top > 0 else np.zeros_like(act.low)


def choose_level(act: Activations, times: np.ndarray, min_bpm: float, max_bpm: float) -> Level:
    """Check the tracked beats for the four mistakes above and return the corrected beats."""
    times = np.asarray(times, float)
    if len(times) < 8:
        return Level(times, "as tracked")
    period = float(np.median(np.diff(times)))
    bpm = 60.0 / period
    strength = (act.beat + act.joint[:, 0]) / 2
    low = low_band(act)
    curves = {"beat": act.beat, "joint": act.joint[:, 0], "low": low, "down": act.joint[:, 1]}
    on = {k: at_beats(c, times, reach_s=0.02) for k, c in curves.items()}
    mids = (times[1:] + times[:-1]) / 2
    mid = {k: at_beats(c, mids, reach_s=0.02).mean() / (on[k].mean() + 1e-9) for k, c in curves.items()}

    if mid["low"] > OFFBEAT_LOW and mid["down"] > 0.5:
        return Level(snap(mids, strength, period), "moved half a beat onto the kick")
    both, one = MID_IS_BEAT
    mid_is_beat = min(mid["beat"], mid["joint"]) >= both and max(mid["beat"], mid["joint"]) >= one
    if mid_is_beat and 2 * bpm <= min(max_bpm, DOUBLE_MAX_BPM):
        return Level(snap(subdivide(times, 2), strength, period / 2), "doubled")
    acc3 = {k: _accent(on[k], 3)[0] for k in ("beat", "joint", "low", "down")}
    if (
        acc3["beat"] < ACCENT_3[0]
        and acc3["joint"] < ACCENT_3[1]
        and acc3["low"] < ACCENT_3[2]
        and acc3["down"] > WALTZ_DOWNBEAT
    ):
        evidence = on["beat"] + on["low"] + on["down"]
        if bpm / 3 >= min_bpm:
            phase = _accent(evidence, 3)[1]
            return Level(snap(times[phase::3], strength, 3 * period), "compound meter: one beat per three")
        if 2 * bpm / 3 >= min_bpm:
            grid = subdivide(times, 2)
            best = max(
                range(3),
                key=lambda p: float(
                    (at_beats(act.beat, grid[p::3], reach_s=0.03) + at_beats(low, grid[p::3], reach_s=0.03)).sum()
                    + at_beats(act.joint[:, 1], grid[p::3], reach_s=0.03).sum()
                ),
            )
            return Level(snap(grid[best::3], strength, 1.5 * period), "compound meter: dotted-quarter pulse")
    acc2 = {k: _accent(on[k], 2)[0] for k in ("beat", "joint", "low")}
    if acc2["beat"] < ACCENT_2[0] and acc2["joint"] < ACCENT_2[1] and acc2["low"] < ACCENT_2[2] and bpm / 2 >= min_bpm:
        phase = _accent(on["beat"] + on["joint"] + on["low"] + on["down"], 2)[1]
        return Level(snap(times[phase::2], strength, 2 * period), "halved")
    return Level(times, "as tracked")
