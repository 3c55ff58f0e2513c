"""Procedural renderer speed, memory and reference-image robustness, and the whole CLI's real-time
ratio; prints tables.

    .venv/bin/python benchmarks/render.py                 # everything below
    .venv/bin/python benchmarks/render.py --quick         # fewer combinations, shorter shots
    .venv/bin/python benchmarks/render.py --pipeline-only # just the whole-CLI table
    .venv/bin/python benchmarks/render.py --sizes 1280x720 --seconds 4

Whole pipeline: ``mvdirector render`` on the bundled demo (44 s song, astronaut portrait, lyrics
file) in a fresh work directory at 1280x720@24, face rig on. CPU is user+sys of the CLI process
and all its children (ffmpeg); "x real time on 2 cores" = song seconds / (CPU seconds / 2), the
speed when two cores are free for the job. The anchor from the same run: libx264 alone encoding
the same number of 1280x720 frames (the video's own, decoded beforehand) with the clips' settings —
no pipeline can beat it, and it shows how loaded the machine was.

Per framing/move: CPU ms per frame of rendering and of the H.264 encode (the bundled ffmpeg at the
clips' preset, the way ``render_shot`` runs). Peak memory is the process' max RSS after a short and a
long shot: a renderer whose memory is bounded by a few frames shows (almost) the same figure for
both. The robustness table loads odd reference images (huge, tiny, grayscale, RGBA, CMYK, 16-bit,
EXIF-rotated), inspects them and renders a shot.
Target: >= 2x real time for the whole CLI at 1280x720 on 2 cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from factories import flat_analysis  # noqa: E402

from mvdirector.schemas import (  # noqa: E402
    CAMERA_MOVES,
    FRAMINGS,
    AudioAnalysis,
    Camera,
    LyricOverlay,
    RenderSettings,
    Shot,
    ShotPlan,
    SongRef,
    Word,
)
from stages.procedural import ProceduralRenderer  # noqa: E402
from stages.reference import inspect_reference  # noqa: E402
from stages.render import ShotJob  # noqa: E402

RENDER_OPTIONS: dict[str, str] = {}


def max_rss_mb() -> float:
    """Peak resident memory of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def analysis(duration: float, bpm: float = 120.0) -> AudioAnalysis:
    return flat_analysis(duration, bpm=bpm, vocals=[(0.0, duration)])


