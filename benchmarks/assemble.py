"""Assembly speed: a 3-minute, ~40-shot video, mvdirector's assembler against a moviepy baseline.

Generates (once, cached in ``--workdir``) 40 clips totalling 180 s at 640x360, 24 fps —
moving gradients, shapes and grain, so the encoder has real work — and a 180 s stereo song,
then times, in one run and on the same clips:

* ``assemble`` with hard cuts only (joined without decoding),
* ``assemble`` with a transition into every third shot (crossfade, flash, whip of one beat),
* ``assemble`` re-encoding everything (``reencode="always"``),
* ``assemble`` with the consistency pass (colour statistics and thumbnails) on,
* moviepy 2.x ``concatenate_videoclips`` + ``write_videofile`` (libx264 at CRF 18 like ours,
  AAC), with its default preset (medium) and with ``veryfast`` (the preset our encoder uses).

The clips get a key frame every ``--clip-gop`` frames: 24 (one a second) is what
``VideoWriter`` writes, and lets the assembler copy all but the frames around each
transition (``stages/assemble/timeline.edit_pieces``); 250 (x264's default) leaves one key
frame per clip, so every shot a transition enters is re-encoded to its end.

Wall time and CPU time (this process plus its ffmpeg children) are printed; on a shared
machine CPU time is the steadier figure. Run: ``python benchmarks/assemble.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from mvdirector.media.video import VideoWriter, probe_video
from mvdirector.schemas import Camera, Shot, ShotClip, ShotPlan, SongRef, Transition
from stages.assemble import AssembleConfig, assemble

FPS = 24.0
BPM = 120.0
SIZE = (640, 360)
CRF = 18
DURATION_S = 180.0
N_SHOTS = 40
SECTIONS = ["intro", "verse", "pre_chorus", "chorus", "verse", "chorus", "bridge", "chorus", "outro"]


def shot_lengths(seed: int = 0) -> list[int]:
    """40 shot lengths in frames on a 120 bpm grid (whole seconds = 2 beats), summing to 180 s."""
    rng = np.random.default_rng(seed)
    secs = rng.integers(2, 8, N_SHOTS).astype(float)
    secs = np.maximum(2, np.round(secs * DURATION_S / secs.sum()))
    secs[-1] += DURATION_S - secs.sum()
    return [int(s * FPS) for s in secs]


def make_plan(lengths: list[int], transitions: bool) -> ShotPlan:
    """A plan over the clip set, with a one-beat transition into every third shot when asked."""
    kinds = ["crossfade", "flash", "whip"]
    shots, t = [], 0
    for i, n in enumerate(lengths):
        tr = Transition(kind=kinds[(i // 3) % 3], beats=1.0) if transitions and i % 3 == 2 else Transition()
        shots.append(
            Shot(
                id=f"shot{i:02d}",
                start_s=t / FPS,
                end_s=(t + n) / FPS,
                section=SECTIONS[i * len(SECTIONS) // len(lengths)],
                framing="wide",
                camera=Camera(move="pan"),
                transition_in=tr,
            )
        )
        t += n
    return ShotPlan(
        song=SongRef(path="song.wav", sha256="0" * 64, duration_s=t / FPS, bpm=BPM),
        render={"width": SIZE[0], "height": SIZE[1], "fps": FPS},
        shots=shots,
    )


def _frame(i: int, k: int, grain: np.ndarray, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    w, h = SIZE
    phase = k / FPS
    base = np.empty((h, w, 3), np.float32)
    base[..., 0] = 128 + 100 * np.sin(xx / 90.0 + phase * 1.5 + i)
    base[..., 1] = 128 + 100 * np.sin(yy / 70.0 - phase + 2 * i)
    base[..., 2] = 128 + 100 * np.cos((xx + yy) / 120.0 + phase * 0.7 + i)
    cx, cy = (w / 2 + 200 * np.sin(phase + i)), (h / 2 + 100 * np.cos(phase * 1.3 + i))
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 < 60**2
    base[disc] = (240, 230, 200)
    base += grain[(k * 7) % grain.shape[0]]
    return np.clip(base, 0, 255).astype(np.uint8)


def make_clips(folder: Path, lengths: list[int], gop: int) -> list[ShotClip]:
    """Render (or reuse) the clip set: one H.264 clip per shot through ``VideoWriter`` (key frame every ``gop``)."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = np.random.default_rng(1).normal(0, 6, (16, h, w, 1)).astype(np.float32)
    clips = []
    for i, n in enumerate(lengths):
        path = folder / f"shot{i:02d}.mp4"
        if not path.exists() or probe_video(path).frames != n:
            with VideoWriter(path, w, h, FPS, extra_args=["-g", str(gop)]) as vw:
                for k in range(n):
                    vw.write(_frame(i, k, grain, yy, xx))
        clips.append(
            ShotClip(shot_id=f"shot{i:02d}", path=str(path), frames=n, fps=FPS, width=w, height=h, cache_key=str(i))
        )
    return clips


def make_song(path: Path) -> Path:
    """A 180 s stereo song: a chord with a click on every beat."""
    if path.exists():
        return path
    sr = 44100
    t = np.arange(int(DURATION_S * sr)) / sr
    x = 0.1 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277 * t) + np.sin(2 * np.pi * 330 * t))
    for b in np.arange(0, DURATION_S, 60 / BPM):
        a = int(b * sr)
        x[a : a + 400] += 0.5 * np.exp(-np.arange(len(x[a : a + 400])) / 80)
    sf.write(path, np.stack([x, x], 1).astype(np.float32), sr)
    return path


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process and its children, result) of ``fn()``."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(b, f) - getattr(a, f) for a, b in ((r0, r1), (c0, c1)) for f in ("ru_utime", "ru_stime"))
    return wall, cpu, result


