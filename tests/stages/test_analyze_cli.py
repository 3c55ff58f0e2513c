"""`mvdirector analyze` end to end: JSON + plot out, one clear stderr line and exit 2 for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from mvdirector.schemas import AudioAnalysis

SONGS = Path(__file__).resolve().parents[1] / "fixtures" / "songs"
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mvdirector.cli", "analyze", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_analyze_writes_json_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "a.json", tmp_path / "a.png"
    lrc = tmp_path / "l.lrc"
    lrc.write_text("[00:04.50]the morning sun is rising slow\n[00:08.50]and every street is waking up\n")
    proc = _cli(
        str(SONGS / "waltz_90_3-4.ogg"),
        "-o",
        str(out),
        "--plot",
        str(png),
        "--asr",
        "none",
        "--lyrics",
        str(lrc),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    a = AudioAnalysis.model_validate_json(out.read_text())
    assert a.beats_per_bar == 3 and a.lyrics.source == "file" and a.lyrics.lines[0].start_s == 4.5
    assert png.stat().st_size > 10_000


def test_bad_inputs_exit_2_with_one_line(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050 * 5, np.float32), 22050)
    short = tmp_path / "short.flac"
    sf.write(short, 0.3 * np.sin(np.arange(22050) / 5.0).astype(np.float32), 22050)
    corrupt = tmp_path / "bad.ogg"
    corrupt.write_bytes(b"OggS" + bytes(500))
    cases = [
        ([str(tmp_path / "missing.wav")], "does not exist"),
        ([str(silent)], "silent"),
        ([str(short)], "at least 3 s"),
        ([str(corrupt)], "bad.ogg"),
        ([str(SONGS / "pop_120_4-4.ogg"), "--lyrics", str(tmp_path / "none.txt")], "lyrics file"),
    ]
    for args, needle in cases:
        proc = _cli(*args, "--asr", "none", "--quiet")
        assert proc.returncode == 2, (args, proc.stderr)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr, proc.stderr
