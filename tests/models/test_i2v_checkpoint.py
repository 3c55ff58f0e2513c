"""Checkpoint checks (one line naming what was found), official sampling defaults, lean loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from models.i2v_checkpoint import (
    WAN21_I2V,
    WAN22_A14B,
    WAN_I2V,
    inspect_checkpoint,
    load_components,
)
from mvdirector.errors import ModelError


def _edit(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    path.write_text(json.dumps(data))


@pytest.fixture()
def copy(tiny_wan_variant, tmp_path):
    def make(variant: str = "single") -> Path:
        return Path(shutil.copytree(tiny_wan_variant(variant), tmp_path / variant))

    return make


def test_families_and_their_official_defaults(tiny_wan_variant):
    assert inspect_checkpoint(tiny_wan_variant("single")).defaults is WAN_I2V
    wan21 = inspect_checkpoint(tiny_wan_variant("wan21"))
    assert wan21.defaults is WAN21_I2V and wan21.has_image_encoder and not wan21.two_experts
    a14b = inspect_checkpoint(tiny_wan_variant("a14b"))
    assert a14b.defaults is WAN22_A14B and a14b.two_experts and a14b.boundary_ratio == 0.9
    assert (WAN22_A14B.steps, WAN22_A14B.guidance_scale, WAN22_A14B.guidance_scale_2) == (40, 3.5, 3.5)
    assert WAN22_A14B.shift_for(1280, 720) == 5.0
    assert (WAN21_I2V.shift_for(832, 480), WAN21_I2V.shift_for(1280, 720)) == (3.0, 5.0)
    assert WAN_I2V.shift_for(832, 480) is None  # the checkpoint's own scheduler
    assert {d.fps for d in (WAN_I2V, WAN21_I2V, WAN22_A14B)} == {16.0}


@pytest.mark.parametrize(
    ("variant", "edit", "message"),
    [
        ("single", {"model_index.json": {"_class_name": "WanPipeline"}}, "text-to-video Wan checkpoint"),
        ("single", {"transformer/config.json": {"in_channels": 16}}, "in_channels 16 = out_channels, a text-to"),
        ("single", {"transformer/config.json": {"in_channels": 48}}, "in_channels 48; a Wan image-to-video"),
        ("single", {"model_index.json": {"expand_timesteps": True}}, "per-token timesteps"),
        ("single", {"model_index.json": {"_class_name": "WanVACEPipeline"}}, "WanVACEPipeline checkpoint"),
        ("a14b", {"transformer_2/config.json": {"in_channels": 16}}, "transformer_2 has in_channels 16"),
        ("a14b", {"model_index.json": {"boundary_ratio": None}}, "boundary_ratio None"),
        ("single", {"scheduler/scheduler_config.json": {"_class_name": "DDIMScheduler"}}, "scheduler DDIMScheduler"),
    ],
)
def test_wrong_checkpoints_are_refused_with_one_line(copy, variant, edit, message):
    d = copy(variant)
    for rel, changes in edit.items():
        _edit(d / rel, **changes)
    with pytest.raises(ModelError, match=message) as e:
        inspect_checkpoint(d)
    assert "\n" not in e.value.one_line()


def test_clip_transformer_without_image_encoder_and_broken_json(copy):
    d = copy("wan21")
    shutil.rmtree(d / "image_encoder")
    with pytest.raises(ModelError, match="image_dim 16.*no image_encoder"):
        inspect_checkpoint(d)
    (d / "model_index.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot be read as JSON"):
        inspect_checkpoint(d)


def test_loading_is_lean(tiny_wan_variant, monkeypatch):
    """Weights are memory-mapped and placed by a device map (offload none) or kept in host memory (offload)."""
    import diffusers
    import transformers

    seen: list[tuple[str, dict]] = []

    def spy(cls):
        original = cls.from_pretrained.__func__

        def wrapped(klass, path, *a, **kw):
            seen.append((klass.__name__, kw))
            return original(klass, path, *a, **kw)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(wrapped))

    for cls in (diffusers.WanTransformer3DModel, diffusers.AutoencoderKLWan, transformers.UMT5EncoderModel,
                transformers.CLIPVisionModel):
        spy(cls)
    info = inspect_checkpoint(tiny_wan_variant("wan21"))
    parts = load_components(info, torch.float32, torch.device("cpu"))
    assert parts.image_encoder is not None and parts.transformer_2 is None
    assert {name for name, _ in seen} == {"WanTransformer3DModel", "AutoencoderKLWan", "UMT5EncoderModel",
                                          "CLIPVisionModel"}
    for _, kw in seen:
        assert kw["low_cpu_mem_usage"] is True and kw["device_map"] == {"": "cpu"}
    seen.clear()
    load_components(info, torch.float32, torch.device("cpu"), offload="group")
    assert all(kw["low_cpu_mem_usage"] is True and "device_map" not in kw for _, kw in seen)
