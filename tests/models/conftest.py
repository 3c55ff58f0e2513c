"""Tiny random Wan components shared by the model tests."""

from __future__ import annotations

import pytest
import torch


def tiny_transformer(seed: int = 0, in_channels: int = 36):
    """A 2-layer, width-24 diffusers WanTransformer3DModel with fixed random weights."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=16,
        text_dim=32,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
        rope_max_seq_len=64,
    ).eval()


@pytest.fixture()
def transformer():
    return tiny_transformer()


@pytest.fixture(scope="session")
def tiny_wan_variant(tmp_path_factory):
    """``variant -> path`` of the tiny random checkpoints (single, wan21, a14b), each built once."""
    from fixtures.make_tiny_wan import cached_tiny_wan

    return lambda variant: cached_tiny_wan(tmp_path_factory.getbasetemp(), variant=variant)


@pytest.fixture(scope="session")
def tiny_wan_dir(tmp_path_factory):
    """A tiny random diffusers-format Wan I2V checkpoint plus a camera adapter (built once)."""
    from fixtures.make_tiny_wan import cached_tiny_wan, make_tiny_adapter

    root = tmp_path_factory.mktemp("tiny_wan")
    (root / "wan").symlink_to(cached_tiny_wan(tmp_path_factory.getbasetemp()), target_is_directory=True)
    make_tiny_adapter(root / "adapter")
    return root