def write_song(path: Path, duration: float, sr: int = 16000) -> None:
    """A syllable-like vocal-band tone (4 Hz amplitude modulation) so the mouth has work to do."""
    import soundfile as sf

    t = np.arange(int(duration * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2
    sf.write(path, y.astype(np.float32), sr)


def job_for(ref_path: Path, info, song: Path, framing: str, move: str, size: tuple[int, int], seconds: float,
            fps: float = 24.0, lyric: bool = True) -> ShotJob:
    words = "we are the champions my friend".split()
    line = LyricOverlay(line=" ".join(words), words=[
        Word(start_s=i * seconds / len(words), end_s=(i + 0.8) * seconds / len(words), text=w)
        for i, w in enumerate(words)]) if lyric else None
    shot = Shot(id="chorus1-01", start_s=0.0, end_s=seconds, section="chorus", framing=framing,
                camera=Camera(move=move, intensity=0.6), energy=0.8, seed=1, lyric=line)
    plan = ShotPlan(song=SongRef(path=str(song), sha256="0" * 64, duration_s=seconds),
                    render=RenderSettings(width=size[0], height=size[1], fps=fps), shots=[shot])
    return ShotJob(plan=plan, shot=shot, analysis=analysis(seconds), reference=info, reference_image=ref_path,
                   song_path=song)


def cpu_s() -> tuple[float, float]:
    """CPU seconds used so far by this process and by its finished children (ffmpeg)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def bench_speed(ref_path, info, song, sizes, framings, moves, seconds, tmp: Path, cores: int) -> None:
    r = ProceduralRenderer(**RENDER_OPTIONS)
    print(f"\n## Speed ({seconds:g} s shots at 24 fps, face rig on, x264 {r.options.preset} crf {r.options.crf})\n")
    print("CPU ms/frame are measured (process + ffmpeg child); 'fps on N cores' = N x 1000 / (render + encode "
          "CPU ms), the throughput when N cores are free for this job. Wall fps is what this (possibly shared) "
          "machine gave.\n")
    print(f"| size | framing | move | prepare s | render CPU ms/f | encode CPU ms/f | fps on {cores} cores "
          "| wall fps | layered | rig frames |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---:|")
    totals: dict[tuple[int, int], list[float]] = {}
    for size in sizes:
        for framing in framings:
            for move in moves:
                job = job_for(ref_path, info, song, framing, move, size, seconds)
                r.frames(job)  # warm the per-reference caches
                c0, k0 = cpu_s()
                t0 = time.perf_counter()
                m = r.render_shot(job, tmp / "bench.mp4")
                wall = time.perf_counter() - t0
                c1, k1 = cpu_s()
                n = m["frames"]
                render_ms = 1000 * (c1 - c0) / n
                enc_ms = 1000 * (k1 - k0) / n
                fps_cores = cores * 1000 / (render_ms + enc_ms)
                totals.setdefault(size, []).append(fps_cores)
                print(f"| {size[0]}x{size[1]} | {framing} | {move} | {m['prepare_s']:.2f} | {render_ms:.1f} "
                      f"| {enc_ms:.1f} | {fps_cores:.0f} | {n / wall:.0f} | {'yes' if m['layered'] else 'no'} "
                      f"| {int(m['rig_frames'])} |")
    print()
    for size, v in totals.items():
        print(f"{size[0]}x{size[1]}: render+encode on {cores} cores: median {np.median(v):.0f} fps, "
              f"min {np.min(v):.0f} fps over {len(v)} shots (2x real time at 24 fps needs 48 fps for the "
              "render alone; the whole CLI's ratio is in the first table)")


def bench_memory(ref_path, info, song, size, tmp: Path) -> None:
    r = ProceduralRenderer(**RENDER_OPTIONS)
    print("\n## Peak memory (max RSS of the process, MiB) vs shot length\n")
    print("| shot | frames | max RSS after |")
    print("|---|---:|---:|")
    for seconds in (2.0, 20.0):
        job = job_for(ref_path, info, song, "close_up", "orbit", size, seconds)
        m = r.render_shot(job, tmp / "mem.mp4")
        print(f"| {size[0]}x{size[1]} close_up orbit {seconds:g} s | {int(m['frames'])} | {max_rss_mb():.0f} |")


def odd_images(base: np.ndarray, folder: Path) -> dict[str, Path]:
    """The astronaut as every awkward kind of file."""
    out = {}
    im = Image.fromarray(base)
    out["huge 8000 px"] = folder / "huge.jpg"
    im.resize((8000, 8000), Image.Resampling.BICUBIC).save(out["huge 8000 px"], quality=90)
    out["tiny 64 px"] = folder / "tiny.png"
    im.resize((64, 64), Image.Resampling.LANCZOS).save(out["tiny 64 px"])
    out["grayscale"] = folder / "gray.png"
    im.convert("L").save(out["grayscale"])
    out["RGBA"] = folder / "rgba.png"
    rgba = im.convert("RGBA")
    a = np.array(rgba)
    a[:, :60, 3] = 0
    Image.fromarray(a).save(out["RGBA"])
    out["CMYK"] = folder / "cmyk.jpg"
    im.convert("CMYK").save(out["CMYK"], quality=92)
    out["16-bit"] = folder / "gray16.png"
    g16 = (np.asarray(im.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(g16).save(out["16-bit"])
    out["EXIF-rotated"] = folder / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    im.transpose(Image.Transpose.ROTATE_90).save(out["EXIF-rotated"], quality=92, exif=exif)
    return out


def bench_images(song: Path, tmp: Path) -> None:
    from skimage import data

    from mvdirector.media.image import load_image_with_warnings

    r = ProceduralRenderer(**RENDER_OPTIONS)
    print("\n## Reference images\n")
    print("| image | file size | loaded as | load s | faces | render s (1 s, 640x360) | warnings |")
    print("|---|---:|---|---:|---:|---:|---|")
    for name, path in odd_images(data.astronaut(), tmp).items():
        t0 = time.perf_counter()
        arr, warns = load_image_with_warnings(path)
        t1 = time.perf_counter()
        info = inspect_reference(path)
        job = job_for(path, info, song, "close_up", "push_in", (640, 360), 1.0)
        t2 = time.perf_counter()
        r.render_shot(job, tmp / "img.mp4")
        t3 = time.perf_counter()
        size_kb = path.stat().st_size / 1024
        print(f"| {name} | {size_kb:.0f} KiB | {arr.shape[1]}x{arr.shape[0]} | {t1 - t0:.2f} | {len(info.faces)} "
              f"| {t3 - t2:.2f} | {'; '.join(info.warnings) or '-'} |")


def children_cpu_s() -> float:
    """CPU seconds (user + sys) of this process' finished children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_pipeline(tmp: Path) -> None:
    """The whole CLI on the demo, fresh work directory; the libx264-only anchor from the same run."""
    import json
    import subprocess

    from mvdirector.media.video import CLIP_PRESET, encoder_args, ffmpeg_exe, probe_video

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "examples"))
    from make_demo import make_portrait
    from make_demo_song import make_song

    song, _ = make_song(tmp)
    ref = make_portrait(tmp)
    out = tmp / "demo.mp4"
    cmd = [sys.executable, "-m", "mvdirector.cli", "render", str(song), "--ref", str(ref), "-o", str(out),
           "--lyrics", str(root / "examples" / "assets" / "demo_lyrics.txt"), "--workdir", str(tmp / "demo.mvd"),
           "--quiet"]
    c0, t0 = children_cpu_s(), time.perf_counter()
    subprocess.run(cmd, check=True, cwd=root)
    wall, cpu = time.perf_counter() - t0, children_cpu_s() - c0
    report = json.loads((tmp / "demo.mvd" / "report.json").read_text())
    info = probe_video(out)
    # Anchor: the same frames, decoded to raw I420 beforehand (not timed), encoded by libx264 alone.
    raw = tmp / "frames.yuv"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "yuv420p",
                    str(raw)], check=True)
    c0, t0 = children_cpu_s(), time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s",
                    f"{info.width}x{info.height}", "-r", str(info.fps), "-i", str(raw), *encoder_args("h264", 18),
                    "-g", str(round(info.fps)), str(tmp / "anchor.mp4")],
                   check=True)
    enc_wall, enc_cpu = time.perf_counter() - t0, children_cpu_s() - c0
    raw.unlink()
    song_s = report["song_duration_s"]
    print(f"\n## Whole pipeline: `mvdirector render` on the demo ({song_s:.1f} s song, {info.frames} frames "
          f"{info.width}x{info.height}@{info.fps:g}, fresh work directory, face rig on)\n")
    print("| what | CPU s (user+sys) | x real time on 2 cores (CPU) | wall s | x real time (wall, this machine) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| whole CLI | {cpu:.1f} | {song_s / (cpu / 2):.2f} | {wall:.1f} | {song_s / wall:.2f} |")
    print(f"| libx264 {CLIP_PRESET} encode only (anchor) | {enc_cpu:.1f} | {song_s / (enc_cpu / 2):.2f} | "
          f"{enc_wall:.1f} | {song_s / enc_wall:.2f} |")
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.get("stage_s", {}).items())
    print(f"\nStage wall times: {stages}. 1-minute load average now: {os.getloadavg()[0]:.1f} "
          "(2 cores; above 2 the figures are inflated by other work).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--quick", action="store_true", help="a few framings and moves only")
    ap.add_argument("--skip-images", action="store_true")
    ap.add_argument("--cores", type=int, default=2, help="cores assumed free for the fps estimate")
    ap.add_argument("--preset", default=None, help="x264 preset for the renders (default: the renderer's)")
    ap.add_argument("--pipeline-only", action="store_true", help="only the whole-CLI table")
    ap.add_argument("--skip-pipeline", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.preset:
        RENDER_OPTIONS["preset"] = args.preset
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    framings = ("close_up", "medium", "extreme_wide") if args.quick else FRAMINGS
    moves = ("static", "push_in", "orbit", "handheld") if args.quick else CAMERA_MOVES
    from skimage import data

    if not args.skip_pipeline:
        with tempfile.TemporaryDirectory() as d:
            bench_pipeline(Path(d))
    if args.pipeline_only:
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ref_path = tmp / "astronaut.png"
        Image.fromarray(data.astronaut()).save(ref_path)
        info = inspect_reference(ref_path)
        song = tmp / "song.wav"
        write_song(song, 25.0)
        bench_speed(ref_path, info, song, sizes, framings, moves, args.seconds, tmp, args.cores)
        bench_memory(ref_path, info, song, sizes[0], tmp)
        if not args.skip_images:
            bench_images(song, tmp)


if __name__ == "__main__":
    main()
