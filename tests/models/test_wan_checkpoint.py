"""The Wan2.2-S2V release directory: layout checks, and the VAE / UMT5 loaders against official goldens.

Goldens: ``tests/fixtures/make_s2v_audio_goldens.py`` (official ``vae2_1.py`` and ``t5.py``, tiny, CPU).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from models.umt5_weights import (
    PromptEncoder,
    load_umt5_encoder,
    load_umt5_tokenizer,
    umt5_official_to_transformers,
    umt5_transformers_to_official,
)
from models.wan_checkpoint import check_s2v_dir, load_pth
from models.wan_vae_weights import (
    decode_latents,
    encode_latents,
    load_wan_vae,
    vae_config,
    vae_diffusers_to_official,
)
from mvdirector.errors import ModelError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "s2v_audio"
PROMPTS = json.loads((FIX / "PROMPTS.json").read_text())


def goldens(name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    g = load_file(str(FIX / f"{name}_goldens.safetensors"))
    return {k[2:]: v for k, v in g.items() if k.startswith("w.")}, g


def close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    err = (a.double() - b.double()).abs().max().item()
    assert err <= rel * b.abs().max().item(), err


# ---------------------------------------------------------------- layout


def fake_release(root: Path, skip: tuple[str, ...] = ()) -> Path:
    """Empty files named like the release (the check reads names, the index and tiny headers only)."""
    files = {
        "config.json": json.dumps({"_class_name": "WanModel_S2V", "model_type": "s2v"}),
        "diffusion_pytorch_model.safetensors.index.json": json.dumps(
            {"weight_map": {f"k{i}": f"diffusion_pytorch_model-0000{i}-of-00004.safetensors" for i in range(1, 5)}}
        ),
        **{f"diffusion_pytorch_model-0000{i}-of-00004.safetensors": "" for i in range(1, 5)},
        "Wan2.1_VAE.pth": "",
        "models_t5_umt5-xxl-enc-bf16.pth": "",
        "google/umt5-xxl/tokenizer_config.json": "{}",
        "google/umt5-xxl/tokenizer.json": "{}",
        "google/umt5-xxl/spiece.model": "",
        "wav2vec2-large-xlsr-53-english/config.json": "{}",
        "wav2vec2-large-xlsr-53-english/preprocessor_config.json": "{}",
        "wav2vec2-large-xlsr-53-english/model.safetensors": "",
    }
    for name, text in files.items():
        if name in skip:
            continue
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_complete_release_layout(tmp_path):
    layout = check_s2v_dir(fake_release(tmp_path))
    assert len(layout.dit_shards) == 4 and layout.vae.name == "Wan2.1_VAE.pth"
    assert layout.tokenizer == tmp_path / "google/umt5-xxl"
    names = [p.relative_to(tmp_path).as_posix() for p in layout.weight_files()]
    assert names[0] == "config.json" and "wav2vec2-large-xlsr-53-english/model.safetensors" in names


def test_everything_missing_in_one_line(tmp_path):
    with pytest.raises(ModelError) as e:
        check_s2v_dir(tmp_path)
    line = e.value.one_line()
    assert "\n" not in line
    for part in (
        "config.json",
        "diffusion_pytorch_model.safetensors.index.json",
        "Wan2.1_VAE.pth",
        "models_t5_umt5-xxl-enc-bf16.pth",
        "google/umt5-xxl/tokenizer.json",
        "wav2vec2-large-xlsr-53-english/preprocessor_config.json",
        "wav2vec2-large-xlsr-53-english/model.safetensors",
    ):
        assert part in line


def test_partial_release_names_only_what_is_missing(tmp_path):
    skip = ("diffusion_pytorch_model-00003-of-00004.safetensors", "Wan2.1_VAE.pth", "google/umt5-xxl/tokenizer.json")
    with pytest.raises(ModelError) as e:
        check_s2v_dir(fake_release(tmp_path, skip=skip))
    msg = e.value.message
    assert "DiT shard diffusion_pytorch_model-00003-of-00004.safetensors" in msg and "Wan2.1_VAE.pth" in msg
    assert "00002" not in msg and "models_t5" not in msg and "tokenizer.json" not in msg  # spiece.model is there


def test_unreadable_config(tmp_path):
    fake_release(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"missing a readable config\.json"):
        check_s2v_dir(tmp_path)


def test_shards_without_their_index(tmp_path):
    fake_release(tmp_path, skip=("diffusion_pytorch_model.safetensors.index.json",))
    with pytest.raises(ModelError, match="index of the 4 shards present"):
        check_s2v_dir(tmp_path)


def test_git_lfs_pointers_are_named(tmp_path):
    fake_release(tmp_path)
    (tmp_path / "models_t5_umt5-xxl-enc-bf16.pth").write_text("version https://git-lfs.github.com/spec/v1\noid x\n")
    with pytest.raises(ModelError, match=r"git-lfs pointers instead of weights: models_t5_umt5-xxl-enc-bf16\.pth"):
        check_s2v_dir(tmp_path)


@pytest.mark.parametrize(
    "files, found",
    [
        ({"model_index.json": json.dumps({"_class_name": "WanImageToVideoPipeline"})}, "WanImageToVideoPipeline"),
        ({"config.json": json.dumps({"_class_name": "WanModel", "model_type": "i2v"})}, "model_type 'i2v'"),
        ({"high_noise_model/config.json": "{}"}, "A14B two-expert release"),
        ({"config.json": json.dumps({"_class_name": "WanTransformer3DModel"})}, "WanTransformer3DModel"),
    ],
)
def test_wrong_checkpoints_are_refused_naming_what_was_found(tmp_path, files, found):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(ModelError) as e:
        check_s2v_dir(tmp_path)
    assert found in e.value.message and "not the Wan2.2-S2V-14B release" in e.value.message


def test_not_a_directory(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        check_s2v_dir(tmp_path / "nope")


def test_tiny_release_loads_every_part(tmp_path):
    from fixtures.make_tiny_s2v_dir import make_tiny_s2v_dir

    from models.audio_features import Wav2Vec2Encoder

    root = make_tiny_s2v_dir(tmp_path / "Wan2.2-S2V-14B")
    layout = check_s2v_dir(root)
    assert len(layout.dit_shards) >= 2 and layout.dit_index is not None
    assert json.loads(layout.dit_config.read_text())["_class_name"] == "WanModel_S2V"
    from models.s2v_loader import load_s2v_transformer

    load_s2v_transformer(root)  # the DiT loads strictly from the shards
    vae = load_wan_vae(layout.vae)
    assert vae.config.z_dim == 16
    t5 = load_umt5_encoder(layout.t5)
    assert t5.dtype == torch.bfloat16 and t5.config.d_model == json.loads(layout.dit_config.read_text())["text_dim"]
    enc = PromptEncoder(load_umt5_tokenizer(layout.tokenizer), t5, text_len=16)
    _, mask = enc.token_ids(["a singer"])
    (emb,) = enc(["a singer"])
    assert emb.shape == (int(mask.sum()), t5.config.d_model) and emb.dtype == torch.bfloat16
    w2v = Wav2Vec2Encoder.from_pretrained(layout.wav2vec)
    assert w2v.hidden_states(torch.zeros(3200).numpy()).shape[0] == 25


# ---------------------------------------------------------------- .pth reading


def test_pth_reading_is_safe_and_lean(tmp_path):
    sd = {"a": torch.arange(6.0), "b": torch.ones(2, 2)}
    torch.save(sd, tmp_path / "new.pth")
    torch.save(sd, tmp_path / "old.pth", _use_new_zipfile_serialization=False)  # cannot be memory-mapped
    for name in ("new.pth", "old.pth"):
        got = load_pth(tmp_path / name)
        assert set(got) == {"a", "b"} and torch.equal(got["a"], sd["a"])
    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"a": print}))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    for name in ("evil.pth", "junk.pth"):
        with pytest.raises(ModelError, match="not a readable PyTorch weights file"):
            load_pth(tmp_path / name)
    torch.save({"a": 1}, tmp_path / "scalar.pth")
    with pytest.raises(ModelError, match="state dict of tensors"):
        load_pth(tmp_path / "scalar.pth")


def test_matching_dtype_assigns_the_file_tensors_without_copying(tmp_path, monkeypatch):
    weights, _ = goldens("t5")
    held = dict(weights)  # bf16, as the release's T5 file
    monkeypatch.setattr("models.umt5_weights.load_pth", lambda path: held)
    model = load_umt5_encoder(tmp_path / "t5.pth", dtype=torch.bfloat16)
    q = model.encoder.block[0].layer[0].SelfAttention.q.weight
    assert q.data_ptr() == held["blocks.0.attn.q.weight"].data_ptr()
    assert model.shared.weight.data_ptr() == model.encoder.embed_tokens.weight.data_ptr()


# ---------------------------------------------------------------- VAE


def test_vae_matches_official_wan2_1_vae(tmp_path):
    weights, g = goldens("vae")
    torch.save(weights, tmp_path / "Wan2.1_VAE.pth")  # bf16 values; loaded as float32, as they were run
    vae = load_wan_vae(tmp_path / "Wan2.1_VAE.pth", dtype=torch.float32)
    assert vae.config.latents_mean == pytest.approx(g["mean"].tolist(), rel=1e-6)
    assert vae.config.latents_std == pytest.approx(g["std"].tolist(), rel=1e-6)
    close(encode_latents(vae, g["video"][None])[0], g["latents"])
    close(decode_latents(vae, g["latents"][None])[0], g["decoded"])
    loud = decode_latents(vae, 3 * g["latents"][None])[0]
    assert loud.abs().max() == 1.0
    close(loud, g["decoded_loud"])


def test_vae_mapping_round_trips_and_reads_the_architecture(tmp_path):
    weights, _ = goldens("vae")
    assert vae_config(weights) == dict(
        base_dim=4, z_dim=16, dim_mult=[1, 1, 2, 2], num_res_blocks=2, attn_scales=[],
        temperal_downsample=[False, True, True], in_channels=3, out_channels=3,
    )
    torch.save(weights, tmp_path / "vae.pth")
    back = vae_diffusers_to_official(load_wan_vae(tmp_path / "vae.pth", dtype=torch.bfloat16).state_dict())
    assert set(back) == set(weights) and all(torch.equal(back[k], weights[k]) for k in weights)


def test_a_wrong_file_as_the_vae_is_one_clear_error(tmp_path):
    t5, _ = goldens("t5")
    torch.save(t5, tmp_path / "Wan2.1_VAE.pth")
    with pytest.raises(ModelError, match="Wan VAE tensor|Wan2.1 VAE"):
        load_wan_vae(tmp_path / "Wan2.1_VAE.pth")
    weights, _ = goldens("vae")
    weights.pop("decoder.head.2.bias")
    torch.save(weights, tmp_path / "cut.pth")
    with pytest.raises(ModelError, match=r"1 missing \(e\.g\. decoder\.conv_out\.bias\)"):
        load_wan_vae(tmp_path / "cut.pth")


# ---------------------------------------------------------------- UMT5


def test_umt5_matches_official_t5_encoder(tmp_path):
    weights, g = goldens("t5")
    torch.save(weights, tmp_path / "t5.pth")
    model = load_umt5_encoder(tmp_path / "t5.pth", dtype=torch.float32)
    with torch.no_grad():
        out = model(input_ids=g["ids"], attention_mask=g["mask"]).last_hidden_state
    for row, n in enumerate(g["seq_lens"].tolist()):
        close(out[row, :n], g["context"][row, :n])


def test_prompt_encoder_tokenises_and_trims_like_the_official_one(tmp_path):
    weights, g = goldens("t5")
    torch.save(weights, tmp_path / "t5.pth")
    enc = PromptEncoder(
        load_umt5_tokenizer(FIX / "umt5_tokenizer"),
        load_umt5_encoder(tmp_path / "t5.pth", dtype=torch.float32),
        text_len=PROMPTS["text_len"],
    )
    ids, mask = enc.token_ids(PROMPTS["prompts"])
    assert torch.equal(ids, g["ids"]) and torch.equal(mask, g["mask"])
    assert g["seq_lens"].tolist()[-1] == PROMPTS["text_len"]  # the long prompt is truncated
    embs = enc(PROMPTS["prompts"])
    assert [e.shape[0] for e in embs] == g["seq_lens"].tolist()
    for e, ref, n in zip(embs, g["context"], g["seq_lens"].tolist(), strict=True):
        close(e, ref[:n])


def test_umt5_mapping_round_trips():
    weights, _ = goldens("t5")
    hf = umt5_official_to_transformers(weights)
    assert hf["shared.weight"] is hf["encoder.embed_tokens.weight"]
    back = umt5_transformers_to_official(hf)
    assert set(back) == set(weights)
    with pytest.raises(ModelError, match="unknown UMT5 encoder tensor"):
        umt5_official_to_transformers({**weights, "blocks.0.extra.weight": torch.zeros(1)})
