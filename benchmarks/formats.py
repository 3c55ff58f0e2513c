"""Three formats from one render against three separate renders; prints a table and the ratio.

    .venv/bin/python benchmarks/formats.py            # the demo song (44 s), the demo's sizes
    .venv/bin/python benchmarks/formats.py --quick    # an 8 s synthetic song at 160x90 / 90x160 / 90x90

``mvdirector render --formats 16:9,9:16=WxH,1:1=WxH`` in a fresh work directory, against three
``mvdirector render`` runs of one format each, each in its own fresh work directory (what a person
had to do before). CPU is user+sys of the CLI process and its children (ffmpeg), read from
``getrusage(RUSAGE_CHILDREN)``; wall clock is shown too but distorted by whatever else the machine
runs. The one-run anchor from the same run: the 16:9 render alone. What the single run shares:
process start-up and imports, the analysis (with lyrics), the portrait's inspection, the plan, the
subject matte and face rig set-up, the voice features and the song's AAC encode.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "examples"))

DEMO_FORMATS = ("16:9", "9:16=540x960", "1:1=720x720")
DEMO_SIZE = "960x540"
QUICK_FORMATS = ("16:9", "9:16=90x160", "1:1=90x90")
QUICK_SIZE = "160x90"


def children_cpu_s() -> float:
    """CPU seconds (user + sys) of this process' finished children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args: list[str]) -> tuple[float, float]:
    """(CPU s, wall s) of one ``mvdirector`` command in a fresh process."""
    c0, t0 = children_cpu_s(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "mvdirector.cli", *args, "--quiet"], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return children_cpu_s() - c0, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="an 8 s synthetic song at tiny sizes")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.quick:
            from conftest import synth_song
            from PIL import Image
            from skimage import data

            song = synth_song(tmp / "song.wav")
            ref = tmp / "singer.png"
            Image.fromarray(data.astronaut()).resize((256, 256)).save(ref)
            extra = ["--asr", "none", "--fps", "12"]
            formats, size = QUICK_FORMATS, QUICK_SIZE
        else:
            from make_demo import make_portrait
            from make_demo_song import make_song

            song, _ = make_song(tmp)
            ref = make_portrait(tmp)
            extra = ["--lyrics", str(ROOT / "examples" / "assets" / "demo_lyrics.txt")]
            formats, size = DEMO_FORMATS, DEMO_SIZE
        base = ["render", str(song), "--ref", str(ref), "--size", size, *extra]
        rows = []
        separate_cpu = separate_wall = 0.0
        for k, fmt in enumerate(formats):
            cpu, wall = run([*base, "-o", str(tmp / f"sep{k}" / "v.mp4"), "--workdir", str(tmp / f"sep{k}" / "wd"),
                             "--formats", fmt])
            rows.append((f"separate run: --formats {fmt}", cpu, wall))
            separate_cpu += cpu
            separate_wall += wall
        cpu, wall = run([*base, "-o", str(tmp / "one" / "v.mp4"), "--workdir", str(tmp / "one" / "wd"),
                         "--formats", ",".join(formats)])
        rows += [("three separate runs, total", separate_cpu, separate_wall),
                 (f"one run: --formats {','.join(formats)}", cpu, wall)]
    print(f"\n## Three formats from one render ({'8 s synthetic song' if args.quick else '44 s demo song'}, "
          f"--size {size}, fresh work directories)\n")
    print("| what | CPU s (user+sys) | wall s |")
    print("|---|---:|---:|")
    for name, c, w in rows:
        print(f"| {name} | {c:.1f} | {w:.1f} |")
    print(f"\nratio one run / three runs: **{cpu / separate_cpu:.2f}** by CPU, {wall / separate_wall:.2f} by wall "
          f"clock (target < 1). 1-minute load average now: {os.getloadavg()[0]:.1f} (2 cores).")


if __name__ == "__main__":
    main()