def moviepy_baseline(clips: list[ShotClip], song: Path, out: Path, preset: str) -> None:
    """moviepy 2.x: concatenate_videoclips + write_videofile with the song (libx264, AAC)."""
    from moviepy import AudioFileClip, VideoFileClip, concatenate_videoclips

    parts = [VideoFileClip(c.path) for c in clips]
    audio = AudioFileClip(str(song))
    video = concatenate_videoclips(parts).with_audio(audio)
    video.write_videofile(
        str(out),
        fps=FPS,
        codec="libx264",
        audio_codec="aac",
        preset=preset,
        ffmpeg_params=["-crf", str(CRF)],  # the quality our clips and re-encodes use (moviepy's default is 23)
        logger=None,
    )
    for p in parts:
        p.close()
    audio.close()


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table; ``--json`` also writes the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mvdirector-bench-assemble")
    ap.add_argument("--skip-moviepy", action="store_true", help="skip the (slow) moviepy baselines")
    ap.add_argument("--moviepy-presets", default="medium,veryfast", help="comma-separated x264 presets")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    ap.add_argument("--clip-gop", type=int, default=round(FPS), help="key frame interval of the clips in frames")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    work: Path = args.workdir
    lengths = shot_lengths()
    t0 = time.perf_counter()
    gop = args.clip_gop
    clips = make_clips(work / f"clips-g{gop}", lengths, gop)
    song = make_song(work / "song.wav")
    print(
        f"clip set: {len(clips)} shots, {sum(lengths)} frames, {SIZE[0]}x{SIZE[1]} @ {FPS:g} fps "
        f"({time.perf_counter() - t0:.1f} s to make or load)",
        file=sys.stderr,
    )

    fast = {"consistency": False}
    cases: list[tuple[str, Callable[[], object]]] = [
        (
            "assemble, cuts",
            lambda: assemble(make_plan(lengths, False), clips, song, work / "cuts.mp4", AssembleConfig(**fast)),
        ),
        (
            "assemble, transitions",
            lambda: assemble(make_plan(lengths, True), clips, song, work / "trans.mp4", AssembleConfig(**fast)),
        ),
        (
            "assemble, re-encode all",
            lambda: assemble(
                make_plan(lengths, True),
                clips,
                song,
                work / "all.mp4",
                AssembleConfig(reencode="always", **fast),
            ),
        ),
        (
            "assemble, cuts + report",
            lambda: assemble(make_plan(lengths, False), clips, song, work / "rep.mp4", AssembleConfig()),
        ),
        (
            "assemble, trans., warm",  # the song's AAC track from a previous run (audio_cache)
            lambda: assemble(make_plan(lengths, True), clips, song, work / "warm.mp4", AssembleConfig(**warm)),
        ),
    ]
    warm = {**fast, "audio_cache": str(work / "audio-cache")}
    assemble(make_plan(lengths, False), clips, song, work / "warm.mp4", AssembleConfig(**warm))
    if not args.skip_moviepy:
        for preset in [p for p in args.moviepy_presets.split(",") if p]:
            cases.append(
                (
                    f"moviepy ({preset})",
                    lambda p=preset: moviepy_baseline(clips, song, work / f"mp-{p}.mp4", p),
                )
            )

    rows = []
    for name, fn in cases:
        wall, cpu, rep = timed(fn)
        redone = getattr(rep, "reencoded_frames", None)
        rows.append({"case": name, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "reencoded": redone})
        print(f"  {name}: {wall:.2f} s wall, {cpu:.2f} s cpu", file=sys.stderr)
    for r in rows:
        out = {
            "assemble, cuts": "cuts.mp4",
            "assemble, transitions": "trans.mp4",
            "assemble, re-encode all": "all.mp4",
            "assemble, cuts + report": "rep.mp4",
            "assemble, trans., warm": "warm.mp4",
        }.get(r["case"], f"mp-{r['case'][9:-1]}.mp4")
        info = probe_video(work / out)
        r["frames"] = info.frames
        r["duration_s"] = round(max(info.duration_s, info.audio_duration_s), 3)
    base = [r for r in rows if r["case"].startswith("moviepy")]
    n_trans = sum(s.transition_in.kind != "cut" for s in make_plan(lengths, True).shots)
    print(
        f"\n3-minute video, {len(clips)} shots, {SIZE[0]}x{SIZE[1]} @ {FPS:g} fps, {sum(lengths)} frames; "
        f"{n_trans} transitions; clip key frames every {gop} frames; load {_load()}"
    )
    head = f"{'case':<26}{'wall s':>9}{'cpu s':>9}{'frames':>8}{'dur s':>9}{'re-enc':>8}"
    head += "".join(f"{'× ' + b['case'][8:]:>18}" for b in base)
    print(head)
    print("-" * len(head))
    for r in rows:
        redone = "-" if r["reencoded"] is None else str(r["reencoded"])
        line = f"{r['case']:<26}{r['wall_s']:>9.2f}{r['cpu_s']:>9.2f}{r['frames']:>8}{r['duration_s']:>9.3f}{redone:>8}"
        for b in base:
            line += f"{b['wall_s'] / r['wall_s']:>9.1f}w{b['cpu_s'] / r['cpu_s']:>7.1f}c "
        print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
