"""The cover image: the best close-up frame of the finished video, by face size, sharpness and open eyes.

Cheap by design: the renderer's own measurements (``identity_*`` in the clip metrics: was the singer
found, how close to the reference) rank the shots in face framings, and only ``SHOTS`` of them are
looked at — ``PER_SHOT`` frames each, a quarter of a second apart from the first frame after the
shot's incoming transition (a clean key frame, so little is decoded). Each frame is scored with dlib:
the face's height in the frame (up to ``FULL_FACE`` of it), the eyes' aspect ratio (a blink scores
low), the Laplacian variance of the face at a fixed size (sharpness), and a penalty for a face cut
by the frame's edge. A video without a findable face gets the middle frame of its longest face shot
(or of the video).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mvdirector.schemas import ShotPlan

PRIOR = {"close_up": 1.0, "medium": 0.8, "extreme_close_up": 0.6}
"""How promising each framing is for a cover (an extreme close-up crops the face)."""
CAPTIONED = 0.75
"""Weight of a shot with a burned-in lyric line, in the shot ranking and the frame score."""
SHOTS = 4
DETECT_SIDE = 640  # frames are searched for faces at this size (HOG's cost grows with pixels)
PER_SHOT = 3
STEP_S = 0.25
FULL_FACE = 0.45  # a face this tall (share of the frame) scores fully on size
MIN_EAR, OPEN_EAR = 0.14, 0.24  # eye aspect ratio of a closed and a plainly open eye
SHARP_HALF = 120.0  # Laplacian variance at which sharpness scores half
EDGE = 0.02  # a face box closer than this to the frame's edge (share of the side) is cut


@dataclass(frozen=True)
class CoverPick:
    """The chosen frame and why: its score parts (0 when no face was found)."""

    frame: int
    shot_id: str | None
    score: float = 0.0
    face_height: float = 0.0
    eyes: float = 0.0
    sharpness: float = 0.0


def candidate_shots(plan: ShotPlan, metrics: list[dict[str, float]], max_distance: float = 0.6,
                    burned: bool = True) -> list[int]:
    """Indices of the shots worth looking at, most promising first (at most ``SHOTS``); with ``burned``
    captions, shots that show no lyric line come first when otherwise alike (a cover reads better without)."""
    ranked = []
    for i, shot in enumerate(plan.shots):
        prior = PRIOR.get(shot.framing)
        if prior is None:
            continue
        m = metrics[i] if i < len(metrics) else {}
        distance = m.get("identity_distance")
        if m.get("identity_sampled", 0) > 0 and (m.get("identity_frames", 0) == 0 or (distance or 0) > max_distance):
            continue  # the renderer looked and did not see the singer
        captioned = burned and shot.lyric is not None and bool(shot.lyric.line.strip())
        ranked.append((prior * (CAPTIONED if captioned else 1.0) - 0.3 * (distance or 0.3), shot.duration_s, -i, i))
    ranked.sort(reverse=True)
    return [r[-1] for r in ranked[:SHOTS]]


def candidate_frames(plan: ShotPlan, shots: list[int]) -> dict[int, int]:
    """Global frame → shot index: ``PER_SHOT`` frames per shot from its first frame after the incoming transition."""
    from stages.assemble.timeline import shot_frame_ranges, transition_windows

    fps = plan.render.fps
    ranges = shot_frame_ranges(plan)
    windows = {w.index: w for w in transition_windows(plan)}
    step = max(1, round(STEP_S * fps))
    out: dict[int, int] = {}
    for i in shots:
        a, b = ranges[i]
        lo = windows[i].end if i in windows else a
        hi = windows[i + 1].start if i + 1 in windows else b
        lo, hi = (lo, hi) if hi > lo else (a, b)
        for k in range(PER_SHOT):
            if lo + k * step < hi:
                out[lo + k * step] = i
    return out


def _ear(eye: np.ndarray) -> float:
    return float((np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4]))
                 / (2 * max(1e-6, np.linalg.norm(eye[0] - eye[3]))))


def score_frame(frame_rgb: np.ndarray) -> tuple[float, float, float, float]:
    """(score, face height share, eye aspect ratio, sharpness) of the largest face in a frame; zeros without one."""
    from stages.reference import FaceAnalyzer

    analyzer = FaceAnalyzer.shared()
    h, w = frame_rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = frame_rgb if scale >= 1.0 else cv2.resize(frame_rgb, None, fx=scale, fy=scale,
                                                       interpolation=cv2.INTER_AREA)
    found = analyzer.detect(small, upsample=0)
    if not found:
        return 0.0, 0.0, 0.0, 0.0
    small_box = max((b for b, _ in found), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    x0, y0, x1, y1 = box = tuple(int(round(v / scale)) for v in small_box)
    lm = analyzer.landmarks(frame_rgb, [box])[0]
    ear = (_ear(lm[36:42]) + _ear(lm[42:48])) / 2
    crop = cv2.cvtColor(frame_rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    crop = cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(crop, cv2.CV_64F).var())
    height = (y1 - y0) / h
    inside = x0 > EDGE * w and y0 > EDGE * h and x1 < (1 - EDGE) * w and y1 < (1 - EDGE) * h
    size_term = min(1.0, height / FULL_FACE)
    eyes_term = float(np.clip((ear - MIN_EAR) / (OPEN_EAR - MIN_EAR), 0.05, 1.0))
    sharp_term = 0.4 + 0.6 * sharp / (sharp + SHARP_HALF)
    return size_term * eyes_term * sharp_term * (1.0 if inside else 0.3), height, ear, sharp


def choose_cover(video: Path, plan: ShotPlan, metrics: list[dict[str, float]], out: Path,
                 max_distance: float = 0.6, burned: bool = True) -> CoverPick:
    """Pick the cover frame of ``video`` (made from ``plan``; ``metrics`` per shot; ``burned``: lyric lines are in
    the picture) and write it to ``out`` (JPEG)."""
    from mvdirector.media.atomic import atomic_output
    from mvdirector.outputs import JPEG_COMMENT
    from stages.assemble.concat import clip_index
    from stages.assemble.consistency import gather_frames

    shots = candidate_shots(plan, metrics, max_distance, burned)
    wanted = candidate_frames(plan, shots)
    index = clip_index(video)
    frames = gather_frames(video, wanted, index=index)
    best: CoverPick | None = None
    for g, frame in sorted(frames.items()):
        score, height, ear, sharp = score_frame(frame)
        shot = plan.shots[wanted[g]]
        if burned and shot.lyric is not None and shot.lyric.line.strip():
            score *= CAPTIONED
        pick = CoverPick(g, plan.shots[wanted[g]].id, round(score, 4), round(height, 3), round(ear, 3), round(sharp, 1))
        if score > 0 and (best is None or score > best.score):
            best = pick
    if best is None:
        longest = max(shots, key=lambda i: plan.shots[i].duration_s) if shots else None
        if longest is not None:
            a, b = plan.shots[longest].frame_range(plan.render.fps)
            best = CoverPick((a + b) // 2, plan.shots[longest].id)
        else:
            best = CoverPick(plan.n_frames // 2, None)
        frames = gather_frames(video, [best.frame], index=index)
    image = frames[best.frame]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError(f"could not encode the cover {out.name}")
    data = buf.tobytes()  # signed with a COM segment after the start marker, so a later run may replace it
    segment = b"\xff\xfe" + (len(JPEG_COMMENT) + 2).to_bytes(2, "big") + JPEG_COMMENT
    with atomic_output(out) as tmp:
        tmp.write_bytes(data[:2] + segment + data[2:])
    return best
