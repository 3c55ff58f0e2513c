"""End to end through the CLI: a short song and a portrait become a real, checked music video."""

from __future__ import annotations

import json

import pytest
from factories import run_cli

from mvdirector.media.video import probe_video, read_frames
from mvdirector.planio import load_plan
from mvdirector.rules import on_frame_grid

W, H, FPS = 192, 108, 12


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, click_song, portrait):
    d = tmp_path_factory.mktemp("e2e")
    out = d / "video.mp4"
    proc = run_cli("render", str(click_song), "--ref", str(portrait), "-o", str(out), "--size", f"{W}x{H}",
                   "--fps", str(FPS), "--workdir", str(d / "wd"), "--asr", "none", "--quiet")
    assert proc.returncode == 0, proc.stderr
    return d, out


def test_video_matches_song_and_settings(rendered, click_song):
    import soundfile as sf

    d, out = rendered
    info = probe_video(out)
    song_s = sf.info(str(click_song)).duration
    assert (info.width, info.height) == (W, H)
    assert info.fps == pytest.approx(FPS)
    assert info.has_audio
    assert abs(info.frames / FPS - song_s) <= 1.0 / FPS
    assert abs(info.audio_duration_s - song_s) <= 1.0 / FPS
    assert info.frames == round(song_s * FPS)


def test_plan_shots_and_work_directory(rendered):
    d, out = rendered
    wd = d / "wd"
    plan, _ = load_plan(wd / "plan.json")
    clips = sorted((wd / "shots").glob("*.mp4"))
    assert len(clips) == len(plan.shots) >= 2
    for s in plan.shots:
        assert on_frame_grid(s.start_s, FPS) and on_frame_grid(s.end_s, FPS)
        assert len(list((wd / "shots").glob(f"{s.id}.*.mp4"))) == 1
    assert sum(s.n_frames(FPS) for s in plan.shots) == probe_video(out).frames
    assert sorted(x.name for x in d.iterdir()) == ["video.mp4", "wd"], "only the video lands beside -o"
    for name in ("analysis.json", "reference.json", "run.json", "report.json", "report.html"):
        assert (wd / name).exists(), name
    report = json.loads((wd / "report.json").read_text())
    assert report["frames"] == probe_video(out).frames
    frames = list(read_frames(out, 0, 2))
    assert frames[0].shape == (H, W, 3) and frames[0].std() > 5, "the picture is not blank"


def test_rerun_renders_nothing(rendered, click_song, portrait):
    d, out = rendered
    proc = run_cli("render", str(click_song), "--ref", str(portrait), "-o", str(out), "--size", f"{W}x{H}",
                   "--fps", str(FPS), "--workdir", str(d / "wd"), "--asr", "none", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["rendered"] == 0 and report["cache_hits"] >= 2
