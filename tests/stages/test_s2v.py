"""The s2v renderer on a tiny release-shaped Wan2.2-S2V directory (CPU): the CLI end to end, audio, takes, errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mvdirector.errors import InputError, ModelError
from mvdirector.schemas import Camera, LyricOverlay, RenderSettings, Shot, ShotPlan, SongRef, Word

FPS = 8.0
FULL_MIX = "drives the lips from the full mix"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from fixtures.make_tiny_s2v_dir import make_tiny_s2v_dir

    return make_tiny_s2v_dir(tmp_path_factory.mktemp("s2v") / "Wan2.2-S2V-14B")


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> tuple[Path, Path]:
    """A 3 s song and a 'vocal stem' of the same length with other sounds in it."""
    from conftest import synth_song

    d = tmp_path_factory.mktemp("songs")
    return synth_song(d / "song.wav", seconds=3.0), synth_song(d / "vocals.wav", bpm=90.0, seconds=3.0)


def make_plan(song: Path) -> ShotPlan:
    from mvdirector.media.atomic import file_sha256
    from mvdirector.media.audio import audio_info

    shots = [
        # take 1: two shots, the second continues the first (its motion buffer is the first's raw frames)
        Shot(id="verse1-01", start_s=0.0, end_s=1.25, section="verse", framing="close_up", prompt="a singer",
             camera=Camera(move="push_in", intensity=0.8),
             lyric=LyricOverlay(line="la la", words=[Word(start_s=0.1, end_s=0.5, text="la")])),
        Shot(id="verse1-02", start_s=1.25, end_s=2.0, section="verse", prompt="a singer, closer",
             continues_from="verse1-01"),
        # take 2: on its own, the model's own camera
        Shot(id="chorus1-01", start_s=2.0, end_s=3.0, section="chorus", framing="wide", prompt="a singer, wide",
             renderer_options={"camera": "none"}),
    ]
    return ShotPlan(
        song=SongRef(path=str(song), sha256=file_sha256(song), duration_s=audio_info(song).duration_s),
        render=RenderSettings(width=64, height=64, fps=FPS, renderer="s2v", seed=3),
        shots=shots,
    )


def render_args(song: Path, portrait: Path, plan: Path, weights: Path, wd: Path, *more: str) -> list[str]:
    return ["render", str(song), "--ref", str(portrait), "--plan", str(plan), "--renderer", "s2v", "--weights",
            str(weights), "-O", "steps=2", "--size", "64x64", "--fps", str(FPS), "--asr", "none", "--workdir",
            str(wd), "-o", str(wd / "video.mp4"), "--quiet", *more]


def test_cli_renders_a_take_and_a_shot(tiny_dir, songs, portrait, tmp_path):
    from factories import cli

    from mvdirector.media.video import probe_video
    from stages.render.generative import load_raw_tail

    song, _ = songs
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(make_plan(song).model_dump_json(indent=2))
    wd = tmp_path / "work.mvd"
    # clip_frames=none: each one-clip shot generates only what it shows (the default 80-frame clips
    # are rendered by the stage tests below); it also keeps this test fast.
    res = cli(*render_args(song, portrait, plan_path, tiny_dir, wd, "-O", "clip_frames=none"))
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stderr.count(FULL_MIX) == 1, res.stderr  # said once per run, not once per shot
    assert "Loading weights" not in res.stderr  # no library progress bar inside the run's own

    info = probe_video(wd / "video.mp4")
    assert (info.width, info.height, info.frames) == (64, 64, 24) and abs(info.fps - FPS) < 1e-6
    assert info.has_audio
    clips = {p.name.split(".")[0]: p for p in (wd / "shots").glob("*.mp4")}
    assert {k: probe_video(p).frames for k, p in clips.items()} == {"verse1-01": 10, "verse1-02": 6, "chorus1-01": 8}
    metrics = {k: json.loads(p.with_suffix(".json").read_text()) for k, p in clips.items()}

    # wav2vec2 ran once over the whole song; its features are kept in the work directory.
    assert len(list((wd / "cache" / "s2v").glob("audio-*.safetensors"))) == 1
    # Each shot generated the song's 16-fps frames nearest its cuts: [0, 20), [20, 32), [32, 48).
    assert [metrics[k]["s2v_native_start"] for k in ("verse1-01", "verse1-02", "chorus1-01")] == [0, 20, 32]
    assert [metrics[k]["s2v_native_frames"] for k in ("verse1-01", "verse1-02", "chorus1-01")] == [20, 12, 16]
    # Clips fitted to the shots: 20 + the 3 cut frames -> 24; 12 (chained: no cut frames); 16 + 3 -> 20.
    assert [metrics[k]["s2v_latent_frames"] for k in ("verse1-01", "verse1-02", "chorus1-01")] == [6, 3, 5]
    # The continued shot kept its 20 raw frames; the continuing one started from them (no 3-frame lead).
    tail = load_raw_tail(wd / "cache", clips["verse1-01"])
    assert tail is not None and tail.frames.shape == (20, 64, 64, 3) and tail.fps == 16.0
    assert load_raw_tail(wd / "cache", clips["chorus1-01"]) is None  # nothing continues it
    assert metrics["verse1-02"]["s2v_chained"] == 1.0 and metrics["verse1-02"]["s2v_motion_frames"] == 20
    assert metrics["verse1-01"]["s2v_chained"] == 0.0 and metrics["chorus1-01"]["s2v_chained"] == 0.0
    assert metrics["verse1-01"]["s2v_guided"] == 1.0 and metrics["chorus1-01"]["s2v_guided"] == 0.0
    assert metrics["verse1-01"]["s2v_steps"] == 1.0  # 2 steps from the guide noised to 0.7: the last one
    assert metrics["chorus1-01"]["s2v_steps"] == 2.0


def _stage(tiny_dir, song, portrait, tmp_path, **options):
    """A renderer and the job of each shot of the plan, without the CLI (analysis and reference stand-ins)."""
    from factories import flat_analysis

    from mvdirector.schemas import ReferenceInfo
    from stages.render import ShotJob
    from stages.s2v import S2VRenderer

    plan = make_plan(song)
    reference = ReferenceInfo(path=str(portrait), sha256="1" * 64, width=256, height=256)
    job = ShotJob(plan, plan.shots[0], flat_analysis(3.0), reference, portrait, song, cache_dir=tmp_path / "cache")
    return S2VRenderer(weights=tiny_dir, steps=2, camera="none", **options), job


def _outputs(renderer) -> list:
    """Record what the runtime's clip loop is asked and returns."""
    runtime = renderer.runtime
    seen: list = []
    original = runtime.pipeline

    def spy(req, progress=None):
        out = original(req, progress)
        seen.append((req, out))
        return out

    runtime.pipeline = spy
    return seen


