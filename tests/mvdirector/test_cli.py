"""The command line: bad input gets one clear line and exit code 2 before any work; the paths people use.

One small render (8 s song, 160x90, 12 fps) is made once with the rich progress bars and summary;
the other tests reuse its work directory: ``--force``, ``--jobs``, ``--plan`` with flags, ``preview``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from factories import cli, make_plan, plan_dict, run_cli

from mvdirector.planio import save_plan

SMALL = ["--size", "160x90", "--fps", "12", "--asr", "none"]


def assert_one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and needle in lines[0], lines[0]


@pytest.fixture()
def bad_files(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(os.urandom(4096))
    bad_img = tmp_path / "bad.png"
    bad_img.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    return {"empty": empty, "corrupt": corrupt, "bad_img": bad_img, "blocker": blocker, "dir": tmp_path}


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing_song", "does not exist"),
        ("empty_song", "is empty"),
        ("corrupt_song", "not a readable audio file"),
        ("missing_ref", "reference image"),
        ("corrupt_ref", "cannot read reference image"),
        ("unwritable_out", "is a file, not a folder"),
    ],
)
def test_render_bad_files(case, needle, bad_files, click_song, portrait):
    d = bad_files["dir"]
    song, ref, extra = str(click_song), str(portrait), []
    if case == "missing_song":
        song = str(d / "nope.wav")
    elif case == "empty_song":
        song = str(bad_files["empty"])
    elif case == "corrupt_song":
        song = str(bad_files["corrupt"])
    elif case == "missing_ref":
        ref = str(d / "nope.png")
    elif case == "corrupt_ref":
        ref = str(bad_files["bad_img"])
    elif case == "unwritable_out":
        extra = ["-o", str(bad_files["blocker"] / "out.mp4")]
    proc = cli("render", song, "--ref", ref, "--workdir", str(d / "wd"), *extra)
    assert_one_line_error(proc, needle)
    assert not (bad_files["blocker"].parent / "out.mp4").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--codec", "foo"], "codec 'foo' is unknown"),
        (["-o", "{d}/video.avi"], "'video.avi' cannot hold h264"),
        (["--codec", "prores", "-o", "{d}/video.mp4"], "cannot hold prores; name it with one of .mov"),
        (["--fps", "500"], "fps 500 is outside 1..120"),
        (["--fps", "0.5"], "fps 0.5 is outside 1..120"),
        (["--size", "big"], "is not WIDTHxHEIGHT"),
        (["--size", "641x360"], "width 641 is odd"),
        (["--crf", "99"], "--crf 99"),
        (["--renderer", "foo"], "unknown renderer 'foo'"),
        (["-O", "stepz=3"], "'stepz' is not an option of the procedural renderer"),
        (["-O", "nonsense"], "is not KEY=VALUE"),
        (["--weights", "{d}"], "--weights does not apply to the procedural renderer"),
        (["--renderer", "dit"], "the dit renderer needs model weights"),
        (["--renderer", "dit", "--weights", "{d}", "--size", "200x120"], "not a multiple of 16"),
        (["--force", "rendr"], "--force rendr is not a stage"),
        (["--jobs", "0"], "--jobs 0"),
        (["--jobs", "many"], "--jobs 'many'"),
        (["--style", "nonsense"], "style 'nonsense' is not a known shot template"),
        (["--language", "english"], "language 'english' is not an ISO 639 code"),
        (["--lyrics", "{d}/none.lrc"], "lyrics file"),
        (["--vocals", "{d}/none.wav"], "--vocals: audio file"),
        (["--asr", "faster-whisper", "--asr-model", "{d}"], "not a CTranslate2 Whisper model directory"),
        (["--asr", "bogus"], "--asr 'bogus'"),
        (["--beats", "aubio"], "--beats 'aubio': Input should be 'madmom' or 'librosa'"),
        (["--captions", "loud"], "--captions 'loud'"),
        (["--formats", "16:9,4:3"], "format '4:3' is unknown (use 16:9, 9:16, 1:1, 4:5"),
        (["--formats", "9:16=91x160"], "width 91 is odd"),
        (["--formats", "9:16=160x90"], "160x90, which is not 9:16"),
        (["--formats", "9:16,9x16"], "format 9:16 is given twice"),
        (["--size", "1920x800", "--formats", "16:9,1:1"], "format 16:9 would be rendered at 1920x800"),
        (["--renderer", "dit", "--weights", "{d}", "--formats", "16:9,9:16"],
         "format 9:16: size 1080x1920 is not a multiple of 16, which the dit renderer needs — give it another "
         "size, e.g. --formats 9:16=1072x1904"),
        (["--formats", ","], "',' names no format"),
    ],
)
def test_every_option_is_checked_before_any_work(args, needle, tmp_path, click_song, portrait):
    wd = tmp_path / "wd"
    args = [a.replace("{d}", str(tmp_path)) for a in args]
    run = run_cli if args[0] in ("--codec", "-o") else cli  # the headline cases as a separate process
    proc = run("render", str(click_song), "--ref", str(portrait), "--workdir", str(wd), *args)
    assert_one_line_error(proc, needle)
    assert not wd.exists(), "refused before the work directory was touched"


def test_plan_checks_the_renderer_but_needs_no_weights(tmp_path, click_song, portrait):
    base = ["plan", str(click_song), "--ref", str(portrait), "--workdir", str(tmp_path / "wd"), "--renderer", "dit"]
    assert_one_line_error(cli(*base, "--size", "200x120"), "not a multiple of 16, which the dit renderer needs")
    assert_one_line_error(cli(*base, "--renderer", "foo"), "unknown renderer 'foo'")
    assert not (tmp_path / "wd").exists()


def test_a_vocal_stem_must_last_as_long_as_the_song(tmp_path, click_song, portrait):
    import soundfile as sf

    y, sr = sf.read(click_song)
    sf.write(tmp_path / "short.wav", y[: int(7.5 * sr)], sr)
    for command in ("render", "plan"):
        proc = cli(command, str(click_song), "--ref", str(portrait), "--vocals", str(tmp_path / "short.wav"),
                   "--workdir", str(tmp_path / "wd"))
        assert_one_line_error(proc, "the vocal stem 'short.wav' lasts 7.500 s but the song 8.000 s")
    proc = cli("analyze", str(click_song), "--vocals", str(tmp_path / "short.wav"))
    assert_one_line_error(proc, "lasts 7.500 s but the song 8.000 s")
    assert_one_line_error(cli("analyze", str(click_song), "--language", "xx-1"), "not an ISO 639 code")


@pytest.mark.parametrize("command", ["render", "plan"])
def test_unknown_style_and_broken_plan_fail_before_any_analysis(command, tmp_path, click_song, portrait):
    wd = tmp_path / "wd"
    proc = cli(command, str(click_song), "--ref", str(portrait), "--style", "nonsense", "--workdir", str(wd))
    assert_one_line_error(proc, "style 'nonsense' is not a known shot template")
    assert not (wd / "analysis.json").exists()
    if command == "render":
        broken = tmp_path / "plan.json"
        broken.write_text('{"song": 1')
        proc = cli("render", str(click_song), "--ref", str(portrait), "--plan", str(broken), "--workdir", str(wd))
        assert_one_line_error(proc, "not valid JSON")
        assert not (wd / "analysis.json").exists()


def test_plan_refuses_flags_that_only_shape_a_new_plan(tmp_path, click_song, portrait):
    plan = tmp_path / "plan.json"
    save_plan(make_plan(bounds=(0.0, 4.0, 8.0)), plan)
    base = ["render", str(click_song), "--ref", str(portrait), "--plan", str(plan), "--workdir", str(tmp_path / "w")]
    assert_one_line_error(run_cli(*base, "--style", "dreamy"),
                          "--style dreamy conflicts with --plan: the plan was directed in style 'cinematic'")
    assert_one_line_error(cli(*base, "--templates", str(tmp_path)), "--templates")
    assert_one_line_error(cli(*base, "--fps", "0.25"), "fps 0.25 is outside")
    assert_one_line_error(cli(*base, "--fps", "0.5"), "fps 0.5 is outside")
    save_plan(make_plan(bounds=(0.0, 3.0, 6.0)), plan)
    assert_one_line_error(cli(*base), "the plan is for a song of 6.000 s")
    assert not (tmp_path / "w").exists()


# ------------------------------------------------------------------------ exit codes


def test_templates_and_a_bad_storyboard_name(tmp_path):
    proc = cli("templates")
    assert proc.returncode == 0, proc.stderr
    assert all(s in proc.stdout for s in ("cinematic", "performance", "lyric_video", "dreamy"))
    save_plan(make_plan(), tmp_path / "plan.json")
    assert_one_line_error(cli("preview", str(tmp_path / "plan.json"), "-o", str(tmp_path / "b.gif")),
                          "is not a storyboard name")


def test_ctrl_c_exits_130_and_keeps_what_is_finished(tmp_path, click_song, portrait):
    wd = tmp_path / "wd"
    env = {**os.environ}
    env.pop("MVDIRECTOR_DEBUG", None)
    # a picture large enough that the render is still running when the signal lands, even on a busy machine
    cmd = [sys.executable, "-m", "mvdirector.cli", "render", str(click_song), "--ref", str(portrait), "--workdir",
           str(wd), "--size", "640x360", "--fps", "24", "--asr", "none", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (wd / "run.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted — finished outputs are kept" in err and "Traceback" not in err
    assert (wd / "run.json").exists() and not list(wd.glob(".*.tmp*"))


def test_an_internal_error_exits_1_with_a_bug_report_hint(monkeypatch, click_song, portrait, tmp_path):
    from typer.testing import CliRunner

    import mvdirector.pipeline
    from mvdirector.cli import app

    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(mvdirector.pipeline, "run", broken)  # what `render` calls
    args = ["render", str(click_song), "--ref", str(portrait), "--workdir", str(tmp_path / "wd"), "-q"]
    result = cli(*args)
    assert result.returncode == 1
    assert "internal error: ZeroDivisionError: division by zero" in result.stderr
    assert "this is a bug: please report it" in result.stderr and "MVDIRECTOR_DEBUG=1" in result.stderr
    assert "Traceback" not in result.stderr
    debug = CliRunner().invoke(app, args, env={"MVDIRECTOR_DEBUG": "1"})
    assert isinstance(debug.exception, ZeroDivisionError)


# ------------------------------------------------------------------------- plan files


def test_validate_reports_every_problem(tmp_path):
    d = plan_dict()
    d["shots"][1]["framing"] = "very_wide"
    d["shots"][2]["end_s"] = 9.0
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(d))
    proc = cli("validate", str(p))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "shot 'verse1-02' framing" in proc.stderr


def test_validate_names_an_unknown_renderer(tmp_path):
    d = plan_dict()
    d["shots"][1]["renderer"] = "s3v"
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(d))
    assert_one_line_error(cli("validate", str(p)), "unknown renderer 's3v'")


def test_validate_ok_and_fix_snaps(tmp_path):
    d = plan_dict()
    d["shots"][0]["end_s"] = 2.01
    d["shots"][1]["start_s"] = 2.01
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(d))
    proc = cli("validate", str(p), "--fix")
    assert proc.returncode == 0, proc.stderr
    assert "snapped" in proc.stderr and proc.stdout.startswith("ok: 3 shots")
    assert json.loads(p.read_text())["shots"][0]["end_s"] == 2.0


def test_schema_prints_json_schema():
    proc = cli("schema")
    assert proc.returncode == 0
    assert "ShotPlan" in json.loads(proc.stdout)["title"]
