"""Batch throughput (local processes vs Ray) and the cost of re-rendering one edited shot.

    .venv/bin/python benchmarks/batch.py                 # all measurements
    .venv/bin/python benchmarks/batch.py --skip-ray --long-seconds 40

1. A batch of ``--songs`` generated songs (``--seconds`` long, ``--size``, ``--fps``, procedural
   renderer) rendered from scratch three ways, each a fresh ``mvdirector batch`` process: one
   process in sequence, the local executor (one process per core), and Ray (a local instance
   with one CPU per core, shots as tasks). Wall time includes start-up (imports, Ray start).
2. A ``--long-seconds`` song (about one shot per 2 s at 120 bpm, i.e. ~40 shots for 80 s):
   a full render, then one shot with no continuation edited in plan.json, then the head of a
   take (it and its continuations re-render). Each re-render is shown as a share of the full
   render (target ≤ 5 %) and split into its stages.

Prints markdown tables. Everything runs in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def synth_song(path: Path, seconds: float, bpm: float = 120.0, sr: int = 22050, seed: int = 0) -> Path:
    """A drum-and-chord loop with beats every 60/bpm s, a quieter first half and a louder second half."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    period = 60.0 / bpm
    for k in range(int(seconds / period) + 1):
        start = int(k * period * sr)
        if start >= n:
            break
        length = min(n - start, int(0.12 * sr))
        env = np.exp(-np.arange(length) / (0.025 * sr))
        if k % 4 == 0:
            f = 60 + 90 * np.exp(-np.arange(length) / (0.01 * sr))
            y[start : start + length] += 0.9 * env * np.sin(2 * np.pi * np.cumsum(f) / sr)
        y[start : start + length] += 0.2 * env * rng.standard_normal(length)
    root = 220.0 * 2 ** (seed / 12)
    y += 0.06 * np.sin(2 * np.pi * root * t) * (1 + (t > seconds / 2))
    y /= np.abs(y).max() * 1.1
    sf.write(str(path), y.astype(np.float32), sr)
    return path


def portrait(path: Path) -> Path:
    """The public-domain astronaut portrait from scikit-image."""
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(path)
    return path


def request(song: Path, ref: Path, out: Path, w: int, h: int, fps: float):  # noqa: ANN201
    from mvdirector.request import RenderRequest

    return RenderRequest(
        song=song,
        reference=ref,
        out=out,
        workdir=out.with_suffix(".mvd"),
        width=w,
        height=h,
        fps=fps,
        asr="none",
    )


def bench_batch(root: Path, args: argparse.Namespace, w: int, h: int) -> list[tuple[str, float, int]]:
    """Each mode is a fresh `mvdirector batch` process (cold caches, as a user runs it)."""
    import subprocess

    from mvdirector.executors import default_workers

    ref = portrait(root / "singer.png")
    songs = [synth_song(root / f"song{i}.wav", args.seconds, seed=i) for i in range(args.songs)]
    cores = default_workers()
    rows = []
    modes = [
        ("sequential (1 process)", ["--workers", "1"]),
        (f"local executor ({cores} processes)", ["--workers", str(cores)]),
    ]
    if not args.skip_ray:
        modes.append((f"ray (local instance, {cores} CPUs)", ["--executor", "ray"]))
    for k, (label, flags) in enumerate(modes):
        manifest = root / f"batch{k}.yaml"
        jobs = [
            {
                "song": str(s),
                "reference": str(ref),
                "output": str(root / f"mode{k}" / f"{s.stem}.mp4"),
                "size": f"{w}x{h}",
                "fps": args.fps,
                "overrides": {"asr": "none"},
            }
            for s in songs
        ]
        manifest.write_text(json.dumps({"jobs": jobs}))  # JSON is YAML
        t0 = time.perf_counter()
        res = subprocess.run(
            [sys.executable, "-m", "mvdirector.cli", "batch", str(manifest), "--json", *flags],
            capture_output=True,
            text=True,
        )
        dt = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(f"{label}: exit {res.returncode}: {res.stderr[-2000:]}")
        results = json.loads(res.stdout)
        rows.append((label, dt, sum(r["rendered"] for r in results)))
    return rows


