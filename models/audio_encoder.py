"""Wan2.2-S2V audio path: the causal audio encoder and the per-frame audio cross-attention.

:class:`CausalAudioEncoder` turns all wav2vec2 hidden states of a clip, (B, layers, dim, frames)
at the video frame rate, into per-latent-frame audio tokens: a learned, SiLU-weighted average of
the layers, then causal (left-padded, replicate) 1-D convolutions with two stride-2 steps, so
4 video frames become one latent frame. Each of ``num_token`` heads gives one token per latent
frame, plus a learned padding token; with ``need_global`` a second branch gives one "global"
vector per latent frame that drives the AdaLN of the audio cross-attention.

:class:`AudioInjector` holds, for each block listed in ``audio_inject_layers``, an AdaLN
(norm of the video tokens, scale/shift from the global audio vector) and a cross-attention from
each latent frame's video tokens to that frame's audio tokens; its output is added to the noisy
video tokens after the block. Only the released ``adain_mode="attn_norm"`` path is implemented
(the official ``injector_pre_norm_*`` layers have no parameters and are unused there).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.s2v_blocks import CastLinear, CrossAttention

WAV2VEC_LAYERS = 25  # hidden states of wav2vec2-large: the embeddings and 24 transformer layers


class CausalConv1d(nn.Module):
    """1-D convolution over time that sees only the past (left replicate padding of kernel - 1)."""

    def __init__(self, chan_in: int, chan_out: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.pad = kernel_size - 1
        self.conv = nn.Conv1d(chan_in, chan_out, kernel_size, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x.to(self.conv.weight.dtype), (self.pad, 0), mode="replicate")
        return self.conv(x)


class AudioFrameEncoder(nn.Module):
    """Strided causal convolutions from frame-rate features to latent-rate audio tokens (official ``encoder``)."""

    def __init__(self, in_dim: int, hidden_dim: int, num_heads: int, need_global: bool = True) -> None:
        super().__init__()
        self.num_heads, self.need_global = num_heads, need_global
        self.hidden = (hidden_dim // 4, hidden_dim // 2, hidden_dim)
        self.conv1_local = CausalConv1d(in_dim, hidden_dim // 4 * num_heads, 3, stride=1)
        if need_global:
            self.conv1_global = CausalConv1d(in_dim, hidden_dim // 4, 3, stride=1)
        self.conv2 = CausalConv1d(hidden_dim // 4, hidden_dim // 2, 3, stride=2)
        self.conv3 = CausalConv1d(hidden_dim // 2, hidden_dim, 3, stride=2)
        if need_global:
            self.final_linear = CastLinear(hidden_dim, hidden_dim)
        self.padding_tokens = nn.Parameter(torch.zeros(1, 1, 1, hidden_dim))

    def _norm_act(self, x: torch.Tensor, width: int) -> torch.Tensor:
        """(N, C, T) -> layer norm over C, SiLU -> (N, T, C)."""
        return F.silu(F.layer_norm(x.transpose(1, 2).float(), (width,), eps=1e-6))

    def _tail(self, x: torch.Tensor) -> torch.Tensor:
        """conv2 and conv3 with their norms: (N, C/4, T) -> (N, T', C)."""
        x = self._norm_act(x, self.hidden[0])
        x = self._norm_act(self.conv2(x.transpose(1, 2)), self.hidden[1])
        return self._norm_act(self.conv3(x.transpose(1, 2)), self.hidden[2])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``x`` (B, T, in_dim) -> (global (B, T', 1, C) or None, tokens (B, T', heads + 1, C))."""
        b, t, _ = x.shape
        xc = x.transpose(1, 2)
        loc = self.conv1_local(xc)  # (B, heads * C/4, T), heads outermost
        loc = loc.view(b, self.num_heads, -1, t).flatten(0, 1)
        loc = self._tail(loc)  # (B * heads, T', C)
        loc = loc.view(b, self.num_heads, *loc.shape[1:]).transpose(1, 2)
        pad = self.padding_tokens.to(loc.dtype).expand(b, loc.shape[1], 1, -1)
        tokens = torch.cat([loc, pad], dim=2)
        if not self.need_global:
            return None, tokens
        glob = self.final_linear(self._tail(self.conv1_global(xc)))
        return glob.unsqueeze(2), tokens


class CausalAudioEncoder(nn.Module):
    """Learned layer weighting of wav2vec2 hidden states followed by :class:`AudioFrameEncoder`."""

    def __init__(
        self, dim: int, out_dim: int, num_token: int = 4, need_global: bool = True, num_layers: int = WAV2VEC_LAYERS
    ) -> None:
        super().__init__()
        self.encoder = AudioFrameEncoder(dim, out_dim, num_token, need_global)
        self.weights = nn.Parameter(torch.ones(1, num_layers, 1, 1) * 0.01)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``features`` (B, layers, dim, T) -> (global (B, T', 1, C) | None, tokens (B, T', n + 1, C)), float32."""
        w = F.silu(self.weights.float())
        mixed = (features.float() * w / w.sum(dim=1, keepdim=True)).sum(dim=1)  # (B, dim, T)
        return self.encoder(mixed.transpose(1, 2))


class AdaLayerNorm(nn.Module):
    """Layer norm whose shift and scale come from a conditioning vector (diffusers' AdaLayerNorm, chunk_dim=1)."""

    def __init__(self, dim: int, embedding_dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps
        self.linear = CastLinear(embedding_dim, 2 * dim)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        shift, scale = self.linear(F.silu(temb)).unsqueeze(1).chunk(2, dim=-1)
        return F.layer_norm(x.float(), (self.dim,), eps=self.eps) * (1 + scale) + shift


def injector_order(inject_layers: list[int] | tuple[int, ...], num_layers: int) -> dict[int, int]:
    """Block index -> injector index for the blocks followed by audio cross-attention.

    The official code matches block names by substring, so a listed layer ``1`` would also match
    blocks 10-19; such configs (never released) are refused instead of reproduced.
    """
    layers = sorted(set(inject_layers))
    for i in layers:
        if not 0 <= i < num_layers:
            raise ValueError(f"audio_inject_layers has {i}, outside blocks 0..{num_layers - 1}")
        clash = [b for b in range(num_layers) if b != i and str(b).startswith(str(i))]
        if clash:
            raise ValueError(f"audio_inject_layers entry {i} would also match blocks {clash} in the official code")
    return {b: k for k, b in enumerate(layers)}


class AudioInjector(nn.Module):
    """Per-latent-frame audio cross-attention after selected blocks (official ``audio_injector``)."""

    def __init__(self, dim: int, num_heads: int, inject_layers: list[int], num_layers: int, enable_adain: bool):
        super().__init__()
        self.block_to_injector = injector_order(inject_layers, num_layers)
        n = len(self.block_to_injector)
        self.injector = nn.ModuleList([CrossAttention(dim, num_heads) for _ in range(n)])
        if enable_adain:
            self.injector_adain_layers = nn.ModuleList([AdaLayerNorm(dim, dim) for _ in range(n)])
        self.enable_adain = enable_adain

    def forward(
        self, block_idx: int, x: torch.Tensor, n_noisy: int, tokens: torch.Tensor, glob: torch.Tensor | None
    ) -> torch.Tensor:
        """Add the audio attention of block ``block_idx`` to the first ``n_noisy`` tokens of ``x`` (B, S, C).

        ``tokens`` (B, F, n, C) and ``glob`` (B, F, 1, C): audio per latent frame; the noisy tokens
        are frame-major, ``n_noisy / F`` per frame.
        """
        k = self.block_to_injector.get(block_idx)
        if k is None:
            return x
        b, f = tokens.shape[:2]
        h = x[:, :n_noisy].reshape(b * f, n_noisy // f, x.shape[-1])
        if self.enable_adain:
            h = self.injector_adain_layers[k](h, glob.reshape(b * f, -1))
        out = self.injector[k](h, tokens.flatten(0, 1))
        x[:, :n_noisy] += out.reshape(b, n_noisy, -1).to(x.dtype)
        return x
