"""FramePack-style motion frames: the previous shot's last latents as compressed context tokens.

History latents (oldest first) are split into slots: the newest ``n_1x`` frames are
patch-embedded at full resolution, the next ``n_2x`` with a kernel 2× larger in time, height
and width, and the oldest ``n_4x`` with a kernel 4× larger — so 19 latent frames cost about
as many tokens as 1 + 2/8 + 16/64 full frames. The 2×/4× kernels start as the base patch
embedding spread evenly over the larger kernel, which makes them equal to "average-pool,
then the base embedding" — usable without any training. A coarse token's rotary position is
the mean of the fine positions it covers (e.g. time 17.5 for a 2× cell over frames 17 and 18),
rotated exactly at that position. (Averaging the fine tokens' cos/sin instead would shrink the
fast-turning frequencies — to 0.47 for the 4× slot's highest time frequency. Official Wan2.2
S2V's FramePack motioner picks whole positions spread over each bucket; the mean position is
the same idea without the rounding.) Missing history (a short previous shot) is zero-padded at
the old end, as in FramePack. The tokens are untrained context: the renderer uses them only
when asked to (``motion_frames``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.wan_camera import CameraWanTransformer, TokenGroup


@dataclass(frozen=True)
class MotionLayout:
    """How many history latent frames go to the 1×, 2× and 4× slots (newest first)."""

    n_1x: int = 1
    n_2x: int = 2
    n_4x: int = 16

    def __post_init__(self) -> None:
        if self.n_1x < 0 or self.n_2x % 2 or self.n_4x % 4 or self.n_2x < 0 or self.n_4x < 0:
            raise ValueError(f"motion layout {self} needs n_1x >= 0, n_2x a multiple of 2, n_4x of 4")

    @property
    def total(self) -> int:
        """History latent frames consumed."""
        return self.n_1x + self.n_2x + self.n_4x


def _spread_kernel(conv: nn.Conv3d, factor: int) -> nn.Conv3d:
    """A conv with a ``factor``× larger kernel/stride equal to ``conv`` after ``factor``× average pooling."""
    kt, kh, kw = conv.kernel_size
    big = nn.Conv3d(
        conv.in_channels,
        conv.out_channels,
        kernel_size=(kt * factor, kh * factor, kw * factor),
        stride=(kt * factor, kh * factor, kw * factor),
    ).to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        w = conv.weight
        for d in (2, 3, 4):
            w = w.repeat_interleave(factor, dim=d)
        big.weight.copy_(w / factor**3)
        big.bias.copy_(conv.bias)
    return big


def _pad_to(x: torch.Tensor, mult: tuple[int, int, int]) -> torch.Tensor:
    """Replicate-pad (B, C, T, H, W) at the end of T, H and W to multiples of ``mult``."""
    t, h, w = x.shape[2:]
    pads = [(-n) % m for n, m in zip((t, h, w), mult, strict=True)]
    if not any(pads):
        return x
    return F.pad(x, (0, pads[2], 0, pads[1], 0, pads[0]), mode="replicate")


class MotionPacker(nn.Module):
    """Turns history latent input (B, C_in, T, H, W) into 1×/2×/4× context token groups."""

    def __init__(self, model: CameraWanTransformer, layout: MotionLayout | None = None) -> None:
        super().__init__()
        self.layout = layout or MotionLayout()
        self.model = [model]  # not a submodule: the packer must not own (or save) the transformer
        base = model.transformer.patch_embedding
        self.proj_2x = _spread_kernel(base, 2)
        self.proj_4x = _spread_kernel(base, 4)

    def _group(self, proj: nn.Module, x: torch.Tensor, factor: int, t_start: int) -> TokenGroup:
        model = self.model[0]
        pt, ph, pw = model.patch_size
        x = _pad_to(x, (pt * factor, ph * factor, pw * factor))
        tok = proj(x.to(proj.weight.dtype))
        gt, gh, gw = tok.shape[2:]  # the coarse grid; fine tokens are factor× denser on every axis

        def centres(n: int, start: int = 0) -> torch.Tensor:
            return start + torch.arange(n, dtype=torch.float64) * factor + (factor - 1) / 2

        cos, sin = model.rope_at(centres(gt, t_start), centres(gh), centres(gw))
        d = cos.shape[-1]
        return TokenGroup(tok.flatten(2).transpose(1, 2), cos.reshape(1, -1, 1, d), sin.reshape(1, -1, 1, d))

    def pack(self, history: torch.Tensor, t_start: int) -> list[TokenGroup]:
        """Context groups for ``history`` (B, C_in, T, H, W), oldest first, placed from ``t_start``.

        The 4× slot occupies rotary times ``t_start …``, then 2×, then 1×, so the newest frame
        sits at ``t_start + layout.total − 1``, right before the noisy window.
        """
        lay = self.layout
        x = history[:, :, -lay.total :] if history.shape[2] >= lay.total else history
        if x.shape[2] < lay.total:
            pad = torch.zeros(
                *x.shape[:2], lay.total - x.shape[2], *x.shape[3:], dtype=x.dtype, device=x.device
            )
            x = torch.cat([pad, x], dim=2)
        model = self.model[0]
        groups: list[TokenGroup] = []
        t = t_start
        if lay.n_4x:
            groups.append(self._group(self.proj_4x, x[:, :, : lay.n_4x], 4, t))
            t += lay.n_4x
        if lay.n_2x:
            groups.append(self._group(self.proj_2x, x[:, :, lay.n_4x : lay.n_4x + lay.n_2x], 2, t))
            t += lay.n_2x
        if lay.n_1x:
            groups.append(model.embed_clean(x[:, :, lay.total - lay.n_1x :], t))
        return groups
