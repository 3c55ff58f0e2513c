"""Wan2.2-S2V diffusion transformer (speech-to-video), with the official parameter names.

Our own implementation of ``WanModel_S2V`` (github.com/Wan-Video/Wan2.2, ``wan/modules/s2v``), so
the released ``Wan-AI/Wan2.2-S2V-14B`` checkpoint loads with ``strict=True`` (see
``models.s2v_loader``). One forward pass denoises one clip; its token sequence is::

    [noisy clip latents, t = 0..F-1] [reference image, t = 30] [FramePack motion, t < 0]

- noisy tokens: the 16-channel latents patchified (1,2,2), plus ``cond_encoder`` of a pose
  latent (zeros when absent, which adds the conv bias);
- a 3-way token-type embedding (``trainable_cond_mask``: 0 noisy, 1 reference, 2 motion);
- segmented modulation: the noisy tokens get the timestep's AdaLN, reference and motion tokens
  the timestep-0 one (``zero_timestep``);
- audio: all wav2vec2 layers -> :class:`~models.audio_encoder.CausalAudioEncoder` (one step per
  latent frame; the clip's audio is preceded by 73 copies of its first frame, standing for the
  motion frames, and their 19 latent steps are dropped) -> per-frame audio cross-attention with
  AdaLN from the global audio vector after the blocks in ``audio_inject_layers``.

Code paths the released config does not use are refused by :meth:`S2VConfig.validate` rather
than implemented: the transformer motioner (``enable_motioner``), trainable motion-token
positions, TSM, non-``attn_norm`` AdaLN, the ``drop`` FramePack mode, ``add_last_motion`` < 2
and sequence parallelism.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.audio_encoder import WAV2VEC_LAYERS, AudioInjector, CausalAudioEncoder
from models.s2v_blocks import CastConv3d, CastLinear, Head, S2VBlock, sinusoid
from models.s2v_motion import FramePackMotioner
from models.s2v_rope import REFERENCE_FRAME, RopeSegment, rope_cos_sin

# Parts the official code runs in float32 even in a bf16 run: kept in float32 (see param_dtype).
FP32_PARTS = ("time_embedding.", "time_projection.", "head.", "casual_audio_encoder.")
MOTION_FRAMES = (73, 19)  # motion buffer: video frames, and latent frames after the VAE


def param_dtype(name: str, compute_dtype: torch.dtype) -> torch.dtype:
    """The dtype parameter ``name`` is kept in when the model computes in ``compute_dtype``."""
    if name.startswith(FP32_PARTS) or name.endswith(".modulation"):
        return torch.float32
    return compute_dtype


@dataclass(frozen=True)
class S2VConfig:
    """The constructor arguments of the official ``WanModel_S2V`` (its ``config.json``)."""

    dim: int = 5120
    ffn_dim: int = 13824
    freq_dim: int = 256
    text_dim: int = 4096  # not saved in config.json by the official class; 4096 (UMT5-XXL) then
    text_len: int = 512
    in_dim: int = 16
    out_dim: int = 16
    num_heads: int = 40
    num_layers: int = 40
    eps: float = 1e-6
    patch_size: tuple[int, int, int] = (1, 2, 2)
    cross_attn_norm: bool = True
    cond_dim: int = 16
    audio_dim: int = 1024
    num_audio_token: int = 4
    enable_adain: bool = True
    adain_mode: str = "attn_norm"
    audio_inject_layers: tuple[int, ...] = (0, 4, 8, 12, 16, 20, 24, 27, 30, 33, 36, 39)
    zero_timestep: bool = True
    enable_framepack: bool = True
    framepack_drop_mode: str = "padd"
    enable_motioner: bool = False
    add_last_motion: bool = True
    trainable_token_pos_emb: bool = False
    enable_tsm: bool = False
    # Used by the official constructor only at initialisation or by unimplemented paths.
    zero_init: bool = True
    motion_token_num: int = 1024
    model_type: str = "s2v"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> S2VConfig:
        """From a ``config.json`` dict; keys starting with ``_`` and unknown keys are kept in ``extra``."""
        names = {f.name for f in fields(cls)} - {"extra"}
        kw: dict[str, Any] = {k: v for k, v in cfg.items() if k in names}
        for k in ("patch_size", "audio_inject_layers"):
            if k in kw:
                kw[k] = tuple(int(v) for v in kw[k])
        return cls(**kw, extra={k: v for k, v in cfg.items() if k not in names})

    @classmethod
    def from_json(cls, path: Path) -> S2VConfig:
        """Read ``config.json``."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict[str, Any]:
        """A ``config.json`` dict (the official keys, plus ``text_dim`` and ``patch_size``)."""
        d = asdict(self)
        d.pop("extra")
        d["audio_inject_layers"] = list(self.audio_inject_layers)
        d["patch_size"] = list(self.patch_size)
        return {"_class_name": "WanModel_S2V", **d}

    def validate(self) -> None:
        """Raise ValueError naming the first setting this implementation does not support."""
        unsupported = {
            "model_type": (self.model_type, "s2v"),
            "enable_motioner": (self.enable_motioner, False),
            "enable_framepack": (self.enable_framepack, True),
            "framepack_drop_mode": (self.framepack_drop_mode, "padd"),
            "add_last_motion": (bool(self.add_last_motion), True),
            "trainable_token_pos_emb": (self.trainable_token_pos_emb, False),
            "enable_tsm": (self.enable_tsm, False),
            "adain_mode": (self.adain_mode, "attn_norm"),
            "in_dim": (self.in_dim, 16),
        }
        for key, (got, want) in unsupported.items():
            if got != want:
                raise ValueError(f"{key}={got!r} is not supported (the released Wan2.2-S2V-14B uses {want!r})")
        head_dim = self.dim // self.num_heads
        if self.dim % self.num_heads or head_dim % 2:
            raise ValueError(f"dim {self.dim} must split into {self.num_heads} heads of even size")


