"""Measure the S2V release loaders' memory and the song-level audio features' cost; print a table.

    python benchmarks/s2v_audio.py [--t5-layers 4] [--t5-width 1024] [--song-minutes 5] [--w2v-seconds 10]

Each case runs in its own process and reports its peak resident memory (VmHWM) above the
process's baseline after imports, and its CPU seconds (user+sys, all threads; fairer than wall
clock on a shared machine):

- ``t5 official-style``: a UMT5-shaped ``.pth`` (official key names, bf16, the real 256 384 x
  d_model embedding, ``--t5-layers`` blocks) read with plain ``torch.load`` into a model
  initialised first, as ``wan/modules/t5.py`` does — the anchor;
- ``t5 lean bf16`` / ``t5 lean fp32``: :func:`models.umt5_weights.load_umt5_encoder`
  (memory-mapped file, meta-device model, ``assign=True``);
- ``bucket N-min song``: :func:`models.audio_features.bucket_song` on random hidden states of the
  real shape (25 x T x 1024 float32, T = 50 Hz frames of the song): interpolation to 30 Hz and
  bucketing on the 16-fps clock, kept in float16;
- ``wav2vec2-large Ns``: a randomly initialised model of the release's wav2vec2 config
  (xlsr-53 large: 24 layers, width 1024) on N seconds of noise, on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VOCAB, D_MODEL, D_FF, HEADS, BUCKETS = 256_384, 4096, 10_240, 64, 32


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def write_t5(path: Path, layers: int, d_model: int) -> int:
    """A UMT5-encoder-shaped official-named bf16 state dict of ``layers`` blocks; returns its bytes."""
    import torch

    g = torch.Generator().manual_seed(0)

    def rnd(*shape):
        return (torch.randn(*shape, generator=g) * 0.02).to(torch.bfloat16)

    d_ff = D_FF * d_model // D_MODEL
    sd = {"token_embedding.weight": rnd(VOCAB, d_model), "norm.weight": rnd(d_model)}
    for i in range(layers):
        p = f"blocks.{i}."
        sd.update({p + f"attn.{n}.weight": rnd(d_model, d_model) for n in "qkvo"})
        sd.update({p + "norm1.weight": rnd(d_model), p + "norm2.weight": rnd(d_model)})
        sd[p + "pos_embedding.embedding.weight"] = rnd(BUCKETS, HEADS * d_model // D_MODEL)
        sd.update({p + "ffn.gate.0.weight": rnd(d_ff, d_model), p + "ffn.fc1.weight": rnd(d_ff, d_model)})
        sd[p + "ffn.fc2.weight"] = rnd(d_model, d_ff)
    torch.save(sd, path)
    return sum(t.numel() * t.element_size() for t in sd.values())


def case(name: str, arg: str) -> dict:
    """Run one case in this process (called in a child); returns its measurements."""
    import numpy as np
    import torch
    from transformers import UMT5EncoderModel, Wav2Vec2Config, Wav2Vec2ForCTC

    from models.audio_features import bucket_song
    from models.umt5_weights import load_umt5_encoder, umt5_config, umt5_official_to_transformers

    torch.set_grad_enabled(False)
    base, cpu0 = _status("VmRSS"), _cpu()
    extra: dict = {}
    if name == "t5_official":
        sd = torch.load(arg, map_location="cpu", weights_only=True)
        model = UMT5EncoderModel(umt5_config(sd)).to(torch.bfloat16)
        model.load_state_dict(umt5_official_to_transformers(sd), strict=True)
    elif name in ("t5_lean_bf16", "t5_lean_fp32"):
        dtype = torch.bfloat16 if name.endswith("bf16") else torch.float32
        model = load_umt5_encoder(Path(arg), dtype=dtype)
        for p in model.parameters():  # read every page of the file, as a forward pass over the vocabulary would
            p.sum()
    elif name == "bucket":
        hidden = torch.randn(25, int(float(arg) * 60 * 50) - 1, 1024)
        base, cpu0 = _status("VmRSS"), _cpu()  # the hidden states are the encoder's output, not this step's
        song = bucket_song(hidden)
        extra = {"kept_MB": song.rows.numel() * song.rows.element_size() / 1e6, "rows": song.frames}
    elif name == "wav2vec2":
        cfg = Wav2Vec2Config(
            hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
            feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True, vocab_size=33,
        )
        model = Wav2Vec2ForCTC(cfg).eval()
        audio = torch.from_numpy(np.random.default_rng(0).standard_normal(int(float(arg) * 16000)).astype("f4"))
        base, cpu0 = _status("VmRSS"), _cpu()
        out = model(audio[None], output_hidden_states=True)
        extra = {"hidden_MB": sum(h.numel() * 4 for h in out.hidden_states) / 1e6}
    else:
        raise ValueError(name)
    return {"peak_MB": (_status("VmHWM") - base) / 1e6, "cpu_s": _cpu() - cpu0, **extra}


def run_child(name: str, arg: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, arg], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t5-layers", type=int, default=4)
    ap.add_argument("--t5-width", type=int, default=1024, help="d_model of the synthetic UMT5 (real: 4096)")
    ap.add_argument("--song-minutes", type=float, default=5.0)
    ap.add_argument("--w2v-seconds", type=float, default=10.0)
    ap.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case(*args.case)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pth = Path(tmp) / "t5.pth"
        t0 = time.perf_counter()
        size = write_t5(pth, args.t5_layers, args.t5_width)
        print(f"wrote a {size / 1e6:.0f} MB UMT5-shaped .pth in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        for name in ("t5_official", "t5_lean_bf16", "t5_lean_fp32"):
            r = run_child(name, str(pth))
            ratio = r["peak_MB"] / (size / 1e6)
            rows.append((name, f"file {size / 1e6:.0f} MB", r["peak_MB"], r["cpu_s"], f"{ratio:.2f}x the file"))
    r = run_child("bucket", str(args.song_minutes))
    rows.append((f"bucket {args.song_minutes:g}-min song", f"{r['rows']} rows", r["peak_MB"], r["cpu_s"],
                 f"kept {r['kept_MB']:.0f} MB fp16"))
    if args.w2v_seconds > 0:
        r = run_child("wav2vec2", str(args.w2v_seconds))
        rows.append((f"wav2vec2-large {args.w2v_seconds:g} s", f"{r['hidden_MB']:.0f} MB states", r["peak_MB"],
                     r["cpu_s"], f"{r['cpu_s'] / args.w2v_seconds:.2f} CPU s per audio s"))
    print(f"{'case':28} {'size':>16} {'peak MB':>9} {'CPU s':>7}  note")
    for name, what, peak, cpu, note in rows:
        print(f"{name:28} {what:>16} {peak:9.0f} {cpu:7.1f}  {note}")


if __name__ == "__main__":
    main()
