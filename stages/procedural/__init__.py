"""The procedural renderer: a 2.5D virtual camera that films the reference photo (DESIGN §4).

CPU only, no downloaded weights. Per shot: a face-aware framing window, the subject cut
out and the background inpainted behind it, both layers filmed by the planned pinhole
camera path (so translations show parallax), the singer's face rig (lip sync from the voice,
blinks, head motion, breathing; ``rig``), beat zoom kicks, downbeat lifts, a section colour
grade with grain and vignette, lyric captions with the sung word highlighted. Frames stream to
ffmpeg as I420; identity and colour are measured on frames the renderer already has.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
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

VERSION = "3"  # 3: the mouth interior rewritten (teeth, cavity, tongue), captions clear of the mouth

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None] | None


class ProceduralRenderer:
    """``ShotRenderer`` backend ``procedural``: options as keyword arguments (see ``ProceduralOptions``)."""

    name = "procedural"
    VERSION = VERSION

    def __init__(self, **options: Any) -> None:
        self.options = ProceduralOptions.from_mapping(options)
        self._songs: dict[tuple, Any] = {}

    def fingerprint(self) -> dict[str, str]:
        """Options and library versions that change the pixels (they enter the shot cache key)."""
        import cv2

        fp = {k: str(v) for k, v in asdict(self.options).items()}
        from .grade import builtin_grades_digest

        fp.update(renderer=self.name, version=VERSION, opencv=cv2.__version__, grades=builtin_grades_digest())
        return fp

    # ------------------------------------------------------------------ caches
    def _performance(self, job: ShotJob, opts: ProceduralOptions):  # noqa: ANN202 - rig.performance.Performance
        """The song's face performance (voice features from the vocal stem when given, else the song)."""
        from .rig.performance import Performance
        from .rig.voice import voice_features

        voice_path = job.vocals_path or job.song_path
        song = hashlib.sha256(job.analysis.model_dump_json().encode()).hexdigest()
        key = (str(voice_path), song, job.plan.render.seed, opts.mouth)
        with _CACHE_LOCK:
            if key not in self._songs:
                voice = None
                if opts.mouth:
                    try:
                        voice = voice_features(Path(voice_path), job.cache_dir)
                    except (InputError, OSError) as e:
                        msg = e.one_line() if isinstance(e, InputError) else str(e)
                        log.warning("lip sync from lyric timings only: cannot read the voice (%s)", msg)
                self._songs.clear()
                self._songs[key] = Performance.of(job.analysis, voice, seed=job.plan.render.seed)
            return self._songs[key]

    def prepare(self, reference: ReferenceInfo, reference_image: Path, voice: Path, cache_dir: Path | None) -> None:
        """Do now, once, what every shot of this portrait and song needs first — the subject matte, the
        face rig's set-up and the voice's features — so shots that start side by side find them ready
        (the pipeline calls this while the song is being analysed)."""
        opts = self.options
        image = _reference_image(str(reference_image), reference.sha256)
        reference = _fit_reference(reference, image, reference_image)
        if opts.parallax:
            _separation(image, reference, cache_dir)
        if opts.rig:
            from .rig import rig_setup

            if rig_setup(reference, cache_dir) is not None and opts.mouth:
                from .rig.voice import voice_features

                try:
                    voice_features(Path(voice), cache_dir)
                except (InputError, OSError):
                    pass  # the shot that needs it says so

    # ------------------------------------------------------------------ rendering
    def frames(self, job: ShotJob) -> ShotFrames:
        """The shot as an iterable of frames (prepared, not yet rendered)."""
        from stages.render.caption_fade import caption_opacity

        from .frames import ShotFrames, ShotInputs
        from .rig import rig_setup

        opts = ProceduralOptions.from_mapping(
            job.shot.renderer_options, base=self.options, where=f"shot '{job.shot.id}' renderer_options"
        )
        if not job.burn_captions:  # --captions soft|none: the lyric lines travel as data, not pixels
            opts = replace(opts, captions=False)
        image = _reference_image(str(job.reference_image), job.reference.sha256)
        reference = _fit_reference(job.reference, image, job.reference_image)
        sep = _separation(image, reference, job.cache_dir) if opts.parallax else None
        setup = rig_setup(reference, job.cache_dir) if opts.rig and job.shows_singer else None  # scenes: no face
        states = None
        if setup is not None:
            fps = job.plan.render.fps
            times = (job.shot.frame_range(fps)[0] + np.arange(job.shot.n_frames(fps))) / fps
            states = self._performance(job, opts).states(times)
        index = next((k for k, s in enumerate(job.plan.shots) if s.id == job.shot.id), None)
        fades = caption_opacity(job.plan, index) if index is not None else None
        inputs = ShotInputs(
            plan=job.plan, shot=job.shot, analysis=job.analysis, reference=reference, image=image,
            separation=sep, rig=setup, face_states=states, caption_opacity=fades,
        )
        return ShotFrames(inputs, opts)

    def render_shot(self, job: ShotJob, out_path: Path, progress: Progress = None) -> dict[str, float]:
        """Render ``job.shot`` to ``out_path`` (H.264, yuv420p, no audio); returns timing, content and
        measurement metrics (identity and colour of sampled frames, the mouth strip's boxes)."""
        from .measure import ShotMeasurer

        t0 = time.perf_counter()
        frames = self.frames(job)
        index = next((k for k, s in enumerate(job.plan.shots) if s.id == job.shot.id), None)
        singer = job.identity_reference  # identity against the singer's photo, whichever look the shot shows
        face = singer.primary_face if singer is not None else None
        measurer = None
        if index is not None and frames.options.measure:
            measurer = ShotMeasurer(job.plan, index, face.embedding if face is not None else None)
        t1 = time.perf_counter()
        n = len(frames)
        step = max(1, n // 20)
        with _single_threaded_opencv():
            self._write(job, frames, measurer, out_path, progress, step)
        t2 = time.perf_counter()
        rig = frames.rig
        metrics = {
            "frames": float(n),
            "prepare_s": round(t1 - t0, 4),
            "render_s": round(t2 - t0, 4),
            "render_fps": round(n / max(1e-9, t2 - t1), 2),
            "layered": float(frames.layered),
            "face_framed": float(frames.window.face_centred),
            "rig_frames": float(rig.frames_rigged if rig is not None else 0),
            "captions": float(frames.captions is not None),
        }
        if measurer is not None:
            metrics.update(measurer.metrics())
        return metrics

    @staticmethod
    def _write(job: ShotJob, frames: ShotFrames, measurer, out_path: Path, progress: Progress, step: int) -> None:
        import cv2

        from mvdirector.media.video import VideoWriter

        n = len(frames)
        plan = job.plan.render
        with VideoWriter(out_path, plan.width, plan.height, plan.fps, crf=frames.options.crf,
                         preset=frames.options.preset, input_pix_fmt="yuv420p") as writer:
            for i in range(n):
                yuv = frames.frame_yuv(i)
                writer.write(yuv)
                if measurer is not None:
                    if i in measurer.strip_at:
                        measurer.mouth(i, frames.mouth_out(i))
                    if measurer.wants(i):
                        measurer.take(i, cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420), frames.face_box_out(i))
                if progress and (i % step == 0 or i == n - 1):
                    progress((i + 1) / n, f"{job.shot.id}: frame {i + 1}/{n}")
        if writer.frames != n:
            raise RuntimeError(f"wrote {writer.frames} frames for shot '{job.shot.id}', expected {n}")


