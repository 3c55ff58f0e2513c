"""Kill-safe resume: `mvdirector render` SIGKILLed mid-render, started again, equals an uninterrupted run.

Finding: with the bundled ffmpeg/libx264 the resumed video is byte-identical to the
uninterrupted one (x264 is deterministic for fixed settings and thread count), so this test
checks bytes as well as decoded frames.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mvdirector.media.video import read_frames
from mvdirector.planio import load_plan

ARGS = ["--size", "160x90", "--fps", "12", "--asr", "none", "--quiet"]


def _cmd(song, ref, wd) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mvdirector.cli",
        "render",
        str(song),
        "--ref",
        str(ref),
        "--workdir",
        str(wd),
        "-o",
        str(wd / "video.mp4"),
        *ARGS,
    ]


def _clips(folder) -> list:
    """Finished clips (temporary files are hidden: they start with a dot)."""
    return sorted(p for p in folder.glob("*.mp4") if not p.name.startswith(".")) if folder.exists() else []


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MVDIRECTOR_DEBUG", None)
    return env


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, click_song, portrait):
    wd = tmp_path_factory.mktemp("kill") / "clean"
    res = subprocess.run(
        _cmd(click_song, portrait, wd), capture_output=True, text=True, env=_env(), timeout=300
    )
    assert res.returncode == 0, res.stderr
    return wd


def test_sigkill_mid_render_then_resume_matches_uninterrupted(tmp_path, click_song, portrait, uninterrupted):
    wd = tmp_path / "killed"
    shots = wd / "shots"
    proc = subprocess.Popen(
        _cmd(click_song, portrait, wd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env()
    )
    deadline = time.monotonic() + 240
    finished: list = []
    while time.monotonic() < deadline and proc.poll() is None:
        finished = _clips(shots)
        if finished:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert finished, "no shot was finished before the kill"
    n_shots = len(load_plan(wd / "plan.json")[0].shots)
    assert len(finished) < n_shots and not (wd / "video.mp4").exists()
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in finished}

    res = subprocess.run(
        _cmd(click_song, portrait, wd), capture_output=True, text=True, env=_env(), timeout=300
    )
    assert res.returncode == 0, res.stderr

    for name, stamp in stamps.items():  # no finished shot was rendered again
        p = shots / name
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == stamp, name
    clean_clips = sorted(p.name for p in _clips(uninterrupted / "shots"))
    assert sorted(p.name for p in _clips(shots)) == clean_clips  # same keys, nothing extra
    assert not [p for p in [*wd.iterdir(), *shots.iterdir()] if ".tmp" in p.name]

    a, b = uninterrupted / "video.mp4", wd / "video.mp4"
    fa, fb = list(read_frames(a)), list(read_frames(b))
    assert len(fa) == len(fb) == round(8.0 * 12)
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True))
    assert a.read_bytes() == b.read_bytes()
    for name in clean_clips:
        assert (uninterrupted / "shots" / name).read_bytes() == (shots / name).read_bytes(), name
