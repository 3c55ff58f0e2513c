"""3-D rotary positions of Wan2.2-S2V token groups (noisy video, reference, packed motion).

Every token group is a box of tokens given by a :class:`RopeSegment`: where its first token sits
(``start``), where the box ends (``end``: ``end - start`` tokens per axis) and the extent of
positions it spans (``extent``). Positions along an axis are ``count`` integers spread evenly
over ``extent`` positions from ``start`` (truncated toward zero), so a coarse motion bucket of
4×4-pooled tokens spans the same positions as the full-resolution grid. A negative start counts
backwards in time (motion frames before the clip); the rotation is then by the negative
position. The head dimension is split between time, height and width as in every Wan DiT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

THETA = 10000.0
REFERENCE_FRAME = 30  # rotary time index of the reference-image tokens


@dataclass(frozen=True)
class RopeSegment:
    """One box of tokens: ``start`` and ``end`` per (t, h, w) axis and the ``extent`` of positions it covers."""

    start: tuple[int, int, int]
    end: tuple[int, int, int]
    extent: tuple[int, int, int]

    @property
    def counts(self) -> tuple[int, int, int]:
        """Tokens per axis."""
        return tuple(e - s for s, e in zip(self.start, self.end, strict=True))  # type: ignore[return-value]

    @property
    def num_tokens(self) -> int:
        """Tokens in the box."""
        f, h, w = self.counts
        return max(f * h * w, 0)

    @classmethod
    def grid(cls, f: int, h: int, w: int, t0: int = 0) -> RopeSegment:
        """A plain ``f × h × w`` token grid starting at time ``t0`` (one position per token)."""
        return cls((t0, 0, 0), (t0 + f, h, w), (f, h, w))


def axis_positions(start: int, count: int, extent: int) -> np.ndarray:
    """Integer positions of ``count`` tokens spread over ``extent`` positions from ``start``.

    For a negative start the tokens run from ``start`` towards zero; the sign is kept.
    """
    if start >= 0:
        return np.linspace(start, start + extent - 1, count).astype(int)
    return -np.linspace(-start, -start - extent + 1, count).astype(int)


def axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Complex rotary channels given to time, height and width (Wan's split of ``head_dim / 2``)."""
    c = head_dim // 2
    return c - 2 * (c // 3), c // 3, c // 3


def _inv_freq(n_complex: int) -> torch.Tensor:
    dim = 2 * n_complex
    return 1.0 / torch.pow(THETA, torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def rope_angles(segments: list[RopeSegment], head_dim: int) -> torch.Tensor:
    """Rotation angles (S, head_dim / 2) in float64 for the tokens of ``segments``, in order."""
    dims = axis_dims(head_dim)
    inv = [_inv_freq(d) for d in dims]
    parts = []
    for seg in segments:
        if seg.num_tokens == 0:
            continue
        (nf, nh, nw), (ef, eh, ew) = seg.counts, seg.extent
        pf = torch.from_numpy(axis_positions(seg.start[0], nf, ef)).double()
        ph = torch.from_numpy(axis_positions(seg.start[1], nh, eh)).double()
        pw = torch.from_numpy(axis_positions(seg.start[2], nw, ew)).double()
        af = torch.outer(pf, inv[0]).view(nf, 1, 1, -1).expand(nf, nh, nw, -1)
        ah = torch.outer(ph, inv[1]).view(1, nh, 1, -1).expand(nf, nh, nw, -1)
        aw = torch.outer(pw, inv[2]).view(1, 1, nw, -1).expand(nf, nh, nw, -1)
        parts.append(torch.cat([af, ah, aw], dim=-1).reshape(nf * nh * nw, -1))
    return torch.cat(parts, dim=0)


def rope_cos_sin(
    segments: list[RopeSegment], head_dim: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables (S, 1, head_dim / 2), float32, ready for :func:`apply_rope`."""
    ang = rope_angles(segments, head_dim)
    return ang.cos().float().unsqueeze(1).to(device), ang.sin().float().unsqueeze(1).to(device)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent channel pairs of ``x`` (B, S, H, D) by the angles; returns float32."""
    xr = x.float().unflatten(-1, (-1, 2))
    a, b = xr[..., 0], xr[..., 1]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)
