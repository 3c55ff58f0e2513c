"""End to end through the CLI: a short song and a portrait become a real, checked music video.

The render runs as a person runs it, with the rich progress bars and the summary (stderr is not a
terminal here); the later tests reuse its work directory: a re-run, ``--force`` with ``--jobs``,
``--plan`` with new size, fps and seed, ``preview``.
"""

from __future__ import annotations

import json
import shutil

import pytest
from factories import cli, run_cli

from mvdirector.media.video import probe_video, read_frames
from mvdirector.planio import load_plan
from mvdirector.rules import on_frame_grid

W, H, FPS = 192, 108, 12


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, click_song, portrait):
    d = tmp_path_factory.mktemp("e2e")
    out = d / "video.mp4"
    proc = run_cli("render", str(click_song), "--ref", str(portrait), "-o", str(out), "--size", f"{W}x{H}",
                   "--fps", str(FPS), "--workdir", str(d / "wd"), "--asr", "none")
    assert proc.returncode == 0, proc.stderr
    return d, out, proc.stderr


def test_progress_bars_and_summary(rendered):
    d, out, err = rendered
    for stage in ("analyze", "reference", "direct", "render", "assemble"):
        assert stage in err, stage
    assert "picture" in err and f"{round(8 * FPS)} frames · {FPS:g} fps · {W}x{H}" in err, err
    assert f"done {out}" in err and "0 cached" in err
    report = json.loads((d / "wd" / "report.json").read_text())
    # "prepare": what the renderer readies for the portrait while the song is analysed
    assert report["stage_s"].keys() == {"analyze", "reference", "prepare", "direct", "render", "assemble"}


def test_video_matches_song_and_settings(rendered, click_song):
    import soundfile as sf

    d, out, _ = rendered
    info = probe_video(out)
    song_s = sf.info(str(click_song)).duration
    assert (info.width, info.height) == (W, H)
    assert info.fps == pytest.approx(FPS)
    assert info.has_audio
    assert abs(info.frames / FPS - song_s) <= 1.0 / FPS
    assert abs(info.audio_duration_s - song_s) <= 1.0 / FPS
    assert info.frames == round(song_s * FPS)


def test_plan_shots_and_work_directory(rendered):
    d, out, _ = rendered
    wd = d / "wd"
    plan, _ = load_plan(wd / "plan.json")
    clips = sorted((wd / "shots").glob("*.mp4"))
    assert len(clips) == len(plan.shots) >= 2
    for s in plan.shots:
        assert on_frame_grid(s.start_s, FPS) and on_frame_grid(s.end_s, FPS)
        assert len(list((wd / "shots").glob(f"{s.id}.*.mp4"))) == 1
    assert sum(s.n_frames(FPS) for s in plan.shots) == probe_video(out).frames
    assert sorted(x.name for x in d.iterdir()) == ["video.jpg", "video.mp4", "wd"], "only deliverables beside -o"
    for name in ("analysis.json", "reference.json", "run.json", "report.json", "report.html"):
        assert (wd / name).exists(), name
    report = json.loads((wd / "report.json").read_text())
    assert report["frames"] == probe_video(out).frames
    frames = list(read_frames(out, 0, 2))
    assert frames[0].shape == (H, W, 3) and frames[0].std() > 5, "the picture is not blank"


def test_rerun_renders_nothing(rendered, click_song, portrait):
    d, out, _ = rendered
    proc = run_cli("render", str(click_song), "--ref", str(portrait), "-o", str(out), "--size", f"{W}x{H}",
                   "--fps", str(FPS), "--workdir", str(d / "wd"), "--asr", "none", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["rendered"] == 0 and report["cache_hits"] >= 2


def _copy(rendered, tmp_path):
    d, _, _ = rendered
    shutil.copytree(d / "wd", tmp_path / "wd", symlinks=True)
    return tmp_path / "wd"


def test_force_render_with_jobs_renders_every_shot_again(rendered, tmp_path, click_song, portrait):
    wd = _copy(rendered, tmp_path)
    n = len(json.loads((wd / "plan.json").read_text())["shots"])
    proc = run_cli("render", str(click_song), "--ref", str(portrait), "--workdir", str(wd), "-o", str(wd / "v.mp4"),
                   "--size", f"{W}x{H}", "--fps", str(FPS), "--asr", "none", "--force", "render", "--jobs", "2",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["rendered"] == n and report["cache_hits"] == 0 and report["stage_s"]["analyze"] < 1.0


def test_plan_takes_size_fps_and_seed_from_the_command_line(rendered, tmp_path, click_song, portrait):
    wd = _copy(rendered, tmp_path)
    plan = tmp_path / "plan.json"
    shutil.copy(wd / "plan.json", plan)
    out = tmp_path / "video.mp4"
    proc = run_cli("render", str(click_song), "--ref", str(portrait), "--plan", str(plan), "--workdir", str(wd),
                   "-o", str(out), "--asr", "none", "--fps", "10", "--size", "128x72", "--seed", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"rendering plan.json with --size 128x72 (plan: {W}x{H}), --fps 10 (plan: {FPS:g}" in proc.stderr
    assert "--seed 3 (plan: 0)" in proc.stderr
    info = probe_video(out)
    assert (info.width, info.height, info.fps, info.frames) == (128, 72, 10.0, 80)
    assert json.loads((wd / "run.json").read_text())["request"]["seed"] == 3


def test_preview_of_the_plan(rendered, tmp_path, portrait):
    d, _, _ = rendered
    board = tmp_path / "board.png"
    res = cli("preview", str(d / "wd" / "plan.json"), "-o", str(board), "--ref", str(portrait), "--otio",
              str(tmp_path / "plan.otio"))
    assert res.returncode == 0, res.stderr
    assert board.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "plan.otio").stat().st_size > 0
