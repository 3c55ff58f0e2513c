"""Casting: the director picks each shot's photo by the rules of stages/direct/casting.py."""

from __future__ import annotations

import json

import pytest
from factories import cli, synthetic_analysis

from mvdirector.schemas import Face, ReferenceInfo, ReferenceSet
from stages.direct import DirectConfig, direct, plan_warnings
from stages.direct.casting import SCENE_SECTIONS, WIDE_FRAMINGS

STRUCTURE = (("intro", 4), ("verse", 8), ("pre_chorus", 4), ("chorus", 8), ("instrumental", 4), ("verse", 8),
             ("chorus", 8), ("bridge", 4), ("chorus", 8), ("outro", 4))


def _photo(rid: str, kind: str, face_h: int | None, turn: float = 0.0) -> ReferenceInfo:
    faces = []
    if face_h:
        x0, y0 = 300, 200
        pts = [(x0 + face_h * i / 67, y0 + face_h / 2) for i in range(68)]
        pts[0], pts[16] = (x0, y0 + face_h / 2), (x0 + face_h, y0 + face_h / 2)
        pts[30] = (x0 + face_h * (0.5 + turn / 4), y0 + face_h / 2)  # the nose: 0 = frontal, ±1 = profile
        faces = [Face(box=(x0, y0, x0 + face_h, y0 + face_h), landmarks=pts, embedding=[0.0] * 128)]
    return ReferenceInfo(id=rid, kind=kind, path=f"{rid}.png", sha256=rid[0] * 64, width=1000, height=1000,
                         faces=faces, primary=0 if faces else None)


def _refs(*photos: ReferenceInfo) -> ReferenceSet:
    return ReferenceSet(photos=list(photos))


SINGER = _photo("singer", "singer", 200)
LOOK = _photo("red", "look", 180)
SMALL = _photo("far", "look", 40)
PROFILE = _photo("side", "look", 200, turn=0.9)
CITY = _photo("city", "scene", None)
SEA = _photo("sea", "scene", None)


@pytest.fixture(scope="module")
def song():
    return synthetic_analysis(bpm=112, structure=STRUCTURE, seed=1)


def _plan(song, *photos, style="cinematic", seed=0):
    return direct(song, _refs(*photos), DirectConfig(style=style, seed=seed))


@pytest.mark.parametrize("style", ["cinematic", "performance", "lyric_video", "dreamy"])
@pytest.mark.parametrize("seed", [0, 1])
def test_each_kind_of_photo_goes_where_it_belongs(song, style, seed):
    plan = _plan(song, SINGER, LOOK, CITY, SEA, style=style, seed=seed)
    assert [r.id for r in plan.references] == ["singer", "red", "city", "sea"]
    by_label: dict[str, set[str]] = {}
    scenes: dict[str, set[str]] = {}
    for s in plan.shots:
        index = int(s.id.rsplit("-", 1)[1]) - 1  # the shot's place in its section
        ref = plan.reference_of(s)
        if ref.kind == "scene":  # scenes: unsung intros, outros, instrumentals, or a wide establishing shot
            sung = bool(s.lyric and s.lyric.words)
            assert (s.section in SCENE_SECTIONS and not sung) or (index == 0 and s.framing in WIDE_FRAMINGS), s.id
            assert s.framing not in ("close_up", "extreme_close_up") and "no people in frame" in s.prompt
            scenes.setdefault(s.section, set()).add(ref.id)
        else:
            by_label.setdefault(s.section, set()).add(ref.id)
        if s.continues_from:
            assert s.reference == plan.shot(s.continues_from).reference, s.id  # a take keeps its photo
    assert all(len(v) == 1 for v in by_label.values()), by_label  # one look per section type
    assert all(len(v) == 1 for v in scenes.values()), scenes  # one scene per section type
    assert scenes.get("outro", scenes.get("intro")) == scenes.get("intro", scenes.get("outro"))  # bookends
    assert by_label["chorus"] == {"singer"} and by_label["verse"] == {"red"}
    assert {plan.reference_of(s).kind for s in plan.shots} == {"singer", "look", "scene"}
    assert plan.reference_of(plan.shots[0]).kind == "scene"  # the intro opens on a place
    assert not [w for w in plan_warnings(plan, song) if "whose face" in w]


