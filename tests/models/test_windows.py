"""Time-aware dynamic windows: coverage, weights, identity, bounds (hypothesis) and golden slices."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models.windows import Window, WindowConfig, blend_weights, denoise_windows, shift_at, windows_at


@st.composite
def configs(draw: st.DrawFn) -> WindowConfig:
    window = draw(st.integers(1, 24))
    overlap = draw(st.integers(0, window - 1))
    stride = window - overlap
    return WindowConfig(
        window=window,
        overlap=overlap,
        shift_per_step=draw(st.integers(0, 5)),
        max_shift=draw(st.integers(0, stride - 1)),
        min_last=draw(st.integers(1, window)),
    )


cases = given(cfg=configs(), length=st.integers(1, 120), steps=st.integers(1, 12))


@settings(max_examples=150, deadline=None)
@cases
def test_every_frame_covered_at_every_step_and_never_past_the_end(cfg: WindowConfig, length: int, steps: int):
    for step in range(steps):
        wins = windows_at(length, step, cfg)
        covered = torch.zeros(length, dtype=torch.int64)
        for w in wins:
            assert 0 <= w.start < w.end <= length
            assert w.length <= max(cfg.window, cfg.min_last)
            covered[w.start : w.end] += 1
        assert bool((covered > 0).all()), (step, wins)
        assert wins[-1].end == length
        assert wins[-1].length >= min(cfg.min_last, length)


@settings(max_examples=150, deadline=None)
@cases
def test_blend_weights_sum_to_one(cfg: WindowConfig, length: int, steps: int):
    for step in range(steps):
        wins = windows_at(length, step, cfg)
        total = torch.zeros(length, dtype=torch.float64)
        for w, wt in zip(wins, blend_weights(wins, length, cfg.overlap), strict=True):
            assert wt.shape == (w.length,)
            assert bool((wt >= 0).all())
            total[w.start : w.end] += wt
        torch.testing.assert_close(total, torch.ones(length, dtype=torch.float64))


@settings(max_examples=100, deadline=None)
@cases
def test_identity_denoiser_leaves_latent_unchanged(cfg: WindowConfig, length: int, steps: int):
    g = torch.Generator().manual_seed(length)
    x = torch.randn(1, 2, length, 3, 2, generator=g)
    for step in range(steps):
        y = denoise_windows(x, step, cfg, lambda xw, w: xw.clone())
        torch.testing.assert_close(y, x, rtol=1e-5, atol=1e-5)


def test_shift_grows_by_p_and_resets_past_m():
    cfg = WindowConfig(window=8, overlap=2, shift_per_step=2, max_shift=5, min_last=3)
    assert [shift_at(k, cfg) for k in range(8)] == [0, 2, 4, 0, 2, 4, 0, 2]


def test_window_grid_moves_with_the_step():
    cfg = WindowConfig(window=8, overlap=3, shift_per_step=1, max_shift=3, min_last=6)
    assert windows_at(20, 0, cfg) == [Window(0, 8), Window(5, 13), Window(10, 18), Window(14, 20)]
    assert windows_at(20, 2, cfg) == [Window(0, 6), Window(3, 11), Window(8, 16), Window(13, 20)]
    # Short shots are one window.
    assert windows_at(8, 3, cfg) == [Window(0, 8)]


def test_blend_weights_golden():
    cfg = WindowConfig(window=8, overlap=3, shift_per_step=1, max_shift=3, min_last=6)
    wins = windows_at(14, 0, cfg)
    assert wins == [Window(0, 8), Window(5, 13), Window(8, 14)]
    w0, w1, w2 = blend_weights(wins, 14, cfg.overlap)
    # Worked by hand: raw ramps of length overlap+1 = 4, divided by the per-frame totals.
    third = 1 / 3
    torch.testing.assert_close(w0, torch.tensor([1, 1, 1, 1, 1, 0.75, 0.5, 0.25], dtype=torch.float64))
    torch.testing.assert_close(
        w1, torch.tensor([0.25, 0.5, 0.75, 0.8, 2 * third, 0.5, third, 0.2], dtype=torch.float64)
    )
    torch.testing.assert_close(w2, torch.tensor([0.2, third, 0.5, 2 * third, 0.8, 1], dtype=torch.float64))


def test_windowed_denoiser_sees_each_window_once_per_step():
    cfg = WindowConfig(window=6, overlap=2, shift_per_step=1, max_shift=2, min_last=4)
    x = torch.zeros(1, 1, 17, 1, 1)
    seen: list[Window] = []
    denoise_windows(x, 1, cfg, lambda xw, w: seen.append(w) or xw)
    assert seen == windows_at(17, 1, cfg)
    assert all(w.length <= 6 for w in seen)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="max_shift"):
        WindowConfig(window=8, overlap=2, max_shift=6)
    with pytest.raises(ValueError, match="overlap"):
        WindowConfig(window=8, overlap=8)
