"""A thin wrapper around diffusers' ``WanTransformer3DModel`` that accepts extra tokens.

The wrapper runs the transformer's own modules (patch embedding, condition embedder,
blocks, output head) in the transformer's order, with three additions:

* camera tokens from a :class:`~models.camera_adapter.CameraAdapter` are added to the
  patch-embedded noisy tokens;
* clean context token groups (the reference image latent, FramePack motion frames) are
  placed before the noisy tokens, each with its own rotary positions, and dropped again
  before the output head;
* the noisy tokens' rotary time index starts at ``t_offset`` (after the context).

With no camera rays, no context and ``t_offset=0`` (the default, plain Wan I2V path) it calls
the diffusers forward itself, so that path is diffusers' computation by construction. Nothing
in diffusers is forked or patched.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.camera_adapter import CameraAdapter

ROPE_THETA = 10000.0  # the rotary base of Wan (official rope_params and diffusers' WanRotaryPosEmbed)


@dataclass
class TokenGroup:
    """Clean tokens (B, N, D) with their rotary cos/sin (1, N, 1, head_dim)."""

    tokens: torch.Tensor
    cos: torch.Tensor
    sin: torch.Tensor

    @property
    def n(self) -> int:
        """Number of tokens."""
        return int(self.tokens.shape[1])


class CameraWanTransformer(nn.Module):
    """Wan DiT + optional camera adapter + clean context tokens; returns the noisy tokens' output."""

    def __init__(self, transformer: nn.Module, adapter: CameraAdapter | None = None) -> None:
        super().__init__()
        self.transformer = transformer
        self.adapter = adapter
        cfg = transformer.config
        self.patch_size: tuple[int, int, int] = tuple(cfg.patch_size)  # type: ignore[assignment]
        self.inner_dim = int(cfg.num_attention_heads * cfg.attention_head_dim)
        if adapter is not None and adapter.config.inner_dim != self.inner_dim:
            raise ValueError(
                f"camera adapter width {adapter.config.inner_dim} does not match "
                f"the transformer's {self.inner_dim}"
            )

    @property
    def in_channels(self) -> int:
        """Channels the patch embedding takes (latent + condition channels)."""
        return int(self.transformer.config.in_channels)

    @property
    def out_channels(self) -> int:
        """Latent channels the transformer predicts."""
        return int(self.transformer.config.out_channels or self.transformer.config.in_channels)

    @property
    def dtype(self) -> torch.dtype:
        """The patch embedding's parameter dtype."""
        return self.transformer.patch_embedding.weight.dtype

    def rope_grid(self, t_pos: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotary cos/sin on a token grid, shape (T, h, w, head_dim), time indices ``t_pos``."""
        rope = self.transformer.rope
        split = [rope.t_dim, rope.h_dim, rope.w_dim]
        cos_t, cos_h, cos_w = rope.freqs_cos.split(split, dim=1)
        sin_t, sin_h, sin_w = rope.freqs_sin.split(split, dim=1)
        if int(t_pos.max()) >= rope.max_seq_len or max(h, w) > rope.max_seq_len:
            raise ValueError(f"token positions exceed the rotary table of {rope.max_seq_len}")
        t = t_pos.to(cos_t.device).long()
        n = t.shape[0]

        def grid(ft: torch.Tensor, fh: torch.Tensor, fw: torch.Tensor) -> torch.Tensor:
            return torch.cat(
                [
                    ft[t].view(n, 1, 1, -1).expand(n, h, w, -1),
                    fh[:h].view(1, h, 1, -1).expand(n, h, w, -1),
                    fw[:w].view(1, 1, w, -1).expand(n, h, w, -1),
                ],
                dim=-1,
            )

        return grid(cos_t, cos_h, cos_w), grid(sin_t, sin_h, sin_w)

    def rope_at(
        self, t_pos: torch.Tensor, h_pos: torch.Tensor, w_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotary cos/sin (T, H, W, head_dim) at any, also fractional, positions along each axis.

        Position ``p`` is rotated by ``p · θ^(−2j/d)`` (θ = 10000, as Wan and diffusers build the
        table), computed in float64: an exact rotation of unit magnitude, which averaging the
        table's cos/sin over several positions is not. At whole positions it equals the table.
        """
        rope = self.transformer.rope
        cos_parts, sin_parts = [], []
        for dim, pos in zip((rope.t_dim, rope.h_dim, rope.w_dim), (t_pos, h_pos, w_pos), strict=True):
            freq = ROPE_THETA ** (-torch.arange(0, dim, 2, dtype=torch.float64)[: dim // 2] / dim)
            angle = pos.to(torch.float64)[:, None] * freq.repeat_interleave(2)[None]
            cos_parts.append(torch.cos(angle).to(rope.freqs_cos.dtype))
            sin_parts.append(torch.sin(angle).to(rope.freqs_sin.dtype))
        n_t, n_h, n_w = len(t_pos), len(h_pos), len(w_pos)

        def grid(parts: list[torch.Tensor]) -> torch.Tensor:
            ft, fh, fw = parts
            return torch.cat(
                [
                    ft.view(n_t, 1, 1, -1).expand(n_t, n_h, n_w, -1),
                    fh.view(1, n_h, 1, -1).expand(n_t, n_h, n_w, -1),
                    fw.view(1, 1, n_w, -1).expand(n_t, n_h, n_w, -1),
                ],
                dim=-1,
            )

        return grid(cos_parts), grid(sin_parts)

    def token_grid(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        """The (T, H, W) token grid of a latent of that size."""
        pt, ph, pw = self.patch_size
        return frames // pt, height // ph, width // pw

    def embed_clean(self, latent_input: torch.Tensor, t_start: int) -> TokenGroup:
        """Full-resolution tokens for clean latent input (B, C_in, T, H, W) at time ``t_start``."""
        x = self.transformer.patch_embedding(latent_input.to(self.dtype))
        t, h, w = x.shape[2:]
        cos, sin = self.rope_grid(torch.arange(t_start, t_start + t), h, w)
        return TokenGroup(
            x.flatten(2).transpose(1, 2),
            cos.reshape(1, -1, 1, cos.shape[-1]),
            sin.reshape(1, -1, 1, sin.shape[-1]),
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_hidden_states_image: torch.Tensor | None = None,
        camera_rays: torch.Tensor | None = None,
        context: list[TokenGroup] | tuple[TokenGroup, ...] = (),
        t_offset: int = 0,
    ) -> torch.Tensor:
        """Predict the flow for ``hidden_states`` (B, C_in, F, H, W) → (B, C_out, F, H, W)."""
        tr = self.transformer
        if camera_rays is None and not context and t_offset == 0:
            return tr(
                hidden_states, timestep, encoder_hidden_states, encoder_hidden_states_image, return_dict=False
            )[0]
        b, _, f, h, w = hidden_states.shape
        pt, ph, pw = self.patch_size
        gt, gh, gw = self.token_grid(f, h, w)

        cos, sin = self.rope_grid(torch.arange(t_offset, t_offset + gt), gh, gw)
        cos, sin = cos.reshape(1, -1, 1, cos.shape[-1]), sin.reshape(1, -1, 1, sin.shape[-1])
        x = tr.patch_embedding(hidden_states).flatten(2).transpose(1, 2)
        if camera_rays is not None:
            if self.adapter is None:
                raise ValueError("camera rays were given but the model has no camera adapter")
            cam = self.adapter(camera_rays.to(x.device))
            if cam.shape != x.shape:
                raise ValueError(
                    f"camera tokens {tuple(cam.shape)} do not match the patch tokens {tuple(x.shape)}"
                )
            x = x + cam.to(x.dtype)
        n_ctx = sum(g.n for g in context)
        if n_ctx:
            x = torch.cat([*(g.tokens.to(x.dtype).expand(b, -1, -1) for g in context), x], dim=1)
            cos = torch.cat([*(g.cos.to(cos) for g in context), cos], dim=1)
            sin = torch.cat([*(g.sin.to(sin) for g in context), sin], dim=1)
        x = x.contiguous()
        cos, sin = cos.to(x.device), sin.to(x.device)  # the rotary table may live elsewhere (offloading)

        temb, timestep_proj, text, image = tr.condition_embedder(
            timestep, encoder_hidden_states, encoder_hidden_states_image, timestep_seq_len=None
        )
        timestep_proj = timestep_proj.unflatten(1, (6, -1))
        if image is not None:
            text = torch.concat([image, text], dim=1)
        for block in tr.blocks:
            x = block(x, text, timestep_proj, (cos, sin))
        x = x[:, n_ctx:]

        shift, scale = (tr.scale_shift_table.to(temb.device) + temb.unsqueeze(1)).chunk(2, dim=1)
        x = (tr.norm_out(x.float()) * (1 + scale.to(x.device)) + shift.to(x.device)).type_as(x)
        x = tr.proj_out(x)
        x = x.reshape(b, gt, gh, gw, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.flatten(6, 7).flatten(4, 5).flatten(2, 3)
