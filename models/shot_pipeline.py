"""Image-to-video shot pipeline: Wan DiT + camera + dynamic windows + motion frames.

One shot is rendered by :meth:`ShotPipeline.__call__` from a typed :class:`ShotRequest`
in numbered steps: (1) check inputs, (2) encode the prompt, (3) encode the reference,
(4) camera conditioning, (5) prepare latents / camera guidance, (6) denoise all windows
with classifier-free guidance, (7) decode. The components are diffusers/transformers
models loaded from a local diffusers-format Wan I2V checkpoint by
:meth:`ShotPipeline.from_pretrained`; nothing is downloaded.

Conditioning layout of every transformer call (one window of the shot)::

    [reference latent (t=0)] [motion 4× | 2× | 1× (t=1..19)] [noisy window (t=20..)]

The reference tokens are in every window (identity); the motion tokens (the previous
shot's last latents, FramePack-packed) only in windows that start the shot. Clean frames
carry mask 1 and their own latent in the I2V condition channels; noisy frames carry mask 0,
except the first frame of a shot that does not continue another: it is given (the guide's
first frame, else the framed reference), as in Wan I2V.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from models.camera import CameraTrack
from models.camera_adapter import CameraAdapter, camera_rays
from models.motion import MotionLayout, MotionPacker
from models.wan_camera import CameraWanTransformer, TokenGroup
from models.windows import Window, WindowConfig, denoise_windows
from mvdirector.errors import InputError, ModelError

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
Offload = Literal["none", "model", "group"]
DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}

# What a diffusers-format Wan I2V directory must hold: (path, what it is, glob alternatives).
REQUIRED_FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model_index.json", ("model_index.json",)),
    ("transformer/config.json", ("transformer/config.json",)),
    ("transformer weights", ("transformer/*.safetensors",)),
    ("vae/config.json", ("vae/config.json",)),
    ("vae weights", ("vae/*.safetensors",)),
    ("text_encoder/config.json", ("text_encoder/config.json",)),
    ("text_encoder weights", ("text_encoder/*.safetensors",)),
    ("tokenizer", ("tokenizer/tokenizer.json", "tokenizer/spiece.model")),
    ("scheduler/scheduler_config.json", ("scheduler/scheduler_config.json",)),
)
CONTEXT_T = 20  # rotary time index of the first noisy frame (1 reference + 19 motion slots)


def missing_weight_files(weights_dir: Path) -> list[str]:
    """What a Wan I2V diffusers checkpoint directory lacks (empty when complete)."""
    d = Path(weights_dir)
    if not d.is_dir():
        return [f"the directory itself ({d})"]
    missing = [name for name, globs in REQUIRED_FILES if not any(any(d.glob(g)) for g in globs)]
    if (d / "transformer_2").is_dir():
        for sub in ("transformer_2/config.json", "transformer_2/*.safetensors"):
            if not any(d.glob(sub)):
                missing.append(sub)
    return missing


def check_weights_dir(weights_dir: Path) -> None:
    """Raise ModelError naming every missing part of a Wan I2V checkpoint directory."""
    missing = missing_weight_files(weights_dir)
    if missing:
        raise ModelError(
            f"weights directory {weights_dir} is not a complete diffusers Wan image-to-video checkpoint: "
            f"missing {', '.join(missing)}",
            hint="point --weights at a local copy of e.g. Wan2.1-I2V-14B-480P-Diffusers or "
            "Wan2.2-I2V-A14B-Diffusers (all of model_index.json, transformer/, vae/, text_encoder/, "
            "tokenizer/, scheduler/)",
        )


@dataclass(frozen=True)
class PipelineOptions:
    """How to run the pipeline on a device: precision, offload, VAE tiling, attention backend."""

    device: str = "auto"
    dtype: str = "auto"  # auto: bf16 on CUDA, fp32 on CPU
    offload: Offload = "none"
    vae_tiling: bool = False
    attention: str | None = None  # a diffusers attention backend name, e.g. "flash", "sage", "native"
    max_sequence_length: int = 512

    def resolved_device(self) -> torch.device:
        """The torch device to compute on."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def resolved_dtype(self) -> torch.dtype:
        """The transformer's compute dtype."""
        if self.dtype == "auto":
            return torch.bfloat16 if self.resolved_device().type == "cuda" else torch.float32
        if self.dtype not in DTYPES:
            raise InputError(f"dtype {self.dtype!r} is not one of {sorted(DTYPES)}", hint="use bf16 on GPUs")
        return DTYPES[self.dtype]


