"""Per-shot identity and colour measurements on sampled frames, and contact-sheet thumbnails.

Identity: every face found in a sampled frame is embedded with dlib's 128-d ResNet model
(through ``stages.reference.FaceAnalyzer``); the face closest to the reference embedding is
the singer. A shot's identity is the median over its sampled frames of that face's
Euclidean distance (dlib's rule: below 0.6 is the same person) and cosine similarity.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from stages.assemble.colour import LabStats, lab_stats
from stages.assemble.concat import ClipIndex

THUMB_WIDTH = 320
"""Width of contact-sheet thumbnails in pixels."""
DETECT_MAX_SIDE = 960
"""Frames are downscaled to at most this long side for face detection (HOG is O(pixels))."""


@dataclass(frozen=True)
class Identity:
    """A shot's identity against the reference: median distance and cosine similarity, frames with a face."""

    distance: float | None
    similarity: float | None
    frames_with_face: int
    frames_sampled: int


@lru_cache(maxsize=1)
def _analyzer():  # noqa: ANN202 - the type lives in stages.reference, imported lazily
    from stages.reference import FaceAnalyzer

    return FaceAnalyzer(detect_max_side=DETECT_MAX_SIDE)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two vectors (0 when either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def frame_identity(frame_rgb: np.ndarray, reference: np.ndarray) -> tuple[float, float] | None:
    """(distance, cosine) of the face in ``frame_rgb`` closest to ``reference``; None without a face."""
    analyzer = _analyzer()
    found = analyzer.detect(frame_rgb)
    if not found:
        return None
    embs = analyzer.embeddings(frame_rgb, [box for box, _ in found])
    best = min(embs, key=lambda e: float(np.linalg.norm(e - reference)))
    return float(np.linalg.norm(best - reference)), cosine_similarity(best, reference)


class IdentityMemo:
    """(distance, cosine) per (frame content, reference), kept in a JSON file between runs.

    Re-assembling after one shot changed then embeds only that shot's frames: unchanged shots
    decode to the same bytes, so their identities are looked up. ``save`` keeps only the
    entries used since loading, so the file never grows beyond one video's samples.
    """

    def __init__(self, path: str | Path) -> None:
        import json

        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self._old: dict[str, list[float] | None] = data if isinstance(data, dict) else {}
        self._used: dict[str, list[float] | None] = {}

    def lookup(self, frame_rgb: np.ndarray, reference: np.ndarray) -> tuple[float, float] | None:
        """Like `frame_identity`, from the memo when this frame was measured before."""
        import hashlib

        h = hashlib.sha256(f"{frame_rgb.shape}{DETECT_MAX_SIDE}".encode())
        h.update(np.ascontiguousarray(frame_rgb).tobytes())
        h.update(np.asarray(reference, dtype=np.float64).tobytes())
        key = h.hexdigest()
        if key in self._old:
            hit = self._old[key]
        else:
            r = frame_identity(frame_rgb, reference)
            hit = None if r is None else [r[0], r[1]]
        self._used[key] = hit
        return None if hit is None else (float(hit[0]), float(hit[1]))

    def save(self) -> None:
        """Write the entries used since loading (atomically)."""
        from mvdirector.media.atomic import write_json_atomic

        write_json_atomic(self.path, self._used)


def shot_identity(
    frames: Sequence[np.ndarray], reference: Sequence[float], memo: IdentityMemo | None = None
) -> Identity:
    """Median identity of the singer over ``frames`` against the ``reference`` embedding."""
    ref = np.asarray(reference, dtype=np.float64)
    measure = memo.lookup if memo is not None else frame_identity
    found = [r for r in (measure(f, ref) for f in frames) if r is not None]
    if not found:
        return Identity(None, None, 0, len(frames))
    return Identity(
        distance=statistics.median(d for d, _ in found),
        similarity=statistics.median(s for _, s in found),
        frames_with_face=len(found),
        frames_sampled=len(frames),
    )


def shot_colour(frames: Sequence[np.ndarray]) -> LabStats:
    """L*a*b* statistics of a shot's sampled frames."""
    return lab_stats(frames)


def gather_frames(
    path: str | Path,
    wanted: Iterable[int],
    progress: Callable[[int], None] | None = None,
    index: ClipIndex | None = None,
) -> dict[int, np.ndarray]:
    """The RGB frames of ``path`` whose 0-based indices are in ``wanted``.

    Without ``index`` the video is decoded from the start up to the last wanted frame. With
    it, each wanted frame is reached by seeking to the nearest clean key frame before it
    (``index.resumes``) unless decoding on from the current position is shorter, so frames
    that are key frames cost one decode each.
    """
    import av

    want = sorted(set(wanted))
    out: dict[int, np.ndarray] = {}
    if not want:
        return out
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        if index is None:
            wanted_set, last = set(want), want[-1]
            for i, frame in enumerate(c.decode(vs)):
                if i in wanted_set:
                    out[i] = frame.to_ndarray(format="rgb24")
                    if progress:
                        progress(len(out))
                if i >= last:
                    break
            return out
        keys = sorted(index.resumes) or [0]
        frames = None
        pos = -1  # display index of the frame decoded last
        for target in want:
            key = max((k for k in keys if k <= target), default=0)
            if frames is None or pos >= target or key > pos + 1:
                c.seek(index.first_pts + int(round(key * index.frame_ticks)), stream=vs, backward=True)
                frames = c.decode(vs)
            for frame in frames:
                if frame.pts is None:
                    continue
                pos = int(round((frame.pts - index.first_pts) / index.frame_ticks))
                if pos >= target:
                    if pos == target:
                        out[target] = frame.to_ndarray(format="rgb24")
                    break
            if progress:
                progress(len(out))
    return out


def write_thumbnail(frame_rgb: np.ndarray, path: Path, width: int = THUMB_WIDTH) -> None:
    """Save a JPEG thumbnail ``width`` pixels wide of an RGB frame."""
    h, w = frame_rgb.shape[:2]
    size = (width, max(2, round(h * width / w)))
    small = cv2.resize(frame_rgb, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError(f"could not encode thumbnail {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())