class S2VTransformer(nn.Module):
    """The Wan2.2-S2V DiT; module names follow the official ``WanModel_S2V`` state dict."""

    def __init__(self, config: S2VConfig) -> None:
        super().__init__()
        config.validate()
        self.config = c = config
        self.patch_size = c.patch_size
        self.patch_embedding = CastConv3d(c.in_dim, c.dim, c.patch_size, stride=c.patch_size)
        self.text_embedding = nn.Sequential(
            CastLinear(c.text_dim, c.dim), nn.GELU(approximate="tanh"), CastLinear(c.dim, c.dim)
        )
        self.time_embedding = nn.Sequential(CastLinear(c.freq_dim, c.dim), nn.SiLU(), CastLinear(c.dim, c.dim))
        self.time_projection = nn.Sequential(nn.SiLU(), CastLinear(c.dim, c.dim * 6))
        self.blocks = nn.ModuleList(
            [S2VBlock(c.dim, c.ffn_dim, c.num_heads, c.eps, c.cross_attn_norm) for _ in range(c.num_layers)]
        )
        self.head = Head(c.dim, c.out_dim, c.patch_size, c.eps)
        if c.cond_dim > 0:
            self.cond_encoder = CastConv3d(c.cond_dim, c.dim, c.patch_size, stride=c.patch_size)
        self.casual_audio_encoder = CausalAudioEncoder(
            c.audio_dim, c.dim, c.num_audio_token, need_global=c.enable_adain, num_layers=WAV2VEC_LAYERS
        )
        self.audio_injector = AudioInjector(
            c.dim, c.num_heads, list(c.audio_inject_layers), c.num_layers, c.enable_adain
        )
        self.trainable_cond_mask = nn.Embedding(3, c.dim)
        self.frame_packer = FramePackMotioner(c.dim)
        self._rope_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    # ------------------------------------------------------------------ precision, attention

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype of the big matmuls (the patch embedding's weight dtype)."""
        return self.patch_embedding.weight.dtype

    def to_compute_dtype(self, dtype: torch.dtype) -> S2VTransformer:
        """Cast parameters to ``dtype``, keeping the official float32 parts in float32."""
        for name, p in self.named_parameters():
            p.data = p.data.to(param_dtype(name, dtype))
        return self

    def set_attention_backend(self, backend: str | None) -> None:
        """Route every attention through a diffusers backend by name (None: PyTorch SDPA)."""
        if backend is not None:
            from diffusers.models.attention_dispatch import AttentionBackendName

            AttentionBackendName(backend)  # ValueError for an unknown name
        for m in self.modules():
            if hasattr(m, "backend"):
                m.backend = backend

    # ------------------------------------------------------------------ pieces of the forward

    def _rope(self, segments: list[RopeSegment], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = (tuple(segments), str(device))
        if key not in self._rope_cache:
            if len(self._rope_cache) > 8:
                self._rope_cache.clear()
            self._rope_cache[key] = rope_cos_sin(segments, self.config.dim // self.config.num_heads, device)
        return self._rope_cache[key]

    def _time(self, timestep: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(e (B, C), e0 (B, 6, 2, C)): the timestep embedding and the noisy/clean block modulation."""
        t = timestep.reshape(-1).expand(batch) if timestep.numel() == 1 else timestep.reshape(-1)
        zero = self.config.zero_timestep
        if zero:
            t = torch.cat([t, t.new_zeros(1)])
        e = self.time_embedding(sinusoid(self.config.freq_dim, t).float()).float()
        e0 = self.time_projection(e).float().unflatten(1, (6, self.config.dim))
        if zero:
            e, clean = e[:-1], e0[-1:].expand(batch, -1, -1)
            return e, torch.stack([e0[:-1], clean], dim=2)
        return e, torch.stack([e0, e0], dim=2)

    def _audio(self, audio: torch.Tensor, motion_frames: tuple[int, int]) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Audio tokens per latent frame of the clip: (global (B, F, 1, C) | None, tokens (B, F, n + 1, C))."""
        lead = audio[..., :1].expand(*audio.shape[:-1], motion_frames[0])
        glob, tokens = self.casual_audio_encoder(torch.cat([lead, audio], dim=-1))
        drop = motion_frames[1]
        return (glob[:, drop:] if glob is not None else None), tokens[:, drop:]

    def _context(self, context: torch.Tensor) -> torch.Tensor:
        n = self.config.text_len
        if context.shape[1] > n:
            raise ValueError(f"text context has {context.shape[1]} tokens; the model takes at most {n}")
        pad = context.new_zeros(context.shape[0], n - context.shape[1], context.shape[2])
        return self.text_embedding(torch.cat([context, pad], dim=1))

    def unpatchify(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """Tokens (B, F*H*W, prod(patch) * out) -> latents (B, out, F*pt, H*ph, W*pw)."""
        (f, h, w), (pt, ph, pw), c = grid, self.patch_size, self.config.out_dim
        x = x.reshape(x.shape[0], f, h, w, pt, ph, pw, c)
        return x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(x.shape[0], c, f * pt, h * ph, w * pw)

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        x: torch.Tensor,
        timestep: torch.Tensor,
        context: torch.Tensor,
        ref_latents: torch.Tensor,
        audio: torch.Tensor,
        motion_latents: torch.Tensor | None = None,
        cond_states: torch.Tensor | None = None,
        motion_frames: tuple[int, int] = MOTION_FRAMES,
        drop_motion_frames: bool = False,
    ) -> torch.Tensor:
        """Predict the flow of one clip.

        Args:
            x: noisy latents (B, 16, F, H, W).
            timestep: (B,) or a scalar, in [0, 1000].
            context: text embeddings (B, L, text_dim), L <= text_len; rows past the prompt zero.
            ref_latents: reference-image latents (B, 16, 1, H, W).
            audio: wav2vec2 features of the clip's frames (B, 25, audio_dim, 4 * F).
            motion_latents: motion buffer latents (B, 16, T_m, H, W); None or ``drop_motion_frames``
                leaves the motion tokens out (the first clip).
            cond_states: pose latents (B, cond_dim, F, H, W); None means zeros.
            motion_frames: motion buffer length in video and latent frames (audio lead-in).

        Returns:
            the flow prediction (B, 16, F, H, W), float32.
        """
        b = x.shape[0]
        glob, tokens = self._audio(audio, motion_frames)
        h = self.patch_embedding(x)
        if hasattr(self, "cond_encoder"):
            if cond_states is not None:
                h = h + self.cond_encoder(cond_states)
            else:  # a zero pose latent: the conv gives its bias
                h = h + self.cond_encoder.bias.to(h.dtype).view(1, -1, 1, 1, 1)
        grid = tuple(h.shape[2:])
        if tokens.shape[1] != grid[0]:
            raise ValueError(f"audio gives {tokens.shape[1]} latent frames; the clip has {grid[0]}")
        noisy = h.flatten(2).transpose(1, 2)
        ref = self.patch_embedding(ref_latents)
        segments = [RopeSegment.grid(*grid), RopeSegment.grid(1, *grid[1:], t0=REFERENCE_FRAME)]
        parts, kinds = [noisy, ref.flatten(2).transpose(1, 2)], [0, 1]
        if motion_latents is not None and not drop_motion_frames:
            mot, mot_segments = self.frame_packer(motion_latents)
            parts.append(mot.to(noisy.dtype))
            kinds.append(2)
            segments += mot_segments
        kind = torch.cat([torch.full((p.shape[1],), k, device=x.device) for p, k in zip(parts, kinds, strict=True)])
        seq = torch.cat(parts, dim=1)
        seq = (seq + self.trainable_cond_mask(kind).to(seq.dtype)).float()
        n_noisy = noisy.shape[1]
        cos, sin = self._rope(segments, x.device)
        e, e0 = self._time(timestep.to(x.device), b)
        ctx = self._context(context)
        for i, block in enumerate(self.blocks):
            seq = block(seq, e0, n_noisy, cos, sin, ctx)
            seq = self.audio_injector(i, seq, n_noisy, tokens, glob)
        out = self.head(seq[:, :n_noisy], e)
        return self.unpatchify(out, grid)