_CV_USERS = [0, 0]  # shots rendering now, OpenCV's thread count before the first of them


@contextmanager
def _single_threaded_opencv() -> Iterator[None]:
    """OpenCV on one thread while shots render (x264 works in parallel in its own process, and shots may
    render in threads side by side: OpenCV's own threads only add overhead); restored after the last."""
    import cv2

    with _CACHE_LOCK:
        if _CV_USERS[0] == 0:
            _CV_USERS[1] = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _CV_USERS[0] += 1
    try:
        yield
    finally:
        with _CACHE_LOCK:
            _CV_USERS[0] -= 1
            if _CV_USERS[0] == 0:
                cv2.setNumThreads(_CV_USERS[1])


# A few photos per process: each one's pixels and subject separation are reused by every shot that
# shows it (and every renderer instance); the least recently used goes when another comes.
PHOTOS_KEPT = 4
_REFERENCE_CACHE: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_SEPARATION_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()  # shots may render in threads side by side


def _keep(cache: OrderedDict, key: Any, value: Any) -> Any:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > PHOTOS_KEPT:
        cache.popitem(last=False)
    return value


def _reference_image(path: str, sha: str) -> np.ndarray:
    from mvdirector.media.image import load_image

    key = (path, sha)
    with _CACHE_LOCK:
        image = _REFERENCE_CACHE.get(key)
        if image is None:
            image = load_image(path)
        return _keep(_REFERENCE_CACHE, key, image)


def _separation(image: np.ndarray, reference: ReferenceInfo, cache_dir: Path | None = None):
    """The subject separation of a photo: from memory, from ``cache_dir`` on disk, or computed."""
    from .layers import load_separation, save_separation, separate

    face = reference.primary_face
    key = (reference.sha256, image.shape, None if face is None else face.box)
    with _CACHE_LOCK:
        sep = _SEPARATION_CACHE.get(key)
        if sep is not None:
            return _keep(_SEPARATION_CACHE, key, sep)
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
        return _keep(_SEPARATION_CACHE, key, sep)


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
