"""The procedural renderer: a 2.5D virtual camera that films the reference photo (DESIGN §4).

CPU only, no downloaded weights. Per shot: a face-aware framing window, the subject cut
out and the background inpainted behind it, both layers filmed by the planned pinhole
camera path (so translations show parallax), beat zoom kicks, downbeat lifts, a section
colour grade with grain and vignette, lyric captions with the sung word highlighted, and
the mouth opening with the vocal loudness on close-ups. Frames stream to ffmpeg.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mvdirector.errors import InputError

from .options import ProceduralOptions

if TYPE_CHECKING:
    from mvdirector.schemas import ReferenceInfo
    from stages.render import ShotJob

    from .frames import ShotFrames

__all__ = ["ProceduralRenderer", "ProceduralOptions", "VERSION"]

VERSION = "1"

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None] | None


class ProceduralRenderer:
    """``ShotRenderer`` backend ``procedural``: options as keyword arguments (see ``ProceduralOptions``)."""

    name = "procedural"
    VERSION = VERSION

    def __init__(self, **options: Any) -> None:
        self.options = ProceduralOptions.from_mapping(options)
        self._songs: dict[tuple[str, str], Any] = {}

    def fingerprint(self) -> dict[str, str]:
        """Options and library versions that change the pixels (they enter the shot cache key)."""
        import cv2

        fp = {k: str(v) for k, v in asdict(self.options).items()}
        from .grade import builtin_grades_digest

        fp.update(renderer=self.name, version=VERSION, opencv=cv2.__version__, grades=builtin_grades_digest())
        return fp

    # ------------------------------------------------------------------ caches
    def _loudness(self, job: ShotJob) -> np.ndarray | None:
        from .mouth import VocalTrack, wants_mouth

        if not wants_mouth(job.shot, job.reference):
            return None
        shot = job.shot
        spans = [(v.start_s, v.end_s) for v in job.analysis.vocal_activity] or [
            (w.start_s, w.end_s) for line in job.analysis.lyrics.lines for w in line.words
        ]
        if not any(a < shot.end_s and b > shot.start_s for a, b in spans):
            return None  # nobody sings in this shot
        key = (str(job.song_path), job.analysis.source.sha256)
        with _CACHE_LOCK:
            if key not in self._songs:
                self._songs.clear()
                try:
                    self._songs[key] = VocalTrack.from_song(job.song_path, job.analysis)
                except InputError as e:
                    log.warning("no mouth motion: %s", e.one_line())
                    self._songs[key] = None
            track = self._songs[key]
        if track is None:
            return None
        fps = job.plan.render.fps
        return track.per_frame(job.shot.frame_range(fps)[0] / fps, job.shot.n_frames(fps), fps)

    # ------------------------------------------------------------------ rendering
    def frames(self, job: ShotJob) -> ShotFrames:
        """The shot as an iterable of frames (prepared, not yet rendered)."""
        from .frames import ShotFrames, ShotInputs

        opts = ProceduralOptions.from_mapping(
            job.shot.renderer_options, base=self.options, where=f"shot '{job.shot.id}' renderer_options"
        )
        image = _reference_image(str(job.reference_image), job.reference.sha256)
        reference = _fit_reference(job.reference, image, job.reference_image)
        sep = _separation(image, reference, job.cache_dir) if opts.parallax else None
        loud = self._loudness(job) if opts.mouth else None
        inputs = ShotInputs(
            plan=job.plan, shot=job.shot, analysis=job.analysis, reference=reference, image=image,
            separation=sep, vocal_loudness=loud,
        )
        return ShotFrames(inputs, opts)

    def render_shot(self, job: ShotJob, out_path: Path, progress: Progress = None) -> dict[str, float]:
        """Render ``job.shot`` to ``out_path`` (H.264, yuv420p, no audio); returns timing and content metrics."""
        from mvdirector.media.video import VideoWriter

        t0 = time.perf_counter()
        frames = self.frames(job)
        t1 = time.perf_counter()
        n = len(frames)
        plan = job.plan.render
        step = max(1, n // 20)
        with VideoWriter(out_path, plan.width, plan.height, plan.fps, crf=frames.options.crf,
                         preset=frames.options.preset) as writer:
            for i, frame in enumerate(frames):
                writer.write(frame)
                if progress and (i % step == 0 or i == n - 1):
                    progress((i + 1) / n, f"{job.shot.id}: frame {i + 1}/{n}")
        if writer.frames != n:
            raise RuntimeError(f"wrote {writer.frames} frames for shot '{job.shot.id}', expected {n}")
        t2 = time.perf_counter()
        return {
            "frames": float(n),
            "prepare_s": round(t1 - t0, 4),
            "render_s": round(t2 - t0, 4),
            "render_fps": round(n / max(1e-9, t2 - t1), 2),
            "layered": float(frames.layered),
            "face_framed": float(frames.window.face_centred),
            "mouth": float(frames.mouth is not None),
            "captions": float(frames.captions is not None),
        }


# One reference at a time per process: its pixels and its subject separation are reused by
# every shot (and every renderer instance) and replaced when another reference comes.
_REFERENCE_CACHE: dict[tuple[str, str], np.ndarray] = {}
_SEPARATION_CACHE: dict[tuple, Any] = {}
_CACHE_LOCK = threading.Lock()  # shots may render in threads side by side


def _reference_image(path: str, sha: str) -> np.ndarray:
    from mvdirector.media.image import load_image

    key = (path, sha)
    with _CACHE_LOCK:
        image = _REFERENCE_CACHE.get(key)
        if image is None:
            image = load_image(path)
            _REFERENCE_CACHE.clear()
            _REFERENCE_CACHE[key] = image
        return image


def _separation(image: np.ndarray, reference: ReferenceInfo, cache_dir: Path | None = None):
    """The subject separation of a reference: from memory, from ``cache_dir`` on disk, or computed."""
    from .layers import load_separation, save_separation, separate

    face = reference.primary_face
    key = (reference.sha256, image.shape, None if face is None else face.box)
    with _CACHE_LOCK:
        sep = _SEPARATION_CACHE.get(key)
        if sep is not None:
            return sep
        disk = None
        if cache_dir is not None:
            name = hashlib.sha256(repr((VERSION, *key)).encode()).hexdigest()[:24]
            disk = Path(cache_dir) / f"separation-{name}.npz"
            sep = load_separation(disk)
        if sep is None:
            sep = separate(image, reference)
            log.info("subject matte covers %.0f %% of the reference", 100 * sep.coverage)
            if disk is not None:
                save_separation(sep, disk)
        _SEPARATION_CACHE.clear()
        _SEPARATION_CACHE[key] = sep
        return sep


def _fit_reference(reference: ReferenceInfo, image: np.ndarray, path: Path) -> ReferenceInfo:
    """``reference`` in the pixel frame of ``image``: rescaled when it was inspected at another size
    (e.g. by an older loader) with the same aspect ratio; an InputError when the picture differs."""
    h, w = image.shape[:2]
    if (h, w) == (reference.height, reference.width):
        return reference
    sx, sy = w / reference.width, h / reference.height
    if abs(sx / sy - 1.0) > 0.01:
        raise InputError(
            f"reference image '{path}' is {w}x{h} but reference.json says {reference.width}x{reference.height}",
            "re-run so the reference is inspected again",
        )
    faces = [
        f.model_copy(update={
            "box": (round(f.box[0] * sx), round(f.box[1] * sy), round(f.box[2] * sx), round(f.box[3] * sy)),
            "landmarks": [(x * sx, y * sy) for x, y in f.landmarks],
        })
        for f in reference.faces
    ]
    return reference.model_copy(update={"width": w, "height": h, "faces": faces})
