"""Identity, colour and mouth-strip measurements taken from frames the renderer already has.

The assembler used to decode sampled frames of the finished video and search them for faces. The
renderer knows where the singer's face is in every frame, so it measures while it renders: colour
statistics of a few frames outside the shot's transitions, the singer's identity (dlib embedding
distance to the reference face, searched only in a crop around the known face position) on one or
two of them, and the mouth's box on frames spread over a sung line (the report's mouth strip).
Everything goes back as ``ShotClip.metrics`` (plain floats), so nothing is decoded again.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import cv2
import numpy as np

from mvdirector.schemas import ShotPlan

COLOUR_SAMPLES = 3
STRIP_FRAMES = 8
IDENTITY_FRAMINGS = ("extreme_close_up", "close_up", "medium")
FACE_CROP_PX = 110  # a face is scaled to about this height before detection (HOG cost grows with pixels)


def colour_and_identity_picks(plan: ShotPlan, index: int) -> tuple[list[int], list[int]]:
    """Shot-relative frames to take colour statistics on, and the subset to measure identity on."""
    from stages.assemble.timeline import sample_frames, shot_frame_ranges, transition_windows

    first, end = shot_frame_ranges(plan)[index]
    picks = [p - first for p in sample_frames(first, end, COLOUR_SAMPLES, transition_windows(plan))]
    shot = plan.shots[index]
    if shot.framing not in IDENTITY_FRAMINGS or not picks:
        return picks, []
    return picks, [picks[len(picks) // 2]]  # one embedding per shot: dlib's costs ~0.15 s of CPU


def strip_picks(plan: ShotPlan, index: int) -> list[int]:
    """Shot-relative frames evenly over the sung words of the shot's lyric line (empty without words)."""
    shot = plan.shots[index]
    fps = plan.render.fps
    n = shot.n_frames(fps)
    if shot.lyric is None or not shot.lyric.words:
        return []
    a = max(0.0, min(w.start_s for w in shot.lyric.words))
    b = min(shot.duration_s, max(w.end_s for w in shot.lyric.words))
    if b - a < 0.5:
        return []
    return sorted({min(n - 1, int(round(t * fps))) for t in np.linspace(a, b, STRIP_FRAMES)})


def face_identity(frame_rgb: np.ndarray, face_box_out: np.ndarray,
                  reference: Sequence[float]) -> tuple[float, float] | None:
    """(dlib embedding distance, cosine similarity) of the face found near ``face_box_out`` (4 corners,
    output px) that is closest to ``reference``; None when no face is found there."""
    from stages.reference import FaceAnalyzer

    h, w = frame_rgb.shape[:2]
    x0, y0 = face_box_out.min(axis=0)
    x1, y1 = face_box_out.max(axis=0)
    fh = max(y1 - y0, x1 - x0, 1.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = 1.0 * fh
    a0, b0 = int(max(0, cx - half)), int(max(0, cy - half))
    a1, b1 = int(min(w, cx + half)), int(min(h, cy + half))
    if a1 - a0 < 24 or b1 - b0 < 24:
        return None
    crop = frame_rgb[b0:b1, a0:a1]
    scale = min(1.0, FACE_CROP_PX / fh)
    small = crop if scale >= 1.0 else cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    analyzer = FaceAnalyzer.shared()
    found = analyzer.detect(small, upsample=1 if fh * scale < 80 else 0)
    if not found:
        return None
    # Landmarks and embedding at the crop's own resolution (dlib makes its 150 px chip from it).
    boxes = [tuple(int(round(v / scale)) for v in box) for box, _ in found]
    embs = analyzer.embeddings(np.ascontiguousarray(crop), boxes)
    ref = np.asarray(reference, dtype=np.float64)
    best = min(embs, key=lambda e: float(np.linalg.norm(e - ref)))
    cos = float(best @ ref / max(np.linalg.norm(best) * np.linalg.norm(ref), 1e-12))
    return float(np.linalg.norm(best - ref)), cos


class ShotMeasurer:
    """Collects the measurements of one shot as its frames go by (``take`` per frame, ``metrics`` at the end)."""

    def __init__(self, plan: ShotPlan, index: int, reference_embedding: Sequence[float] | None) -> None:
        self.colour_at, self.identity_at = colour_and_identity_picks(plan, index)
        self.strip_at = strip_picks(plan, index)
        self.reference = list(reference_embedding or [])
        self.samples: list[np.ndarray] = []
        self.distances: list[float] = []
        self.cosines: list[float] = []
        self.tried = 0
        self.strip: list[tuple[int, float, float, float]] = []

    def wants(self, i: int) -> bool:
        """Whether frame ``i`` is measured (so the caller converts it to RGB)."""
        return i in self.colour_at or i in self.identity_at

    def take(self, i: int, frame_rgb: np.ndarray, face_box_out: np.ndarray | None) -> None:
        """Measure frame ``i`` (RGB, as encoded)."""
        from stages.assemble.colour import _small

        if i in self.colour_at:
            self.samples.append(_small(frame_rgb))
        if i in self.identity_at and self.reference and face_box_out is not None:
            self.tried += 1
            found = face_identity(frame_rgb, face_box_out, self.reference)
            if found is not None:
                self.distances.append(found[0])
                self.cosines.append(found[1])

    def mouth(self, i: int, mouth_out: np.ndarray | None) -> None:
        """Remember the mouth's box in frame ``i`` (outer lip points, output px) if it is a strip frame."""
        if i in self.strip_at and mouth_out is not None:
            c = mouth_out.mean(axis=0)
            size = float(np.linalg.norm(mouth_out[6] - mouth_out[0]))
            self.strip.append((i, float(c[0]), float(c[1]), size))

    def metrics(self) -> dict[str, float]:
        """Plain-float metrics: ``lab_*``, ``identity_*`` and ``strip<k>_*`` (frame, cx, cy, mouth width)."""
        from stages.assemble.colour import lab_stats, stats_metrics

        out: dict[str, float] = {}
        if self.samples:
            out.update(stats_metrics(lab_stats(self.samples)))
        out["identity_sampled"] = float(self.tried)
        out["identity_frames"] = float(len(self.distances))
        if self.distances:
            d = statistics.median(self.distances)
            out["identity_distance"] = round(d, 4)
            out["identity_similarity"] = round(statistics.median(self.cosines), 4)
        for k, (i, cx, cy, size) in enumerate(self.strip):
            out.update({f"strip{k}_frame": float(i), f"strip{k}_cx": round(cx, 1), f"strip{k}_cy": round(cy, 1),
                        f"strip{k}_size": round(size, 1)})
        return out
