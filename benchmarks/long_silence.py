"""Peak memory and CPU of `mvdirector analyze` on long files that are mostly silence.

    python benchmarks/long_silence.py [--silence 110] [--music 10] [--asr auto none]

A file of ``--silence`` minutes of silence followed by ``--music`` minutes of a fixture song
(tiled) is written as 44.1 kHz mono FLAC; each ``--asr`` setting is analysed in a fresh CLI
process whose peak resident memory (``ru_maxrss`` of that process) and CPU time (user + sys)
are printed in a table, with the same figures for the music alone as the anchor: memory should
not grow with the silence, and ASR should add a bounded amount, not one that grows with hours.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT / "tests" / "fixtures" / "songs" / "pop_120_4-4.ogg"
MEASURE = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(p.returncode, r.ru_maxrss, r.ru_utime + r.ru_stime)\n"
    "sys.stderr.write(p.stderr[-2000:])\n"
)


def write_file(path: Path, silence_min: float, music_min: float) -> None:
    """``silence_min`` minutes of silence, then ``music_min`` minutes of the fixture song, as FLAC."""
    import soundfile as sf

    y, sr = sf.read(SONG, dtype="float32")
    y = y.mean(axis=1) if y.ndim > 1 else y
    block = np.zeros(sr * 60, np.float32)
    with sf.SoundFile(path, "w", sr, 1, format="FLAC") as f:
        for _ in range(int(silence_min)):
            f.write(block)
        f.write(np.zeros(int((silence_min % 1) * 60 * sr), np.float32))
        left = int(music_min * 60 * sr)
        while left > 0:
            f.write(y[:left])
            left -= len(y)


def measure(path: Path, asr: str) -> tuple[int, float, float, str]:
    """(exit code, peak MiB, CPU s, last stderr line) of one analyze run in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "a.json"
        cmd = [sys.executable, "-c", MEASURE, sys.executable, "-m", "mvdirector.cli", "analyze", str(path),
               "-o", str(out), "--asr", asr, "--quiet"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        code, rss, cpu = p.stdout.split()
        words = ""
        if out.exists():
            data = json.loads(out.read_text())
            words = f"{sum(len(ln['words']) for ln in data['lyrics']['lines'])} words"
        return int(code), int(rss) / 1024, float(cpu), words or (p.stderr.strip().splitlines() or [""])[-1]


def main() -> None:
    """Command-line entry: the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--silence", type=float, default=110.0, help="minutes of silence first")
    ap.add_argument("--music", type=float, default=10.0, help="minutes of music after it")
    ap.add_argument("--asr", nargs="+", default=["auto", "none"])
    args = ap.parse_args()
    print("| file | --asr | exit | peak RSS MiB | CPU s |  |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for silence in (0.0, args.silence):
            path = Path(tmp) / f"s{silence:g}.flac"
            write_file(path, silence, args.music)
            for asr in args.asr:
                code, rss, cpu, note = measure(path, asr)
                name = f"{silence:g} min silence + {args.music:g} min music"
                print(f"| {name} | {asr} | {code} | {rss:.0f} | {cpu:.0f} | {note} |", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
