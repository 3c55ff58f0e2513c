"""Speed and memory of the Wan2.2-S2V-14B DiT on one 80-frame 480p clip, random weights, on a GPU.

    python benchmarks/s2v_gpu.py [--steps 3] [--height 480] [--width 832] [--attention flash]
    python benchmarks/s2v_gpu.py --tiny        # the same code path, tiny config, on the CPU

The released 14B config (``models.s2v.S2VConfig()``) is built on the meta device and
materialised directly on the GPU in bf16 (the official float32 parts in float32), with random
weights; nothing is downloaded. One sampling step is what the official loop does per step: the
conditional and the zero-audio negative forward pass (guidance 4.5) and a UniPC update, on a
clip of 20 latent frames with the reference token and the 19-latent FramePack motion tokens.

Printed: seconds per step (mean and fastest of ``--steps`` after one warm-up step), the peak
allocated GPU memory, an estimate for the whole clip (40 steps) and per minute of video
(12 clips at 16 fps), both for the DiT alone (VAE, wav2vec2 and UMT5 not included). The anchor,
measured in the same run, is the device's dense matmul throughput; model FLOPs per step are
counted analytically (matmuls and attention), so MFU = FLOPs / time / anchor. Without a CUDA
device (and without ``--tiny``) it prints one line and exits 77, which ``make bench`` reports as
skipped (``benchmarks/tools/gpu.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.tools.gpu import no_gpu  # noqa: E402
from models.s2v import S2VConfig, S2VTransformer  # noqa: E402
from models.s2v_motion import BUCKETS, KERNELS  # noqa: E402
from models.s2v_pipeline import S2VSampling, make_scheduler  # noqa: E402

TINY = S2VConfig(
    dim=32, ffn_dim=64, freq_dim=32, text_dim=24, text_len=16, num_heads=2, num_layers=3, audio_dim=16,
    audio_inject_layers=(0, 2),
)  # fmt: skip
PROMPT_TOKENS = 120  # a typical prompt; the model pads to text_len anyway


def build(cfg: S2VConfig, device: torch.device, dtype: torch.dtype, seed: int = 0) -> S2VTransformer:
    """The model on ``device`` in ``dtype`` with random weights, never materialised elsewhere."""
    with torch.device("meta"):
        model = S2VTransformer(cfg).to_compute_dtype(dtype)
    model = model.to_empty(device=device)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm_q.weight", "norm_k.weight", "norm3.weight")):
                p.fill_(1.0)
            elif p.ndim >= 2 and not name.endswith(("modulation", "weights", "padding_tokens")):
                p.normal_(0.0, p[0].numel() ** -0.5)
            else:
                p.normal_(0.0, 0.02)
    return model.eval().requires_grad_(False)


def token_counts(cfg: S2VConfig, lat_t: int, lat_h: int, lat_w: int) -> tuple[int, int]:
    """(noisy tokens, all tokens) of one clip: noisy + reference + FramePack motion tokens."""
    ph, pw = cfg.patch_size[1:]
    grid = (lat_h // ph) * (lat_w // pw)
    motion = sum((n // kt) * (lat_h // kh) * (lat_w // kw) for n, (kt, kh, kw) in zip(BUCKETS, KERNELS, strict=True))
    return lat_t * grid, lat_t * grid + grid + motion


def forward_flops(cfg: S2VConfig, n_noisy: int, n_all: int, lat_t: int) -> float:
    """Matmul and attention FLOPs of one forward pass (embeddings, audio encoder and norms left out)."""
    d, f, text = cfg.dim, cfg.ffn_dim, cfg.text_len
    per_block = (
        2 * n_all * d * d * 4  # self-attention q, k, v, o
        + 2 * 2 * n_all * n_all * d  # q k^T and attention x v
        + 2 * n_all * d * d * 2 + 2 * text * d * d * 2 + 2 * 2 * n_all * text * d  # text cross-attention
        + 2 * n_all * d * f * 2  # feed-forward
    )
    audio_tokens = cfg.num_audio_token + 1
    per_inject = 2 * n_noisy * d * d * 2 + 2 * 2 * n_noisy * audio_tokens * d + 2 * lat_t * d * 2 * d
    return cfg.num_layers * per_block + len(cfg.audio_inject_layers) * per_inject


def matmul_anchor(device: torch.device, dtype: torch.dtype, n: int) -> float:
    """Dense matmul throughput of this device, TFLOP/s (fastest of 5)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(6):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e12


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="timed sampling steps (after one warm-up step)")
    ap.add_argument("--frames", type=int, default=80, help="video frames per clip")
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--attention", default=None, help="a diffusers attention backend (default: PyTorch SDPA)")
    ap.add_argument("--tiny", action="store_true", help="tiny config on the CPU (checks the code path)")
    args = ap.parse_args()
    if args.tiny:
        cfg, device, dtype = TINY, torch.device("cpu"), torch.float32
        args.frames, args.height, args.width, args.steps = 16, 64, 128, min(args.steps, 2)
    elif not torch.cuda.is_available():
        return no_gpu("benchmarks/s2v_gpu.py", "--tiny runs the same code path on a tiny config on the CPU "
                      "(checks the script, measures nothing of the 14B model)")
    else:
        cfg, device, dtype = S2VConfig(), torch.device("cuda"), torch.bfloat16
    torch.set_grad_enabled(False)
    sampling = S2VSampling(infer_frames=args.frames)
    lat_t, lat_h, lat_w = sampling.clip_latents, args.height // 8, args.width // 8
    n_noisy, n_all = token_counts(cfg, lat_t, lat_h, lat_w)

    t0 = time.perf_counter()
    model = build(cfg, device, dtype)
    if args.attention:
        model.set_attention_backend(args.attention)
    sync(device)
    build_s = time.perf_counter() - t0
    weights_gb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**30

    g = torch.Generator(device).manual_seed(0)

    def rnd(*shape: int, dt: torch.dtype = dtype) -> torch.Tensor:
        return torch.randn(*shape, generator=g, device=device, dtype=dt)

    latents = rnd(1, 16, lat_t, lat_h, lat_w, dt=torch.float32)
    ref, motion = rnd(1, 16, 1, lat_h, lat_w), rnd(1, 16, sampling.motion_latents, lat_h, lat_w)
    audio = rnd(1, 25, cfg.audio_dim, args.frames)
    ctx_c, ctx_u = rnd(1, min(PROMPT_TOKENS, cfg.text_len), cfg.text_dim), rnd(1, 8, cfg.text_dim)
    silent = torch.zeros_like(audio)
    sched = make_scheduler(sampling.steps, sampling.shift)
    frames = (sampling.motion_frames, sampling.motion_latents)

    def step(i: int, x: torch.Tensor) -> torch.Tensor:
        t = sched.timesteps[i].view(1).to(device)
        c = model(x, t, ctx_c, ref, audio, motion, motion_frames=frames)
        u = model(x, t, ctx_u, ref, silent, motion, motion_frames=frames)
        flow = u + sampling.guidance_scale * (c - u)
        return sched.step(flow, sched.timesteps[i], x, return_dict=False)[0]

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    latents = step(0, latents)  # warm-up
    sync(device)
    times = []
    for i in range(1, args.steps + 1):
        t0 = time.perf_counter()
        latents = step(i, latents)
        sync(device)
        times.append(time.perf_counter() - t0)
    if not torch.isfinite(latents).all():
        print("warning: non-finite latents (random weights)")
    peak_gb = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    anchor = matmul_anchor(device, dtype, 8192 if device.type == "cuda" else 512)
    mean, best = sum(times) / len(times), min(times)
    step_flops = 2 * forward_flops(cfg, n_noisy, n_all, lat_t)
    clips_per_min = 60 * 16 / sampling.infer_frames
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"Wan2.2-S2V DiT ({'tiny' if args.tiny else '14B'}, {cfg.num_layers} blocks, dim {cfg.dim}), {name}, {dtype}")
    print(f"clip: {args.frames} frames {args.width}x{args.height} -> latents {lat_t}x{lat_h}x{lat_w}; "
          f"tokens {n_noisy} noisy / {n_all} total; guidance: 2 passes per step; built in {build_s:.1f} s")
    rows = [
        ("s/step (mean)", f"{mean:.3f}"),
        ("s/step (fastest)", f"{best:.3f}"),
        ("weights GB", f"{weights_gb:.2f}"),
        ("peak allocated GB", f"{peak_gb:.2f}"),
        ("TFLOP per step (est.)", f"{step_flops / 1e12:.2f}"),
        ("anchor: matmul TFLOP/s", f"{anchor:.1f}"),
        ("MFU", f"{step_flops / best / (anchor * 1e12):.2f}"),
        (f"clip, {sampling.steps} steps (est.) s", f"{sampling.steps * mean:.1f}"),
        ("per minute of video (est.) min", f"{clips_per_min * sampling.steps * mean / 60:.1f}"),
    ]
    for k, v in rows:
        print(f"  {k:<34}{v:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