def test_close_ups_show_a_good_frontal_face(song):
    for weak in (SMALL, PROFILE):
        plan = _plan(song, SINGER, weak, CITY)
        close = [s for s in plan.shots if s.framing in ("close_up", "extreme_close_up")]
        assert close and all(s.reference == "singer" for s in close)
        assert any(s.reference == weak.id for s in plan.shots)  # the weak photo still plays its section's wide shots
        assert not [w for w in plan_warnings(plan, song) if "whose face" in w]


def test_one_photo_plans_every_shot_on_it(song):
    alone = direct(song, SINGER, DirectConfig())
    assert {s.reference for s in alone.shots} == {"singer"}
    assert direct(song, _refs(SINGER), DirectConfig()) == alone
    faceless = direct(song, _photo("singer", "singer", None), DirectConfig())
    assert not any(s.framing in ("close_up", "extreme_close_up") for s in faceless.shots)


def test_validate_names_a_missing_photo_and_a_faceless_close_up(song, tmp_path):
    plan = _plan(song, SINGER, LOOK, CITY)
    path = tmp_path / "plan.json"
    data = json.loads(plan.model_dump_json())
    path.write_text(json.dumps(data))
    ok = cli("validate", str(path))
    assert ok.returncode == 0, ok.stderr
    s = next(s for s in data["shots"] if s["reference"] == "singer" and s["framing"] == "close_up")
    s["reference"] = "city"
    path.write_text(json.dumps(data))
    bad = cli("validate", str(path))
    assert bad.returncode == 2
    assert f"shot '{s['id']}' is a close_up but its reference 'city' is a scene" in bad.stderr
    s["reference"] = "beach"
    path.write_text(json.dumps(data))
    bad = cli("validate", str(path))
    assert bad.returncode == 2 and f"shot '{s['id']}' reference 'beach' is not one of the plan's photos" in bad.stderr
    # a close-up of a small face is a director's warning, not an error
    data["references"][1]["face_px"] = 30
    s["reference"] = "red"
    path.write_text(json.dumps(data))
    warned = cli("validate", str(path))
    assert warned.returncode == 0 and f"shot '{s['id']}' is a close_up of 'red', whose face is only 30 px" in \
        warned.stderr


def test_a_photo_no_shot_shows_is_named():
    short = synthetic_analysis(bpm=112, structure=(("verse", 8), ("chorus", 8)), seed=2)
    blue = _photo("blue", "look", 190)
    plan = _plan(short, SINGER, LOOK, blue)
    assert {s.reference for s in plan.shots} == {"singer", "red"}  # two sung section types, three photos
    assert [w for w in plan_warnings(plan, short) if "shown by no shot" in w] == [
        "photo 'blue' (look) is shown by no shot — name it in a shot's reference in plan.json"]
    assert not [w for w in plan_warnings(_plan(short, SINGER, LOOK), short) if "shown by no shot" in w]


def test_spare_looks_change_the_outfit_of_a_repeated_verse_not_the_chorus():
    song = synthetic_analysis(bpm=112, structure=(("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8),
                                                  ("chorus", 8), ("outro", 4)), seed=3)
    blue = _photo("blue", "look", 190)
    plan = _plan(song, SINGER, LOOK, blue, CITY)
    people = {}
    for s in plan.shots:
        if plan.reference_of(s).kind != "scene":  # both looks have good faces: close-ups keep them too
            people.setdefault(s.id.rsplit("-", 1)[0], set()).add(s.reference)
    assert people["verse1"] == {"red"} and people["verse2"] == {"blue"}, people
    assert people["chorus1"] == people["chorus2"] == {"singer"}
    assert not [w for w in plan_warnings(plan, song) if "shown by no shot" in w]
