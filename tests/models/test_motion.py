"""FramePack motion-frame packing: kernel equivalence, token counts, positions, padding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.motion import MotionLayout, MotionPacker
from models.wan_camera import CameraWanTransformer


def test_spread_kernels_equal_pool_then_base_embedding(transformer):
    packer = MotionPacker(CameraWanTransformer(transformer))
    x = torch.randn(1, 36, 4, 16, 16)
    base = transformer.patch_embedding
    with torch.no_grad():
        torch.testing.assert_close(packer.proj_2x(x), base(F.avg_pool3d(x, 2)), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(packer.proj_4x(x), base(F.avg_pool3d(x, 4)), rtol=1e-4, atol=1e-5)


def test_pack_token_counts_and_time_positions(transformer):
    model = CameraWanTransformer(transformer)
    packer = MotionPacker(model)
    history = torch.randn(1, 36, 25, 16, 16)  # more than 19 frames: only the newest 19 are used
    with torch.no_grad():
        g4, g2, g1 = packer.pack(history, t_start=1)
    # token grid 8x8 per latent frame; 4x: 16 frames -> 4 x 2 x 2, 2x: 2 frames -> 1 x 4 x 4, 1x: 1 x 8 x 8
    assert (g4.n, g2.n, g1.n) == (16, 16, 64)
    # The newest frame uses the base embedding at time 1 + 18 = 19.
    exp = model.embed_clean(history[:, :, -1:], 19)
    torch.testing.assert_close(g1.tokens, exp.tokens)
    torch.testing.assert_close(g1.cos, exp.cos)
    # The 2x slot sits at the mean of the times it covers (17 and 18), rotated exactly there.
    t_dim = transformer.rope.t_dim
    c, s = model.rope_at(torch.tensor([17.5]), torch.tensor([0.5]), torch.tensor([0.5]))
    torch.testing.assert_close(g2.cos[0, 0, 0, :t_dim], c[0, 0, 0, :t_dim].to(g2.cos))
    torch.testing.assert_close(g2.sin[0, 0, 0, :t_dim], s[0, 0, 0, :t_dim].to(g2.sin))
    # At whole positions the exact rotation is the transformer's own table.
    ci, si = model.rope_at(torch.arange(3.0), torch.arange(4.0), torch.arange(5.0))
    ct, st = model.rope_grid(torch.arange(3), 4, 5)
    torch.testing.assert_close(ci, ct, rtol=0, atol=1e-6)
    torch.testing.assert_close(si, st, rtol=0, atol=1e-6)


def test_coarse_rotary_keeps_unit_magnitude(transformer):
    """Averaging cos/sin over a 4x cell would shrink the fastest time frequency to ~0.47; rotations stay 1."""
    model = CameraWanTransformer(transformer)
    with torch.no_grad():
        groups = MotionPacker(model).pack(torch.randn(1, 36, 19, 16, 16), t_start=1)
    for g in groups:
        torch.testing.assert_close(g.cos.pow(2) + g.sin.pow(2), torch.ones_like(g.cos), rtol=0, atol=1e-6)
    # What the old averaging gave for the 4x slot's highest time frequency (pairs repeat, so index 0).
    cos, sin = model.rope_grid(torch.arange(1, 5), 1, 1)
    mean_mag = (cos[:, 0, 0, 0].mean() ** 2 + sin[:, 0, 0, 0].mean() ** 2).sqrt()
    assert mean_mag < 0.5


def test_short_history_is_zero_padded_and_odd_sizes_are_padded(transformer):
    packer = MotionPacker(CameraWanTransformer(transformer))
    history = torch.randn(1, 36, 3, 6, 10)  # 3 frames, latent 6x10 (not multiples of 8)
    with torch.no_grad():
        g4, g2, g1 = packer.pack(history, t_start=1)
        full = packer.pack(torch.cat([torch.zeros(1, 36, 16, 6, 10), history], dim=2), t_start=1)
    assert g1.n == 3 * 5
    assert g4.n == 4 * 1 * 2  # 6x10 padded to 8x16 -> 4x grid 1x2 per 4 frames
    for a, b in zip((g4, g2, g1), full, strict=True):
        torch.testing.assert_close(a.tokens, b.tokens)


def test_bad_layout_rejected():
    with pytest.raises(ValueError, match="motion layout"):
        MotionLayout(n_1x=1, n_2x=3, n_4x=16)


def test_packed_context_runs_through_the_wrapper(transformer):
    model = CameraWanTransformer(transformer)
    packer = MotionPacker(model)
    x = torch.randn(1, 36, 3, 8, 8)
    with torch.no_grad():
        ctx = [
            model.embed_clean(torch.randn(1, 36, 1, 8, 8), 0),
            *packer.pack(torch.randn(1, 36, 19, 8, 8), 1),
        ]
        out = model(x, torch.tensor([700.0]), torch.randn(1, 5, 32), context=ctx, t_offset=20)
    assert out.shape == (1, 16, 3, 8, 8)
    assert torch.isfinite(out).all()
