"""The command line: bad input gets one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from factories import plan_dict, run_cli


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
        ("unwritable_out", "cannot create output directory"),
        ("bad_size", "is not WIDTHxHEIGHT"),
        ("odd_size", "odd side"),
    ],
)
def test_render_bad_input(case, needle, bad_files, click_song, portrait):
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
    elif case == "bad_size":
        extra = ["--size", "big"]
    elif case == "odd_size":
        extra = ["--size", "641x360"]
    proc = run_cli("render", song, "--ref", ref, "--workdir", str(d / "wd"), *extra)
    assert_one_line_error(proc, needle)
    assert not (bad_files["blocker"].parent / "out.mp4").exists()


def test_validate_reports_every_problem(tmp_path):
    d = plan_dict()
    d["shots"][1]["framing"] = "very_wide"
    d["shots"][2]["end_s"] = 9.0
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(d))
    proc = run_cli("validate", str(p))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "shot 'verse1-02' framing" in proc.stderr


def test_validate_ok_and_fix_snaps(tmp_path):
    d = plan_dict()
    d["shots"][0]["end_s"] = 2.01
    d["shots"][1]["start_s"] = 2.01
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(d))
    proc = run_cli("validate", str(p), "--fix")
    assert proc.returncode == 0, proc.stderr
    assert "snapped" in proc.stderr and proc.stdout.startswith("ok: 3 shots")
    assert json.loads(p.read_text())["shots"][0]["end_s"] == 2.0


def test_schema_prints_json_schema():
    proc = run_cli("schema")
    assert proc.returncode == 0
    assert "ShotPlan" in json.loads(proc.stdout)["title"]


@pytest.mark.parametrize("command", ["render", "plan"])
def test_unknown_style_and_broken_plan_fail_before_any_analysis(command, tmp_path, click_song, portrait):
    wd = tmp_path / "wd"
    proc = run_cli(command, str(click_song), "--ref", str(portrait), "--style", "nonsense", "--workdir", str(wd))
    assert_one_line_error(proc, "style 'nonsense' is not a known shot template")
    assert not (wd / "analysis.json").exists()
    if command == "render":
        broken = tmp_path / "plan.json"
        broken.write_text('{"song": 1')
        proc = run_cli("render", str(click_song), "--ref", str(portrait), "--plan", str(broken), "--workdir", str(wd))
        assert_one_line_error(proc, "not valid JSON")
        assert not (wd / "analysis.json").exists()

