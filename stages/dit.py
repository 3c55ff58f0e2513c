"""The ``dit`` renderer: Wan image-to-video, generated at the model's native fps and retimed to the plan.

Per shot, by default, this is exactly Wan I2V (the model code is in ``models/``): the first
frame is given — the previous shot's last raw frame when the shot continues another (``chain``),
else the camera guide's first frame when guiding, else the reference portrait framed to the
video's aspect — and the rest is generated. The planned camera comes either from a trained
Plücker-ray adapter or, training-free, from a guide video rendered by the ``procedural``
renderer, VAE-encoded, noised to ``guide_strength`` and denoised from there
(``camera="auto"``: the adapter when one is loaded, the guide otherwise). Frames are generated
at the checkpoint's native fps (16 for Wan2.1/2.2) and retimed to the plan's fps with
:mod:`models.timebase`, so motion plays at the trained speed and the frame count is the plan's.
Reference and FramePack motion tokens are opt-in (``reference_tokens``, ``motion_frames``).

Each clip's raw last frame (before captions) and last latents are kept in the work
directory's ``cache/dit/``, keyed by the clip's content hash, for the shot that continues it:
the renderer only sees a temporary name for its clip, and a content key also stays right when
the work directory moves. Options: :class:`stages.dit_options.DitOptions`.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mvdirector.errors import InputError, ModelError
from stages.dit_options import DEFAULT_NEGATIVE, PER_SHOT, DitOptions

__all__ = ["DEFAULT_NEGATIVE", "PER_SHOT", "DitOptions", "DitRenderer", "frame_reference", "weights_fingerprint"]
log = logging.getLogger(__name__)

VERSION = "2"
Progress = Callable[[float, str], None] | None
# What a checkpoint's fingerprint reads: weights, configs and tokenizer files — not READMEs, images,
# download metadata (.cache/huggingface/…, *.metadata, *.lock) or hub refs.
FINGERPRINT_SUFFIXES = (".safetensors", ".json", ".model", ".txt", ".bin", ".pth", ".pt", ".gguf")
_CHUNK = 1 << 20


def weights_fingerprint(weights_dir: Path) -> str:
    """A fast content fingerprint of a checkpoint's weight, config and tokenizer files.

    Files in hidden folders (a hub download's ``.cache/``) and anything else (READMEs, refs,
    locks, download metadata) are ignored, so re-downloading the same weights keeps every cached
    shot. Files up to 4 MiB are hashed whole; larger ones by size and their first, middle and
    last MiB (a safetensors file starts with its tensor index).
    """
    h = hashlib.sha256()
    d = Path(weights_dir)
    files = sorted(
        p
        for p in d.rglob("*")
        if p.suffix in FINGERPRINT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(d).parts)
        and p.is_file()
    )
    for p in files:
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


def frame_reference(
    image: np.ndarray, width: int, height: int, centre: tuple[float, float] | None
) -> np.ndarray:
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


@dataclass(frozen=True)
class RawTail:
    """What a shot leaves for the shot that continues it: its last raw frame and last latents."""

    last_frame: np.ndarray  # (H, W, 3) uint8, as generated (no captions, no H.264)
    latents: np.ndarray  # (1, C, T, h, w) float32, normalised, at the native fps


def raw_tail_path(cache_dir: Path, clip: Path) -> Path:
    """Where the raw tail of ``clip`` is kept: keyed by the clip's content hash."""
    h = hashlib.sha256()
    with Path(clip).open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return Path(cache_dir) / "dit" / f"tail-{h.hexdigest()[:32]}.npz"


def save_raw_tail(cache_dir: Path, clip: Path, tail: RawTail) -> Path:
    """Write ``tail`` for ``clip`` atomically; returns its path."""
    from mvdirector.media.atomic import atomic_output

    path = raw_tail_path(cache_dir, clip)
    with atomic_output(path) as tmp:
        np.savez(tmp, last_frame=tail.last_frame, latents=tail.latents)
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
            return RawTail(z["last_frame"], z["latents"])
    except (OSError, ValueError, KeyError) as e:
        log.warning("ignoring unreadable raw tail %s: %s", path, e)
        return None


