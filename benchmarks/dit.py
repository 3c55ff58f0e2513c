"""Time and peak memory of one denoising step against shot length: dynamic windows vs one window.

    python benchmarks/dit.py [--lengths 21 42 84] [--width 384] [--steps 3] [--device cpu|cuda]

Each configuration runs in a fresh subprocess. Peak memory is the peak of live tensors
made during one step (on CUDA: torch's peak allocation above the loaded model and inputs; on
CPU: storages tracked through a dispatch mode, deterministic unlike a process's resident
set). FLOPs come from torch's FlopCounterMode (deterministic); time is the fastest of
``--steps`` timed steps after a warm-up step (noisy on a shared CPU). The model is a random
Wan DiT from diffusers (2 layers, ``--width`` channels) called as the renderer's default path
calls it (every window after the first led by the shot's first, image-conditioned latent frame;
no adapter or context tokens), so the scaling — not the absolute numbers — carries over to Wan
14B. Lengths are latent frames (1 latent = 4 video frames).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class LiveTensorBytes:
    """Peak bytes of tensors created while active (activations), tracked per storage through dispatch.

    Deterministic, unlike a process's resident set: a storage counts from the op that makes it
    until the last tensor that views it is freed. Kernel-internal workspaces are not seen.
    """

    def __init__(self) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                tracker._track(out)
                return out

        self.mode = _Mode()
        self.live: dict[int, list[int]] = {}
        self.current = 0
        self.peak = 0

    def _track(self, out) -> None:
        import weakref

        import torch
        from torch.utils._pytree import tree_flatten

        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            st = t.untyped_storage()
            ptr, nbytes = st.data_ptr(), st.nbytes()
            if ptr == 0 or nbytes == 0:
                continue
            entry = self.live.get(ptr)
            if entry is None:
                entry = self.live[ptr] = [nbytes, 0]
                self.current += nbytes
                self.peak = max(self.peak, self.current)
            entry[1] += 1
            weakref.finalize(t, self._release, ptr)

    def _release(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            self.current -= entry[0]
            del self.live[ptr]

    def __enter__(self) -> LiveTensorBytes:
        self.mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.mode.__exit__(*exc)


def run_one(length: int, mode: str, width: int, steps: int, device: str, grid: int) -> dict[str, float]:
    """One configuration, in this process: returns seconds per step and peak memory in MiB."""
    sys.path.insert(0, str(ROOT))
    import torch
    from diffusers import WanTransformer3DModel

    from models.wan_camera import CameraWanTransformer
    from models.windows import WindowConfig, denoise_windows

    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    heads = max(1, width // 64)
    tr = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=heads, attention_head_dim=width // heads, in_channels=36,
        out_channels=16, text_dim=64, freq_dim=64, ffn_dim=width * 4, num_layers=2, rope_max_seq_len=256,
    ).eval()
    model = CameraWanTransformer(tr).to(device)
    cfg = WindowConfig(window=21, overlap=5, shift_per_step=1, max_shift=4, min_last=9)
    if mode == "full":
        cfg = WindowConfig(window=length, overlap=0, shift_per_step=0, max_shift=0, min_last=1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 16, length, grid, grid, generator=g).to(device)
    cond = torch.randn(1, 20, length, grid, grid, generator=g).to(device)
    text = torch.randn(1, 64, 64, generator=g).to(device)
    state = {"x": x}  # the shot's latents at this step: later windows are led by its first frame

    def denoise(xw, w):
        if w.start > 0:
            xw = torch.cat([state["x"][:, :, :1], xw], dim=2)
        inp = torch.cat([xw, cond[:, :, : xw.shape[2]]], dim=1)
        out = model(inp, torch.tensor([500.0], device=device), text)
        return out if w.start == 0 else out[:, :, 1:]

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    from torch.utils.flop_counter import FlopCounterMode, register_flop_formula, sdpa_flop_count

    try:  # torch counts CUDA attention kernels but not the CPU flash kernel
        @register_flop_formula(torch.ops.aten._scaled_dot_product_flash_attention_for_cpu)
        def _cpu_sdpa(q, k, v, *args, out_shape=None, **kwargs) -> int:
            return sdpa_flop_count(q, k, v)
    except (RuntimeError, AttributeError):  # already registered by a newer torch, or no such kernel
        pass

    x = state["x"] = x - 0.1 * denoise_windows(x, 0, cfg, denoise)  # warm-up step, not measured
    sync()
    with FlopCounterMode(display=False) as flops:
        denoise_windows(x, 1, cfg, denoise)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        denoise_windows(x, 1, cfg, denoise)
        sync()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        with LiveTensorBytes() as mem:
            denoise_windows(x, 1, cfg, denoise)
        peak = mem.peak / 2**20
    times = []
    for k in range(1, steps + 1):
        t0 = time.perf_counter()
        x = state["x"] = x - 0.1 * denoise_windows(x, k, cfg, denoise)
        sync()
        times.append(time.perf_counter() - t0)
    dt = min(times)
    return {"s_per_step": dt, "peak_mb": peak, "gflop": flops.get_total_flops() / 1e9}


def main() -> None:
    """Run every configuration in a subprocess and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[21, 42, 84], help="latent frames per shot")
    ap.add_argument("--width", type=int, default=384, help="transformer width (channels)")
    ap.add_argument("--grid", type=int, default=16, help="latent side (tokens per frame = (grid/2)^2)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--one", nargs=2, metavar=("LENGTH", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        res = run_one(int(args.one[0]), args.one[1], args.width, args.steps, args.device, args.grid)
        print(json.dumps(res))
        return
    rows = []
    for mode in ("windows", "full"):
        for length in args.lengths:
            cmd = [sys.executable, __file__, "--one", str(length), mode, "--width", str(args.width), "--grid",
                   str(args.grid), "--steps", str(args.steps), "--device", args.device]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((mode, length, res["s_per_step"], res["peak_mb"], res["gflop"]))
    tokens = (args.grid // 2) ** 2
    print(f"dit denoising step, width {args.width}, {tokens} tokens per latent frame, device {args.device}")
    head = ("mode", "latents", "frames", "GFLOP", "x flop", "s/step", "x time", "peak MiB", "x mem")
    print(" ".join(f"{h:>8}" for h in head))
    for mode in ("windows", "full"):
        sel = [r for r in rows if r[0] == mode]
        t0, m0, f0 = sel[0][2], max(sel[0][3], 1e-9), sel[0][4]
        for _, length, t, m, f in sel:
            frames = (length - 1) * 4 + 1
            vals = (mode, length, frames, f"{f:.1f}", f"{f / f0:.2f}", f"{t:.3f}", f"{t / t0:.2f}",
                    f"{m:.1f}", f"{m / m0:.2f}")
            print(" ".join(f"{v:>8}" for v in vals))


if __name__ == "__main__":
    main()
