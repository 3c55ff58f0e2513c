"""The official ``models_t5_umt5-xxl-enc-bf16.pth`` loaded into transformers' ``UMT5EncoderModel``.

Official ``wan/modules/t5.py`` ``T5Encoder`` names -> transformers names (per block ``i``):

=====================================  ======================================================
``token_embedding``                    ``shared`` (tied to ``encoder.embed_tokens``)
``blocks.i.norm1`` / ``norm2``         ``encoder.block.i.layer.0.layer_norm`` / ``layer.1.layer_norm``
``blocks.i.attn.{q,k,v,o}``            ``encoder.block.i.layer.0.SelfAttention.{q,k,v,o}``
``blocks.i.pos_embedding.embedding``   ``encoder.block.i.layer.0.SelfAttention.relative_attention_bias``
``blocks.i.ffn.gate.0`` / ``fc1``      ``encoder.block.i.layer.1.DenseReluDense.wi_0`` / ``wi_1``
``blocks.i.ffn.fc2``                   ``encoder.block.i.layer.1.DenseReluDense.wo``
``norm``                               ``encoder.final_layer_norm``
=====================================  ======================================================

Both compute ``fc2(fc1(x) * gelu_tanh(gate(x)))``, unscaled attention with a per-block
bidirectional relative-position bias (UMT5: ``shared_pos=False``), RMS norms. Sizes are read off
the tensor shapes. :class:`PromptEncoder` reproduces the official ``T5EncoderModel.__call__``:
whitespace-cleaned text, padded/truncated to ``text_len`` tokens, embeddings cut to each prompt's
length.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import torch

from models.wan_checkpoint import assign_state_dict, load_pth
from mvdirector.errors import ModelError

_BLOCK = {
    "norm1.weight": "layer.0.layer_norm.weight",
    "attn.q.weight": "layer.0.SelfAttention.q.weight",
    "attn.k.weight": "layer.0.SelfAttention.k.weight",
    "attn.v.weight": "layer.0.SelfAttention.v.weight",
    "attn.o.weight": "layer.0.SelfAttention.o.weight",
    "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
    "norm2.weight": "layer.1.layer_norm.weight",
    "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",
    "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight",
    "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight",
}
_BLOCK_INV = {v: k for k, v in _BLOCK.items()}
MAX_DISTANCE = 128  # T5RelativeEmbedding's max_dist (not stored in the checkpoint)


def umt5_official_to_transformers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official ``T5Encoder`` state dict to ``UMT5EncoderModel`` names (tensors shared)."""
    out: dict[str, torch.Tensor] = {}
    for key, t in sd.items():
        if key == "token_embedding.weight":
            out["shared.weight"] = t
            out["encoder.embed_tokens.weight"] = t
        elif key == "norm.weight":
            out["encoder.final_layer_norm.weight"] = t
        elif (m := re.fullmatch(r"blocks\.(\d+)\.(.+)", key)) and m[2] in _BLOCK:
            out[f"encoder.block.{m[1]}.{_BLOCK[m[2]]}"] = t
        else:
            raise ModelError(f"unknown UMT5 encoder tensor {key}")
    return out


def umt5_transformers_to_official(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`umt5_official_to_transformers` (for official-format test checkpoints)."""
    out: dict[str, torch.Tensor] = {}
    for key, t in sd.items():
        if key == "shared.weight":
            out["token_embedding.weight"] = t
        elif key == "encoder.final_layer_norm.weight":
            out["norm.weight"] = t
        elif (m := re.fullmatch(r"encoder\.block\.(\d+)\.(.+)", key)) and m[2] in _BLOCK_INV:
            out[f"blocks.{m[1]}.{_BLOCK_INV[m[2]]}"] = t
        elif key != "encoder.embed_tokens.weight":
            raise ValueError(f"unknown UMT5EncoderModel tensor {key}")
    return out


def umt5_config(sd: dict[str, torch.Tensor]):
    """A ``UMT5Config`` read off an official encoder state dict's shapes."""
    from transformers import UMT5Config

    try:
        vocab, dim = sd["token_embedding.weight"].shape
        dim_attn = sd["blocks.0.attn.q.weight"].shape[0]
        buckets, heads = sd["blocks.0.pos_embedding.embedding.weight"].shape
        d_ff = sd["blocks.0.ffn.fc1.weight"].shape[0]
    except KeyError as e:
        raise ModelError(f"the weights do not look like the official UMT5 encoder (no tensor {e})") from e
    layers = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    return UMT5Config(
        vocab_size=int(vocab),
        d_model=int(dim),
        d_kv=int(dim_attn // heads),
        d_ff=int(d_ff),
        num_layers=layers,
        num_heads=int(heads),
        relative_attention_num_buckets=int(buckets),
        relative_attention_max_distance=MAX_DISTANCE,
        feed_forward_proj="gated-gelu",
        layer_norm_epsilon=1e-6,
        tie_word_embeddings=False,
    )


def load_umt5_encoder(path: Path, dtype: torch.dtype = torch.bfloat16):
    """``UMT5EncoderModel`` (eval, no grad, on CPU) with the weights of the official encoder ``.pth``."""
    from transformers import UMT5EncoderModel

    official = {k: v.to(dtype) for k, v in load_pth(Path(path)).items()}
    cfg = umt5_config(official)
    with torch.device("meta"):
        model = UMT5EncoderModel(cfg)
    sd = umt5_official_to_transformers(official)
    assign_state_dict(model, sd, "UMT5 encoder", Path(path))
    model.tie_weights()
    return model.eval().requires_grad_(False)


def load_umt5_tokenizer(folder: Path):
    """The tokenizer of the release's ``google/umt5-xxl`` folder (local files only)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot load the UMT5 tokenizer from {folder}: {e}") from e


def clean_prompt(text: str) -> str:
    """The official ``clean='whitespace'``: ftfy fixes, HTML unescaped twice, whitespace collapsed."""
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return re.sub(r"\s+", " ", text).strip()


class PromptEncoder:
    """UMT5 prompt embeddings as the official ``T5EncoderModel`` makes them."""

    def __init__(self, tokenizer, model, text_len: int = 512) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.text_len = text_len

    def token_ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask (N, text_len) int64 of the cleaned prompts."""
        tok = self.tokenizer(
            [clean_prompt(t) for t in texts],
            padding="max_length",
            truncation=True,
            max_length=self.text_len,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        return tok.input_ids, tok.attention_mask

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> list[torch.Tensor]:
        """One (len_i, d_model) embedding per prompt, in the model's dtype, on its device."""
        ids, mask = self.token_ids(texts)
        dev = self.model.device
        hidden = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev)).last_hidden_state
        lens = mask.gt(0).sum(dim=1).tolist()
        return [h[:n] for h, n in zip(hidden, lens, strict=True)]
