"""The dit renderer end to end on a tiny random Wan checkpoint (CPU): CLI render, options, errors."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from mvdirector.errors import InputError, ModelError
from mvdirector.schemas import Camera, RenderSettings, Shot, ShotPlan, SongRef

FPS = 8.0


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    from fixtures.make_tiny_wan import cached_tiny_wan

    return cached_tiny_wan(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def tiny_a14b(tmp_path_factory) -> Path:
    from fixtures.make_tiny_wan import cached_tiny_wan

    return cached_tiny_wan(tmp_path_factory.getbasetemp(), variant="a14b")


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

    from mvdirector.media.video import probe_video, read_frames

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

    # The continued clip left its raw last frame (no captions, no H.264) in the work directory's cache;
    # the others, which nothing continues, left none.
    from stages.render.generative import load_raw_tail

    for p in (wd / "shots").glob("*.mp4"):
        tail = load_raw_tail(wd / "cache", p)
        if not p.name.startswith("verse1-01."):
            assert tail is None
            continue
        assert tail is not None and tail.last_frame.shape == (64, 64, 3) and tail.latents.shape[:2] == (1, 16)
        assert tail.fps == 16.0 and len(tail.frames) == 1
        # The shot's last native frame (19 of 0..19; the last plan frame shows 18), before H.264: close to the
        # clip's last frame, far from its first.
        frames = list(read_frames(p))
        diff = [np.abs(f.astype(int) - tail.last_frame.astype(int)).mean() for f in (frames[-1], frames[0])]
        assert diff[0] < 16 and diff[0] < diff[1] / 2, diff

    # The continuing shot starts from that raw frame; checked through the stage with the same work directory.
    from mvdirector.schemas import AudioAnalysis, ReferenceInfo
    from stages.dit import DitRenderer
    from stages.render import ShotJob

    plan = _plan(short_song)
    reference = ReferenceInfo.model_validate_json((wd / "reference.json").read_text())
    analysis = AudioAnalysis.model_validate(json.loads((wd / "analysis.json").read_text()))
    prev = next((wd / "shots").glob("verse1-01.*.mp4"))
    renderer = DitRenderer(weights=tiny_wan, max_sequence_length=32)
    requests = _spy_requests(renderer)
    job = ShotJob(plan, plan.shot("verse1-02"), analysis, reference, portrait, short_song, prev, wd / "cache")
    seen: list[float] = []
    with _token_counts(renderer) as (grids, lengths):
        metrics = renderer.render_shot(job, tmp_path / "b.mp4", progress=lambda f, m: seen.append(f))
    # Fails if reference or motion tokens are silently back on: every call sees only its window's tokens.
    assert grids and len(grids) == len(lengths)
    assert all(n == t * (h // 2) * (w // 2) for (t, h, w), n in zip(grids, lengths, strict=True))
    np.testing.assert_array_equal(requests[-1].image, load_raw_tail(wd / "cache", prev).last_frame)
    assert requests[-1].reference is None and requests[-1].history is None  # opt-in tokens stay off
    assert metrics["dit_chained"] == 1.0 and metrics["dit_motion_frames"] == 0.0
    assert metrics["dit_camera_guide"] == 1.0
    assert metrics["dit_steps"] == 1.0  # 2 steps at guide strength 0.7 -> 1 step from the noised guide
    # 6 frames at 8 fps are generated as 13 frames at Wan's 16 fps (4k+1) and retimed.
    assert metrics["dit_native_fps"] == 16.0 and metrics["dit_native_frames"] == 13.0
    assert requests[-1].num_frames == 13 and requests[-1].shift is None  # the tiny family's own scheduler
    assert probe_video(tmp_path / "b.mp4").frames == 6
    assert seen and seen[-1] == 1.0
    assert set(renderer.fingerprint()) >= {"weights", "adapter", "steps", "guide_strength", "version", "guide_renderer"}

    # Without the work directory's raw frame (e.g. another renderer made the previous clip) it starts unchained;
    # with motion_frames the previous latents come along as opt-in tokens.
    job_nocache = ShotJob(plan, plan.shot("verse1-02"), analysis, reference, portrait, short_song, prev, None)
    assert renderer.render_shot(job_nocache, tmp_path / "e.mp4")["dit_chained"] == 0.0
    np.testing.assert_array_equal(requests[-1].image, requests[-1].guide_video[0])
    motion = DitRenderer(weights=tiny_wan, max_sequence_length=32, motion_frames=True)
    motion_requests = _spy_requests(motion)
    assert motion.render_shot(job, tmp_path / "f.mp4")["dit_motion_frames"] == 1.0
    assert motion_requests[-1].history is not None

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
    assert metrics["dit_chained"] == 0.0
    assert probe_video(tmp_path / "c.mp4").frames == 8
    with pytest.raises(ModelError, match="no camera adapter"):
        renderer.render_shot(job, tmp_path / "d.mp4")


@contextmanager
def _token_counts(renderer):
    """(input grids, sequence lengths the first block sees) of every transformer call."""
    tr = renderer.pipeline.model.transformer
    grids: list[tuple[int, ...]] = []
    lengths: list[int] = []
    hooks = [
        tr.patch_embedding.register_forward_pre_hook(lambda m, a: grids.append(tuple(a[0].shape[2:]))),
        tr.blocks[0].register_forward_pre_hook(lambda m, a: lengths.append(a[0].shape[1])),
    ]
    try:
        yield grids, lengths
    finally:
        for h in hooks:
            h.remove()


def _spy_requests(renderer) -> list:
    """Record every ShotRequest the renderer's pipeline is called with."""
    pipe = renderer.pipeline
    calls: list = []
    original = pipe.__class__.__call__

    class Spy(pipe.__class__):
        def __call__(self, req, progress=None):
            calls.append(req)
            return original(self, req, progress)

    pipe.__class__ = Spy
    return calls


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