def test_mouth_follows_the_audio_and_silence_is_unconditional(tiny_dir, songs, portrait, tmp_path, monkeypatch):
    import torch

    song, vocals = songs
    renderer, job = _stage(tiny_dir, song, portrait, tmp_path)
    seen = _outputs(renderer)
    job = job.for_shot("chorus1-01")
    renderer.render_shot(job, tmp_path / "a.mp4")
    renderer.render_shot(job, tmp_path / "a2.mp4")
    renderer.render_shot(replace(job, vocals_path=vocals), tmp_path / "b.mp4")
    a, a2, b = (out.frames for _, out in seen)
    assert np.array_equal(a, a2)  # same seed, same audio: same frames
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5  # same seed, other audio: other frames
    assert not torch.equal(seen[0][0].audio_embeds, seen[2][0].audio_embeds)

    # Zeroed audio and the negative prompt as the prompt: the conditional pass is the negative one,
    # so guidance changes nothing — the negative pass is exactly zeroed audio.
    feats = renderer.song_features(job)
    silent = feats.__class__(torch.zeros_like(feats.rows), feats.feature_frames, feats.m)
    monkeypatch.setattr(renderer, "song_features", lambda j: silent)
    shot = job.shot.model_copy(update={"prompt": "a singer, wide", "renderer_options": {
        "camera": "none", "negative_prompt": "a singer, wide"}})
    renderer.render_shot(replace(job, shot=shot), tmp_path / "c.mp4")
    shot = shot.model_copy(update={"renderer_options": {**shot.renderer_options, "guidance_scale": 1.0}})
    renderer.render_shot(replace(job, shot=shot), tmp_path / "d.mp4")
    (req_c, c), (req_d, d) = seen[-2:]
    assert req_c.sampling.guidance_scale == 4.5 and req_d.sampling.guidance_scale == 1.0
    assert c.metrics["s2v_model_calls"] == 2 * d.metrics["s2v_model_calls"]
    assert np.array_equal(c.frames, d.frames)
    assert np.abs(c.frames.astype(int) - a.astype(int)).mean() > 0.5  # silence is not the song


