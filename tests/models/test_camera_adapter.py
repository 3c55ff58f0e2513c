"""Camera adapter, ray packing and the transformer wrapper: exactness, golden slices, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.camera import expand_move, interpolate
from models.camera_adapter import CameraAdapter, CameraAdapterConfig, camera_rays, pack_frames_temporal
from models.wan_camera import CameraWanTransformer


def _inputs(f: int = 3, h: int = 8, w: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 36, f, h, w, generator=g)
    text = torch.randn(1, 7, 32, generator=g)
    return x, torch.tensor([500.0]), text


def test_pack_frames_temporal_follows_the_vae_layout():
    x = torch.arange(9, dtype=torch.float32).view(9, 1, 1, 1)  # pixel frame index as the value
    p = pack_frames_temporal(x, 4)
    assert p.shape == (4, 3, 1, 1)
    assert p[:, 0].flatten().tolist() == [0, 0, 0, 0]
    assert p[:, 1].flatten().tolist() == [1, 2, 3, 4]
    assert p[:, 2].flatten().tolist() == [5, 6, 7, 8]
    # 7 frames is not 4k+1: the last frame is repeated to fill the last latent frame.
    assert pack_frames_temporal(x[:7], 4)[:, 2].flatten().tolist() == [5, 6, 6, 6]


def test_camera_rays_shape_and_first_frame_is_identity_pose():
    track = interpolate(expand_move("orbit", 0.8), 9)
    rays = camera_rays(track, 4, 6, unshuffle=2)
    assert rays.shape == (24, 3, 8, 12)
    # Frame 0 is the reference pose: moment o × d = 0 and the centre ray points along +z.
    assert torch.allclose(rays[:3, 0], torch.zeros(3, 8, 12), atol=1e-6)
    d = rays[3:6, 0]
    assert torch.allclose(d.norm(dim=0), torch.ones(8, 12), atol=1e-5)
    # An orbit moves the camera: later frames have non-zero moments.
    assert rays[:3, 2].abs().max() > 1e-3


def test_fresh_adapter_adds_exactly_zero(transformer):
    adapter = CameraAdapter(CameraAdapterConfig(inner_dim=24, unshuffle=2, hidden_dim=16))
    rays = torch.randn(1, 24, 3, 8, 8)
    assert adapter(rays).shape == (1, 3 * 4 * 4, 24)
    assert torch.count_nonzero(adapter(rays)) == 0


def test_wrapper_equals_diffusers_forward(transformer):
    x, t, text = _inputs()
    with torch.no_grad():
        ref = transformer(x, t, text, return_dict=False)[0]
        wrapped = CameraWanTransformer(transformer)(x, t, text)
        adapter = CameraAdapter(CameraAdapterConfig(inner_dim=24, unshuffle=2, hidden_dim=16))
        with_zero_adapter = CameraWanTransformer(transformer, adapter)(
            x, t, text, camera_rays=torch.randn(1, 24, 3, 8, 8)
        )
    torch.testing.assert_close(wrapped, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(with_zero_adapter, ref, rtol=1e-5, atol=1e-5)


def test_adapter_changes_output_and_golden_slice(transformer, tmp_path):
    torch.manual_seed(3)
    adapter = CameraAdapter(CameraAdapterConfig(inner_dim=24, unshuffle=2, hidden_dim=16))
    with torch.no_grad():
        adapter.proj.weight.normal_(0.0, 0.05)
    track = interpolate(expand_move("push_in", 1.0), 9)
    rays = camera_rays(track, 4, 4, unshuffle=2).unsqueeze(0)
    x, t, text = _inputs()
    model = CameraWanTransformer(transformer, adapter)
    with torch.no_grad():
        out = model(x, t, text, camera_rays=rays)
        base = CameraWanTransformer(transformer)(x, t, text)
    assert (out - base).abs().max() > 1e-3
    golden = torch.tensor([-0.5920, -0.2766, -0.7728, 0.3818, -0.5324, -0.0538])
    torch.testing.assert_close(out[0, 0, 1, 2, :6], golden, rtol=0, atol=2e-4)

    adapter.save_pretrained(tmp_path / "adapter")
    loaded = CameraAdapter.from_pretrained(tmp_path / "adapter")
    with torch.no_grad():
        again = CameraWanTransformer(transformer, loaded)(x, t, text, camera_rays=rays)
    torch.testing.assert_close(again, out, rtol=0, atol=0)


def test_adapter_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="camera_adapter.safetensors"):
        CameraAdapter.from_pretrained(tmp_path)


def test_context_tokens_change_the_noisy_output(transformer):
    x, t, text = _inputs()
    model = CameraWanTransformer(transformer)
    with torch.no_grad():
        ctx = model.embed_clean(torch.randn(1, 36, 1, 8, 8), t_start=0)
        out = model(x, t, text, context=[ctx], t_offset=1)
        base = model(x, t, text)
    assert out.shape == base.shape
    assert ctx.n == 16 and ctx.cos.shape == (1, 16, 1, 12)
    assert not np.allclose(out.numpy(), base.numpy(), atol=1e-4)
