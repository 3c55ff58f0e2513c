"""Time-aware dynamic windows for denoising latent videos longer than the model's window.

At every denoising step all overlapping windows are denoised and blended with ramp
weights. The window grid shifts with the step: with stride ``s = f - o`` window ``i``
nominally covers ``[i·s − α, i·s − α + f)``; the first window's start is clamped at 0 (no
wrap-around), ``α`` grows by ``p`` every step and resets to 0 once it passes ``m``, and the
last window ends exactly at the shot's end and is extended backwards to at least ``n``
latent frames. Seams therefore move from step to step instead of staying at fixed frames,
while peak memory is one window's worth however long the shot is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class WindowConfig:
    """Window length ``window`` (f), ``overlap`` (o), shift per step (p), max shift (m), min last (n).

    All lengths are in latent frames.
    """

    window: int = 21
    overlap: int = 5
    shift_per_step: int = 1
    max_shift: int = 4
    min_last: int = 9

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window={self.window} must be at least 1 latent frame")
        if not 0 <= self.overlap < self.window:
            raise ValueError(f"overlap={self.overlap} must be in 0..window-1 ({self.window - 1})")
        if self.shift_per_step < 0:
            raise ValueError(f"shift_per_step={self.shift_per_step} must be >= 0")
        if not 0 <= self.max_shift < self.window - self.overlap:
            raise ValueError(
                f"max_shift={self.max_shift} must be in 0..stride-1 ({self.window - self.overlap - 1}) "
                "so consecutive windows still touch"
            )
        if not 1 <= self.min_last <= self.window:
            raise ValueError(f"min_last={self.min_last} must be in 1..window ({self.window})")

    @property
    def stride(self) -> int:
        """Distance between consecutive nominal window starts."""
        return self.window - self.overlap


@dataclass(frozen=True)
class Window:
    """A half-open span ``[start, end)`` of latent frames."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """Number of latent frames in the window."""
        return self.end - self.start


def shift_at(step: int, cfg: WindowConfig) -> int:
    """The offset α at denoising step ``step``: grows by p per step, back to 0 once past m."""
    if step < 0:
        raise ValueError(f"step={step} must be >= 0")
    if cfg.shift_per_step == 0:
        return 0
    cycle = cfg.max_shift // cfg.shift_per_step + 1
    return (step % cycle) * cfg.shift_per_step


def windows_at(length: int, step: int, cfg: WindowConfig) -> list[Window]:
    """All windows covering ``length`` latent frames at denoising step ``step``."""
    if length < 1:
        raise ValueError(f"length={length} must be at least 1 latent frame")
    if length <= cfg.window:
        return [Window(0, length)]
    alpha = shift_at(step, cfg)
    out: list[Window] = []
    i = 0
    while True:
        start = max(0, i * cfg.stride - alpha)
        end = min(length, i * cfg.stride - alpha + cfg.window)
        if end >= length:
            start = min(start, max(0, length - cfg.min_last))
            out.append(Window(start, length))
            return out
        out.append(Window(start, end))
        i += 1


def blend_weights(windows: list[Window], length: int, overlap: int) -> list[torch.Tensor]:
    """Per-window frame weights (1-D float64 tensors) that sum to 1 on every frame.

    Each window ramps linearly up over its first ``overlap`` frames and down over its last,
    except at the shot's ends, where it stays at full weight; the ramps are then normalised
    so that overlapping windows cross-fade.
    """
    ramp = overlap + 1
    raw: list[torch.Tensor] = []
    total = torch.zeros(length, dtype=torch.float64)
    for w in windows:
        pos = torch.arange(w.length, dtype=torch.float64)
        up = torch.ones_like(pos) if w.start == 0 else torch.clamp((pos + 1) / ramp, max=1.0)
        down = torch.ones_like(pos) if w.end == length else torch.clamp((w.length - pos) / ramp, max=1.0)
        r = torch.minimum(up, down)
        raw.append(r)
        total[w.start : w.end] += r
    if bool((total <= 0).any()):
        missing = torch.nonzero(total <= 0).flatten().tolist()
        raise ValueError(f"latent frames {missing[:5]} are not covered by any window")
    return [r / total[w.start : w.end] for r, w in zip(raw, windows, strict=True)]


def denoise_windows(
    x: torch.Tensor,
    step: int,
    cfg: WindowConfig,
    denoiser: Callable[[torch.Tensor, Window], torch.Tensor],
    frame_dim: int = 2,
) -> torch.Tensor:
    """Apply ``denoiser`` to every window of ``x`` at ``step`` and blend the results.

    ``x`` is a latent video with frames along ``frame_dim`` (``(B, C, F, H, W)`` by default);
    ``denoiser(x_window, window)`` returns a tensor of the window's shape. Windows run one
    after another into one accumulator, so peak memory stays that of a single window.
    """
    length = x.shape[frame_dim]
    wins = windows_at(length, step, cfg)
    if len(wins) == 1:
        return denoiser(x, wins[0])
    weights = blend_weights(wins, length, cfg.overlap)
    out: torch.Tensor | None = None
    for w, wt in zip(wins, weights, strict=True):
        y = denoiser(x.narrow(frame_dim, w.start, w.length), w)
        if out is None:
            out = torch.zeros(x.shape, dtype=y.dtype, device=y.device)
        shape = [1] * x.ndim
        shape[frame_dim] = w.length
        out.narrow(frame_dim, w.start, w.length).add_(y * wt.to(y.device, y.dtype).view(shape))
    if out is None:  # pragma: no cover - windows_at always returns at least one window
        raise RuntimeError("no windows")
    return out
