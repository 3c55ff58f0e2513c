"""Image-to-video shot pipeline: exactly Wan I2V by default, with opt-in camera and context extras.

One shot is rendered by :meth:`ShotPipeline.__call__` from a typed :class:`ShotRequest` in
numbered steps: (1) check inputs, (2) encode the prompt, (3) encode the image — CLIP tokens
(Wan2.1) and the condition latents: the VAE encoding of ``[image, zeros × (F−1)]`` in one
causal pass, mask 1 on the first frame, as Wan and diffusers' ``WanImageToVideoPipeline`` build
them — (4) camera rays for an adapter, (5) prepare latents (noise, or the camera guide noised
to ``guide_strength``), (6) denoise every window with classifier-free guidance (one scale per
expert), (7) decode. With no adapter, guide, reference or history and one window, this is
diffusers' pipeline step for step; ``tests/models/test_i2v_parity.py`` holds it to 1e-5.

Beyond that:

* **windows** — a shot longer than one window is denoised in time-aware dynamic windows; a
  window that starts later sees the shot's first latent frame (the given image, mask 1) ahead
  of its own frames, so every window is an I2V clip conditioned on the image;
* **reference tokens** (opt-in) — the identity image's latent as clean tokens at rotary time 0;
* **motion tokens** (opt-in) — the previous shot's last latents, FramePack-packed, in the
  windows that start the shot. With context the rotary layout is
  ``[reference (t=0)] [motion 4× | 2× | 1×] [noisy window]``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models.camera import CameraTrack
from models.camera_adapter import CameraAdapter, camera_rays
from models.i2v_checkpoint import Components, inspect_checkpoint, load_components
from models.motion import MotionLayout, MotionPacker
from models.wan_camera import CameraWanTransformer, TokenGroup
from models.wan_runtime import OFFLOADS, PipelineOptions, Progress, WanRuntime, clean_prompt
from models.windows import Window, WindowConfig, denoise_windows
from mvdirector.errors import InputError, ModelError

__all__ = ["PipelineOptions", "ShotOutput", "ShotPipeline", "ShotRequest", "clean_prompt"]
log = logging.getLogger(__name__)


@dataclass
class ShotRequest:
    """Everything one shot needs. Images/videos are uint8 RGB, (H, W, 3) / (F, H, W, 3).

    ``image`` is the I2V first frame: the framed reference, the camera guide's first frame, or
    the previous shot's last frame. ``num_frames`` are generated frames (padded to 4k+1 inside).
    """

    prompt: str
    image: np.ndarray
    num_frames: int
    height: int
    width: int
    negative_prompt: str = ""
    num_inference_steps: int = 40
    guidance_scale: float = 5.0  # the (high-noise) transformer
    guidance_scale_2: float | None = None  # the low-noise expert; None: guidance_scale
    shift: float | None = None  # flow shift; None: the checkpoint's scheduler config
    seed: int = 0
    windows: WindowConfig = field(default_factory=WindowConfig)
    camera: CameraTrack | None = None  # per generated frame; used by the camera adapter
    guide_video: np.ndarray | None = None  # training-free camera guidance (procedural render)
    guide_strength: float = 0.7  # 1 = start from pure noise, 0 = return the guide
    reference: np.ndarray | None = None  # opt-in identity tokens
    history: torch.Tensor | None = None  # opt-in motion tokens: previous normalised latents (1, C, T, h, w)


@dataclass
class ShotOutput:
    """Decoded frames (F, H, W, 3) uint8, the final normalised latents and run metrics."""

    frames: np.ndarray
    latents: torch.Tensor
    metrics: dict[str, float]


class ShotPipeline(WanRuntime):
    """Wan I2V: the runtime's encoders plus the transformer(s) in the camera wrapper; call with a request."""

    def __init__(
        self,
        parts: Components,
        adapter: CameraAdapter | None = None,
        boundary_ratio: float | None = None,
        options: PipelineOptions | None = None,
    ) -> None:
        super().__init__(parts, options)
        self.boundary_ratio = boundary_ratio if parts.transformer_2 is not None else None
        self.model = CameraWanTransformer(parts.transformer, adapter)
        self.model_2 = CameraWanTransformer(parts.transformer_2, adapter) if parts.transformer_2 is not None else None
        self._packers: dict[int, MotionPacker] = {}  # built on first use: motion tokens are opt-in
        if self.options.attention:
            for m in self._models():
                try:
                    m.transformer.set_attention_backend(self.options.attention)
                except (ValueError, ImportError, RuntimeError) as e:
                    raise ModelError(
                        f"attention backend {self.options.attention!r} cannot be used: {e}",
                        hint="leave -O attention unset for PyTorch SDPA",
                    ) from e
        if parts.transformer.config.added_kv_proj_dim is not None and self.options.max_sequence_length != 512:
            # diffusers' Wan attention splits image and text context at a fixed 512 text tokens.
            raise InputError(
                f"max_sequence_length={self.options.max_sequence_length} does not work with an "
                "image-conditioned (Wan2.1 I2V) transformer",
                hint="leave max_sequence_length at 512",
            )
        # The transformers keep the dtype they were loaded with; our small modules follow the compute dtype.
        for m in self._models():
            m.eval().requires_grad_(False)
            if m.adapter is not None:
                m.adapter.to(dtype=self.dtype)
            if self.options.offload == "none":
                m.to(self.device)
        if self.options.offload == "group":
            # Stream the transformers' weights leaf by leaf from host memory while they run. Leaf level
            # because the camera/context path calls the transformer's parts, not its forward.
            for m in self._models():
                m.transformer.enable_group_offload(
                    onload_device=self.device, offload_device=torch.device("cpu"), offload_type="leaf_level"
                )
                if m.adapter is not None:
                    m.adapter.to(self.device)

    @classmethod
    def from_pretrained(
        cls, weights_dir: Path, adapter_dir: Path | None = None, options: PipelineOptions | None = None
    ) -> ShotPipeline:
        """Load a local diffusers-format Wan I2V checkpoint (and optionally a camera adapter), lean."""
        opts = options or PipelineOptions()
        info = inspect_checkpoint(Path(weights_dir))
        adapter = None
        if adapter_dir is not None:
            try:
                adapter = CameraAdapter.from_pretrained(Path(adapter_dir))
            except (FileNotFoundError, ValueError) as e:
                raise ModelError(
                    f"camera adapter {adapter_dir} cannot be loaded: {e}",
                    hint="pass a directory written by CameraAdapter.save_pretrained",
                ) from e
        if opts.offload not in OFFLOADS:
            raise InputError(f"offload {opts.offload!r} is not one of {', '.join(OFFLOADS)}")
        parts = load_components(info, opts.resolved_dtype(), opts.resolved_device(), opts.offload)
        return cls(parts, adapter=adapter, boundary_ratio=info.boundary_ratio, options=opts)

    def _models(self) -> list[CameraWanTransformer]:
        return [self.model] + ([self.model_2] if self.model_2 is not None else [])

    def _transformers(self) -> list[CameraWanTransformer]:
        return self._models()

    @property
    def has_adapter(self) -> bool:
        """Whether a camera adapter is loaded."""
        return self.model.adapter is not None

    def grid_multiple(self) -> int:
        """Output sizes must be multiples of this (VAE stride × patch size)."""
        return self.s_scale * int(self.model.patch_size[1])

    def padded_frames(self, n: int) -> int:
        """``n`` rounded up to the VAE's 4k+1 frame grid."""
        return math.ceil((n - 1) / self.t_scale) * self.t_scale + 1

    # ------------------------------------------------------------------ steps

    def check_inputs(self, req: ShotRequest) -> None:
        """Reject a request before any heavy work, with a message naming the value and the rule."""
        m = self.grid_multiple()
        if req.height % m or req.width % m or req.height < m or req.width < m:
            raise InputError(
                f"size {req.width}x{req.height} is not a multiple of {m}",
                hint=f"render at e.g. {req.width // m * m or m}x{req.height // m * m or m}",
            )
        if req.num_frames < 1 or req.num_inference_steps < 1:
            raise InputError(f"num_frames={req.num_frames} and num_inference_steps={req.num_inference_steps} "
                             "must be at least 1")
        for name, img in (("image", req.image), ("reference image", req.reference)):
            if img is not None and (img.shape != (req.height, req.width, 3) or img.dtype != np.uint8):
                raise InputError(
                    f"{name} is {img.shape} {img.dtype}; expected ({req.height}, {req.width}, 3) uint8"
                )
        if req.guide_video is not None:
            if req.guide_video.shape[1:] != (req.height, req.width, 3) or len(req.guide_video) < req.num_frames:
                raise InputError(
                    f"guide video is {req.guide_video.shape}; expected at least "
                    f"({req.num_frames}, {req.height}, {req.width}, 3)"
                )
            if not 0.0 < req.guide_strength <= 1.0:
                raise InputError(
                    f"guide strength {req.guide_strength} must be in (0, 1]",
                    hint="0.6–0.8 keeps the planned move; 1 ignores the guide",
                )
        if req.camera is not None and len(req.camera) < req.num_frames:
            raise InputError(f"camera track has {len(req.camera)} frames; the shot has {req.num_frames}")
        if req.guidance_scale_2 is not None and self.model_2 is None:
            raise InputError(
                f"guidance_scale_2={req.guidance_scale_2} needs a two-expert checkpoint (Wan2.2 A14B)",
                hint="drop guidance_scale_2; guidance_scale sets the only expert's guidance",
            )
        lat = (req.height // self.s_scale, req.width // self.s_scale)
        if req.history is not None and (
            req.history.ndim != 5 or req.history.shape[1] != self.z_dim or tuple(req.history.shape[3:]) != lat
        ):
            raise InputError(
                f"motion history has shape {tuple(req.history.shape)}; "
                f"expected (1, {self.z_dim}, T, {lat[0]}, {lat[1]})"
            )
        need_t = self._t_offset(req) + max(req.windows.window, req.windows.min_last) + 1
        if need_t > self.model.transformer.rope.max_seq_len:
            raise InputError(f"window of {req.windows.window} latent frames exceeds the model's rotary table")

    @staticmethod
    def _t_offset(req: ShotRequest) -> int:
        """Rotary time of the first noisy frame: after the opt-in reference and motion tokens."""
        return (req.reference is not None) + (MotionLayout().total if req.history is not None else 0)

    def _cond_input(self, latents: torch.Tensor, known: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Transformer input: latents, then the temporal mask and the condition latents (I2V channels)."""
        b, _, t, h, w = latents.shape
        mask_ch = self.model.in_channels - self.model.out_channels - self.z_dim
        mask = known.to(latents.dtype).view(1, 1, t, 1, 1).expand(b, mask_ch, t, h, w)
        return torch.cat([latents, mask, cond.to(latents.dtype).expand(b, -1, -1, -1, -1)], dim=1)

    def _context(
        self, model_idx: int, ref: torch.Tensor | None, history: torch.Tensor | None
    ) -> tuple[list[TokenGroup], list[TokenGroup]]:
        """Opt-in clean context tokens: (for windows that start the shot, for the other windows)."""
        model, dt = self._models()[model_idx], self.dtype
        always: list[TokenGroup] = []
        if ref is not None:
            one = torch.ones(ref.shape[2], device=self.device)
            always.append(model.embed_clean(self._cond_input(ref.to(dt), one, ref.to(dt)), t_start=0))
        motion: list[TokenGroup] = []
        if history is not None:
            h = history.to(self.device, dt)
            known = torch.ones(h.shape[2], device=self.device)
            if model_idx not in self._packers:  # small, always resident once built
                self._packers[model_idx] = MotionPacker(model, MotionLayout()).to(self.device, dtype=dt)
            motion = self._packers[model_idx].pack(self._cond_input(h, known, h), t_start=len(always))
        return always + motion, always

    # ------------------------------------------------------------------ call

    @torch.no_grad()
    def __call__(self, req: ShotRequest, progress: Progress | None = None) -> ShotOutput:
        """Render one shot (see the module docstring for the numbered steps)."""
        report = progress or (lambda f, m: None)
        # 1. Check inputs.
        self.check_inputs(req)
        dev, dt = self.device, self.dtype
        f_pad = self.padded_frames(req.num_frames)
        t_lat = (f_pad - 1) // self.t_scale + 1
        h_lat, w_lat = req.height // self.s_scale, req.width // self.s_scale
        scales = (req.guidance_scale, req.guidance_scale if req.guidance_scale_2 is None else req.guidance_scale_2)
        report(0.0, "encoding prompt")

        # 2. Encode the prompt (and the negative prompt for classifier-free guidance).
        text = self.encode_prompt([req.prompt, req.negative_prompt])
        text_c, text_u = text[:1], text[1:]

        # 3. Encode the image: CLIP tokens (Wan2.1) and the condition latents with mask 1 on frame 0.
        report(0.02, "encoding image")
        image_embeds = self.encode_image_embeds(req.image)
        cond = self.encode_condition(req.image, f_pad)
        known = torch.zeros(t_lat, device=dev)
        known[0] = 1.0

        # 4. Camera conditioning: Plücker rays for the adapter, at the token grid's resolution.
        rays = None
        if req.camera is not None and self.has_adapter:
            _, gh, gw = self.model.token_grid(1, h_lat, w_lat)
            track = _slice_track(req.camera, f_pad)
            rays = camera_rays(track, gh, gw, self.model.adapter.config.unshuffle, self.t_scale).unsqueeze(0)
            rays = rays.to(dev, dt)

        # 5. Prepare latents: pure noise, or the guide's latent noised to the guide strength.
        overrides = {}
        if req.shift is not None:  # UniPC calls it flow_shift, FlowMatch Euler shift
            overrides["flow_shift" if "flow_shift" in self.scheduler.config else "shift"] = req.shift
        scheduler = type(self.scheduler).from_config(self.scheduler.config, **overrides)
        scheduler.set_timesteps(req.num_inference_steps, device=dev)
        timesteps = scheduler.timesteps
        gen = torch.Generator("cpu").manual_seed(req.seed)
        noise = torch.randn(1, self.z_dim, t_lat, h_lat, w_lat, generator=gen, dtype=torch.float32).to(dev)
        start = 0
        latents = noise
        if req.guide_video is not None:
            report(0.04, "encoding camera guide")
            guide = self.encode_video(req.guide_video[: req.num_frames])[:, :, :t_lat]
            n_steps = len(timesteps)
            start = n_steps - min(n_steps, max(1, int(round(n_steps * req.guide_strength))))
            order = getattr(scheduler, "order", 1)
            timesteps = timesteps[start * order :]
            if hasattr(scheduler, "set_begin_index"):
                scheduler.set_begin_index(start * order)
            sigma = float(scheduler.sigmas[start * order])
            latents = (1.0 - sigma) * guide + sigma * noise
        ref_latent = self.encode_video(req.reference[None]) if req.reference is not None else None
        t_offset = self._t_offset(req)
        ctx: dict[int, tuple[list[TokenGroup], list[TokenGroup]]] = {}  # built when each expert is on the device

        # 6. Denoise every window at every step, with classifier-free guidance.
        boundary = None
        if self.model_2 is not None and self.boundary_ratio is not None:
            boundary = self.boundary_ratio * scheduler.config.num_train_timesteps
        n_calls = 0
        expert_steps = [0, 0]
        for i, t in enumerate(timesteps):
            mi = 0 if boundary is None or t >= boundary else 1
            expert_steps[mi] += 1
            model = self._on_device(self._models()[mi])
            if mi not in ctx:
                ctx[mi] = self._context(mi, ref_latent, req.history)
            tt, scale, lead = t.expand(1).to(dev), scales[mi], latents[:, :, :1]

            def denoise(
                x: torch.Tensor, win: Window, model=model, tt=tt, scale=scale, lead=lead, ctx_pair=ctx[mi]
            ) -> torch.Tensor:
                nonlocal n_calls
                if win.start == 0:
                    sl, context = slice(0, win.end), ctx_pair[0]
                    r = rays[:, :, sl] if rays is not None else None
                else:  # the image frame leads every later window
                    x, sl, context = torch.cat([lead, x], dim=2), slice(0, win.length + 1), ctx_pair[1]
                    r = None if rays is None else torch.cat([rays[:, :, :1], rays[:, :, win.start : win.end]], 2)
                inp = self._cond_input(x.to(dt), known[sl], cond[:, :, sl])
                kw = dict(camera_rays=r, context=context, t_offset=t_offset)
                v = model(inp, tt, text_c, image_embeds, **kw)
                n_calls += 1
                if scale > 1.0:
                    vu = model(inp, tt, text_u, image_embeds, **kw)
                    v = vu + scale * (v - vu)
                    n_calls += 1
                return (v if win.start == 0 else v[:, :, 1:]).float()

            v = denoise_windows(latents, start + i, req.windows, denoise)
            latents = scheduler.step(v, t, latents, return_dict=False)[0]
            report(0.05 + 0.85 * (i + 1) / len(timesteps), f"denoising step {i + 1}/{len(timesteps)}")

        # 7. Decode.
        report(0.92, "decoding")
        frames = self.decode(latents, req.num_frames)
        report(1.0, "done")
        metrics = {
            "dit_steps": float(len(timesteps)),
            "dit_model_calls": float(n_calls),
            "dit_latent_frames": float(t_lat),
            "dit_guided": float(req.guide_video is not None),
            "dit_camera_adapter": float(rays is not None),
            "dit_reference_tokens": float(req.reference is not None),
            "dit_motion_frames": float(req.history is not None),
            "dit_expert_2_steps": float(expert_steps[1]),
        }
        return ShotOutput(frames=frames, latents=latents.float().cpu(), metrics=metrics)


def _slice_track(track: CameraTrack, n: int) -> CameraTrack:
    """The first ``n`` frames of ``track``, repeating the last frame when it is shorter."""
    return track.select(np.minimum(np.arange(n), len(track) - 1))