def bench_edit(root: Path, args: argparse.Namespace, w: int, h: int) -> list[tuple[str, float, int, dict]]:
    from mvdirector.pipeline import render

    song = synth_song(root / "long.wav", args.long_seconds, seed=3)
    ref = portrait(root / "singer_long.png")
    req = request(song, ref, root / "long" / "video.mp4", w, h, args.fps)
    rows = []
    t0 = time.perf_counter()
    rep = render(req)
    rows.append(("full render", time.perf_counter() - t0, rep.rendered, rep.stage_s))
    t0 = time.perf_counter()
    rep = render(req)
    rows.append(("re-run, nothing changed", time.perf_counter() - t0, rep.rendered, rep.stage_s))
    plan_path = req.resolved_workdir() / "plan.json"
    plan = json.loads(plan_path.read_text())
    heads = {s["continues_from"] for s in plan["shots"] if s["continues_from"]}
    mid = len(plan["shots"]) // 2
    leaf = next(s for s in plan["shots"][mid:] + plan["shots"][:mid] if s["id"] not in heads)
    edits = [("edit one shot (no continuation)", leaf["id"])]
    if heads:
        edits.append(("edit a take's head (+ continuations)", sorted(heads)[0]))
    for label, sid in edits:
        for s in plan["shots"]:
            if s["id"] == sid:
                s["prompt"] += ", edited"
        plan_path.write_text(json.dumps(plan, indent=2))
        t0 = time.perf_counter()
        rep = render(req)
        rows.append((label, time.perf_counter() - t0, rep.rendered, rep.stage_s))
    # the same edit as a person makes it: a fresh `mvdirector render` process (imports, matte, …)
    import subprocess

    for s in plan["shots"]:
        if s["id"] == leaf["id"]:
            s["prompt"] += " again"
    plan_path.write_text(json.dumps(plan, indent=2))
    cmd = [
        sys.executable,
        "-m",
        "mvdirector.cli",
        "render",
        str(song),
        "--ref",
        str(ref),
        "-o",
        str(req.out),
        "--workdir",
        str(req.resolved_workdir()),
        "--size",
        f"{w}x{h}",
        "--fps",
        f"{args.fps:g}",
        "--asr",
        "none",
        "--json",
    ]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"CLI re-render failed: {res.stderr[-2000:]}")
    rep_json = json.loads(res.stdout)
    rows.append(("edit one shot, fresh CLI process", dt, rep_json["rendered"], rep_json["stage_s"]))
    rows.insert(0, ("shots in plan", float(len(plan["shots"])), 0, {}))
    return rows


def main() -> None:
    """Run the measurements and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--songs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--long-seconds", type=float, default=80.0)
    ap.add_argument("--size", default="256x144")
    ap.add_argument("--fps", type=float, default=24.0)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--skip-edit", action="store_true")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))
    out = sys.stdout
    out.write(f"machine: {os.cpu_count()} cores; size {w}x{h} @ {args.fps:g} fps, procedural renderer\n\n")
    with tempfile.TemporaryDirectory(prefix="mvd-bench-") as td:
        root = Path(td)
        if not args.skip_batch:
            rows = bench_batch(root, args, w, h)
            video_s = args.songs * args.seconds
            out.write(f"## batch of {args.songs} songs × {args.seconds:g} s (from scratch)\n\n")
            out.write("| executor | wall s | songs/min | video s per wall s | shots rendered | speed-up |\n")
            out.write("|---|---:|---:|---:|---:|---:|\n")
            base = rows[0][1]
            for label, dt, n in rows:
                out.write(
                    f"| {label} | {dt:.1f} | {60 * args.songs / dt:.2f} | {video_s / dt:.2f} | {n} | "
                    f"{base / dt:.2f}× |\n"
                )
            out.write("\n")
            out.flush()
        if not args.skip_edit:
            rows = bench_edit(root, args, w, h)
            n_shots = int(rows[0][1])
            full = rows[1][1]
            out.write(f"## re-render after an edit ({args.long_seconds:g} s song, {n_shots} shots)\n\n")
            out.write(
                "| run | wall s | share of full | shots rendered | analyze | direct | render | assemble |\n"
            )
            out.write("|---|---:|---:|---:|---:|---:|---:|---:|\n")
            for label, dt, n, st in rows[1:]:
                out.write(
                    f"| {label} | {dt:.2f} | {100 * dt / full:.1f} % | {n} | {st.get('analyze', 0):.2f} | "
                    f"{st.get('direct', 0):.2f} | {st.get('render', 0):.2f} | {st.get('assemble', 0):.2f} |\n"
                )
            out.write("\n")


if __name__ == "__main__":
    main()
