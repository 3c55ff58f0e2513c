"""One 81-frame 832×480 Wan I2V window on a GPU: s/step, peak memory, window estimate, parity with diffusers.

    python benchmarks/dit_gpu.py [--models 14b 1.3b] [--steps 3] [--frames 81] [--size 832x480]
    python benchmarks/dit_gpu.py --tiny        # the same code with tiny configs, on CPU (a smoke run)

Nothing is downloaded. Each model is built with random weights directly on the GPU in bf16 with
the real transformer configuration — ``14b``: Wan2.1-I2V-14B-480P (40 layers, width 5120, CLIP
image tokens); ``1.3b``: a 1.3B-class I2V transformer (30 layers, width 1536, as
SkyReels-V2-I2V-1.3B) — the real Wan VAE configuration and a ViT-H/14-sized CLIP encoder, but a
2-layer UMT5 text encoder and a small tokenizer (the text encoder runs once per prompt). Random
weights make the same kernels do the same work, so time and memory carry over to the real
checkpoints; the pictures do not.

For each model the project's loop (``ShotPipeline``, default path) and diffusers'
``WanImageToVideoPipeline`` run on the same components, image, prompt, seed and ``--steps``
steps; the table shows both s/step (diffusers is this run's anchor), the project's peak GPU
memory, an estimate of the whole window at the family's default 40 steps (measured s/step × 40 +
the measured encode/decode time) and the relative L2 distance of the final latents (bar: 2e-2
in bf16, 1e-5 with ``--tiny`` in fp32). Exit status 0 when every model is within its bar, 1 when
not, 77 without CUDA unless ``--tiny`` (one line, which ``make bench`` reports as skipped:
``benchmarks/tools/gpu.py``). Budget: under 8 minutes on one H100/H200.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STEPS = 40  # Wan2.1 I2V's official step count (models/i2v_checkpoint.py)

TRANSFORMERS = {
    # diffusers' conversion of Wan2.1-I2V-14B-480P (transformer/config.json)
    "14b": dict(
        patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=36, out_channels=16,
        text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=1280, added_kv_proj_dim=5120, rope_max_seq_len=1024,
    ),
    # 1.3B-class I2V (Wan2.1-1.3B widths with the I2V channels and CLIP tokens, as SkyReels-V2-I2V-1.3B)
    "1.3b": dict(
        patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=36, out_channels=16,
        text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=1280, added_kv_proj_dim=1536, rope_max_seq_len=1024,
    ),
    "tiny": dict(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16,
        text_dim=32, freq_dim=32, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=16, added_kv_proj_dim=24, rope_max_seq_len=64,
    ),
}
CLIP = {
    "real": dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                 image_size=224, patch_size=14, projection_dim=1024, hidden_act="gelu"),
    "tiny": dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                 patch_size=8, projection_dim=16),
}
TEXT = {
    "real": dict(d_model=4096, d_kv=64, d_ff=10240, num_layers=2, num_heads=64, relative_attention_num_buckets=32),
    "tiny": dict(d_model=32, d_kv=8, d_ff=32, num_layers=2, num_heads=4, relative_attention_num_buckets=8),
}
VAE = {"real": {}, "tiny": dict(base_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1)}
PROMPT, NEGATIVE = "a singer under warm stage lights, slow push in", "blurry, static"


@dataclass
class Row:
    """One model's measurements."""

    model: str
    params_b: float
    tokens: int
    ours_s: float
    diffusers_s: float
    peak_gb: float
    fixed_s: float
    rel_l2: float
    bar: float


def _build(cls, kwargs: dict, device, dtype, keep_fp32: tuple[str, ...] = ()):
    """``cls(**kwargs)`` created directly on ``device`` in ``dtype`` (nothing passes through host memory)."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            module = cls(**kwargs) if not hasattr(cls, "config_class") else cls(cls.config_class(**kwargs))
    finally:
        torch.set_default_dtype(previous)
    for name, p in module.named_parameters():  # what diffusers keeps in fp32 when it loads a checkpoint
        if any(k in name.split(".") for k in keep_fp32):
            p.data = p.data.float()
    return module.eval().requires_grad_(False)


def build_components(model: str, device, dtype):
    """Random-weight Wan I2V components (transformer config ``model``) on ``device``; returns (parts, params)."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPVisionModel, UMT5EncoderModel

    sys.path.insert(0, str(ROOT / "tests"))
    from fixtures.make_tiny_wan import make_tokenizer

    from models.i2v_checkpoint import Components

    size = "tiny" if model == "tiny" else "real"
    torch.manual_seed(0)
    keep = tuple(getattr(WanTransformer3DModel, "_keep_in_fp32_modules", None) or ())
    transformer = _build(WanTransformer3DModel, TRANSFORMERS[model], device, dtype, keep)
    vae = _build(AutoencoderKLWan, VAE[size], device, torch.float32)
    clip = _build(CLIPVisionModel, CLIP[size], device, torch.float32)
    with tempfile.TemporaryDirectory() as tmp:
        make_tokenizer(Path(tmp))
        tokenizer = AutoTokenizer.from_pretrained(tmp)
    text = _build(UMT5EncoderModel, dict(TEXT[size], vocab_size=len(tokenizer)), device, dtype)
    side = CLIP[size]["image_size"]
    processor = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0
    )
    params = sum(p.numel() for p in transformer.parameters()) / 1e9
    return Components(transformer, vae, text, tokenizer, scheduler, None, clip, processor), params


