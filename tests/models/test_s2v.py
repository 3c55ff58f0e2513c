"""Our Wan2.2-S2V DiT against the official modules (goldens made by tests/fixtures/make_s2v_goldens.py)."""

from __future__ import annotations

import json

import pytest
import torch
from fixtures.tiny_s2v import S2V_FIXTURES, s2v_goldens, tiny_s2v_model

from models.audio_encoder import injector_order
from models.s2v import FP32_PARTS, S2VConfig, S2VTransformer

# name -> (context, drop motion, pose, audio scale): the official forward passes in the goldens.
CASES = {
    "motion": ("context", False, None, 1.0),
    "nomotion": ("context", True, None, 1.0),
    "zero_audio": ("context_null", False, None, 0.0),
    "pose": ("context", False, "pose", 1.0),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return tiny_s2v_model()


@pytest.fixture(scope="module")
def goldens():
    return s2v_goldens()


def run(model, g, name, audio=None, context=None):
    ctx, drop, pose, scale = CASES[name]
    with torch.no_grad():
        return model(
            g["x"][None],
            g[f"t_{name}"],
            (context if context is not None else g[ctx])[None],
            g["ref"][None],
            audio if audio is not None else g["audio"] * scale,
            g["motion"][None],
            g[pose][None] if pose else None,
            drop_motion_frames=drop,
        )[0]


def rel(a, b):
    return float((a - b).norm() / b.norm())


def test_tiny_state_dict_loads_strictly():
    model = S2VTransformer(S2VConfig.from_json(S2V_FIXTURES / "config.json"))
    from safetensors.torch import load_file

    result = model.load_state_dict(load_file(str(S2V_FIXTURES / "tiny_s2v.safetensors")), strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_released_14b_config_has_the_official_keys_and_shapes():
    official = json.loads((S2V_FIXTURES / "official_14b_shapes.json").read_text())
    with torch.device("meta"):
        ours = S2VTransformer(S2VConfig())
    got = {k: list(v.shape) for k, v in ours.state_dict().items()}
    assert set(got) == set(official)
    assert got == official
    assert len(got) == 1260


@pytest.mark.parametrize("name", list(CASES))
def test_forward_matches_official(model, goldens, name):
    out = run(model, goldens, name)
    assert out.shape == goldens[f"out_{name}"].shape
    assert rel(out, goldens[f"out_{name}"]) < 1e-5


def test_motion_tokens_and_pose_change_the_output(goldens):
    # the golden cases differ from each other, so each parity test checks a live path
    assert rel(goldens["out_motion"], goldens["out_pose"]) > 1e-2
    x = dict(goldens)
    x["t_nomotion"] = goldens["t_motion"]
    assert rel(run(tiny_s2v_model(), x, "nomotion"), goldens["out_motion"]) > 1e-2


def test_different_audio_gives_different_output_and_zero_audio_is_the_negative_pass(model, goldens):
    a = run(model, goldens, "motion")
    other = torch.randn(goldens["audio"].shape, generator=torch.Generator().manual_seed(3))
    b = run(model, goldens, "motion", audio=other)
    assert rel(a, b) > 1e-2
    # zeroed audio with the negative prompt is exactly the official negative pass
    neg = run(model, goldens, "motion", audio=torch.zeros_like(goldens["audio"]), context=goldens["context_null"])
    assert rel(neg, goldens["out_zero_audio"]) < 1e-5


def test_audio_is_causal(model, goldens):
    """Audio after a latent frame does not change that frame's audio tokens (the convolutions are causal)."""
    audio = goldens["audio"]
    later = audio.clone()
    later[..., 8:] = torch.randn(later[..., 8:].shape)
    with torch.no_grad():
        _, tok_a = model._audio(audio, (73, 19))
        _, tok_b = model._audio(later, (73, 19))
    assert torch.allclose(tok_a[:, :2], tok_b[:, :2])  # latent frames 0-1 see audio frames < 8
    assert not torch.allclose(tok_a[:, 2:], tok_b[:, 2:])


def test_bf16_keeps_the_official_float32_parts_and_stays_close(goldens):
    model = tiny_s2v_model().to_compute_dtype(torch.bfloat16)
    for name, p in model.named_parameters():
        fp32 = name.startswith(FP32_PARTS) or name.endswith(".modulation")
        assert p.dtype == (torch.float32 if fp32 else torch.bfloat16), name
    out = run(model, goldens, "motion")
    assert out.dtype == torch.float32
    assert rel(out, goldens["out_motion"]) < 5e-2


def test_unreleased_code_paths_are_refused():
    with pytest.raises(ValueError, match="enable_motioner"):
        S2VConfig(enable_motioner=True).validate()
    with pytest.raises(ValueError, match="framepack_drop_mode"):
        S2VConfig(framepack_drop_mode="drop").validate()
    with pytest.raises(ValueError, match="would also match blocks"):
        injector_order([0, 1], num_layers=12)  # the official substring match would add blocks 10, 11
    assert injector_order([0, 4, 8, 12, 16, 20, 24, 27, 30, 33, 36, 39], 40)[39] == 11


def test_attention_backend_hook(goldens):
    model = tiny_s2v_model()
    model.set_attention_backend("native")  # diffusers' dispatcher, PyTorch SDPA underneath
    assert rel(run(model, goldens, "motion"), goldens["out_motion"]) < 1e-5
    with pytest.raises(ValueError, match="not a valid"):
        model.set_attention_backend("no-such-backend")
