"""Building blocks of the Wan2.2-S2V DiT, with the official parameter names.

Precision follows the official bf16 run (weights in bf16 under ``autocast``) without autocast:
every matmul module casts its input to its own weight's dtype, the residual stream and all
modulation arithmetic stay float32, and the few parts the official code runs in float32 keep
float32 weights (see ``models.s2v.FP32_PARTS``). With float32 weights everything is float32.

Attention is PyTorch SDPA by default; :func:`attend` can route to a diffusers attention backend
(``flash``, ``sage``, ...) by name.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.s2v_rope import apply_rope


class CastLinear(nn.Linear):
    """``nn.Linear`` that casts its input to the weight's dtype (what autocast does for a matmul)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.to(self.weight.dtype))


class CastConv3d(nn.Conv3d):
    """``nn.Conv3d`` that casts its input to the weight's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.to(self.weight.dtype))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: str | None = None) -> torch.Tensor:
    """Full (unmasked) attention of (B, S, H, D) tensors; returns (B, S, H, D)."""
    if backend is None:
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return out.transpose(1, 2)
    from diffusers.models.attention_dispatch import dispatch_attention_fn

    return dispatch_attention_fn(q, k, v, backend=backend)


class RMSNorm(nn.Module):
    """Wan's RMS norm over the channel axis (normalised in float32, scaled in the input's dtype)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


class LayerNorm32(nn.Module):
    """Layer norm computed and returned in float32, optionally with an affine weight and bias."""

    def __init__(self, dim: int, eps: float = 1e-6, affine: bool = False) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None
        self.bias = nn.Parameter(torch.zeros(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), (self.dim,), w, b, self.eps)


class _Attention(nn.Module):
    """The projections (``q``, ``k``, ``v``, ``o``) and query/key RMS norms of Wan's attention layers."""

    def __init__(self, dim: int, num_heads: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.q, self.k, self.v, self.o = (CastLinear(dim, dim) for _ in range(4))
        self.norm_q, self.norm_k = RMSNorm(dim, eps), RMSNorm(dim, eps)
        self.backend: str | None = None


class SelfAttention(_Attention):
    """Multi-head self-attention with RMS-normalised queries/keys and 3-D rotary positions."""

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, s = x.shape[:2]
        shape = (b, s, self.num_heads, self.head_dim)
        v = self.v(x).view(shape)
        q = apply_rope(self.norm_q(self.q(x)).view(shape), cos, sin).to(v.dtype)
        k = apply_rope(self.norm_k(self.k(x)).view(shape), cos, sin).to(v.dtype)
        return self.o(attend(q, k, v, self.backend).flatten(2))


class CrossAttention(_Attention):
    """Multi-head attention from ``x`` to a context (text tokens, or one frame's audio tokens)."""

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape[0], self.num_heads, self.head_dim
        q = self.norm_q(self.q(x)).view(b, -1, n, d)
        k = self.norm_k(self.k(context)).view(b, -1, n, d)
        v = self.v(context).view(b, -1, n, d)
        return self.o(attend(q, k.to(v.dtype), v, self.backend).flatten(2))


def segmented(h: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor | None, seg: int) -> torch.Tensor:
    """``h * (1 + scale) + shift`` (or ``h * scale`` without shift) with the first ``seg`` tokens
    taking row 0 of ``scale``/``shift`` (B, 2, C) and the rest row 1 — the segmented modulation
    that gives reference and motion tokens the timestep-0 embedding."""
    out = torch.empty(h.shape, dtype=torch.float32, device=h.device)
    for i, sl in enumerate((slice(0, seg), slice(seg, h.shape[1]))):
        part = h[:, sl].float()
        if shift is None:
            out[:, sl] = part * scale[:, i : i + 1]
        else:
            out[:, sl] = part * (1 + scale[:, i : i + 1]) + shift[:, i : i + 1]
    return out


class S2VBlock(nn.Module):
    """One DiT block: modulated self-attention, text cross-attention, modulated feed-forward."""

    def __init__(self, dim: int, ffn_dim: int, num_heads: int, eps: float = 1e-6, cross_attn_norm: bool = True):
        super().__init__()
        self.norm1 = LayerNorm32(dim, eps)
        self.self_attn = SelfAttention(dim, num_heads, eps)
        self.norm3 = LayerNorm32(dim, eps, affine=True) if cross_attn_norm else nn.Identity()
        self.cross_attn = CrossAttention(dim, num_heads, eps)
        self.norm2 = LayerNorm32(dim, eps)
        self.ffn = nn.Sequential(CastLinear(dim, ffn_dim), nn.GELU(approximate="tanh"), CastLinear(ffn_dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)

    def forward(
        self,
        x: torch.Tensor,
        e0: torch.Tensor,
        seg: int,
        cos: torch.Tensor,
        sin: torch.Tensor,
        context: torch.Tensor,
    ) -> torch.Tensor:
        """``x`` (B, S, C) float32; ``e0`` (B, 6, 2, C) float32 (noisy / clean modulation); ``seg`` noisy tokens."""
        m = (self.modulation.float().unsqueeze(2) + e0).unbind(1)  # six (B, 2, C)
        y = self.self_attn(segmented(self.norm1(x), m[1], m[0], seg), cos, sin)
        x = x + segmented(y, m[2], None, seg)
        x = x + self.cross_attn(self.norm3(x), context)
        y = self.ffn(segmented(self.norm2(x), m[4], m[3], seg))
        return x + segmented(y, m[5], None, seg)


class Head(nn.Module):
    """Output head: modulated layer norm and a linear map to patch pixels (float32 in bf16 runs)."""

    def __init__(self, dim: int, out_dim: int, patch_size: tuple[int, int, int], eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = LayerNorm32(dim, eps)
        self.head = CastLinear(dim, math.prod(patch_size) * out_dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """``x`` (B, S, C), ``e`` (B, C) the timestep embedding."""
        shift, scale = (self.modulation.float() + e.float().unsqueeze(1)).unbind(1)
        return self.head(self.norm(x) * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)).float()


def sinusoid(dim: int, t: torch.Tensor) -> torch.Tensor:
    """Wan's sinusoidal timestep features (N, dim): cosines then sines, computed in float64."""
    half = dim // 2
    pos = t.double()
    freq = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    ang = torch.outer(pos, freq)
    return torch.cat([torch.cos(ang), torch.sin(ang)], dim=1)