def run_model(model: str, args, device, dtype) -> Row:
    """Build one model, run the project's loop and diffusers' pipeline, measure and compare."""
    import numpy as np
    import torch
    from diffusers import WanImageToVideoPipeline
    from PIL import Image

    from models.shot_pipeline import PipelineOptions, ShotPipeline, ShotRequest

    parts, params = build_components(model, device, dtype)
    dname = "bf16" if dtype == torch.bfloat16 else "fp32"
    ours = ShotPipeline(parts, options=PipelineOptions(device=str(device), dtype=dname, max_sequence_length=512))
    image = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    cuda = device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    stamps: list[float] = []
    req = ShotRequest(prompt=PROMPT, negative_prompt=NEGATIVE, image=image, num_frames=args.frames,
                      height=args.height, width=args.width, num_inference_steps=args.steps, guidance_scale=5.0,
                      seed=7)

    def on_progress(fraction: float, message: str) -> None:
        if message.startswith("denoising step") or message == "encoding image" or message == "done":
            sync()
            stamps.append(time.perf_counter())

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sync()
    t0 = time.perf_counter()
    out = ours(req, progress=on_progress)
    sync()
    total = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    step_times = np.diff(stamps[:-1])  # encoding image → step 1 (with the condition encoding) → … → step N
    ours_s = float(np.median(step_times[1:] if len(step_times) > 1 else step_times))
    fixed = total - args.steps * ours_s  # text, CLIP and condition encoding, the decode, step 1's warm-up

    ref = WanImageToVideoPipeline(
        tokenizer=parts.tokenizer, text_encoder=parts.text_encoder, vae=parts.vae, scheduler=parts.scheduler,
        image_processor=parts.image_processor, image_encoder=parts.image_encoder, transformer=parts.transformer,
    )
    ref.set_progress_bar_config(disable=True)
    marks: list[float] = []

    def on_step(pipe, i, t, kwargs):
        sync()
        marks.append(time.perf_counter())
        return kwargs

    sync()
    marks.append(time.perf_counter())
    theirs = ref(image=Image.fromarray(image), prompt=PROMPT, negative_prompt=NEGATIVE, height=args.height,
                 width=args.width, num_frames=args.frames, num_inference_steps=args.steps, guidance_scale=5.0,
                 generator=torch.Generator("cpu").manual_seed(7), output_type="latent", return_dict=False,
                 callback_on_step_end=on_step)[0]
    d = np.diff(marks)
    diffusers_s = float(np.median(d[1:] if len(d) > 1 else d))
    theirs = theirs.float().cpu()
    rel = float((out.latents - theirs).norm() / theirs.norm())
    t_lat = (args.frames - 1) // 4 + 1
    tokens = t_lat * (args.height // 16) * (args.width // 16)
    bar = 1e-5 if dtype == torch.float32 else 2e-2
    del ours, ref, parts
    if cuda:
        torch.cuda.empty_cache()
    return Row(model, params, tokens, ours_s, diffusers_s, peak, fixed, rel, bar)


def main() -> int:
    """Parse arguments, check the device, run every model and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["14b", "1.3b"], choices=["14b", "1.3b"])
    ap.add_argument("--steps", type=int, default=3, help="denoising steps run (the first is a warm-up)")
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--size", default="832x480", help="WIDTHxHEIGHT")
    ap.add_argument("--tiny", action="store_true", help="tiny configs on CPU in fp32: exercises this script")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    if args.tiny:
        device, dtype, models = torch.device("cpu"), torch.float32, ["tiny"]
        args.frames, args.size = min(args.frames, 9), "48x32"
    else:
        if not torch.cuda.is_available():
            from benchmarks.tools.gpu import no_gpu

            return no_gpu("benchmarks/dit_gpu.py", "--tiny runs the same code on tiny configs on the CPU in fp32 "
                          "and checks parity with diffusers (a smoke run, no GPU figures)")
        device, dtype, models = torch.device("cuda"), torch.bfloat16, args.models
    args.width, args.height = (int(v) for v in args.size.lower().split("x"))
    torch.set_grad_enabled(False)
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    print(f"dit window on {name}: {args.frames} frames {args.width}x{args.height}, {args.steps} steps, "
          f"{'bf16' if dtype == torch.bfloat16 else 'fp32'}; estimate = s/step x {DEFAULT_STEPS} + encode/decode")
    head = ("model", "params B", "tokens", "s/step", "diffusers", "peak GB", "fixed s", "window est",
            "rel L2", "ok")
    print(" ".join(f"{h:>10}" for h in head))
    ok = True
    for model in models:
        r = run_model(model, args, device, dtype)
        est = r.ours_s * DEFAULT_STEPS + r.fixed_s
        good = r.rel_l2 <= r.bar
        ok &= good
        vals = (r.model, f"{r.params_b:.2f}", r.tokens, f"{r.ours_s:.3f}", f"{r.diffusers_s:.3f}",
                f"{r.peak_gb:.1f}", f"{r.fixed_s:.1f}", f"{est / 60:.1f} min", f"{r.rel_l2:.1e}",
                "yes" if good else f"no (bar {r.bar:.0e})")
        print(" ".join(f"{v:>10}" for v in vals), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