def test_options_are_typed_and_checked(tiny_wan, tiny_a14b, short_song):
    from stages.dit import DitOptions, DitRenderer
    from stages.render import make_renderer

    o = DitOptions.from_mapping({"offload": "group", "steps": "auto", "guidance_scale": "4", "chain": "off"})
    assert (o.offload, o.steps, o.guidance_scale, o.chain) == ("group", None, 4.0, False)
    with pytest.raises(InputError, match="offload='disk' is not one of none, model, group"):
        DitOptions.from_mapping({"offload": "disk"})
    with pytest.raises(InputError, match="steps=2.5 is not a int"):
        DitOptions.from_mapping({"steps": 2.5})
    with pytest.raises(InputError, match="cannot change per shot"):
        DitOptions.from_mapping({"offload": "model"}, base=DitOptions())
    with pytest.raises(InputError, match="guidance_scale_2=3.0 needs a two-expert checkpoint"):
        make_renderer("dit", weights=tiny_wan, guidance_scale_2=3.0)
    assert make_renderer("dit", weights=tiny_wan, offload="group").options.offload == "group"
    # Sampling defaults come from the checkpoint family; options override them.
    a14b = DitRenderer(weights=tiny_a14b, guidance_scale_2=4.0)
    s = a14b.options.sampling(a14b.checkpoint.defaults, 832, 480)
    assert (s.steps, s.guidance_scale, s.guidance_scale_2, s.shift, s.native_fps) == (40, 3.5, 4.0, 5.0, 16.0)
    single = DitRenderer(weights=tiny_wan)
    s = single.options.sampling(single.checkpoint.defaults, 64, 64)
    assert (s.steps, s.guidance_scale, s.guidance_scale_2, s.shift) == (40, 5.0, None, None)
    shot = _plan(short_song).shots[0]
    shot = shot.model_copy(update={"renderer_options": {"guidance_scale_2": 2.0}})
    with pytest.raises(InputError, match="shot 'verse1-01' renderer_options guidance_scale_2"):
        single.shot_options(shot)


def test_weights_fingerprint_ignores_hub_metadata(tiny_wan, tmp_path):
    import shutil

    from stages.render.generative import weights_fingerprint

    d = Path(shutil.copytree(tiny_wan, tmp_path / "w"))
    base = weights_fingerprint(d)
    (d / ".cache" / "huggingface" / "download" / "transformer").mkdir(parents=True)
    (d / ".cache" / "huggingface" / "download" / "transformer" / "config.json.metadata").write_text("etag 1")
    (d / ".cache" / "huggingface" / "download" / "transformer" / "config.json").write_text("{}")
    (d / "refs").mkdir()
    (d / "refs" / "main").write_text("abc123")
    (d / "README.md").write_text("downloaded again")
    (d / "transformer" / "diffusion.lock").write_text("")
    assert weights_fingerprint(d) == base
    cfg = json.loads((d / "transformer" / "config.json").read_text())
    (d / "transformer" / "config.json").write_text(json.dumps({**cfg, "num_layers": 3}))
    assert weights_fingerprint(d) != base


def test_cli_refuses_wrong_checkpoints_with_one_line(tiny_wan, short_song, portrait, tmp_path):
    import shutil

    from factories import run_cli

    cases = {
        "t2v": ("model_index.json", {"_class_name": "WanPipeline"}, "text-to-video Wan checkpoint"),
        "t2v-transformer": ("transformer/config.json", {"in_channels": 16}, "a text-to-video transformer"),
        "ti2v": ("model_index.json", {"expand_timesteps": True}, "per-token timesteps"),
    }
    for name, (rel, change, message) in cases.items():
        d = Path(shutil.copytree(tiny_wan, tmp_path / name))
        cfg = json.loads((d / rel).read_text())
        (d / rel).write_text(json.dumps({**cfg, **change}))
        res = run_cli("render", str(short_song), "--ref", str(portrait), "--renderer", "dit", "--weights", str(d),
                      "--size", "64x64", "--asr", "none", "--workdir", str(tmp_path / f"w-{name}"))
        assert res.returncode == 2, res.stderr
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], res.stderr
        assert not (tmp_path / f"w-{name}" / "analysis.json").exists()  # refused before any analysis


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
