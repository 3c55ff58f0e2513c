"""The Wan2.2-S2V per-clip generation loop (official ``WanS2V.generate``), with injected components.

A shot of ``num_frames`` frames at 16 fps is made of 80-frame clips. Before every clip the last
73 generated frames (the motion buffer; zeros before anything exists) are VAE-encoded to 19
latents and packed into FramePack motion tokens. The first clip of a shot that continues
nothing has no real motion: its motion tokens are dropped, it is decoded after the reference
latent instead of after the motion latents, and its first 3 frames are cut, so it yields 77
frames (``drop_first_motion``). Each clip is sampled with the flow-matching UniPC solver
(shift 3, 40 steps) and classifier-free guidance 4.5, the negative pass using the negative
prompt and ZEROED audio, as the official code does.

Audio alignment: clip ``r`` is driven by audio frames ``[80 r, 80 r + 80)`` of the request's
``audio_embeds``; output frame ``i`` is driven by audio frame ``i + lead``, where ``lead`` is
:func:`audio_lead_frames` (3 for a first clip without motion, else 0). Pass the audio starting
``lead`` frames before the shot (zeros before the song) to keep the lips on the song's clock.

Deviations from the official loop, all numerical: the noise comes from a CPU generator seeded
``seed + clip`` in float32 (the official draws bf16 noise on the GPU), and the latents stay in
float32 between solver steps. The solver is diffusers' UniPC given the official sigmas, which
reproduces the official ``FlowUniPCMultistepScheduler`` exactly (tested). Optional extras: a
camera guide video (noised start, as ``dit`` does) and the previous shot's raw frames as the
initial motion buffer (takes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from models.s2v import S2VTransformer
from mvdirector.errors import InputError

Progress = Callable[[float, str], None]
DROP_FIRST_FRAMES = 3  # frames cut from the start of a first clip decoded after the reference latent
FPS = 16  # the model's native frame rate
VAE_T, VAE_S = 4, 8  # Wan2.1 VAE strides: time, space


class LatentVae(Protocol):
    """A Wan2.1 VAE working on normalised latents (what the official ``Wan2_1_VAE`` does)."""

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(1, 3, 1 + 4k, H, W) in [-1, 1] -> normalised latents (1, 16, 1 + k, H / 8, W / 8)."""
        ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (1, 16, T, h, w) -> (1, 3, 1 + 4 (T - 1), 8 h, 8 w) in [-1, 1]."""
        ...


class DiffusersWanVae:
    """:class:`LatentVae` over a diffusers ``AutoencoderKLWan`` (``models.wan_vae_weights`` normalisation)."""

    def __init__(self, vae: Any) -> None:
        self.vae = vae
        c = vae.config
        self.mean = torch.tensor(c.latents_mean, dtype=torch.float32).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(c.latents_std, dtype=torch.float32).view(1, -1, 1, 1, 1)

    def _device(self) -> torch.device:
        return next(self.vae.parameters()).device

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        from models.wan_vae_weights import encode_latents

        return encode_latents(self.vae, video.to(self._device()))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        from models.wan_vae_weights import decode_latents

        return decode_latents(self.vae, latents.to(self._device()))


@dataclass(frozen=True)
class S2VSampling:
    """Sampling settings; the defaults are the official S2V-14B ones."""

    steps: int = 40
    guidance_scale: float = 4.5
    shift: float = 3.0
    infer_frames: int = 80  # frames per clip (a multiple of 4)
    motion_frames: int = 73  # motion buffer, video frames
    drop_first_motion: bool = True
    num_train_timesteps: int = 1000

    @property
    def motion_latents(self) -> int:
        """Latent frames of the motion buffer (19)."""
        return (self.motion_frames + 3) // VAE_T

    @property
    def clip_latents(self) -> int:
        """Latent frames generated per clip (20)."""
        return (self.infer_frames + 3 + self.motion_frames) // VAE_T - self.motion_latents


def audio_lead_frames(has_motion: bool, sampling: S2VSampling = S2VSampling()) -> int:
    """Audio frames before output frame 0 (the first clip's cut frames when it has no motion)."""
    return 0 if has_motion or not sampling.drop_first_motion else DROP_FIRST_FRAMES


def clip_yields(num_frames: int, has_motion: bool, sampling: S2VSampling = S2VSampling()) -> list[int]:
    """Output frames each clip of a ``num_frames`` shot yields (the last clip may overrun the shot)."""
    first = sampling.infer_frames - audio_lead_frames(has_motion, sampling)
    rest = max(0, num_frames - first)
    return [first] + [sampling.infer_frames] * math.ceil(rest / sampling.infer_frames)


def audio_frames_needed(num_frames: int, has_motion: bool, sampling: S2VSampling = S2VSampling()) -> int:
    """Audio frames the clips consume; shorter ``audio_embeds`` (but covering the shot) are zero-padded."""
    return len(clip_yields(num_frames, has_motion, sampling)) * sampling.infer_frames


def make_scheduler(steps: int, shift: float, num_train_timesteps: int = 1000) -> Any:
    """The official flow UniPC schedule: sigmas from 1 - 1/N down to 0, shifted; bh2 UniPC steps."""
    from diffusers import UniPCMultistepScheduler

    sched = UniPCMultistepScheduler(
        num_train_timesteps=num_train_timesteps,
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=shift,
    )
    sigma_max = float(np.float32(1.0 - 1.0 / num_train_timesteps))  # the official float32 value
    sched.set_timesteps(sigmas=np.linspace(sigma_max, 0.0, steps + 1)[:-1], device="cpu")
    return sched


@dataclass
class S2VRequest:
    """One shot. Images are uint8 RGB at the generation size: (H, W, 3) and (F, H, W, 3)."""

    reference: np.ndarray
    prompt_embeds: torch.Tensor  # (L, text_dim) UMT5 states of the prompt (L <= 512)
    negative_prompt_embeds: torch.Tensor  # (L', text_dim)
    audio_embeds: torch.Tensor  # (25, audio_dim, A) or (1, 25, audio_dim, A): 16 fps, from `lead` frames before
    num_frames: int
    motion_frames: np.ndarray | None = None  # the previous shot's last raw frames (takes); up to 73 used
    guide_video: np.ndarray | None = None  # camera guide (>= num_frames frames): noised start
    guide_strength: float = 0.7  # 1 = pure noise; smaller keeps more of the guide
    seed: int = 0
    sampling: S2VSampling = field(default_factory=S2VSampling)


@dataclass
class S2VOutput:
    """``frames`` (num_frames, H, W, 3) uint8; ``tail`` the last real frames (<= 73) for a continuing shot."""

    frames: np.ndarray
    tail: np.ndarray
    audio_lead_frames: int
    metrics: dict[str, float]


def _audio_3d(audio: torch.Tensor) -> torch.Tensor:
    """Audio features as (layers, dim, frames); a leading batch of one (``SongAudioFeatures.window``) is dropped."""
    return audio[0] if audio.ndim == 4 and audio.shape[0] == 1 else audio


def _to_pixels(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> (1, 3, F, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device, torch.float32)
    return (x.permute(3, 0, 1, 2).unsqueeze(0) / 127.5 - 1.0).contiguous()


def _to_uint8(video: torch.Tensor) -> np.ndarray:
    """(1, 3, F, H, W) in [-1, 1] -> uint8 (F, H, W, 3)."""
    v = ((video[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return v.permute(1, 2, 3, 0).cpu().numpy()


class S2VPipeline:
    """The official clip loop over an :class:`S2VTransformer` and a :class:`LatentVae`."""

    def __init__(self, transformer: S2VTransformer, vae: LatentVae, device: torch.device | str | None = None):
        self.transformer = transformer.eval()
        self.vae = vae
        self.device = torch.device(device) if device is not None else transformer.patch_embedding.weight.device
        self.multiple = VAE_S * transformer.config.patch_size[1]

    # ------------------------------------------------------------------ checks

    def check_inputs(self, req: S2VRequest) -> None:
        """Reject a request before any heavy work, naming the value and the rule."""
        cfg, s = self.transformer.config, req.sampling
        ref, m = req.reference, self.multiple
        if ref.ndim != 3 or ref.shape[2] != 3 or ref.dtype != np.uint8:
            raise InputError(f"reference image is {ref.shape} {ref.dtype}; expected (H, W, 3) uint8")
        h, w = ref.shape[:2]
        if h % m or w % m or min(h, w) < 4 * m:
            raise InputError(f"size {w}x{h} must be multiples of {m}, at least {4 * m}", hint="e.g. 832x480")
        if req.num_frames < 1:
            raise InputError(f"num_frames={req.num_frames} must be at least 1")
        if s.infer_frames % 4 or s.infer_frames < 4 or s.steps < 1:
            raise InputError(f"infer_frames={s.infer_frames} must be a multiple of 4 and steps={s.steps} >= 1")
        for name, e in (("prompt", req.prompt_embeds), ("negative prompt", req.negative_prompt_embeds)):
            if e.ndim != 2 or e.shape[1] != cfg.text_dim or not 0 < e.shape[0] <= cfg.text_len:
                want = f"(1..{cfg.text_len}, {cfg.text_dim})"
                raise InputError(f"{name} embeddings are {tuple(e.shape)}; expected {want}")
        has_motion = req.motion_frames is not None
        need = audio_lead_frames(has_motion, s) + req.num_frames
        a = _audio_3d(req.audio_embeds)
        if a.ndim != 3 or a.shape[1] != cfg.audio_dim or a.shape[2] < need:
            raise InputError(
                f"audio features are {tuple(a.shape)}; expected (layers, {cfg.audio_dim}, >= {need}) "
                f"for {req.num_frames} frames"
            )
        for name, v in (("motion frames", req.motion_frames), ("guide video", req.guide_video)):
            if v is not None and (v.ndim != 4 or v.shape[1:] != (h, w, 3) or v.dtype != np.uint8 or not len(v)):
                raise InputError(f"{name} are {v.shape} {v.dtype}; expected (F, {h}, {w}, 3) uint8")
        if req.guide_video is not None:
            if len(req.guide_video) < req.num_frames:
                raise InputError(f"guide video has {len(req.guide_video)} frames; the shot has {req.num_frames}")
            if not 0.0 < req.guide_strength <= 1.0:
                raise InputError(f"guide strength {req.guide_strength} must be in (0, 1]")

    # ------------------------------------------------------------------ pieces

    def _guide_latents(
        self, req: S2VRequest, clip_start: int, lead: int, context: torch.Tensor, n_lat: int
    ) -> torch.Tensor:
        """Latents of the guide frames under this clip, encoded after the same context the decoder sees."""
        s = req.sampling
        idx = np.clip(np.arange(s.infer_frames) + clip_start - lead, 0, req.num_frames - 1)
        frames = _to_pixels(req.guide_video[idx], self.device)
        return self.vae.encode(torch.cat([context, frames], dim=2))[:, :, -n_lat:].float()

    def _flow(self, s: S2VSampling, latents, t, ctx, ref, audio, motion, drop: bool) -> torch.Tensor:
        """One transformer call: the flow of ``latents`` (1, 16, F, h, w) at timestep ``t``."""
        return self.transformer(
            latents,
            t.view(1).to(self.device),
            ctx,
            ref,
            audio,
            motion,
            motion_frames=(s.motion_frames, s.motion_latents),
            drop_motion_frames=drop,
        )

    # ------------------------------------------------------------------ call

    @torch.no_grad()
    def __call__(self, req: S2VRequest, progress: Progress | None = None) -> S2VOutput:
        """Generate one shot (see the module docstring)."""
        report = progress or (lambda f, m: None)
        # 1. Check inputs.
        self.check_inputs(req)
        s, dev = req.sampling, self.device
        dt = self.transformer.compute_dtype
        has_motion = req.motion_frames is not None
        lead = audio_lead_frames(has_motion, s)
        yields = clip_yields(req.num_frames, has_motion, s)
        h, w = req.reference.shape[:2]
        n_lat = s.clip_latents
        do_cfg = s.guidance_scale > 1.0

        # 2. Prompt embeddings and per-clip audio (zero-padded to whole clips).
        ctx_c = req.prompt_embeds.unsqueeze(0).to(dev, dt)
        ctx_u = req.negative_prompt_embeds.unsqueeze(0).to(dev, dt)
        n_audio = len(yields) * s.infer_frames
        audio = _audio_3d(req.audio_embeds).to(dev, torch.float32)[..., :n_audio]
        if audio.shape[-1] < n_audio:
            audio = torch.nn.functional.pad(audio, (0, n_audio - audio.shape[-1]))
        audio = audio.unsqueeze(0).to(dt)

        # 3. Reference latent and the motion buffer (zeros, or the previous shot's last frames).
        report(0.0, "encoding reference")
        ref_pixels = _to_pixels(req.reference[None], dev)
        ref_latent = self.vae.encode(ref_pixels).float()
        buffer = torch.zeros(1, 3, s.motion_frames, h, w, device=dev)
        prev = req.motion_frames[-s.motion_frames :] if has_motion else np.zeros((0, h, w, 3), np.uint8)
        if len(prev):
            buffer[:, :, -len(prev) :] = _to_pixels(prev, dev)

        # 4. Clip by clip: sample 20 latents after the motion tokens, decode, roll the buffer.
        start_step = 0  # a camera guide starts part-way down the schedule
        if req.guide_video is not None:
            start_step = s.steps - min(s.steps, max(1, round(s.steps * req.guide_strength)))
        outs: list[torch.Tensor] = []
        calls, done = 0, 0
        total_steps = len(yields) * (s.steps - start_step)
        for r in range(len(yields)):
            drop = r == 0 and lead > 0
            motion_latents = self.vae.encode(buffer).float()
            sched = make_scheduler(s.steps, s.shift, s.num_train_timesteps)
            timesteps = sched.timesteps
            gen = torch.Generator("cpu").manual_seed(req.seed + r)
            noise = torch.randn(1, 16, n_lat, h // VAE_S, w // VAE_S, generator=gen).to(dev)
            latents = noise
            if req.guide_video is not None:
                context = ref_pixels if drop else buffer
                guide = self._guide_latents(req, sum(yields[:r]), lead if r == 0 else 0, context, n_lat)
                timesteps = timesteps[start_step:]
                sched.set_begin_index(start_step)
                sigma = float(sched.sigmas[start_step])
                latents = (1.0 - sigma) * guide + sigma * noise
            clip_audio = audio[..., r * s.infer_frames : (r + 1) * s.infer_frames]
            silent = torch.zeros_like(clip_audio)
            args = (ref_latent.to(dt), motion_latents.to(dt))
            for i, t in enumerate(timesteps):
                flow = self._flow(s, latents, t, ctx_c, args[0], clip_audio, args[1], drop)
                calls += 1
                if do_cfg:
                    flow_u = self._flow(s, latents, t, ctx_u, args[0], silent, args[1], drop)
                    flow = flow_u + s.guidance_scale * (flow - flow_u)
                    calls += 1
                latents = sched.step(flow.float(), t, latents, return_dict=False)[0]
                done += 1
                report(0.02 + 0.9 * done / total_steps, f"clip {r + 1}/{len(yields)} step {i + 1}/{len(timesteps)}")
            before = ref_latent if drop else motion_latents
            image = self.vae.decode(torch.cat([before, latents], dim=2))[:, :, -s.infer_frames :].float()
            if drop:
                image = image[:, :, DROP_FIRST_FRAMES:]
            overlap = min(s.motion_frames, image.shape[2])
            buffer = torch.cat([buffer[:, :, overlap:], image[:, :, -overlap:]], dim=2)
            outs.append(image.cpu())

        # 5. Frames of the shot and the tail a continuing shot starts from.
        frames = _to_uint8(torch.cat(outs, dim=2)[:, :, : req.num_frames])
        tail = np.concatenate([prev, frames])[-s.motion_frames :]
        report(1.0, "done")
        metrics = {
            "s2v_clips": float(len(yields)),
            "s2v_steps": float(s.steps - start_step),
            "s2v_model_calls": float(calls),
            "s2v_latent_frames": float(n_lat),
            "s2v_guided": float(req.guide_video is not None),
            "s2v_motion_frames": float(len(prev)),
        }
        return S2VOutput(frames=frames, tail=tail, audio_lead_frames=lead, metrics=metrics)
