"""Camera adapter: Plücker rays at latent resolution → tokens added to the DiT's patch tokens.

Rays come from :func:`models.camera.plucker_rays` (``p = (o × d, d)`` per pixel, poses
relative to the first frame). They are computed on a grid ``unshuffle`` times finer than
the transformer's token grid (with the default ``unshuffle`` = patch size 2, at latent
resolution) and packed in time like the VAE packs frames (latent frame 0
is pixel frame 0, latent frame k ≥ 1 holds pixel frames 4k−3 … 4k), giving 6·4 = 24
channels per latent frame. The adapter is

    PixelUnshuffle(unshuffle) → conv3x3 → SiLU → residual block → zero-initialised linear

per latent frame, so a fresh adapter adds exactly zero and leaves the base model unchanged.
Weights are saved as ``camera_adapter.safetensors`` beside a ``config.json`` of the
constructor's arguments.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from models.camera import CameraTrack, intrinsics, plucker_rays

ADAPTER_WEIGHTS = "camera_adapter.safetensors"
ADAPTER_CONFIG = "config.json"


@dataclass(frozen=True)
class CameraAdapterConfig:
    """Constructor arguments of :class:`CameraAdapter` (saved as config.json)."""

    inner_dim: int
    temporal_pack: int = 4
    unshuffle: int = 2  # = the patch size: rays at latent resolution
    hidden_dim: int = 256

    @property
    def in_channels(self) -> int:
        """Ray channels per latent frame before unshuffling (6 per packed pixel frame)."""
        return 6 * self.temporal_pack


class _ResBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        groups = math.gcd(32, dim)
        self.body = nn.Sequential(
            nn.GroupNorm(groups, dim),
            nn.SiLU(),
            nn.Conv2d(dim, dim, 3, padding=1),
            nn.GroupNorm(groups, dim),
            nn.SiLU(),
            nn.Conv2d(dim, dim, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class CameraAdapter(nn.Module):
    """Maps packed Plücker rays (B, 24, F, H·u, W·u) to tokens (B, F·H·W, inner_dim)."""

    def __init__(self, config: CameraAdapterConfig) -> None:
        super().__init__()
        self.config = config
        self.unshuffle = nn.PixelUnshuffle(config.unshuffle)
        self.conv_in = nn.Conv2d(config.in_channels * config.unshuffle**2, config.hidden_dim, 3, padding=1)
        self.act = nn.SiLU()
        self.res = _ResBlock(config.hidden_dim)
        self.proj = nn.Linear(config.hidden_dim, config.inner_dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, rays: torch.Tensor) -> torch.Tensor:
        """Tokens in the transformer's (frame, row, column) order, ready to add to patch tokens."""
        b, c, f, h, w = rays.shape
        if c != self.config.in_channels:
            raise ValueError(f"camera rays have {c} channels; the adapter expects {self.config.in_channels}")
        x = rays.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w).to(self.conv_in.weight.dtype)
        x = self.res(self.act(self.conv_in(self.unshuffle(x))))
        x = self.proj(x.flatten(2).transpose(1, 2))  # (B·F, h·w, D)
        return x.reshape(b, f * x.shape[1], x.shape[2])

    def save_pretrained(self, directory: Path) -> None:
        """Write ``config.json`` and ``camera_adapter.safetensors`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ADAPTER_CONFIG).write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(directory / ADAPTER_WEIGHTS), metadata={"format": "pt"})

    @classmethod
    def from_pretrained(cls, directory: Path) -> CameraAdapter:
        """Load an adapter saved by :meth:`save_pretrained`; raises FileNotFoundError/ValueError."""
        directory = Path(directory)
        cfg_path, w_path = directory / ADAPTER_CONFIG, directory / ADAPTER_WEIGHTS
        missing = [p.name for p in (cfg_path, w_path) if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"camera adapter directory {directory} lacks {', '.join(missing)}")
        raw = json.loads(cfg_path.read_text())
        known = set(CameraAdapterConfig.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"camera adapter config {cfg_path} has unknown keys {unknown}")
        adapter = cls(CameraAdapterConfig(**raw))
        adapter.load_state_dict(load_file(str(w_path)), strict=True)
        return adapter


def pack_frames_temporal(x: torch.Tensor, temporal_pack: int = 4) -> torch.Tensor:
    """Pack per-pixel-frame features (F, C, H, W) like the VAE packs frames → (C·t, F_lat, H, W).

    Latent frame 0 is pixel frame 0 repeated ``t`` times; latent frame k ≥ 1 stacks pixel
    frames t(k−1)+1 … tk. When ``F − 1`` is not a multiple of ``t`` the last frame is repeated.
    """
    f, c, h, w = x.shape
    t = temporal_pack
    n_lat = (f - 1 + t - 1) // t + 1
    need = (n_lat - 1) * t + 1
    if need > f:
        x = torch.cat([x, x[-1:].expand(need - f, c, h, w)], dim=0)
    x = torch.cat([x[:1].expand(t, c, h, w), x[1:]], dim=0)  # (n_lat·t, C, H, W)
    return x.reshape(n_lat, t * c, h, w).permute(1, 0, 2, 3).contiguous()


def camera_rays(
    track: CameraTrack,
    grid_h: int,
    grid_w: int,
    unshuffle: int = 2,
    temporal_pack: int = 4,
) -> torch.Tensor:
    """Packed Plücker rays (24, F_lat, grid_h·u, grid_w·u) for a per-pixel-frame camera track.

    ``grid_h`` × ``grid_w`` is the transformer's token grid; the rays are sampled ``unshuffle``
    times finer; the vertical fov of the track maps onto the grid's height.
    """
    h, w = grid_h * unshuffle, grid_w * unshuffle
    k = intrinsics(np.asarray(track.fov_deg), w, h)
    rays = plucker_rays(k, track.c2w(), h, w, relative_to_first=True)  # (F, 6, h, w)
    return pack_frames_temporal(rays, temporal_pack)