class DitRenderer:
    """``ShotRenderer`` backend ``dit``: options as keyword arguments (see :class:`DitOptions`)."""

    name = "dit"
    VERSION = VERSION

    def __init__(self, **options: Any) -> None:
        from models.i2v_checkpoint import inspect_checkpoint

        self.options = DitOptions.from_mapping(options)
        if self.options.weights is None:
            raise ModelError(
                "the dit renderer needs model weights",
                hint="pass --weights DIR (a local Wan I2V diffusers checkpoint, e.g. Wan2.1-I2V-14B-480P-Diffusers)",
            )
        self.checkpoint = inspect_checkpoint(Path(self.options.weights))
        if self.options.adapter is not None and not Path(self.options.adapter).is_dir():
            raise ModelError(
                f"camera adapter directory {self.options.adapter} does not exist",
                hint="drop the adapter option to use training-free camera guidance",
            )
        self._check_experts(self.options, "dit renderer option")
        self._pipe = None
        self._fingerprint: dict[str, str] | None = None

    def _check_experts(self, opts: DitOptions, where: str) -> None:
        if opts.guidance_scale_2 is not None and not self.checkpoint.two_experts:
            raise InputError(
                f"{where} guidance_scale_2={opts.guidance_scale_2} needs a two-expert checkpoint (Wan2.2 A14B); "
                f"{self.checkpoint.path} has one transformer",
                "use guidance_scale",
            )

    def shot_options(self, shot) -> DitOptions:
        """The options of one shot: its ``renderer_options`` over the renderer's, validated."""
        where = f"shot '{shot.id}' renderer_options"
        opts = DitOptions.from_mapping(dict(shot.renderer_options), base=self.options, where=where)
        self._check_experts(opts, where)
        return opts

    def fingerprint(self) -> dict[str, str]:
        """Options and weight fingerprints that change the pixels (they enter the shot cache key)."""
        if self._fingerprint is None:
            import diffusers
            import torch

            o = self.options
            fp = o.fingerprint()
            fp["weights"] = weights_fingerprint(Path(o.weights))  # type: ignore[arg-type]
            fp["adapter"] = weights_fingerprint(Path(o.adapter)) if o.adapter else "none"
            fp["family"] = self.checkpoint.defaults.family
            # Guided shots start from the procedural render, so its version and options matter too.
            fp["guide_renderer"] = repr(sorted(_guide_renderer().fingerprint().items()))
            fp.update(
                renderer=self.name,
                version=VERSION,
                diffusers=diffusers.__version__,
                torch=torch.__version__.split("+")[0],
            )
            self._fingerprint = fp
        return self._fingerprint

    @property
    def pipeline(self):
        """The loaded :class:`models.shot_pipeline.ShotPipeline` (loaded on first use)."""
        if self._pipe is None:
            from models.shot_pipeline import PipelineOptions, ShotPipeline

            o = self.options
            popts = PipelineOptions(
                device=o.device,
                dtype=o.dtype,
                offload=o.offload,  # type: ignore[arg-type]
                vae_tiling=o.vae_tiling,
                attention=o.attention,
                max_sequence_length=o.max_sequence_length,
            )
            t0 = time.perf_counter()
            self._pipe = ShotPipeline.from_pretrained(
                Path(o.weights), Path(o.adapter) if o.adapter else None, options=popts  # type: ignore[arg-type]
            )
            log.info("loaded Wan checkpoint %s in %.1f s", o.weights, time.perf_counter() - t0)
        return self._pipe

    # ------------------------------------------------------------------ helpers
    def _camera_track(self, job, n_frames: int):
        from stages.render.camera_path import camera_track

        return camera_track(job.shot, n_frames)

    def _guide(self, job) -> np.ndarray:
        """The shot rendered by the procedural renderer at the plan's fps (no captions, grain or vignette)."""
        from mvdirector.media.video import read_frames

        proc = _guide_renderer()
        # The shot's renderer_options are the dit's, not the procedural renderer's.
        guide_job = replace(
            job, shot=job.shot.model_copy(update={"renderer_options": {}, "renderer": "procedural"})
        )
        with tempfile.TemporaryDirectory(prefix="mvd-dit-") as tmp:
            clip = Path(tmp) / "guide.mp4"
            proc.render_shot(guide_job, clip)
            return np.stack(list(read_frames(clip)))

    def _previous_tail(self, job, opts: DitOptions, shape: tuple[int, int, int]) -> RawTail | None:
        """The raw tail of the shot this one continues, when chaining or motion tokens want it."""
        if not job.shot.continues_from or not (opts.chain or opts.motion_frames):
            return None
        tail = load_raw_tail(job.cache_dir, job.previous_clip)
        if tail is None or tail.last_frame.shape != shape:
            log.warning(
                "shot '%s' continues '%s' but no raw last frame of it is kept in the work directory "
                "(rendered by another renderer, or its cache was cleared): starting it unchained",
                job.shot.id,
                job.shot.continues_from,
            )
            return None
        return tail

    # ------------------------------------------------------------------ rendering
    def render_shot(self, job, out_path: Path, progress: Progress = None) -> dict[str, float]:
        """Render ``job.shot`` to ``out_path`` (H.264, yuv420p, no audio); returns timing metrics."""
        import torch

        from models.shot_pipeline import ShotRequest
        from models.timebase import native_frame_count, retime_indices
        from mvdirector.media.image import load_image
        from mvdirector.media.video import VideoWriter

        t0 = time.perf_counter()
        shot, r = job.shot, job.plan.render
        opts = self.shot_options(shot)
        report = progress or (lambda f, m: None)
        pipe = self.pipeline
        m = pipe.grid_multiple()
        if r.width % m or r.height % m:
            raise InputError(
                f"size {r.width}x{r.height} is not a multiple of {m}, which the dit renderer needs",
                f"use e.g. --size {r.width // m * m}x{r.height // m * m}",
            )
        mode = opts.camera
        if mode == "auto":
            mode = "adapter" if pipe.has_adapter else "guide"
        if mode in ("adapter", "both") and not pipe.has_adapter:
            raise ModelError(
                f"shot '{shot.id}' asks for camera={mode} but no camera adapter is loaded",
                hint="pass the adapter option or use camera=guide",
            )
        sampling = opts.sampling(self.checkpoint.defaults, r.width, r.height)
        n = job.n_frames
        n_native = native_frame_count(n, r.fps, sampling.native_fps, pipe.t_scale)
        to_native = retime_indices(n_native, sampling.native_fps, n, r.fps)  # native frame -> plan frame

        face = job.reference.primary_face
        centre = None if face is None else ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
        reference = frame_reference(load_image(job.reference_image), r.width, r.height, centre)
        guide = self._guide(job)[to_native] if mode in ("guide", "both") else None
        track = self._camera_track(job, n).select(to_native) if mode in ("adapter", "both") else None
        tail = self._previous_tail(job, opts, (r.height, r.width, 3))
        chained = tail is not None and opts.chain
        image = tail.last_frame if chained else guide[0] if guide is not None else reference
        history = torch.from_numpy(tail.latents) if tail is not None and opts.motion_frames else None
        req = ShotRequest(
            prompt=shot.prompt,
            negative_prompt=opts.negative_prompt,
            image=np.ascontiguousarray(image),
            num_frames=n_native,
            height=r.height,
            width=r.width,
            num_inference_steps=sampling.steps,
            guidance_scale=sampling.guidance_scale,
            guidance_scale_2=sampling.guidance_scale_2 if self.checkpoint.two_experts else None,
            shift=sampling.shift,
            seed=_shot_seed(r.seed, shot.seed, shot.id),
            windows=opts.window_config(),
            camera=track,
            guide_video=guide,
            guide_strength=opts.guide_strength,
            reference=reference if opts.reference_tokens else None,
            history=history,
        )
        t1 = time.perf_counter()
        out = pipe(req, progress=lambda f, msg: report(0.95 * f, f"{shot.id}: {msg}"))
        t2 = time.perf_counter()
        frames = out.frames[retime_indices(n, r.fps, n_native, sampling.native_fps)]
        captions = None
        if opts.captions and job.burn_captions and shot.lyric is not None and shot.lyric.line.strip():
            from stages.render.captions import CaptionRenderer

            captions = CaptionRenderer(shot.lyric, r.width, r.height)
        with VideoWriter(out_path, r.width, r.height, r.fps) as writer:
            for i, frame in enumerate(frames):
                frame = np.ascontiguousarray(frame)
                writer.write(captions.apply(frame, i / r.fps) if captions is not None else frame)
        if job.cache_dir is not None:
            from models.motion import MotionLayout

            keep = out.latents[:, :, -MotionLayout().total :].numpy()
            save_raw_tail(job.cache_dir, out_path, RawTail(np.ascontiguousarray(frames[-1]), keep))
        report(1.0, f"{shot.id}: written")
        metrics = dict(out.metrics)
        metrics.update(
            frames=float(n),
            dit_native_frames=float(n_native),
            dit_native_fps=float(sampling.native_fps),
            dit_chained=float(chained),
            dit_camera_guide=float(guide is not None),
            prepare_s=round(t1 - t0, 4),
            denoise_s=round(t2 - t1, 4),
            render_s=round(time.perf_counter() - t0, 4),
        )
        return metrics


def _guide_renderer():
    """The procedural renderer that draws camera guides: planned camera, no captions, grain or vignette."""
    from stages.render import make_renderer

    return make_renderer("procedural", captions=False, grain=0.0, vignette=0.0)


def _shot_seed(plan_seed: int, shot_seed: int, shot_id: str) -> int:
    digest = hashlib.sha256(f"{plan_seed}:{shot_seed}:{shot_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
