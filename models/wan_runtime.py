"""The encoders, decoder and device policy shared by Wan pipelines: text, CLIP image, VAE, offloading.

:class:`WanRuntime` holds the non-transformer parts of a Wan checkpoint and turns pixels and
prompts into what a Wan DiT consumes, the way diffusers' Wan pipelines do: UMT5 embeddings
zeroed past each prompt's length, CLIP penultimate-layer tokens, VAE latents normalised by the
checkpoint's ``latents_mean``/``latents_std``, and the I2V condition latents of
``[image, zeros × (F−1)]`` encoded in one causal pass. Subclasses add the transformers.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from models.i2v_checkpoint import Components
from mvdirector.errors import InputError

Progress = Callable[[float, str], None]
Offload = Literal["none", "model", "group"]
OFFLOADS = ("none", "model", "group")
DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


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


def clean_prompt(text: str) -> str:
    """Prompt text as Wan's tokenizer wrapper and diffusers clean it: ftfy, HTML entities, whitespace."""
    import ftfy

    return " ".join(html.unescape(html.unescape(ftfy.fix_text(text))).split())


class WanRuntime:
    """Text/image encoders, the VAE and the device policy; ``_transformers()`` lists the big denoisers."""

    def __init__(self, parts: Components, options: PipelineOptions | None = None) -> None:
        self.options = options or PipelineOptions()
        if self.options.offload not in OFFLOADS:
            raise InputError(f"offload {self.options.offload!r} is not one of {', '.join(OFFLOADS)}")
        self.device = self.options.resolved_device()
        self.dtype = self.options.resolved_dtype()
        self.vae, self.text_encoder, self.tokenizer = parts.vae, parts.text_encoder, parts.tokenizer
        self.scheduler = parts.scheduler
        self.image_encoder, self.image_processor = parts.image_encoder, parts.image_processor
        self.t_scale = int(self.vae.config.scale_factor_temporal)
        self.s_scale = int(self.vae.config.scale_factor_spatial)
        self.z_dim = int(self.vae.config.z_dim)
        self._prompt_cache: dict[str, torch.Tensor] = {}
        if self.options.vae_tiling:
            self.vae.enable_tiling()
        for mod in (self.text_encoder, self.vae, self.image_encoder):
            if mod is not None:
                mod.eval().requires_grad_(False)
                if self.options.offload == "none":
                    mod.to(self.device)

    def _transformers(self) -> list[Any]:
        return []

    def _on_device(self, module: Any) -> Any:
        """CPU offload: move ``module`` to the compute device and the other big components back.

        With ``offload="model"`` whole components move; with ``"group"`` the transformers are
        streamed by diffusers' group-offload hooks and only the other components move.
        """
        mode = self.options.offload
        if mode == "none":
            return module
        movable = [self.text_encoder, self.vae, self.image_encoder]
        if mode == "model":
            movable += self._transformers()
        for other in movable:
            if other is not None and other is not module:
                other.to("cpu")
        if module in movable:
            module.to(self.device)
        return module

    def encode_prompt(self, prompts: list[str]) -> torch.Tensor:
        """UMT5 embeddings (N, L, D), zeroed past each prompt's length, as Wan does (cached per text)."""
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
            [clean_prompt(p) for p in prompts],
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

    def _normalise(self, z: torch.Tensor) -> torch.Tensor:
        c = self.vae.config
        mean = torch.tensor(c.latents_mean, dtype=torch.float32).view(1, -1, 1, 1, 1).to(z.device)
        inv_std = 1.0 / torch.tensor(c.latents_std, dtype=torch.float32).view(1, -1, 1, 1, 1).to(z.device)
        return (z - mean) * inv_std

    def _pixels(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (F, H, W, 3) → float (1, 3, F, H, W) in [−1, 1], normalised as diffusers does."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device, torch.float32) / 255.0
        return (x * 2.0 - 1.0).permute(3, 0, 1, 2).unsqueeze(0)

    @torch.no_grad()
    def encode_video(self, frames: np.ndarray) -> torch.Tensor:
        """Normalised VAE latents (1, C, T, h, w) of uint8 frames (F, H, W, 3); F is padded to 4k+1."""
        vae = self._on_device(self.vae)
        need = self.padded_frames(frames.shape[0])
        if need > frames.shape[0]:
            frames = np.concatenate([frames, np.repeat(frames[-1:], need - frames.shape[0], axis=0)])
        return self._normalise(vae.encode(self._pixels(frames)).latent_dist.mode())

    @torch.no_grad()
    def encode_condition(self, image: np.ndarray, n_frames: int) -> torch.Tensor:
        """Wan I2V condition latents (1, C, T, h, w): ``[image, zeros × (n_frames − 1)]`` in one causal pass."""
        vae = self._on_device(self.vae)
        first = self._pixels(image[None])
        video = torch.zeros(1, 3, n_frames, *first.shape[3:], device=self.device, dtype=torch.float32)
        video[:, :, :1] = first
        return self._normalise(vae.encode(video).latent_dist.mode())

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, num_frames: int) -> np.ndarray:
        """uint8 frames (num_frames, H, W, 3) of normalised latents."""
        vae = self._on_device(self.vae)
        c = vae.config
        mean = torch.tensor(c.latents_mean, dtype=torch.float32).view(1, -1, 1, 1, 1).to(self.device)
        std = torch.tensor(c.latents_std, dtype=torch.float32).view(1, -1, 1, 1, 1).to(self.device)
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
