"""The default shot pipeline is diffusers' WanImageToVideoPipeline, on the same tiny random checkpoints.

Same prompt, negative prompt, image, seed, steps and guidance; final latents compared by relative
L2 (bar: 1e-5). Variants: one transformer; Wan2.1 with a CLIP image encoder; Wan2.2 A14B with two
experts and a different guidance scale for each.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from models.shot_pipeline import PipelineOptions, ShotPipeline, ShotRequest
from models.windows import WindowConfig

H, W, FRAMES, STEPS, SEED = 32, 48, 9, 2, 3
PROMPT, NEGATIVE = "a singer on a stage, &amp; lights", "blurry"
BAR = 1e-5


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.fixture(scope="module")
def pair(tiny_wan_variant):
    """(ours, diffusers' latents) per variant, loaded once."""
    from diffusers import WanImageToVideoPipeline

    cache: dict[str, tuple[ShotPipeline, torch.Tensor]] = {}

    def get(variant: str):
        if variant not in cache:
            d = tiny_wan_variant(variant)
            ref = WanImageToVideoPipeline.from_pretrained(d)
            ref.set_progress_bar_config(disable=True)
            latents = ref(
                image=Image.fromarray(_image()),
                prompt=PROMPT,
                negative_prompt=NEGATIVE,
                height=H,
                width=W,
                num_frames=FRAMES,
                num_inference_steps=STEPS,
                guidance_scale=2.0,
                guidance_scale_2=3.0 if variant == "a14b" else None,
                generator=torch.Generator("cpu").manual_seed(SEED),
                output_type="latent",
                return_dict=False,
            )[0]
            cache[variant] = (ShotPipeline.from_pretrained(d, options=PipelineOptions()), latents)
        return cache[variant]

    return get


def _request(variant: str, **kw) -> ShotRequest:
    base = dict(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        image=_image(),
        num_frames=FRAMES,
        height=H,
        width=W,
        num_inference_steps=STEPS,
        guidance_scale=2.0,
        guidance_scale_2=3.0 if variant == "a14b" else None,
        seed=SEED,
    )
    return ShotRequest(**{**base, **kw})


@pytest.mark.parametrize("variant", ["single", "wan21", "a14b"])
def test_default_path_matches_diffusers(pair, variant):
    ours, theirs = pair(variant)
    out = ours(_request(variant))
    assert out.latents.shape == theirs.shape == (1, 16, 3, H // 8, W // 8)
    assert rel_l2(out.latents, theirs) <= BAR
    if variant == "a14b":
        assert out.metrics["dit_expert_2_steps"] == 1  # both experts ran, each with its own scale
    if variant == "wan21":
        assert ours.encode_image_embeds(_image()).shape[1] == 17  # 16 patches + class token


def test_a_shot_shorter_than_one_window_is_the_single_window_result(pair):
    """Default windows (21 latents) and a window of exactly the shot's 3 latents: both are diffusers' result."""
    ours, theirs = pair("single")
    exact = ours(_request("single", windows=WindowConfig(window=3, overlap=0, max_shift=0, min_last=3)))
    longer = ours(_request("single"))  # WindowConfig() default: 21 latent frames
    assert rel_l2(exact.latents, theirs) <= BAR
    torch.testing.assert_close(exact.latents, longer.latents, rtol=0, atol=0)


def test_reference_tokens_would_break_parity(pair):
    """The parity bar detects context tokens: switching the opt-in reference tokens on moves the result."""
    ours, theirs = pair("single")
    ref = np.random.default_rng(5).integers(0, 256, (H, W, 3), dtype=np.uint8)
    out = ours(_request("single", reference=ref))
    assert out.metrics["dit_reference_tokens"] == 1.0
    assert rel_l2(out.latents, theirs) > 100 * BAR
