"""Colour statistics in CIE L*a*b* and the optional grade match between neighbouring shots.

Statistics are per channel mean and standard deviation of L* (0..100), a* and b*
(about -128..127) over a shot's sampled frames. The match is a Reinhard-style transfer:
each shot of a contiguous run of one section is mapped, per channel, from its own
statistics to the run's average, which removes grade jumps between neighbours while
keeping the run's overall look; a shot of a scene moves only part of the way. The same
partial transfer brings the photos of a render into the singer photo's palette
(`stages.reference.palette`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mvdirector.schemas import ShotPlan

STATS_MAX_SIDE = 320
"""Frames are downscaled to at most this long side before statistics are taken."""
MIN_STD = 1.0
"""Floor of a channel's standard deviation in the transfer (avoids blowing up flat shots)."""
MAX_GAIN = 2.0
"""Cap of the per-channel contrast gain in the transfer."""


@dataclass(frozen=True)
class LabStats:
    """Per-channel mean and standard deviation of L*, a*, b*."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class ColourTransform:
    """Per-channel affine map in L*a*b*: ``out = (x - src_mean) · gain + dst_mean``."""

    src_mean: tuple[float, float, float]
    gain: tuple[float, float, float]
    dst_mean: tuple[float, float, float]


def to_lab(frame_rgb: np.ndarray) -> np.ndarray:
    """Float32 L*a*b* of an RGB uint8 frame (L* 0..100)."""
    return cv2.cvtColor(frame_rgb.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)


def _small(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = min(1.0, STATS_MAX_SIDE / max(h, w))
    if scale == 1.0:
        return frame
    return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def lab_stats(frames: Sequence[np.ndarray]) -> LabStats:
    """L*a*b* mean and standard deviation over all pixels of ``frames`` (downscaled first)."""
    if not frames:
        raise ValueError("lab_stats needs at least one frame")
    px = np.concatenate([to_lab(_small(f)).reshape(-1, 3) for f in frames], axis=0).astype(np.float64)
    m, s = px.mean(axis=0), px.std(axis=0)
    return LabStats(tuple(float(x) for x in m), tuple(float(x) for x in s))  # type: ignore[arg-type]


def pooled(stats: Sequence[LabStats]) -> LabStats:
    """Statistics of the union of equally sized samples with the given statistics."""
    m = np.array([s.mean for s in stats])
    s = np.array([s.std for s in stats])
    mean = m.mean(axis=0)
    var = (s**2 + m**2).mean(axis=0) - mean**2
    return LabStats(tuple(float(x) for x in mean), tuple(float(x) for x in np.sqrt(np.maximum(var, 0))))  # type: ignore[arg-type]


def delta_e(a: Sequence[float], b: Sequence[float]) -> float:
    """CIE76 colour difference between two L*a*b* triples."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def transfer(src: LabStats, dst: LabStats) -> ColourTransform:
    """The per-channel transform taking statistics ``src`` to ``dst`` (gain capped at MAX_GAIN)."""
    gain = tuple(
        float(np.clip(max(d, MIN_STD) / max(s, MIN_STD), 1.0 / MAX_GAIN, MAX_GAIN))
        for s, d in zip(src.std, dst.std, strict=True)
    )
    return ColourTransform(src.mean, gain, dst.mean)  # type: ignore[arg-type]


KIND_STRENGTH: dict[str, tuple[float, float, float]] = {
    "singer": (1.0, 1.0, 1.0),
    "look": (0.5, 0.8, 0.8),
    "scene": (0.3, 0.6, 0.6),
}
"""Share of the way (L*, a*, b*) a photo of each kind is moved toward a shared palette: the chroma channels
more than lightness (a night scene stays dark while its colour cast joins the singer's), looks more than
scenes. Bringing photos into the singer's palette uses it (a singer's own photo is never moved there), and
so does ``match_transforms`` for the scenes of a section."""
PARTIAL_GAIN = ((0.8, 1.25), (0.6, 1.0), (0.6, 1.0))
"""Bounds of a partial transfer's gain per channel before its strength: chroma spread is never amplified
(a near-grey photo stretched to a colourful one turns noisy and false)."""


def partial_transfer(src: LabStats, dst: LabStats, strength: tuple[float, float, float]) -> ColourTransform:
    """The transform moving statistics ``src`` part of the way toward ``dst`` (``strength`` per channel)."""
    gain = tuple(
        float(np.clip(max(d, MIN_STD) / max(s, MIN_STD), lo, hi) ** k)
        for s, d, (lo, hi), k in zip(src.std, dst.std, PARTIAL_GAIN, strength, strict=True)
    )
    mean = tuple(float(a + k * (b - a)) for a, b, k in zip(src.mean, dst.mean, strength, strict=True))
    return ColourTransform(src.mean, gain, mean)  # type: ignore[arg-type]


