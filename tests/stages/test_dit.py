"""The dit renderer end to end on a tiny random Wan checkpoint (CPU): CLI render, options, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvdirector.errors import InputError, ModelError
from mvdirector.schemas import Camera, RenderSettings, Shot, ShotPlan, SongRef

FPS = 8.0


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    from fixtures.make_tiny_wan import cached_tiny_wan

    return cached_tiny_wan(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def short_song(tmp_path_factory) -> Path:
    from conftest import synth_song

    return synth_song(tmp_path_factory.mktemp("song") / "song.wav", seconds=3.0)


def _plan(song: Path) -> ShotPlan:
    from mvdirector.media.atomic import file_sha256
    from mvdirector.media.audio import audio_info

    fast = {
        "steps": 2,
        "guidance_scale": 2.0,
        "window": 2,
        "overlap": 1,
        "window_max_shift": 0,
        "min_last": 2,
    }
    shots = [
        # take 1: two shots, the second continues from the first (motion frames)
        Shot(
            id="verse1-01",
            start_s=0.0,
            end_s=1.25,
            section="verse",
            framing="close_up",
            prompt="a singer",
            camera=Camera(move="push_in", intensity=0.8),
            renderer_options=fast,
        ),
        Shot(
            id="verse1-02",
            start_s=1.25,
            end_s=2.0,
            section="verse",
            prompt="a singer, closer",
            continues_from="verse1-01",
            renderer_options=fast,
        ),
        # take 2: independent, no camera conditioning
        Shot(
            id="chorus1-01",
            start_s=2.0,
            end_s=3.0,
            section="chorus",
            framing="wide",
            prompt="a singer, wide",
            camera=Camera(move="orbit"),
            renderer_options={**fast, "camera": "none"},
        ),
    ]
    return ShotPlan(
        song=SongRef(path=str(song), sha256=file_sha256(song), duration_s=audio_info(song).duration_s),
        render=RenderSettings(width=64, height=64, fps=FPS, renderer="dit", seed=3),
        shots=shots,
    )


@pytest.mark.slow
def test_cli_renders_a_two_take_three_shot_plan(tiny_wan, short_song, portrait, tmp_path):
    from factories import run_cli

    from mvdirector.media.video import probe_video

    plan_path = tmp_path / "plan.json"
    plan_path.write_text(_plan(short_song).model_dump_json(indent=2))
    out = tmp_path / "video.mp4"
    wd = tmp_path / "work.mvd"
    res = run_cli(
        "render",
        str(short_song),
        "--ref",
        str(portrait),
        "--plan",
        str(plan_path),
        "--renderer",
        "dit",
        "--weights",
        str(tiny_wan),
        "-O",
        "max_sequence_length=32",
        "--size",
        "64x64",
        "--fps",
        str(FPS),
        "--asr",
        "none",
        "--workdir",
        str(wd),
        "-o",
        str(out),
        "--quiet",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    info = probe_video(out)
    assert (info.width, info.height) == (64, 64)
    assert info.frames == 24 and abs(info.fps - FPS) < 1e-6
    assert info.has_audio
    clips = sorted(p.name.split(".")[0] for p in (wd / "shots").glob("*.mp4"))
    assert clips == ["chorus1-01", "verse1-01", "verse1-02"]
    for p in (wd / "shots").glob("*.mp4"):
        assert probe_video(p).frames in (10, 6, 8)

    # The shot that continues uses the first shot's clip as motion frames; check through the stage.
    from mvdirector.schemas import ReferenceInfo
    from stages.dit import DitRenderer
    from stages.render import ShotJob

    plan = _plan(short_song)
    reference = ReferenceInfo.model_validate_json((wd / "reference.json").read_text())
    analysis_json = json.loads((wd / "analysis.json").read_text())
    from mvdirector.schemas import AudioAnalysis

    analysis = AudioAnalysis.model_validate(analysis_json)
    prev = next((wd / "shots").glob("verse1-01.*.mp4"))
    renderer = DitRenderer(weights=tiny_wan, max_sequence_length=32)
    job = ShotJob(plan, plan.shot("verse1-02"), analysis, reference, portrait, short_song, previous_clip=prev)
    seen: list[float] = []
    metrics = renderer.render_shot(job, tmp_path / "b.mp4", progress=lambda f, m: seen.append(f))
    assert metrics["dit_motion_frames"] == 1.0 and metrics["dit_camera_guide"] == 1.0
    assert metrics["dit_steps"] == 1.0  # 2 steps at guide strength 0.7 -> 1 step from the noised guide
    assert probe_video(tmp_path / "b.mp4").frames == 6
    assert seen and seen[-1] == 1.0
    assert set(renderer.fingerprint()) >= {
        "weights",
        "adapter",
        "steps",
        "guide_strength",
        "version",
        "guide_renderer",
    }

    # With a camera adapter, camera="both" uses the planned trajectory's Plücker rays and the guide.
    from fixtures.make_tiny_wan import make_tiny_adapter

    adapter = make_tiny_adapter(tmp_path / "adapter")
    with_adapter = DitRenderer(weights=tiny_wan, adapter=adapter, max_sequence_length=32)
    assert with_adapter.fingerprint()["adapter"] != renderer.fingerprint()["adapter"]
    shot = plan.shot("chorus1-01")
    shot = shot.model_copy(update={"renderer_options": {**shot.renderer_options, "camera": "both"}})
    job = ShotJob(plan, shot, analysis, reference, portrait, short_song)
    metrics = with_adapter.render_shot(job, tmp_path / "c.mp4")
    assert metrics["dit_camera_adapter"] == 1.0 and metrics["dit_camera_guide"] == 1.0
    assert metrics["dit_motion_frames"] == 0.0
    assert probe_video(tmp_path / "c.mp4").frames == 8
    with pytest.raises(ModelError, match="no camera adapter"):
        renderer.render_shot(job, tmp_path / "d.mp4")


def test_missing_or_incomplete_weights_are_one_line_errors(tmp_path, tiny_wan):
    from stages.render import make_renderer

    with pytest.raises(ModelError, match="needs model weights"):
        make_renderer("dit")
    (tmp_path / "vae").mkdir()
    with pytest.raises(ModelError, match="missing model_index.json, transformer/config.json"):
        make_renderer("dit", weights=tmp_path)
    with pytest.raises(InputError, match="unknown"):
        make_renderer("dit", weights=tiny_wan, stepz=3)
    with pytest.raises(InputError, match="guide_strength"):
        make_renderer("dit", weights=tiny_wan, guide_strength=1.5)


def test_cli_reports_missing_weights(short_song, portrait, tmp_path):
    from factories import run_cli

    res = run_cli(
        "render",
        str(short_song),
        "--ref",
        str(portrait),
        "--renderer",
        "dit",
        "--weights",
        str(tmp_path / "nope"),
        "--size",
        "64x64",
        "--asr",
        "none",
        "--workdir",
        str(tmp_path / "w"),
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "not a complete diffusers Wan image-to-video checkpoint" in res.stderr
