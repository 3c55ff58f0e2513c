"""Every value a person can type is checked where it enters: plan edits, flags, renderer options (generated)."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
from factories import plan_dict

from mvdirector.loaders import JSON_LIMIT
from stages.procedural.options import BOUNDS, PRESETS, ProceduralOptions

SMALL = ("--size", "160x90", "--fps", "12", "--asr", "none", "--quiet")
RENDER = ("render", "song.wav", "--ref", "singer.png", *SMALL)

KEYFRAME = {"t": 0.0, "position": [0.0, 0.0, 0.1], "rotation_deg": [0.0, 0.0, 0.0], "fov_deg": 0.0}
PLACES = {  # where a number sits in a plan a person edits
    "render.fps": lambda p: p["render"], "render.width": lambda p: p["render"], "end_s": lambda p: p["shots"][0],
    "energy": lambda p: p["shots"][0], "seed": lambda p: p["shots"][0], "intensity": lambda p: p["shots"][0]["camera"],
    "position": lambda p: p["shots"][0]["camera"]["keyframes"][0],
    "rotation_deg": lambda p: p["shots"][0]["camera"]["keyframes"][0],
    "fov_deg": lambda p: p["shots"][0]["camera"]["keyframes"][0],
}
MARK = "123456.789"
NUMBERS = {  # JSON text that is not a usable number
    "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e999": "1e999", "5000 digits": "9" * 5000,
    "1e300": "1e300", "-1e300": "-1e300",
}


def _edited(place: str, text: str) -> str:
    """The plan's JSON with the number at ``place`` replaced by ``text`` (vectors get it in their first slot)."""
    plan = plan_dict(bounds=(0.0, 2.0, 4.0, 6.0, 8.0))
    plan["shots"][0]["camera"]["keyframes"] = [dict(KEYFRAME), {**KEYFRAME, "t": 1.0}]
    key = place.rsplit(".", 1)[-1]
    holder = PLACES[place](plan)
    holder[key] = [float(MARK), 0.0, 0.0] if isinstance(holder[key], list) else float(MARK)
    raw = json.dumps(plan, indent=2)
    assert raw.count(MARK) == 1
    return raw.replace(MARK, text)


@pytest.mark.parametrize("number", list(NUMBERS))
@pytest.mark.parametrize("place", list(PLACES))
def test_a_number_that_is_not_finite_or_in_range_is_refused_by_validate_and_render(ws, place, number):
    (ws / "plan.json").write_text(_edited(place, NUMBERS[number]))
    line = ws.refused("validate", "plan.json")
    assert "plan" in line or "shot" in line or place.split(".")[-1] in line
    ws.refused(*RENDER, "--plan", "plan.json")


@pytest.mark.parametrize(("what", "text", "needle"), [
    ("deep nesting", "[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ("an empty file", "", "not valid JSON"),
    ("a list", "[]", "JSON object"),
    ("a string", '"plan"', "JSON object"),
    ("truncated", '{"song": {', "not valid JSON"),
    ("a huge file", " " * (JSON_LIMIT + 1), "MB"),
])
def test_a_broken_plan_file_is_one_line(ws, what, text, needle):
    (ws / "plan.json").write_text(text)
    ws.refused("validate", "plan.json", needle=needle)


def test_binary_and_utf16_plans_are_told_apart(ws):
    (ws / "plan.json").write_bytes(bytes(range(256)) * 20)
    ws.refused("validate", "plan.json", needle="binary")
    raw = json.dumps(plan_dict())
    (ws / "plan.json").write_bytes(b"\xef\xbb\xbf" + raw.encode())  # a BOM, as Windows editors write it
    assert ws.run("validate", "plan.json").returncode == 0


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda p: p["render"].update(fsp=12), "did you mean 'fps'"),
    (lambda p: p["shots"][0].update(framming="wide"), "did you mean 'framing'"),
    (lambda p: p["shots"][0].update(framing="extreme_wide_angle"), "framing"),
    (lambda p: p["shots"][0].update(id="\x1b]0;owned\x07\x1b[2J"), "\\x1b"),
    (lambda p: p["shots"][0].update(id="[/red]x"), "[/red]x"),
    (lambda p: p["shots"][0].update(prompt="x" * 2_000_000), "prompt"),
    (lambda p: p["shots"][0].update(lyric={"line": "word " * 100_000, "words": []}), "lyric"),
    (lambda p: p["shots"].clear(), "no shots"),
])
def test_a_bad_edit_names_the_field(ws, edit, needle):
    plan = plan_dict()
    edit(plan)
    (ws / "plan.json").write_text(json.dumps(plan))
    proc = ws.run("validate", "plan.json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert needle in proc.stderr, proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr


def _bad_options() -> list[tuple[str, str]]:
    """Generated: every option of the procedural renderer with values past its bounds or of the wrong kind."""
    cases: list[tuple[str, str]] = []
    for f in fields(ProceduralOptions):
        if f.name == "grade":
            continue
        if f.name in BOUNDS:
            lo, hi = BOUNDS[f.name]
            cases += [(f.name, str(lo - 1)), (f.name, str(hi * 10 + 1)), (f.name, "nan"), (f.name, "inf"),
                      (f.name, "abc")]
        elif f.type in (bool, "bool"):
            cases.append((f.name, "maybe"))
        elif f.name == "preset":
            cases.append((f.name, "warp" if "warp" not in PRESETS else "x"))
    cases += [("grade_saturation", "abc"), ("grade_saturation", "nan"), ("grade_saturation", "1e308"),
              ("grade_evil", "1"), ("stepz", "40")]
    return cases


@pytest.mark.parametrize(("key", "value"), _bad_options())
def test_validate_refuses_exactly_what_render_refuses(ws, key, value):
    ws.refused(*RENDER, "-O", f"{key}={value}", needle=key.removeprefix("grade_"))
    plan = plan_dict()
    plan["shots"][1]["renderer_options"] = {key: value}
    (ws / "plan.json").write_text(json.dumps(plan))
    ws.refused("validate", "plan.json", needle=key.removeprefix("grade_"))


@pytest.mark.parametrize(("flags", "needle"), [
    (("--crf", "99"), "--crf"), (("--crf", "-1"), "--crf"), (("--jobs", "0"), "--jobs"),
    (("--jobs", "100000"), "--jobs"), (("--size", "-320x180"), "--size"), (("--size", "161x90"), "even"),
    (("--size", "99999x99999"), "size"), (("--fps", "nan"), "--fps"), (("--fps", "inf"), "--fps"),
    (("--fps", "0"), "--fps"), (("--fps", "1e999"), "--fps"), (("--seed", "9" * 50), "--seed"),
    (("--codec", "x"), "codec"), (("--beats", "x"), "--beats"), (("--asr", "x"), "--asr"),
    (("--language", "klingon!"), "language"), (("--style", "disco"), "disco"), (("--renderer", "magic"), "magic"),
    (("--force", "everything"), "--force"), (("-O", "=3"), "KEY=VALUE"), (("--no-such-flag",), "--no-such-flag"),
    (("--fps", "abc"), "--fps"),
])
def test_a_bad_flag_is_one_line_before_any_work(ws, flags, needle):
    ws.refused("render", "song.wav", "--ref", "singer.png", "--asr", "none", *flags, needle=needle)
    assert not (ws / "song.mvd").exists()
