"""The ``dit`` renderer: a Wan image-to-video DiT with camera control and motion-frame continuity.

Per shot: the reference portrait framed to the video's aspect is the identity latent;
the planned camera becomes either Plücker rays through a trained camera adapter, or —
training-free — a guide video rendered by the ``procedural`` renderer, VAE-encoded,
noised to ``guide_strength`` and denoised from there, so the planned move and framing carry
over (``camera="auto"`` uses the adapter when one is loaded, the guide otherwise; both can
be combined). A shot that ``continues_from`` another takes that clip's last latents as
FramePack motion context. Long shots use time-aware dynamic windows. The model code lives
in ``models/``; this module only turns plan objects into a :class:`ShotRequest`.

Options (constructor keywords; the per-shot ones may also come from a shot's
``renderer_options``): see :class:`DitOptions`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from mvdirector.errors import InputError, ModelError

log = logging.getLogger(__name__)

VERSION = "1"
Progress = Callable[[float, str], None] | None
CAMERA_MODES = ("auto", "guide", "adapter", "both", "none")
DEFAULT_NEGATIVE = (
    "blurry, low quality, distorted face, deformed hands, extra fingers, static frame, watermark, text, "
    "subtitles, jpeg artifacts, washed out colours"
)
# Options a shot's renderer_options may override; the rest belong to the loaded model.
PER_SHOT = (
    "camera",
    "guide_strength",
    "steps",
    "guidance_scale",
    "negative_prompt",
    "motion_frames",
    "captions",
    "window",
    "overlap",
    "window_shift",
    "window_max_shift",
    "min_last",
)


@dataclass(frozen=True)
class DitOptions:
    """Options of the dit renderer (lengths of windows are in latent frames: 1 latent = 4 frames)."""

    weights: str | None = None  # local diffusers Wan I2V checkpoint directory
    adapter: str | None = None  # camera adapter directory (config.json + camera_adapter.safetensors)
    camera: str = "auto"  # auto | guide | adapter | both | none
    guide_strength: float = 0.7  # noise level the procedural guide is taken to (1 = ignore the guide)
    steps: int = 30
    guidance_scale: float = 5.0
    negative_prompt: str = DEFAULT_NEGATIVE
    motion_frames: bool = True  # continue from the previous shot's last latents
    captions: bool = True  # draw the shot's lyric line over the generated frames
    window: int = 21  # 81 frames, Wan's training length
    overlap: int = 5
    window_shift: int = 1
    window_max_shift: int = 4
    min_last: int = 9
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32
    device: str = "auto"
    offload: str = "none"  # none | model (each component on the GPU only while it runs)
    vae_tiling: bool = False
    attention: str | None = None  # diffusers attention backend, e.g. flash, sage, native
    max_sequence_length: int = 512

    @classmethod
    def from_mapping(
        cls, values: dict[str, Any], base: DitOptions | None = None, where: str = "dit renderer option"
    ) -> DitOptions:
        """Options from keyword values over ``base``, type-checked; unknown keys are an InputError.

        With a ``base`` (per-shot overrides) only the options in ``PER_SHOT`` may change.
        """
        per_shot = base is not None
        base = base or cls()
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise InputError(f"{where} '{key}' is unknown", f"use one of {', '.join(sorted(known))}")
            if per_shot and key not in PER_SHOT:
                raise InputError(
                    f"{where} '{key}' cannot change per shot", f"per-shot options: {', '.join(PER_SHOT)}"
                )
            changes[key] = _coerce(key, value, getattr(cls(), key), where)
        opts = replace(base, **changes)
        opts.validate(where)
        return opts

    def validate(self, where: str = "dit renderer option") -> None:
        """Raise InputError for out-of-range values."""
        if self.camera not in CAMERA_MODES:
            raise InputError(f"{where} camera={self.camera!r} is not one of {', '.join(CAMERA_MODES)}")
        if not 0.0 < self.guide_strength <= 1.0:
            raise InputError(
                f"{where} guide_strength={self.guide_strength} is outside (0, 1]",
                "0.6–0.8 keeps the planned move and framing",
            )
        if self.steps < 1 or self.guidance_scale < 0:
            raise InputError(
                f"{where} steps={self.steps} / guidance_scale={self.guidance_scale} out of range"
            )
        if self.offload not in ("none", "model"):
            raise InputError(f"{where} offload={self.offload!r} is not 'none' or 'model'")
        try:
            self.window_config()
        except ValueError as e:
            raise InputError(f"{where} windows: {e}") from e

    def window_config(self):
        """The :class:`models.windows.WindowConfig` of these options."""
        from models.windows import WindowConfig

        return WindowConfig(
            self.window, self.overlap, self.window_shift, self.window_max_shift, self.min_last
        )


def _coerce(key: str, value: Any, default: Any, where: str) -> Any:
    if isinstance(value, Path):
        value = str(value)
    if default is None or value is None:
        return value if value is None or isinstance(value, str) else str(value)
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes", "on")
            return bool(value)
        if kind is int:
            if float(value) != int(float(value)):
                raise ValueError(value)
            return int(float(value))
        return kind(value)
    except (TypeError, ValueError) as e:
        raise InputError(f"{where} {key}={value!r} is not a {kind.__name__}") from e


def weights_fingerprint(weights_dir: Path) -> str:
    """A fast fingerprint of a checkpoint: small files in full, large ones by size and first/last MiB."""
    h = hashlib.sha256()
    d = Path(weights_dir)
    for p in sorted(x for x in d.rglob("*") if x.is_file() and not x.name.startswith(".")):
        rel = p.relative_to(d).as_posix()
        size = p.stat().st_size
        h.update(f"{rel}:{size}\n".encode())
        with p.open("rb") as f:
            if p.suffix in (".json", ".txt", ".model") or size <= 2 << 20:
                h.update(f.read())
            else:
                h.update(f.read(1 << 20))
                f.seek(size - (1 << 20))
                h.update(f.read(1 << 20))
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


class DitRenderer:
    """``ShotRenderer`` backend ``dit``: options as keyword arguments (see :class:`DitOptions`)."""

    name = "dit"
    VERSION = VERSION

    def __init__(self, **options: Any) -> None:
        self.options = DitOptions.from_mapping(options)
        if self.options.weights is None:
            raise ModelError(
                "the dit renderer needs model weights",
                hint="pass --weights DIR (a local Wan I2V "
                "diffusers checkpoint, e.g. Wan2.1-I2V-14B-480P-Diffusers)",
            )
        from models.shot_pipeline import check_weights_dir

        check_weights_dir(Path(self.options.weights))
        if self.options.adapter is not None and not Path(self.options.adapter).is_dir():
            raise ModelError(
                f"camera adapter directory {self.options.adapter} does not exist",
                hint="drop the adapter option to use training-free camera guidance",
            )
        self._pipe = None
        self._fingerprint: dict[str, str] | None = None

    def fingerprint(self) -> dict[str, str]:
        """Options and weight fingerprints that change the pixels (they enter the shot cache key)."""
        if self._fingerprint is None:
            import diffusers
            import torch

            o = self.options
            fp = {
                k: str(v)
                for k, v in asdict(o).items()
                if k not in ("weights", "adapter", "device", "offload", "attention", "vae_tiling")
            }
            fp["weights"] = weights_fingerprint(Path(o.weights))  # type: ignore[arg-type]
            fp["adapter"] = weights_fingerprint(Path(o.adapter)) if o.adapter else "none"
            # Guided shots start from the procedural render, so its version and options matter too.
            fp["guide_renderer"] = json.dumps(_guide_renderer().fingerprint(), sort_keys=True)
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
                Path(o.weights),
                Path(o.adapter) if o.adapter else None,
                options=popts,  # type: ignore[arg-type]
            )
            log.info("loaded Wan checkpoint %s in %.1f s", o.weights, time.perf_counter() - t0)
        return self._pipe

    # ------------------------------------------------------------------ helpers
    def _camera_track(self, job, n_frames: int):
        from stages.render.camera_path import camera_track

        return camera_track(job.shot, n_frames)

    def _guide(self, job, work: Path) -> np.ndarray:
        """The shot rendered by the procedural renderer (no captions, grain or vignette)."""
        from mvdirector.media.video import read_frames

        proc = _guide_renderer()
        # The shot's renderer_options are the dit's, not the procedural renderer's.
        guide_job = replace(
            job, shot=job.shot.model_copy(update={"renderer_options": {}, "renderer": "procedural"})
        )
        clip = work / "guide.mp4"
        proc.render_shot(guide_job, clip)
        return np.stack(list(read_frames(clip)))

    def _history(self, job, pipe) -> Any:
        """Normalised latents of the previous clip's last frames (FramePack context), or None."""
        from models.motion import MotionLayout

        if job.previous_clip is None or not Path(job.previous_clip).is_file():
            return None
        from mvdirector.media.video import probe_video, read_frames

        need = (MotionLayout().total - 1) * pipe.t_scale + 1
        n = probe_video(job.previous_clip).frames
        frames = np.stack(list(read_frames(job.previous_clip, start=max(0, n - need))))
        r = job.plan.render
        if frames.shape[1:3] != (r.height, r.width):
            raise InputError(
                f"previous clip {job.previous_clip} is {frames.shape[2]}x{frames.shape[1]}, "
                f"not the plan's {r.width}x{r.height}",
                "re-render the shot it continues from",
            )
        # Only whole latent frames: keep 1 + 4k frames so the newest latent holds the last frame.
        keep = (frames.shape[0] - 1) // pipe.t_scale * pipe.t_scale + 1
        return pipe.encode_video(frames[-keep:])

    # ------------------------------------------------------------------ rendering
    def render_shot(self, job, out_path: Path, progress: Progress = None) -> dict[str, float]:
        """Render ``job.shot`` to ``out_path`` (H.264, yuv420p, no audio); returns timing metrics."""
        from models.shot_pipeline import ShotRequest
        from mvdirector.media.image import load_image
        from mvdirector.media.video import VideoWriter

        t0 = time.perf_counter()
        shot, r = job.shot, job.plan.render
        opts = DitOptions.from_mapping(
            dict(shot.renderer_options), base=self.options, where=f"shot '{shot.id}' renderer_options"
        )
        report = progress or (lambda f, m: None)
        pipe = self.pipeline
        m = pipe.grid_multiple()
        if r.width % m or r.height % m:
            raise InputError(
                f"size {r.width}x{r.height} is not a multiple of {m}, which the dit renderer needs",
                f"use e.g. --size {r.width // m * m}x{r.height // m * m}",
            )
        n = job.n_frames
        face = job.reference.primary_face
        centre = None if face is None else ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
        reference = frame_reference(load_image(job.reference_image), r.width, r.height, centre)
        mode = opts.camera
        if mode == "auto":
            mode = "adapter" if pipe.has_adapter else "guide"
        if mode in ("adapter", "both") and not pipe.has_adapter:
            raise ModelError(
                f"shot '{shot.id}' asks for camera={mode} but no camera adapter is loaded",
                hint="pass the adapter option or use camera=guide",
            )
        history = self._history(job, pipe) if opts.motion_frames and shot.continues_from else None
        with tempfile.TemporaryDirectory(prefix="mvd-dit-") as tmp:
            guide = self._guide(job, Path(tmp)) if mode in ("guide", "both") else None
        track = self._camera_track(job, n) if mode in ("adapter", "both") else None
        req = ShotRequest(
            prompt=shot.prompt,
            negative_prompt=opts.negative_prompt,
            reference=reference,
            num_frames=n,
            height=r.height,
            width=r.width,
            camera=track,
            guide_video=guide,
            guide_strength=opts.guide_strength,
            history=history,
            num_inference_steps=opts.steps,
            guidance_scale=opts.guidance_scale,
            seed=_shot_seed(r.seed, shot.seed, shot.id),
            windows=opts.window_config(),
        )
        t1 = time.perf_counter()
        out = pipe(req, progress=lambda f, msg: report(0.95 * f, f"{shot.id}: {msg}"))
        t2 = time.perf_counter()
        captions = None
        if opts.captions and shot.lyric is not None and shot.lyric.line.strip():
            from stages.render.captions import CaptionRenderer

            captions = CaptionRenderer(shot.lyric, r.width, r.height)
        with VideoWriter(out_path, r.width, r.height, r.fps) as writer:
            for i, frame in enumerate(out.frames):
                frame = np.ascontiguousarray(frame)
                if captions is not None:
                    frame = captions.apply(frame, i / r.fps)
                writer.write(frame)
        report(1.0, f"{shot.id}: written")
        metrics = dict(out.metrics)
        metrics.update(
            frames=float(n),
            prepare_s=round(t1 - t0, 4),
            denoise_s=round(t2 - t1, 4),
            render_s=round(time.perf_counter() - t0, 4),
            dit_camera_guide=float(guide is not None),
        )
        return metrics


def _guide_renderer():
    """The procedural renderer that draws camera guides: planned camera, no captions, grain or vignette."""
    from stages.render import make_renderer

    return make_renderer("procedural", captions=False, grain=0.0, vignette=0.0)


def _shot_seed(plan_seed: int, shot_seed: int, shot_id: str) -> int:
    digest = hashlib.sha256(f"{plan_seed}:{shot_seed}:{shot_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
