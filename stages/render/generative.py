"""What the generative backends (``dit``, ``s2v``) share around their models.

- **Weights**: :func:`weights_fingerprint`, a fast content fingerprint of a checkpoint for cache keys.
- **The portrait**: :func:`framed_reference`, the reference cropped to the video's aspect around the
  singer's face; :func:`shot_seed`, the per-shot noise seed.
- **The song's native clock**: :func:`native_span`. A model generates at its native fps (16 for
  Wan); native frame ``j`` of the song is at ``j / native_fps`` s, a shot generates the native
  frames nearest to its cuts (:func:`models.timebase.song_span`) and every plan frame shows the
  nearest one, so the clip keeps exactly the plan's frame count, neighbouring shots tile the
  native clock, and an audio-driven model's frames are the song's audio frames.
- **Raw tails**: what a shot leaves for the shot that continues it (:class:`RawTail`: its last raw
  frames at the native fps, before captions and H.264, and optionally its last latents), kept in
  the work directory's ``cache/tails/`` under the finished clip's content hash (a renderer only
  sees a temporary name for its clip, and a content key stays right when the directory moves).
  Any generative backend can continue any other's shot of the same size and native fps.
- **The camera guide**: :func:`guide_frames`, the shot rendered by the procedural renderer with the
  planned camera and no captions, grain or vignette (the training-free guide's noised start).
- **Writing**: :func:`write_clip`, the plan-fps frames with the shot's lyric caption drawn over them,
  handed over at crossfades as the procedural renderer does (:mod:`stages.render.caption_fade`).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from stages.render import ShotJob

log = logging.getLogger(__name__)

# What a checkpoint's fingerprint reads: weights, configs and tokenizer files — not READMEs, images,
# download metadata (.cache/huggingface/…, *.metadata, *.lock) or hub refs.
FINGERPRINT_SUFFIXES = (".safetensors", ".json", ".model", ".txt", ".bin", ".pth", ".pt", ".gguf")
_CHUNK = 1 << 20
TAILS = "tails"  # folder of raw tails inside the work directory's cache


# ------------------------------------------------------------------ weights


def weights_fingerprint(weights_dir: Path, files: tuple[Path, ...] | None = None) -> str:
    """A fast content fingerprint of a checkpoint's weight, config and tokenizer files.

    ``files`` (inside ``weights_dir``) are the files a backend reads; by default every file with a
    weight, config or tokenizer suffix outside hidden folders (a hub download's ``.cache/``), so
    READMEs, refs, locks and download metadata never count and re-downloading the same weights
    keeps every cached shot. Files up to 4 MiB are hashed whole; larger ones by size and their
    first, middle and last MiB (a safetensors file starts with its tensor index).
    """
    h = hashlib.sha256()
    d = Path(weights_dir)
    if files is None:
        files = tuple(
            p
            for p in d.rglob("*")
            if p.suffix in FINGERPRINT_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(d).parts)
            and p.is_file()
        )
    for p in sorted(files):
        size = p.stat().st_size
        h.update(f"{p.relative_to(d).as_posix()}:{size}\n".encode())
        with p.open("rb") as f:
            if size <= 4 * _CHUNK:
                h.update(f.read())
                continue
            for offset in (0, size // 2, size - _CHUNK):
                f.seek(offset)
                h.update(f.read(_CHUNK))
    return h.hexdigest()


def renderer_fingerprint(name: str, version: str, options, weights: str, **extra: str) -> dict[str, str]:  # noqa: ANN001
    """A generative backend's part of every shot key: its options (``GenerativeOptions.fingerprint``),
    the weights' fingerprint, the camera guide's renderer, the libraries' versions and ``extra``."""
    import diffusers
    import torch
    import transformers

    fp = options.fingerprint()
    fp.update(weights=weights, guide_renderer=guide_fingerprint(), renderer=name, version=version,
              diffusers=diffusers.__version__, transformers=transformers.__version__,
              torch=torch.__version__.split("+")[0], **extra)
    return fp


# ------------------------------------------------------------------ the portrait, the seed


def frame_reference(image: np.ndarray, width: int, height: int, centre: tuple[float, float] | None) -> np.ndarray:
    """Crop ``image`` to the video's aspect around ``centre`` (x, y) and resize it to width x height."""
    import cv2

    ih, iw = image.shape[:2]
    aspect = width / height
    cw, ch = (iw, iw / aspect) if iw / ih < aspect else (ih * aspect, ih)
    cx, cy = centre if centre is not None else (iw / 2, ih / 2)
    x0 = int(round(np.clip(cx - cw / 2, 0, iw - cw)))
    y0 = int(round(np.clip(cy - ch / 2, 0, ih - ch)))
    crop = image[y0 : y0 + int(round(ch)), x0 : x0 + int(round(cw))]
    interp = cv2.INTER_AREA if crop.shape[1] > width else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=interp))