def test_audio_window_follows_the_song_clock_and_the_stem(tiny_dir, songs, portrait, tmp_path):
    import torch

    from mvdirector.media.atomic import file_sha256
    from mvdirector.shots import shot_keys

    song, vocals = songs
    renderer, job = _stage(tiny_dir, song, portrait, tmp_path)
    calls = []
    original = renderer.runtime.audio_features
    renderer.runtime.audio_features = lambda *a: calls.append(1) or original(*a)
    seen = _outputs(renderer)
    first, second = job.for_shot("verse1-01"), job.for_shot("verse1-02")
    renderer.render_shot(first, tmp_path / "1.mp4")
    renderer.render_shot(second, tmp_path / "2.mp4")  # no kept tail given: starts afresh, 3-frame lead
    feats = renderer.song_features(first)
    assert len(calls) == 1  # one wav2vec2 pass for the song, whatever the shots
    (req1, out1), (req2, _) = seen
    # Shot 1 starts at song frame 0 with the official 3-frame lead (zeros before the song);
    # shot 2 at song frame 20 (1.25 s), the same lead: columns 17.. of the same song bucket.
    assert out1.audio_lead_frames == 3
    assert torch.count_nonzero(req1.audio_embeds[..., :3]) == 0
    torch.testing.assert_close(req1.audio_embeds[..., 3:23], feats.window(0, 20), rtol=0, atol=0)
    torch.testing.assert_close(req2.audio_embeds, feats.window(17, req2.audio_embeds.shape[-1]), rtol=0, atol=0)

    # The stem gives other features, cached under another key; the shots' cache keys change with it.
    stem_job = replace(first, vocals_path=vocals)
    stem_feats = renderer.song_features(stem_job)
    assert len(calls) == 2 and not torch.equal(stem_feats.rows, feats.rows)
    assert len(list((tmp_path / "cache" / "s2v").glob("audio-*.safetensors"))) == 2
    from mvdirector.schemas import ReferenceInfo

    ref = ReferenceInfo(path=str(portrait), sha256="1" * 64, width=256, height=256)
    plain = shot_keys(job.plan, renderer, job.analysis, ref)
    with_stem = shot_keys(job.plan, renderer, job.analysis, ref, {"vocals": file_sha256(vocals)})
    assert all(plain[k] != with_stem[k] for k in plain)
    # A fresh renderer on the same work directory reads the features instead of running wav2vec2.
    again, _ = _stage(tiny_dir, song, portrait, tmp_path)
    again.runtime.audio_features = lambda *a: pytest.fail("wav2vec2 ran again")
    torch.testing.assert_close(again.song_features(first).rows, feats.rows, rtol=0, atol=0)
    # The full mix is said once per run, through the framework (check_plan); a stem silences it.
    assert any(FULL_MIX in w for w in renderer.check_plan(first))
    assert renderer.check_plan(stem_job) == []


