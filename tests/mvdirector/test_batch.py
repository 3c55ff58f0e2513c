"""Batch manifests (YAML and CSV), up-front validation with every error at once, and batch runs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from factories import make_plan, run_cli

from mvdirector.batch import BatchProgress
from mvdirector.errors import InputError
from mvdirector.manifest import BatchError, load_manifest
from mvdirector.planio import save_plan


@pytest.fixture
def assets(tmp_path, click_song, portrait):
    shutil.copy(click_song, tmp_path / "a.wav")
    shutil.copy(click_song, tmp_path / "b.wav")
    shutil.copy(portrait, tmp_path / "singer.png")
    return tmp_path


def test_yaml_manifest_with_defaults_relative_paths_and_overrides(assets):
    (assets / "m.yaml").write_text(
        "defaults:\n  size: 160x90\n  style: performance\n  overrides: {asr: none, crf: 23}\n"
        "jobs:\n"
        "  - {song: a.wav, reference: singer.png, output: out/a.mp4}\n"
        "  - {song: b.wav, ref: singer.png, style: dreamy, fps: 12, overrides: {crf: 28}, name: second}\n"
    )
    a, b = load_manifest(assets / "m.yaml")
    assert a.name == "a" and b.name == "second"
    assert a.request.song == assets / "a.wav" and a.request.reference == assets / "singer.png"
    assert (a.request.width, a.request.height, a.request.style, a.request.crf) == (160, 90, "performance", 23)
    assert a.request.resolved_out() == assets / "out" / "a.mp4"
    assert a.request.resolved_workdir() == assets / "out" / "a.mvd"
    assert (b.request.style, b.request.fps, b.request.crf, b.request.asr) == ("dreamy", 12.0, 28, "none")
    assert b.request.resolved_workdir() == assets / "b.mvd"


def test_csv_manifest(assets):
    (assets / "m.csv").write_text(
        "song,reference,size,output,overrides\n"
        "a.wav,singer.png,160x90,a.mp4,crf=20;asr=none\n"
        'b.wav,singer.png,,b.mp4,"{""seed"": 4}"\n'
    )
    a, b = load_manifest(assets / "m.csv")
    assert (a.request.width, a.request.crf, a.request.asr) == (160, 20, "none")
    assert (b.request.width, b.request.seed) == (1280, 4)
    assert b.request.resolved_out() == assets / "b.mp4"


def test_every_problem_of_every_job_is_reported_at_once(assets):
    (assets / "bad.wav").write_bytes(b"not audio at all")
    (assets / "m.yaml").write_text(
        "- {song: a.wav, reference: singer.png, output: same.mp4}\n"  # ok alone, but see job 6
        "- {song: missing.wav, reference: singer.png}\n"  # 2: song missing
        "- {song: a.wav, reference: nope.png, size: 161x90, colour: red}\n"  # 3: three problems
        "- {song: bad.wav, reference: singer.png, output: bad.mp4}\n"  # 4: corrupt audio
        "- {song: b.wav, reference: singer.png, style: disco, output: d.mov, overrides: {crf: 99}}\n"  # 5
        "- {song: b.wav, reference: singer.png, output: same.mp4}\n"  # 6: duplicate output
        "- just a string\n"  # 7
    )
    with pytest.raises(BatchError) as info:
        load_manifest(assets / "m.yaml")
    problems = info.value.problems
    text = "\n".join(problems)
    assert "job 2 (missing.wav): song 'missing.wav' does not exist" in text
    assert "job 3 (a.wav): unknown field 'colour'" in text
    assert "job 3 (a.wav): reference 'nope.png' does not exist" in text
    assert "job 3 (a.wav): size 161x90: width 161 is odd" in text
    assert any(p.startswith("job 4 (bad.wav):") for p in problems)
    assert any(p.startswith("job 5 (b.wav): crf") for p in problems)
    assert "job 6 (b.wav): output" in text and "also the output of job 1" in text
    assert any(p.startswith("job 7: is str") for p in problems)
    assert not any(p.startswith("job 1 ") for p in problems)
    assert "\n" not in info.value.one_line()


def test_style_is_checked_once_other_fields_are_valid(assets):
    (assets / "m.yaml").write_text("- {song: a.wav, reference: singer.png, style: disco, output: d.mov}\n")
    with pytest.raises(BatchError, match="style 'disco' is not a known shot template"):
        load_manifest(assets / "m.yaml")


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("m.yaml", "", "holds no jobs"),
        ("m.yaml", "jobs: [\n", "not valid YAML"),
        ("m.txt", "x", "neither YAML"),
        ("m.yaml", "{jobs: [], extra: 1}", "top-level keys"),
    ],
)
def test_unreadable_manifests(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=match):
        load_manifest(tmp_path / name)


def test_cli_check_lists_all_problems_and_exits_2(assets):
    (assets / "m.yaml").write_text("- {song: x.wav, reference: singer.png}\n- {song: a.wav}\n")
    res = run_cli("batch", str(assets / "m.yaml"), "--check")
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 2 and "job 1" in lines[0] and "'reference' is missing" in lines[1]
    (assets / "ok.yaml").write_text("- {song: a.wav, reference: singer.png}\n")
    res = run_cli("batch", str(assets / "ok.yaml"), "--check")
    assert res.returncode == 0 and "ok: 1 job(s)" in res.stdout


def test_the_same_preflight_as_render_refuses_codec_container_plan_and_renderer(assets):
    save_plan(make_plan(fps=12.0), assets / "other.json")  # a plan for a 6 s song; the songs are 8 s
    (assets / "m.yaml").write_text(
        "- {song: a.wav, reference: singer.png, output: a.avi}\n"
        "- {song: a.wav, reference: singer.png, output: b.mp4, overrides: {codec: foo}}\n"
        "- {song: b.wav, reference: singer.png, output: c.mp4, plan: other.json}\n"
        "- {song: b.wav, reference: singer.png, output: d.mp4, renderer: dit}\n"
        "- {song: b.wav, reference: singer.png, output: e.mp4, language: english}\n"
    )
    res = run_cli("batch", str(assets / "m.yaml"), "--check")
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 5, res.stderr
    for line, needle in zip(lines, ["'a.avi' cannot hold h264", "codec 'foo' is unknown",
                                    "the plan is for a song of 6.000 s", "needs model weights",
                                    "language 'english' is not an ISO 639 code"], strict=True):
        assert needle in line, line


def test_batch_failure_does_not_stop_others_exit_code_and_resume(assets):
    import soundfile as sf

    sf.write(assets / "silent.wav", np.zeros(8 * 22050, np.float32), 22050)  # passes the check, fails analysis
    (assets / "m.yaml").write_text(
        "defaults: {size: 160x90, fps: 12, overrides: {asr: none}}\n"
        "jobs:\n"
        "  - {song: a.wav, reference: singer.png, output: out/a.mp4}\n"
        "  - {song: silent.wav, reference: singer.png, output: out/b.mp4}\n"
    )
    res = run_cli("batch", str(assets / "m.yaml"), "--workers", "2", "--json")
    assert res.returncode == 1, res.stderr
    a, b = json.loads(res.stdout)
    assert a["ok"] and a["rendered"] >= 2 and (assets / "out" / "a.mp4").exists()
    assert not b["ok"] and "is silent" in b["error"]

    # re-running resumes: the finished job renders nothing (one process this time)
    res = run_cli("batch", str(assets / "m.yaml"), "--workers", "1", "--json")
    assert res.returncode == 1, res.stderr
    a2, b2 = json.loads(res.stdout)
    assert a2["ok"] and a2["rendered"] == 0 and a2["cached"] == a["rendered"]
    assert not b2["ok"]


def test_progress_table_follows_the_events(assets):
    jobs = load_manifest_text(
        assets,
        "- {song: a.wav, reference: singer.png, output: a.mp4}\n"
        "- {song: b.wav, reference: singer.png, output: b.mp4}\n",
    )
    progress = BatchProgress(jobs)
    for e in [
        (0, "start", "job", None, ""),
        (0, "start", "analyze", 1.0, ""),
        (0, "finish", "analyze", None, "120 bpm"),
        (0, "start", "render", 4.0, ""),
        (0, "update", "render", 3.0, "a-03 rendered"),
        (1, "start", "job", None, ""),
        (1, "failed", "job", None, "error: no face"),
        (0, "finish", "render", None, "4 rendered"),
        (0, "done", "job", None, "4 rendered, 0 cached"),
        (7, "start", "job", None, ""),
    ]:  # an unknown job is ignored
        progress.handle(e)
    a, b = progress.rows.values()
    assert (a.stage, a.shots_done, a.shots_total, a.message) == ("done", 4.0, 4.0, "4 rendered, 0 cached")
    assert (b.stage, b.message) == ("failed", "error: no face")
    assert progress.table().row_count == 2


def load_manifest_text(folder, text: str):
    (folder / "m.yaml").write_text(text)
    return load_manifest(folder / "m.yaml")


def test_captions_and_formats_per_job_and_their_outputs_never_collide(assets):
    (assets / "m.yaml").write_text(
        "defaults: {size: 160x90, overrides: {asr: none}}\n"
        "jobs:\n"
        "  - {song: a.wav, reference: singer.png, output: a.mp4, captions: soft, formats: '16:9,9:16=90x160'}\n"
        "  - {song: b.wav, reference: singer.png, output: b.mkv, formats: ['1:1=90x90']}\n"
        "  - {song: b.wav, reference: singer.png, output: c.mp4, formats: [16:9, 9:16=90x160, 1:1]}\n"
    )
    a, b, c = load_manifest(assets / "m.yaml")
    assert c.request.formats == ("16:9", "9:16=90x160", "1:1")  # unquoted, not YAML 1.1's base-60 numbers
    assert (a.request.captions, a.request.formats) == ("soft", ("16:9", "9:16=90x160"))
    assert (b.request.captions, b.request.formats) == ("burn", ("1:1=90x90",))
    assert [d.video.name for d in a.request.deliveries()] == ["a.16x9.mp4", "a.9x16.mp4"]
    (assets / "m.csv").write_text(
        "song,reference,output,formats,captions\n"
        'a.wav,singer.png,x.mp4,"16:9,4:3",loud\n'
        "b.wav,singer.png,x.9x16.mp4,,\n"
        "b.wav,singer.png,y.mp4,9:16,\n"
    )
    with pytest.raises(BatchError) as e:
        load_manifest(assets / "m.csv")
    problems = e.value.problems
    assert any("format '4:3' is unknown" in p for p in problems), problems
    (assets / "m.csv").write_text(
        "song,reference,output,formats,workdir\n"
        "a.wav,singer.png,x.mp4,\"16:9,9:16\",wa\n"
        "b.wav,singer.png,x.9x16.mp4,,wb\n"
    )
    with pytest.raises(BatchError) as e:
        load_manifest(assets / "m.csv")
    assert "x.9x16.mp4' is also the output of job 1" in e.value.problems[0]