def framed_reference(job: ShotJob) -> np.ndarray:
    """The job's portrait at the plan's size, cropped to its aspect around the singer's face (uint8 RGB)."""
    from mvdirector.media.image import load_image

    r, face = job.plan.render, job.reference.primary_face
    centre = None if face is None else ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
    return frame_reference(load_image(job.reference_image), r.width, r.height, centre)


def shot_seed(plan_seed: int, shot_seed_: int, shot_id: str) -> int:
    """The noise seed of one shot: a hash of the plan's seed, the shot's and its id (31 bits)."""
    digest = hashlib.sha256(f"{plan_seed}:{shot_seed_}:{shot_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


# ------------------------------------------------------------------ the native clock


@dataclass(frozen=True)
class NativeSpan:
    """The native frames a shot generates, on the song's native clock."""

    start: int  # the song's native frame of generated frame 0
    stop: int  # the song's native frame after the shot's own (where the next shot of a take starts)
    count: int  # frames to generate: ``stop - start``, rounded up to the model's grid
    fps: float  # native fps
    to_plan: np.ndarray  # per plan frame of the shot: the generated frame it shows
    to_native: np.ndarray  # per generated frame: the shot's plan frame nearest to it (for guides)


def native_span(job: ShotJob, native_fps: float, multiple: int = 1) -> NativeSpan:
    """The native frames of ``job``'s shot: nearest to its cuts, ``count`` rounded up to ``multiple·k + 1``."""
    from models.timebase import round_up_frames, song_nearest, song_span

    fps = job.plan.render.fps
    first, end = job.shot.frame_range(fps)
    start, stop = song_span(first, end, fps, native_fps)
    count = stop - start if multiple <= 1 else round_up_frames(stop - start, multiple)
    to_plan = song_nearest(first, end - first, fps, start, stop - start, native_fps)
    to_native = song_nearest(start, count, native_fps, first, end - first, fps)
    return NativeSpan(start, stop, count, float(native_fps), to_plan, to_native)


# ------------------------------------------------------------------ raw tails


@dataclass(frozen=True)
class RawTail:
    """What a shot leaves for the shot that continues it."""

    frames: np.ndarray  # (T, H, W, 3) uint8: its last raw frames at the native fps (no captions, no H.264)
    fps: float  # native fps of ``frames``
    latents: np.ndarray | None = None  # (1, C, T', h, w) float32, normalised, when the backend keeps them

    @property
    def last_frame(self) -> np.ndarray:
        """The shot's last raw frame (H, W, 3)."""
        return self.frames[-1]


def raw_tail_path(cache_dir: Path, clip: Path) -> Path:
    """Where the raw tail of ``clip`` is kept: keyed by the clip's content hash."""
    from mvdirector.media.atomic import file_sha256

    return Path(cache_dir) / TAILS / f"tail-{file_sha256(clip)[:32]}.npz"


def save_raw_tail(cache_dir: Path, clip: Path, tail: RawTail) -> Path:
    """Write ``tail`` for the finished ``clip`` atomically (compressed); returns its path."""
    from mvdirector.media.atomic import atomic_output

    path = raw_tail_path(cache_dir, clip)
    arrays = {"frames": np.ascontiguousarray(tail.frames), "fps": np.float64(tail.fps)}
    if tail.latents is not None:
        arrays["latents"] = np.ascontiguousarray(tail.latents, dtype=np.float32)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return path


def load_raw_tail(cache_dir: Path | None, clip: Path | None) -> RawTail | None:
    """The raw tail kept for ``clip``, or None when there is none (no cache, another renderer, deleted)."""
    if cache_dir is None or clip is None or not Path(clip).is_file():
        return None
    path = raw_tail_path(cache_dir, clip)
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            latents = z["latents"] if "latents" in z.files else None
            return RawTail(z["frames"], float(z["fps"]), latents)
    except (OSError, ValueError, KeyError) as e:
        log.warning("ignoring unreadable raw tail %s: %s", path, e)
        return None


def continued(job: ShotJob) -> bool:
    """Whether a shot of the plan continues ``job``'s shot (only then is its raw tail kept)."""
    return any(s.continues_from == job.shot.id for s in job.plan.shots)


def previous_tail(job: ShotJob, size: tuple[int, int], fps: float) -> RawTail | None:
    """The raw tail of the shot ``job``'s shot continues, when one of this size (h, w) and native fps is kept.

    None for a shot that starts a take; a warning (in the log) when the shot continues another
    but nothing usable is kept (rendered by a renderer that keeps none, or the cache was cleared).
    """
    if not job.shot.continues_from:
        return None
    tail = load_raw_tail(job.cache_dir, job.previous_clip)
    if tail is None or tail.frames.shape[1:3] != tuple(size) or abs(tail.fps - fps) > 1e-6:
        log.warning(
            "shot '%s' continues '%s' but no raw frames of it are kept in the work directory "
            "(rendered by another renderer, or its cache was cleared): starting it afresh",
            job.shot.id,
            job.shot.continues_from,
        )
        return None
    return tail


# ------------------------------------------------------------------ the camera guide


def guide_renderer():  # noqa: ANN201 - stages.procedural.ProceduralRenderer
    """The procedural renderer that draws camera guides: planned camera, no captions, grain or vignette."""
    from stages.render import make_renderer

    return make_renderer("procedural", captions=False, grain=0.0, vignette=0.0)


def guide_fingerprint() -> str:
    """What a guided shot depends on of the guide renderer (its version and options), for cache keys."""
    return repr(sorted(guide_renderer().fingerprint().items()))


def guide_frames(job: ShotJob) -> np.ndarray:
    """The shot rendered by the procedural renderer at the plan's fps: (n_frames, H, W, 3) uint8."""
    from mvdirector.media.video import read_frames

    # The shot's renderer_options are the generative backend's, not the procedural renderer's.
    guide_job = replace(job, shot=job.shot.model_copy(update={"renderer_options": {}, "renderer": "procedural"}))
    with tempfile.TemporaryDirectory(prefix="mvd-guide-") as tmp:
        clip = Path(tmp) / "guide.mp4"
        guide_renderer().render_shot(guide_job, clip)
        return np.stack(list(read_frames(clip)))


# ------------------------------------------------------------------ writing the clip


def write_clip(job: ShotJob, frames: np.ndarray, out_path: Path, captions: bool = True) -> None:
    """Write the shot's plan-fps ``frames`` (H.264, no audio) with its lyric caption, faded at crossfades
    (``captions``: the backend's option; ``job.burn_captions``: ``--captions``)."""
    from mvdirector.media.video import VideoWriter
    from stages.render.caption_fade import caption_opacity
    from stages.render.captions import CaptionRenderer

    shot, r = job.shot, job.plan.render
    drawer = None
    opacity = np.ones(len(frames))
    if captions and job.burn_captions and shot.lyric is not None and shot.lyric.line.strip():
        drawer = CaptionRenderer(shot.lyric, r.width, r.height)
        index = next((k for k, s in enumerate(job.plan.shots) if s.id == shot.id), None)
        if index is not None:
            opacity = caption_opacity(job.plan, index)
    with VideoWriter(out_path, r.width, r.height, r.fps) as writer:
        for i, frame in enumerate(frames):
            frame = np.array(frame, dtype=np.uint8, copy=True, order="C")
            if drawer is not None and opacity[i] > 0.004:
                drawer.apply(frame, i / r.fps, float(opacity[i]))
            writer.write(frame)