def transformed(stats: LabStats, t: ColourTransform) -> LabStats:
    """The statistics of frames with ``stats`` after ``t`` (exact but for clipping to the gamut)."""
    mean = tuple(float((m - s) * g + d) for m, s, g, d in zip(stats.mean, t.src_mean, t.gain, t.dst_mean, strict=True))
    std = tuple(float(x * g) for x, g in zip(stats.std, t.gain, strict=True))
    return LabStats(mean, std)  # type: ignore[arg-type]


def apply_transform(frame_rgb: np.ndarray, t: ColourTransform) -> np.ndarray:
    """``frame_rgb`` with transform ``t`` applied in L*a*b*, back to RGB uint8.

    The transform is affine per L*a*b* channel, so it is one lookup table per channel of OpenCV's 8-bit
    L*a*b* (L* scaled to 0..255, a* and b* offset by 128): 6× faster than float L*a*b* at 720p, within
    a mean ΔE of 0.7 of it (99 % of pixels within 1.6), below what an eye tells apart.
    """
    x = np.arange(256, dtype=np.float32)
    lightness = ((x * (100.0 / 255.0) - t.src_mean[0]) * t.gain[0] + t.dst_mean[0]) * (255.0 / 100.0)
    a = (x - 128.0 - t.src_mean[1]) * t.gain[1] + t.dst_mean[1] + 128.0
    b = (x - 128.0 - t.src_mean[2]) * t.gain[2] + t.dst_mean[2] + 128.0
    lut = np.clip(np.rint(np.stack([lightness, a, b], axis=-1)), 0, 255).astype(np.uint8).reshape(256, 1, 3)
    lab = cv2.cvtColor(np.ascontiguousarray(frame_rgb, dtype=np.uint8), cv2.COLOR_RGB2LAB)
    return cv2.cvtColor(cv2.LUT(lab, lut), cv2.COLOR_LAB2RGB)


def section_runs(plan: ShotPlan) -> list[list[int]]:
    """Shot indices grouped into contiguous runs of the same section label."""
    out: list[list[int]] = []
    for i, s in enumerate(plan.shots):
        if out and plan.shots[out[-1][-1]].section == s.section:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def match_transforms(
    plan: ShotPlan, stats: Sequence[LabStats], tolerance_e: float = 1.0, kinds: Sequence[str] | None = None
) -> dict[int, ColourTransform]:
    """Transforms that bring each shot of a multi-shot section run to the run's pooled statistics.

    ``kinds`` (per shot: singer, look or scene — the kind of photo it shows) make the target the pooled
    statistics of the run's shots of the singer, and move a scene only part of the way
    (``KIND_STRENGTH``), so a night scene stays a night scene. Shots already within ``tolerance_e`` ΔE
    (mean) of their target, with standard deviations within 5 %, get no transform and so are not re-encoded.
    """
    out: dict[int, ColourTransform] = {}
    for run in section_runs(plan):
        if len(run) < 2:
            continue
        people = [i for i in run if kinds is None or kinds[i] != "scene"]
        target = pooled([stats[i] for i in (people or run)])
        for i in run:
            st = stats[i]
            close_std = all(abs(a - b) <= 0.05 * max(b, MIN_STD) for a, b in zip(st.std, target.std, strict=True))
            if delta_e(st.mean, target.mean) <= tolerance_e and close_std:
                continue
            scene = kinds is not None and kinds[i] == "scene" and people
            out[i] = partial_transfer(st, target, KIND_STRENGTH["scene"]) if scene else transfer(st, target)
    return out


_LAB_KEYS = ("lab_mean_l", "lab_mean_a", "lab_mean_b", "lab_std_l", "lab_std_a", "lab_std_b")


def stats_metrics(stats: LabStats) -> dict[str, float]:
    """``LabStats`` as plain-float clip metrics (how a renderer hands over what it measured)."""
    return dict(zip(_LAB_KEYS, (round(float(x), 4) for x in (*stats.mean, *stats.std)), strict=True))


def stats_from_metrics(metrics: dict[str, float]) -> LabStats | None:
    """The ``LabStats`` a renderer put into a clip's metrics, or None when it measured none."""
    if not all(k in metrics for k in _LAB_KEYS):
        return None
    v = [float(metrics[k]) for k in _LAB_KEYS]
    return LabStats(mean=(v[0], v[1], v[2]), std=(v[3], v[4], v[5]))

