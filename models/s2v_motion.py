"""FramePack motion tokens of Wan2.2-S2V (official ``frame_packer``).

The last 19 latent frames of the motion buffer (73 video frames) are split, newest first, into
buckets of 1, 2 and 16 latent frames and patchified with kernels (1,2,2), (2,4,4) and (4,8,8):
recent motion at full token resolution, older motion ever coarser. A buffer shorter than 19
latents is zero-padded at the old end (the released ``framepack_drop_mode="padd"``). The tokens
sit at negative rotary times: the newest latent at -1, the 2× bucket at -3, the four 4× tokens
frames at -19, -14, -9, -4, each spread over the full-resolution spatial positions.

Only the released ``add_last_motion=2`` packing (all three buckets) is implemented.
"""

from __future__ import annotations

import torch
from torch import nn

from models.s2v_blocks import CastConv3d
from models.s2v_rope import RopeSegment

BUCKETS = (1, 2, 16)  # latent frames per bucket, newest first
KERNELS = ((1, 2, 2), (2, 4, 4), (4, 8, 8))
LATENT_CHANNELS = 16


class FramePackMotioner(nn.Module):
    """Packs motion latents (B, 16, T, H, W) into tokens (B, M, C) with their rotary segments."""

    def __init__(self, inner_dim: int) -> None:
        super().__init__()
        self.proj = CastConv3d(LATENT_CHANNELS, inner_dim, KERNELS[0], stride=KERNELS[0])
        self.proj_2x = CastConv3d(LATENT_CHANNELS, inner_dim, KERNELS[1], stride=KERNELS[1])
        self.proj_4x = CastConv3d(LATENT_CHANNELS, inner_dim, KERNELS[2], stride=KERNELS[2])

    @staticmethod
    def segments(lat_h: int, lat_w: int) -> list[RopeSegment]:
        """Rotary segments of the 1×, 2× and 4× tokens for latents of ``lat_h × lat_w``."""
        out = []
        t_start = 0
        for n, (kt, kh, kw) in zip(BUCKETS, KERNELS, strict=True):
            t_start -= n
            end = (t_start + n // kt, lat_h // kh, lat_w // kw)
            out.append(RopeSegment((t_start, 0, 0), end, (n, lat_h // 2, lat_w // 2)))
        return out

    def forward(self, motion: torch.Tensor) -> tuple[torch.Tensor, list[RopeSegment]]:
        b, c, t, h, w = motion.shape
        total = sum(BUCKETS)
        padded = motion.new_zeros(b, c, total, h, w)
        keep = min(total, t)
        if keep:
            padded[:, :, total - keep :] = motion[:, :, t - keep :]
        old, mid, new = padded.split(list(BUCKETS[::-1]), dim=2)
        tokens = [
            p(x).flatten(2).transpose(1, 2) for p, x in ((self.proj, new), (self.proj_2x, mid), (self.proj_4x, old))
        ]
        return torch.cat(tokens, dim=1), self.segments(h, w)