@dataclass
class ShotRequest:
    """Everything one shot needs. Images/videos are uint8 RGB, (H, W, 3) / (F, H, W, 3)."""

    prompt: str
    reference: np.ndarray
    num_frames: int
    height: int
    width: int
    negative_prompt: str = ""
    camera: CameraTrack | None = None  # per output frame; used by the camera adapter
    guide_video: np.ndarray | None = None  # training-free camera guidance (procedural render)
    guide_strength: float = 0.7  # 1 = start from pure noise, 0 = return the guide
    pin_first_frame: bool = True  # give the first frame (guide's first frame, else the reference), as in I2V
    history: torch.Tensor | None = None  # previous shot's normalised latents (1, C, T, h, w)
    num_inference_steps: int = 30
    guidance_scale: float = 5.0
    seed: int = 0
    windows: WindowConfig = field(default_factory=WindowConfig)


@dataclass
class ShotOutput:
    """Decoded frames (F, H, W, 3) uint8, the final normalised latents and run metrics."""

    frames: np.ndarray
    latents: torch.Tensor
    metrics: dict[str, float]


class ShotPipeline:
    """Wan I2V components plus the camera wrapper; call with a :class:`ShotRequest`."""

    def __init__(
        self,
        transformer: Any,
        vae: Any,
        text_encoder: Any,
        tokenizer: Any,
        scheduler: Any,
        adapter: CameraAdapter | None = None,
        transformer_2: Any | None = None,
        boundary_ratio: float | None = None,
        image_encoder: Any | None = None,
        image_processor: Any | None = None,
        options: PipelineOptions | None = None,
    ) -> None:
        self.options = options or PipelineOptions()
        self.device = self.options.resolved_device()
        self.dtype = self.options.resolved_dtype()
        self.vae = vae
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.scheduler = scheduler
        self.image_encoder = image_encoder
        self.image_processor = image_processor
        self.boundary_ratio = boundary_ratio
        self.model = CameraWanTransformer(transformer, adapter)
        self.model_2 = CameraWanTransformer(transformer_2, adapter) if transformer_2 is not None else None
        self.packers = [MotionPacker(m, MotionLayout()) for m in self._models()]
        self.t_scale = int(vae.config.scale_factor_temporal)
        self.s_scale = int(vae.config.scale_factor_spatial)
        self.z_dim = int(vae.config.z_dim)
        if self.options.vae_tiling:
            vae.enable_tiling()
        if self.options.attention:
            for m in self._models():
                try:
                    m.transformer.set_attention_backend(self.options.attention)
                except (ValueError, ImportError, RuntimeError) as e:
                    raise ModelError(
                        f"attention backend {self.options.attention!r} cannot be used: {e}",
                        hint="leave --attention unset for PyTorch SDPA",
                    ) from e
        if transformer.config.added_kv_proj_dim is not None and self.options.max_sequence_length != 512:
            # diffusers' Wan attention splits image and text context at a fixed 512 text tokens.
            raise InputError(
                f"max_sequence_length={self.options.max_sequence_length} does not work with an "
                "image-conditioned (Wan2.1 I2V) transformer",
                hint="leave max_sequence_length at 512",
            )
        for mod in (text_encoder, vae, image_encoder, *(m for m in self._models())):
            if mod is not None:
                mod.eval().requires_grad_(False)
        # The transformers keep the dtype they were loaded with (diffusers keeps some parts in fp32);
        # the small modules of ours follow the compute dtype.
        for m, p in zip(self._models(), self.packers, strict=True):
            if m.adapter is not None:
                m.adapter.to(dtype=self.dtype)
            p.to(dtype=self.dtype)
        offload = self.options.offload
        if offload not in ("none", "model", "group"):
            raise InputError(f"offload {offload!r} is not one of none, model, group")
        if offload == "none":
            for mod in (text_encoder, vae, image_encoder, *self._models(), *self.packers):
                if mod is not None:
                    mod.to(self.device)
        else:
            for p in self.packers:  # small: always resident
                p.to(self.device)
        if offload == "group":
            # Stream the transformer's weights leaf by leaf from CPU memory while it runs. Leaf level
            # because the wrapper calls the transformer's parts, not its forward; synchronous copies
            # because diffusers' stream prefetching learns the order from the root's forward.
            for m in self._models():
                m.transformer.enable_group_offload(
                    onload_device=self.device, offload_device=torch.device("cpu"), offload_type="leaf_level"
                )
                if m.adapter is not None:
                    m.adapter.to(self.device)

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(
        cls, weights_dir: Path, adapter_dir: Path | None = None, options: PipelineOptions | None = None
    ) -> ShotPipeline:
        """Load a local diffusers-format Wan I2V checkpoint (and optionally a camera adapter)."""
        from diffusers import AutoencoderKLWan, WanTransformer3DModel
        from transformers import AutoTokenizer, UMT5EncoderModel

        d = Path(weights_dir)
        check_weights_dir(d)
        opts = options or PipelineOptions()
        dtype = opts.resolved_dtype()
        index = json.loads((d / "model_index.json").read_text())
        if index.get("expand_timesteps"):
            raise ModelError(
                f"checkpoint {d} uses per-token timesteps (Wan2.2 TI2V-5B), unsupported here",
                hint="use an I2V checkpoint, e.g. Wan2.1-I2V-14B-480P-Diffusers or Wan2.2-I2V-A14B-Diffusers",
            )
        try:
            transformer = WanTransformer3DModel.from_pretrained(d / "transformer", torch_dtype=dtype)
            transformer_2 = None
            if (d / "transformer_2").is_dir():
                transformer_2 = WanTransformer3DModel.from_pretrained(d / "transformer_2", torch_dtype=dtype)
            vae = AutoencoderKLWan.from_pretrained(d / "vae", torch_dtype=torch.float32)
            text_encoder = UMT5EncoderModel.from_pretrained(d / "text_encoder", torch_dtype=dtype)
            tokenizer = AutoTokenizer.from_pretrained(d / "tokenizer")
            scheduler = _load_scheduler(d / "scheduler")
            image_encoder = image_processor = None
            if transformer.config.image_dim is not None:
                from transformers import CLIPImageProcessor, CLIPVisionModel

                if not (d / "image_encoder").is_dir() or not (d / "image_processor").is_dir():
                    raise ModelError(
                        f"checkpoint {d} has an image-conditioned transformer but no image_encoder/ or "
                        "image_processor/ directory",
                        hint="copy the complete Wan2.1 I2V diffusers checkpoint",
                    )
                image_encoder = CLIPVisionModel.from_pretrained(
                    d / "image_encoder", torch_dtype=torch.float32
                )
                image_processor = CLIPImageProcessor.from_pretrained(d / "image_processor")
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(
                f"could not load the Wan checkpoint in {d}: {e}",
                hint="check that it is a complete diffusers-format Wan I2V checkpoint",
            ) from e
        adapter = None
        if adapter_dir is not None:
            try:
                adapter = CameraAdapter.from_pretrained(Path(adapter_dir))
            except (FileNotFoundError, ValueError) as e:
                raise ModelError(
                    f"camera adapter {adapter_dir} cannot be loaded: {e}",
                    hint="pass a directory written by CameraAdapter.save_pretrained",
                ) from e
        return cls(
            transformer,
            vae,
            text_encoder,
            tokenizer,
            scheduler,
            adapter=adapter,
            transformer_2=transformer_2,
            boundary_ratio=index.get("boundary_ratio"),
            image_encoder=image_encoder,
            image_processor=image_processor,
            options=opts,
        )

    def _models(self) -> list[CameraWanTransformer]:
        return [self.model] + ([self.model_2] if self.model_2 is not None else [])

    def _on_device(self, module: torch.nn.Module) -> torch.nn.Module:
        """CPU offload: move ``module`` to the compute device and the other big components back.

        With ``offload="model"`` whole components move; with ``"group"`` the transformers are
        streamed by diffusers' group-offload hooks and only the other components move.
        """
        mode = self.options.offload
        if mode == "none":
            return module
        movable = [self.text_encoder, self.vae, self.image_encoder]
        if mode == "model":
            movable += self._models()
        for other in movable:
            if other is not None and other is not module:
                other.to("cpu")
        if module in movable:
            module.to(self.device)
        return module

    @property
    def has_adapter(self) -> bool:
        """Whether a camera adapter is loaded."""
        return self.model.adapter is not None

    def grid_multiple(self) -> int:
        """Output sizes must be multiples of this (VAE stride × patch size, × 4 for motion packing)."""
        return self.s_scale * int(self.model.patch_size[1])

    # ------------------------------------------------------------------ steps

    def check_inputs(self, req: ShotRequest) -> None:
        """Reject a request before any heavy work, with a message naming the value and the rule."""
        m = self.grid_multiple()
        if req.height % m or req.width % m or req.height < m or req.width < m:
            raise InputError(
                f"size {req.width}x{req.height} is not a multiple of {m}",
                hint=f"render at e.g. {req.width // m * m or m}x{req.height // m * m or m}",
            )
        if req.num_frames < 1:
            raise InputError(f"num_frames={req.num_frames} must be at least 1")
        if req.reference.shape != (req.height, req.width, 3) or req.reference.dtype != np.uint8:
            raise InputError(
                f"reference image is {req.reference.shape} {req.reference.dtype}; "
                f"expected ({req.height}, {req.width}, 3) uint8"
            )
        if req.guide_video is not None:
            if (
                req.guide_video.shape[1:] != (req.height, req.width, 3)
                or req.guide_video.shape[0] < req.num_frames
            ):
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
        if req.num_inference_steps < 1:
            raise InputError(f"num_inference_steps={req.num_inference_steps} must be at least 1")
        if req.history is not None and (req.history.ndim != 5 or req.history.shape[1] != self.z_dim):
            raise InputError(
                f"motion history has shape {tuple(req.history.shape)}; expected (1, {self.z_dim}, T, h, w)"
            )
        need_t = CONTEXT_T + max(req.windows.window, req.windows.min_last)
        if need_t > self.model.transformer.rope.max_seq_len:
            raise InputError(f"window of {req.windows.window} latent frames exceeds the model's rotary table")

    @torch.no_grad()
    def encode_prompt(self, prompts: list[str]) -> torch.Tensor:
        """UMT5 embeddings (N, L, D), zeroed past each prompt's length, as Wan does (cached per text)."""
        if not hasattr(self, "_prompt_cache"):
            self._prompt_cache: dict[str, torch.Tensor] = {}
        todo = [p for p in dict.fromkeys(prompts) if p not in self._prompt_cache]
        if todo:
            for p, e in zip(todo, self._encode_texts(todo), strict=True):
                self._prompt_cache[p] = e
            while len(self._prompt_cache) > 64:
                self._prompt_cache.pop(next(iter(self._prompt_cache)))
        return torch.stack([self._prompt_cache[p] for p in prompts]).to(self.device)

    def _encode_texts(self, prompts: list[str]) -> torch.Tensor:
        te = self._on_device(self.text_encoder)
        n = self.options.max_sequence_length
        tok = self.tokenizer(
            [p.strip() for p in prompts],
            padding="max_length",
            max_length=n,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        mask = tok.attention_mask.to(self.device)
        emb = te(tok.input_ids.to(self.device), mask).last_hidden_state
        emb = emb * mask.unsqueeze(-1).to(emb.dtype)
        return emb.to(self.dtype)

    def _norm(self) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.vae.config
        mean = torch.tensor(c.latents_mean, dtype=torch.float32).view(1, -1, 1, 1, 1)
        std = torch.tensor(c.latents_std, dtype=torch.float32).view(1, -1, 1, 1, 1)
        return mean.to(self.device), std.to(self.device)

    @torch.no_grad()
    def encode_video(self, frames: np.ndarray) -> torch.Tensor:
        """Normalised VAE latents (1, C, T, h, w) of uint8 frames (F, H, W, 3); F is padded to 1+4k."""
        vae = self._on_device(self.vae)
        f = frames.shape[0]
        need = (math.ceil((f - 1) / self.t_scale)) * self.t_scale + 1
        if need > f:
            frames = np.concatenate([frames, np.repeat(frames[-1:], need - f, axis=0)])
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device, torch.float32)
        x = x.permute(3, 0, 1, 2).unsqueeze(0) / 127.5 - 1.0
        z = vae.encode(x).latent_dist.mode()
        mean, std = self._norm()
        return (z - mean) / std

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, num_frames: int) -> np.ndarray:
        """uint8 frames (num_frames, H, W, 3) of normalised latents."""
        vae = self._on_device(self.vae)
        mean, std = self._norm()
        video = vae.decode(latents.to(self.device, torch.float32) * std + mean).sample
        video = ((video[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return video.permute(1, 2, 3, 0)[:num_frames].cpu().numpy()

    @torch.no_grad()
    def encode_image_embeds(self, image: np.ndarray) -> torch.Tensor | None:
        """CLIP image tokens for Wan2.1 I2V (None for checkpoints without an image encoder)."""
        if self.image_encoder is None:
            return None
        enc = self._on_device(self.image_encoder)
        pix = self.image_processor(images=image, return_tensors="pt").pixel_values.to(self.device)
        return enc(pixel_values=pix, output_hidden_states=True).hidden_states[-2].to(self.dtype)

    def _cond_input(self, latents: torch.Tensor, known: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Transformer input: latents, then (for I2V models) the temporal mask and condition latents."""
        model = self.model
        extra = model.in_channels - model.out_channels
        if extra == 0:
            return latents
        mask_ch = extra - self.z_dim
        b, _, t, h, w = latents.shape
        mask = known.to(latents.dtype).view(1, 1, t, 1, 1).expand(b, mask_ch, t, h, w)
        return torch.cat([latents, mask, cond.to(latents.dtype).expand(b, -1, -1, -1, -1)], dim=1)

    def _context(
        self, model_idx: int, ref: torch.Tensor, history: torch.Tensor | None
    ) -> tuple[TokenGroup, list[TokenGroup]]:
        model, packer = self._models()[model_idx], self.packers[model_idx]
        dt = self.dtype
        one = torch.ones(ref.shape[2], device=self.device)
        ref_group = model.embed_clean(self._cond_input(ref.to(dt), one, ref.to(dt)), t_start=0)
        motion: list[TokenGroup] = []
        if history is not None:
            h = history.to(self.device, dt)
            known = torch.ones(h.shape[2], device=self.device)
            motion = packer.pack(self._cond_input(h, known, h), t_start=1)
        return ref_group, motion

    # ------------------------------------------------------------------ call

    @torch.no_grad()
    def __call__(self, req: ShotRequest, progress: Progress | None = None) -> ShotOutput:
        """Render one shot (see the module docstring for the numbered steps)."""
        report = progress or (lambda f, m: None)
        # 1. Check inputs.
        self.check_inputs(req)
        dev, dt = self.device, self.dtype
        f_pad = math.ceil((req.num_frames - 1) / self.t_scale) * self.t_scale + 1
        t_lat = (f_pad - 1) // self.t_scale + 1
        h_lat, w_lat = req.height // self.s_scale, req.width // self.s_scale
        do_cfg = req.guidance_scale > 1.0
        report(0.0, "encoding prompt")

        # 2. Encode the prompt (and the negative prompt for classifier-free guidance).
        text = self.encode_prompt([req.prompt, req.negative_prompt] if do_cfg else [req.prompt])
        text_c, text_u = text[:1], (text[1:] if do_cfg else None)

        # 3. Encode the reference: its latent (identity tokens) and, for Wan2.1, CLIP tokens.
        report(0.02, "encoding reference")
        ref_latent = self.encode_video(req.reference[None])
        image_embeds = self.encode_image_embeds(req.reference)

        # 4. Camera conditioning: Plücker rays for the adapter, at the token grid's resolution.
        rays = None
        if req.camera is not None and self.has_adapter:
            adapter = self.model.adapter
            _, gh, gw = self.model.token_grid(1, h_lat, w_lat)
            track = _slice_track(req.camera, f_pad)
            rays = camera_rays(track, gh, gw, adapter.config.unshuffle, self.t_scale).unsqueeze(0)
            rays = rays.to(dev, dt)

        # 5. Prepare latents: pure noise, or the guide's latent noised to the guide strength.
        scheduler = type(self.scheduler).from_config(self.scheduler.config)
        scheduler.set_timesteps(req.num_inference_steps, device=dev)
        timesteps = scheduler.timesteps
        gen = torch.Generator("cpu").manual_seed(req.seed)
        noise = torch.randn(1, self.z_dim, t_lat, h_lat, w_lat, generator=gen).to(dev)
        known = torch.zeros(t_lat, device=dev)
        cond = self._empty_cond(t_lat, req.height, req.width)
        start = 0
        if req.guide_video is not None:
            report(0.04, "encoding camera guide")
            guide = self.encode_video(req.guide_video[: req.num_frames])
            n_steps = len(timesteps)
            start = n_steps - min(n_steps, max(1, int(round(n_steps * req.guide_strength))))
            order = getattr(scheduler, "order", 1)
            timesteps = timesteps[start * order :]
            if hasattr(scheduler, "set_begin_index"):
                scheduler.set_begin_index(start * order)
            sigma = float(scheduler.sigmas[start * order])
            latents = (1.0 - sigma) * guide + sigma * noise
        else:
            guide = None
            latents = noise
        if req.pin_first_frame and req.history is None:
            # Wan I2V: the first frame is given — the guide's first frame, else the framed reference.
            known[0] = 1.0
            cond[:, :, :1] = guide[:, :, :1] if guide is not None else ref_latent
        # Context tokens are built once per model, when that model is on the device.
        ctx: dict[int, tuple[TokenGroup, list[TokenGroup]]] = {}

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
            ref_group, motion = ctx[mi]
            tt = t.expand(1).to(dev)

            def denoise(x: torch.Tensor, win: Window, model=model, ref_group=ref_group, motion=motion, tt=tt):
                nonlocal n_calls
                sl = slice(win.start, win.end)
                inp = self._cond_input(x.to(dt), known[sl], cond[:, :, sl]).to(dt)
                context = [ref_group, *motion] if win.start == 0 else [ref_group]
                r = rays[:, :, sl] if rays is not None else None
                v = model(inp, tt, text_c, image_embeds, camera_rays=r, context=context, t_offset=CONTEXT_T)
                n_calls += 1
                if text_u is not None:
                    vu = model(
                        inp, tt, text_u, image_embeds, camera_rays=r, context=context, t_offset=CONTEXT_T
                    )
                    v = vu + req.guidance_scale * (v - vu)
                    n_calls += 1
                return v.float()

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
            "dit_motion_frames": float(req.history is not None),
            "dit_expert_2_steps": float(expert_steps[1]),
        }
        return ShotOutput(frames=frames, latents=latents.float().cpu(), metrics=metrics)

    def _empty_cond(self, t_lat: int, height: int, width: int) -> torch.Tensor:
        """Condition latents of a mid-grey (zero in [-1, 1]) video, as Wan I2V uses for unknown frames."""
        if not hasattr(self, "_empty_cache"):
            self._empty_cache: dict[tuple[int, int], torch.Tensor] = {}
        key = (height, width)
        if key not in self._empty_cache:
            zeros = np.full((1 + self.t_scale, height, width, 3), 127, dtype=np.uint8)
            z = self.encode_video(zeros)
            self._empty_cache[key] = z[:, :, 1:2]
        z = self._empty_cache[key]
        return z.expand(-1, -1, t_lat, -1, -1).clone()


def _slice_track(track: CameraTrack, n: int) -> CameraTrack:
    """The first ``n`` frames of ``track``, repeating the last frame when it is shorter."""
    idx = np.minimum(np.arange(n), len(track) - 1)
    return CameraTrack(
        position=track.position[idx],
        rotation=track.rotation[idx],
        yaw_pitch_roll_deg=track.yaw_pitch_roll_deg[idx],
        fov_deg=track.fov_deg[idx],
    )


def _load_scheduler(path: Path) -> Any:
    """The checkpoint's flow-matching scheduler (UniPC with flow sigmas or FlowMatch Euler)."""
    import diffusers

    cfg = json.loads((path / "scheduler_config.json").read_text())
    name = cfg.get("_class_name", "UniPCMultistepScheduler")
    if name not in ("UniPCMultistepScheduler", "FlowMatchEulerDiscreteScheduler"):
        raise ModelError(
            f"scheduler {name} in {path} is not a flow-matching scheduler this renderer supports",
            hint="use UniPCMultistepScheduler (use_flow_sigmas) or FlowMatchEulerDiscreteScheduler",
        )
    return getattr(diffusers, name).from_pretrained(path)