def test_options_defaults_and_checks(tiny_dir, songs, portrait, tmp_path):
    from stages.render import make_renderer
    from stages.s2v import S2V_NEGATIVE, S2VOptions

    o = S2VOptions()
    assert (o.steps, o.guidance_scale, o.shift, o.camera, o.offload) == (40, 4.5, 3.0, "guide", "none")
    assert o.negative_prompt == S2V_NEGATIVE and o.negative_prompt.startswith("画面模糊，最差质量")
    assert S2VOptions.from_mapping({"offload": "group", "max_clips": "4", "chain": "off"}).max_clips == 4
    for values, message in [
        ({"camera": "adapter"}, "camera='adapter' is not one of guide, none"),
        ({"offload": "disk"}, "offload='disk' is not one of none, model, group"),
        ({"steps": 0}, "steps=0 is outside 1..1000"),
        ({"guide_strength": 1.5}, "guide_strength=1.5 is outside"),
        ({"stepz": 3}, "'stepz' is unknown"),
    ]:
        with pytest.raises(InputError, match=message):
            S2VOptions.from_mapping(values)
    # clip_frames: the official 80 by default; "none" fits a one-clip shot; multiples of 4 up to 80.
    assert (o.sampling(16, False).infer_frames, o.sampling(300, False).infer_frames) == (80, 80)
    fit = S2VOptions.from_mapping({"clip_frames": "none"})
    assert fit.clip_frames is None and fit.sampling(16, False).infer_frames == 20  # 16 + 3 cut frames, to 4k
    assert (fit.sampling(12, True).infer_frames, fit.sampling(78, False).infer_frames) == (12, 80)
    assert S2VOptions.from_mapping({"clip_frames": 40}).sampling(16, False).infer_frames == 40
    for bad in (30, 84, 0):
        with pytest.raises(InputError, match=f"clip_frames={bad}"):
            S2VOptions.from_mapping({"clip_frames": bad})
    with pytest.raises(InputError, match="'offload' cannot change per shot"):
        S2VOptions.from_mapping({"offload": "model"}, base=S2VOptions())
    with pytest.raises(InputError, match="dtype 'fp8'"):
        make_renderer("s2v", weights=tiny_dir, dtype="fp8")
    with pytest.raises(ModelError, match="needs model weights"):
        make_renderer("s2v")

    # max_clips refuses a shot that needs more clips before any shot renders.
    renderer, job = _stage(tiny_dir, songs[0], portrait, tmp_path, max_clips=1)
    long = job.plan.model_copy(update={"shots": [job.plan.shots[0].model_copy(update={"end_s": 3.0})]})
    renderer.check_plan(replace(job, plan=long, shot=long.shots[0]))  # 48 frames: 1 clip
    long = long.model_copy(update={"song": long.song.model_copy(update={"duration_s": 6.0}),
                                   "shots": [long.shots[0].model_copy(update={"end_s": 6.0})]})
    with pytest.raises(InputError, match="shot 'verse1-01' .* needs 2 s2v clips .* max_clips is 1"):
        renderer.check_plan(replace(job, plan=long, shot=long.shots[0]))
    fp = renderer.fingerprint()
    assert {"weights", "steps", "guidance_scale", "shift", "negative_prompt", "guide_renderer", "version"} <= set(fp)
    assert "offload" not in fp and "device" not in fp


def test_cli_refuses_wrong_weights_with_one_line_before_analysis(tiny_dir, songs, portrait, tmp_path):
    import shutil

    from factories import cli

    song, _ = songs
    incomplete = Path(shutil.copytree(tiny_dir, tmp_path / "incomplete"))
    (incomplete / "Wan2.1_VAE.pth").unlink()
    next(incomplete.glob("diffusion_pytorch_model-00002-*.safetensors")).unlink()
    i2v = tmp_path / "Wan2.1-I2V-14B-480P-Diffusers"
    (i2v / "transformer").mkdir(parents=True)
    (i2v / "model_index.json").write_text(json.dumps({"_class_name": "WanImageToVideoPipeline"}))
    cases = {
        "missing": (["--weights", str(tmp_path / "nope")], "does not exist"),
        "incomplete": (["--weights", str(incomplete)], "missing DiT shard diffusion_pytorch_model-00002-of-"),
        "i2v": (["--weights", str(i2v)], "holds a diffusers pipeline checkpoint (model_index.json: "
                                          "WanImageToVideoPipeline), not the Wan2.2-S2V-14B release"),
        "none": ([], "the s2v renderer needs model weights"),
    }
    for name, (flags, message) in cases.items():
        wd = tmp_path / f"w-{name}"
        res = cli("render", str(song), "--ref", str(portrait), "--renderer", "s2v", *flags, "--size", "64x64",
                  "--asr", "none", "--workdir", str(wd))
        assert res.returncode == 2, (name, res.stderr)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], (name, res.stderr)
        assert not (wd / "analysis.json").exists()  # refused before any analysis
    res = cli("render", str(song), "--ref", str(portrait), "--renderer", "s2v", "--weights", str(incomplete),
              "--size", "64x64", "--workdir", str(tmp_path / "w"))
    assert "missing DiT shard" in res.stderr and "Wan2.1_VAE.pth" in res.stderr  # everything missing, one line
