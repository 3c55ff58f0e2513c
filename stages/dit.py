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

A clip that another shot continues leaves its raw last frame (before captions) and last latents
in the work directory's cache for that shot (:mod:`stages.render.generative`: raw tails,
the camera guide, the song's native clock and captions over generated frames, shared with
``s2v``). Options: :class:`stages.dit_options.DitOptions`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mvdirector.errors import InputError, ModelError
from stages.dit_options import DEFAULT_NEGATIVE, PER_SHOT, DitOptions
from stages.render.generative import (
    RawTail,
    continued,
    framed_reference,
    guide_frames,
    native_span,
    previous_tail,
    renderer_fingerprint,
    save_raw_tail,
    shot_seed,
    weights_fingerprint,
    write_clip,
)

__all__ = ["DEFAULT_NEGATIVE", "PER_SHOT", "DitOptions", "DitRenderer"]
log = logging.getLogger(__name__)

VERSION = "3"  # 3: frames on the song's native clock, raw tails shared with s2v, captions fade at crossfades
Progress = Callable[[float, str], None] | None


class DitRenderer:
    """``ShotRenderer`` backend ``dit``: options as keyword arguments (see :class:`DitOptions`)."""

    name = "dit"
    VERSION = VERSION

    def __init__(self, **options: Any) -> None:
        from models.i2v_checkpoint import inspect_checkpoint

        self.options = DitOptions.from_mapping(options)
        weights = self.options.weights_dir(
            "pass --weights DIR (a local Wan I2V diffusers checkpoint, e.g. Wan2.1-I2V-14B-480P-Diffusers)"
        )
        self.checkpoint = inspect_checkpoint(weights)
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
            o = self.options
            # Guided shots start from the procedural render, so its version and options matter too.
            self._fingerprint = renderer_fingerprint(
                self.name, VERSION, o, weights_fingerprint(Path(o.weights)),  # type: ignore[arg-type]
                adapter=weights_fingerprint(Path(o.adapter)) if o.adapter else "none",
                family=self.checkpoint.defaults.family,
            )
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

    # ------------------------------------------------------------------ rendering
    def render_shot(self, job, out_path: Path, progress: Progress = None) -> dict[str, float]:
        """Render ``job.shot`` to ``out_path`` (H.264, yuv420p, no audio); returns timing metrics."""
        import torch

        from models.shot_pipeline import ShotRequest

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
        span = native_span(job, sampling.native_fps, pipe.t_scale)

        reference = framed_reference(job)
        guide = guide_frames(job)[span.to_native] if mode in ("guide", "both") else None
        track = self._camera_track(job, n).select(span.to_native) if mode in ("adapter", "both") else None
        wants_tail = opts.chain or opts.motion_frames
        tail = previous_tail(job, (r.height, r.width), sampling.native_fps) if wants_tail else None
        chained = tail is not None and opts.chain
        image = tail.last_frame if chained else guide[0] if guide is not None else reference
        history = None
        if tail is not None and opts.motion_frames and tail.latents is not None:
            history = torch.from_numpy(tail.latents)
        req = ShotRequest(
            prompt=shot.prompt,
            negative_prompt=opts.negative_prompt,
            image=np.ascontiguousarray(image),
            num_frames=span.count,
            height=r.height,
            width=r.width,
            num_inference_steps=sampling.steps,
            guidance_scale=sampling.guidance_scale,
            guidance_scale_2=sampling.guidance_scale_2 if self.checkpoint.two_experts else None,
            shift=sampling.shift,
            seed=shot_seed(r.seed, shot.seed, shot.id),
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
        write_clip(job, out.frames[span.to_plan], out_path, opts.captions)
        if job.cache_dir is not None and continued(job):
            from models.motion import MotionLayout

            keep = out.latents[:, :, -MotionLayout().total :].numpy()
            last = out.frames[span.stop - span.start - 1 : span.stop - span.start]
            save_raw_tail(job.cache_dir, out_path, RawTail(np.ascontiguousarray(last), sampling.native_fps, keep))
        report(1.0, f"{shot.id}: written")
        metrics = dict(out.metrics)
        metrics.update(
            frames=float(n),
            dit_native_frames=float(span.count),
            dit_native_fps=float(sampling.native_fps),
            dit_chained=float(chained),
            dit_camera_guide=float(guide is not None),
            prepare_s=round(t1 - t0, 4),
            denoise_s=round(t2 - t1, 4),
            render_s=round(time.perf_counter() - t0, 4),
        )
        return metrics
