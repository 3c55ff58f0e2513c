"""Loading the S2V DiT from a directory laid out like the official release."""

from __future__ import annotations

import json

import pytest
import torch
from fixtures.tiny_s2v import S2V_FIXTURES, s2v_goldens, tiny_s2v_model
from safetensors.torch import load_file

from models.s2v_loader import INDEX, load_s2v_transformer, save_s2v_checkpoint
from models.wan_checkpoint import check_dit_dir
from mvdirector.errors import ModelError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """The tiny state dict as config.json + 3 shards + index, like Wan-AI/Wan2.2-S2V-14B."""
    sd = load_file(str(S2V_FIXTURES / "tiny_s2v.safetensors"))
    cfg = json.loads((S2V_FIXTURES / "config.json").read_text())
    return save_s2v_checkpoint(sd, cfg, tmp_path_factory.mktemp("s2v") / "ckpt", max_shard_bytes=400_000)


def copy_ckpt(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_sharded_checkpoint_loads_and_matches_the_fixture(ckpt):
    shards = sorted(p.name for p in ckpt.glob("*.safetensors"))
    assert shards == [f"diffusion_pytorch_model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    model = load_s2v_transformer(ckpt)
    ref = tiny_s2v_model()
    for (k, a), (k2, b) in zip(model.state_dict().items(), ref.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b), k
    assert not any(p.requires_grad for p in model.parameters())
    g = s2v_goldens()
    with torch.no_grad():
        out = model(g["x"][None], g["t_motion"], g["context"][None], g["ref"][None], g["audio"], g["motion"][None])
    assert torch.allclose(out[0], g["out_motion"], rtol=1e-4, atol=1e-5)


def test_bf16_load_keeps_float32_parts(ckpt):
    model = load_s2v_transformer(ckpt, dtype=torch.bfloat16)
    assert model.compute_dtype == torch.bfloat16
    assert model.time_projection[1].weight.dtype == torch.float32
    assert model.blocks[0].modulation.dtype == torch.float32
    assert model.blocks[0].ffn[0].weight.dtype == torch.bfloat16


def test_missing_parts_are_listed_in_one_line(ckpt, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        check_dit_dir(tmp_path / "nowhere")
    bad = copy_ckpt(ckpt, tmp_path / "bad")
    (bad / "config.json").unlink()
    (bad / "diffusion_pytorch_model-00002-of-00003.safetensors").unlink()
    with pytest.raises(ModelError) as e:
        load_s2v_transformer(bad)
    line = e.value.one_line()
    assert "\n" not in line
    assert "config.json" in line and "diffusion_pytorch_model-00002-of-00003.safetensors" in line
    (bad / INDEX).unlink()
    with pytest.raises(ModelError, match=INDEX.replace(".", r"\.")):
        check_dit_dir(bad)


def test_wrong_keys_shapes_and_corrupt_shards_are_model_errors(ckpt, tmp_path):
    bad = copy_ckpt(ckpt, tmp_path / "keys")
    index = json.loads((bad / INDEX).read_text())
    index["weight_map"].pop("audio_injector.injector.1.q.weight")
    index["weight_map"]["motioner.head.weight"] = next(iter(index["weight_map"].values()))
    (bad / INDEX).write_text(json.dumps(index))
    with pytest.raises(ModelError, match=r"1 missing \(audio_injector.injector.1.q.weight\); 1 unexpected"):
        load_s2v_transformer(bad)

    bad = copy_ckpt(ckpt, tmp_path / "shape")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["ffn_dim"] = 48
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="has shape"):
        load_s2v_transformer(bad)

    bad = copy_ckpt(ckpt, tmp_path / "corrupt")
    shard = bad / "diffusion_pytorch_model-00001-of-00003.safetensors"
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(ModelError, match="cannot read shard"):
        load_s2v_transformer(bad)

    bad = copy_ckpt(ckpt, tmp_path / "motioner")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["enable_motioner"] = True
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="enable_motioner=True is not supported"):
        load_s2v_transformer(bad)
