"""The shot pipeline on a tiny random Wan checkpoint: loading, checks, guidance, windows, opt-in tokens."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from models.camera import expand_move, interpolate
from models.i2v_checkpoint import check_weights_dir, missing_weight_files
from models.shot_pipeline import PipelineOptions, ShotPipeline, ShotRequest
from models.windows import WindowConfig, windows_at
from mvdirector.errors import InputError, ModelError

WIN = WindowConfig(window=3, overlap=1, shift_per_step=1, max_shift=1, min_last=2)
GOLDEN = [-1.2463, 0.0937, 0.8737, 1.3897, 2.1441]  # regression slice of the windowed default path


@pytest.fixture(scope="module")
def pipe(tiny_wan_dir):
    opts = PipelineOptions(max_sequence_length=32)
    return ShotPipeline.from_pretrained(tiny_wan_dir / "wan", tiny_wan_dir / "adapter", options=opts)


def _images(n: int = 17, seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    # A smooth moving gradient: something a VAE round trip keeps.
    yy, xx = np.mgrid[0:32, 0:32]
    guide = np.stack(
        [np.stack([(xx * 8 + 6 * i) % 256, yy * 8, np.full_like(xx, 120)], -1) for i in range(n)]
    )
    return ref, guide.astype(np.uint8)


def _request(**kw) -> ShotRequest:
    ref, guide = _images()
    base = dict(
        prompt="a singer",
        image=ref,
        num_frames=17,
        height=32,
        width=32,
        num_inference_steps=4,
        guidance_scale=2.0,
        seed=1,
        windows=WIN,
    )
    base.update(kw)
    return ShotRequest(**base)


def test_missing_weights_are_listed(tiny_wan_dir, tmp_path):
    broken = tmp_path / "wan"
    shutil.copytree(tiny_wan_dir / "wan", broken)
    shutil.rmtree(broken / "tokenizer")
    for f in (broken / "vae").glob("*.safetensors"):
        f.unlink()
    assert missing_weight_files(broken) == ["vae weights", "tokenizer"]
    with pytest.raises(ModelError, match="missing vae weights, tokenizer"):
        check_weights_dir(broken)
    with pytest.raises(ModelError, match="directory itself"):
        ShotPipeline.from_pretrained(tmp_path / "nowhere")
    check_weights_dir(tiny_wan_dir / "wan")


def test_bad_adapter_dir_is_a_model_error(tiny_wan_dir, tmp_path):
    with pytest.raises(ModelError, match="camera adapter"):
        ShotPipeline.from_pretrained(tiny_wan_dir / "wan", tmp_path)


def test_check_inputs_rejects_bad_sizes(pipe):
    with pytest.raises(InputError, match="not a multiple of 16"):
        pipe(_request(height=40))
    ref, guide = _images()
    with pytest.raises(InputError, match="guide strength"):
        pipe(_request(guide_video=guide, guide_strength=0.0))
    with pytest.raises(InputError, match="guidance_scale_2=3.0 needs a two-expert checkpoint"):
        pipe(_request(guidance_scale_2=3.0))


def test_deterministic_windows_and_golden(pipe):
    steps: list[str] = []
    out = pipe(_request(), progress=lambda f, m: steps.append(m))
    again = pipe(_request())
    assert out.frames.shape == (17, 32, 32, 3) and out.frames.dtype == np.uint8
    assert out.latents.shape == (1, 16, 5, 4, 4)
    np.testing.assert_array_equal(out.frames, again.frames)
    # Every window of every step is one conditional and one unconditional call.
    calls = sum(2 * len(windows_at(5, k, WIN)) for k in range(4))
    assert out.metrics["dit_model_calls"] == calls
    assert steps[0] == "encoding prompt" and steps[-1] == "done"
    golden = torch.tensor(GOLDEN)
    torch.testing.assert_close(out.latents[0, 0, :, 1, 2], golden, rtol=0, atol=1e-3)


def test_every_window_keeps_the_image_condition(pipe):
    """Windows after the first see the shot's first latent frame (mask 1, the image's latent) ahead of their own."""
    seen: list[torch.Tensor] = []
    hook = pipe.model.transformer.patch_embedding.register_forward_pre_hook(lambda m, a: seen.append(a[0].clone()))
    try:
        req = _request()
        pipe(req)
    finally:
        hook.remove()
    cond = pipe.encode_condition(req.image, 17)
    assert len(seen) == sum(2 * len(windows_at(5, k, WIN)) for k in range(4))
    for x in seen:  # (B, 16 latents + 4 mask + 16 condition, T, h, w)
        mask, c = x[:, 16:20], x[:, 20:]
        assert torch.all(mask[:, :, 0] == 1) and torch.all(mask[:, :, 1:] == 0)
        torch.testing.assert_close(c[:, :, 0], cond[:, :, 0].expand_as(c[:, :, 0]))
    # Some windows started later: their input is one frame longer than the window itself.
    later = [w for k in range(4) for w in windows_at(5, k, WIN) if w.start > 0]
    assert later and any(x.shape[2] == later[0].length + 1 for x in seen)


def test_camera_guidance_carries_the_guide_over(pipe):
    ref, guide = _images(9)
    target = pipe.encode_video(guide).cpu()
    weak = pipe(_request(num_frames=9, image=guide[0], guide_video=guide, guide_strength=0.25))
    strong = pipe(_request(num_frames=9, image=guide[0], guide_video=guide, guide_strength=1.0))
    d_weak = (weak.latents - target).pow(2).mean()
    d_strong = (strong.latents - target).pow(2).mean()
    assert weak.metrics["dit_steps"] == 1 and strong.metrics["dit_steps"] == 4
    assert d_weak < 0.5 * d_strong


def test_adapter_reference_and_motion_tokens_change_the_result(pipe):
    track = interpolate(expand_move("orbit", 1.0), 9)
    plain = pipe(_request(num_frames=9))
    assert plain.metrics["dit_reference_tokens"] == 0.0 and plain.metrics["dit_motion_frames"] == 0.0
    with_cam = pipe(_request(num_frames=9, camera=track))
    assert with_cam.metrics["dit_camera_adapter"] == 1.0
    assert not torch.allclose(with_cam.latents, plain.latents, atol=1e-4)
    with_ref = pipe(_request(num_frames=9, reference=_images(seed=4)[0]))
    assert with_ref.metrics["dit_reference_tokens"] == 1.0
    assert not torch.allclose(with_ref.latents, plain.latents, atol=1e-4)
    nxt = pipe(_request(num_frames=9, history=plain.latents))
    assert nxt.metrics["dit_motion_frames"] == 1.0 and nxt.frames.shape[0] == 9
    other = pipe(_request(num_frames=9, history=torch.zeros_like(plain.latents)))
    assert not torch.allclose(nxt.latents, other.latents, atol=1e-4)


@pytest.mark.parametrize("offload", ["model", "group"])
def test_offload_modes_give_the_same_result(pipe, tiny_wan_dir, offload):
    opts = PipelineOptions(max_sequence_length=32, offload=offload)
    other = ShotPipeline.from_pretrained(tiny_wan_dir / "wan", tiny_wan_dir / "adapter", options=opts)
    track = interpolate(expand_move("pan", 1.0), 5)
    history = torch.randn(1, 16, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    req = dict(num_frames=5, num_inference_steps=2, camera=track, history=history, reference=_images(seed=2)[0])
    torch.testing.assert_close(
        other(_request(**req)).latents, pipe(_request(**req)).latents, rtol=1e-4, atol=1e-4
    )


def test_wan21_needs_512_text_tokens(tiny_wan_variant):
    with pytest.raises(InputError, match="max_sequence_length"):
        ShotPipeline.from_pretrained(tiny_wan_variant("wan21"), options=PipelineOptions(max_sequence_length=32))


def test_attention_backend_choice(tiny_wan_dir, pipe):
    with pytest.raises(ModelError, match="attention backend 'nope'"):
        ShotPipeline.from_pretrained(tiny_wan_dir / "wan", options=PipelineOptions(attention="nope"))
    native = ShotPipeline.from_pretrained(
        tiny_wan_dir / "wan",
        tiny_wan_dir / "adapter",
        options=PipelineOptions(max_sequence_length=32, attention="native"),
    )
    req = dict(num_frames=1, num_inference_steps=2)
    torch.testing.assert_close(
        native(_request(**req)).latents, pipe(_request(**req)).latents, rtol=1e-4, atol=1e-4
    )
