"""Contracts: JSON round trips and validation messages that name the shot and field."""

from __future__ import annotations

import json

import pytest
from factories import make_plan, plan_dict
from pydantic import ValidationError

from mvdirector.schemas import (
    AudioAnalysis,
    AudioSource,
    Beat,
    Camera,
    CameraKeyframe,
    EnergyCurve,
    Face,
    LyricLine,
    LyricOverlay,
    Lyrics,
    ReferenceInfo,
    ReferenceRef,
    RenderReport,
    RenderSettings,
    Section,
    Segment,
    Shot,
    ShotClip,
    ShotPlan,
    ShotReport,
    SongRef,
    Transition,
    Word,
)


def full_analysis() -> AudioAnalysis:
    w = Word(start_s=1.0, end_s=1.4, text="hello", confidence=0.9)
    return AudioAnalysis(
        source=AudioSource(path="a.wav", sha256="1" * 64, duration_s=10.0, sample_rate=44100, channels=2),
        bpm=120.0, beats_per_bar=4,
        beats=[Beat(t_s=0.5 * i, bar=i // 4 + 1, position=i % 4 + 1) for i in range(20)],
        sections=[Section(start_s=0, end_s=4, label="intro"), Section(start_s=4, end_s=10, label="chorus", group=1,
                                                                      energy=0.9)],
        energy=EnergyCurve(fps=10, values=[0.1, 0.5, 1.0]),
        vocal_activity=[Segment(start_s=1.0, end_s=3.0)],
        lyrics=Lyrics(source="asr", language="en", lines=[LyricLine(start_s=1.0, end_s=1.4, text="hello", words=[w])]),
        provenance={"beats": "madmom"},
    )


def test_every_contract_round_trips_through_json():
    kf = CameraKeyframe(t=0.0, position=(0, 0, 0.1), rotation_deg=(1, 2, 3), fov_deg=40)
    cam = Camera(move="push_in", intensity=0.7, keyframes=[kf, kf.model_copy(update={"t": 1.0})])
    shot = Shot(id="chorus1-03", start_s=0, end_s=1, section="chorus", framing="wide", camera=cam, prompt="p",
                lyric=LyricOverlay(line="hi", words=[Word(start_s=0.1, end_s=0.3, text="hi")]),
                transition_in=Transition(kind="crossfade", beats=1), energy=0.8, seed=4)
    plan = ShotPlan(song=SongRef(path="s.wav", sha256="a" * 64, duration_s=1.0),
                    reference=ReferenceRef(path="r.png", sha256="b" * 64), shots=[shot])
    ref = ReferenceInfo(path="r.png", sha256="b" * 64, width=10, height=10,
                        faces=[Face(box=(1, 1, 5, 5), landmarks=[(1.0, 2.0)] * 68, embedding=[0.1] * 128)],
                        primary=0)
    clip = ShotClip(shot_id="a", path="a.mp4", frames=24, fps=24, width=64, height=36, cache_key="k")
    report = RenderReport(video="v.mp4", duration_s=1, song_duration_s=1, frames=24, fps=24, width=64, height=36,
                          shots=[ShotReport(shot_id="a", start_s=0, end_s=1, framing="wide", move="orbit",
                                            cached=False, render_s=0.1)])
    for obj in (full_analysis(), plan, ref, clip, report):
        again = type(obj).model_validate_json(obj.model_dump_json())
        assert again == obj
        assert again.schema_version == 1


def test_contracts_are_frozen_and_forbid_unknown_fields():
    shot = Shot(id="a", start_s=0, end_s=1, section="verse")
    with pytest.raises(ValidationError):
        shot.start_s = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Shot(id="a", start_s=0, end_s=1, section="verse", colour="red")  # type: ignore[call-arg]


def test_valid_plan_builds_and_exposes_frames():
    plan = make_plan()
    assert plan.n_frames == 144
    assert [s.n_frames(24) for s in plan.shots] == [48, 48, 48]
    assert plan.shot("verse1-02").start_s == 2.0


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["shots"][1].update(start_s=2.5), "shot 'verse1-02' starts at 2.500 s but the previous shot ends"),
        (lambda d: d["shots"][2].update(end_s=7.0), "shot 'verse1-03' ends at 7.000 s but the song is 6.000 s"),
        (lambda d: d["shots"][1].update(id="verse1-01"), "shot id 'verse1-01' is used twice"),
        (lambda d: d["shots"][0].update(start_s=0.5), "the first shot must start at 0"),
        (lambda d: d["shots"][1].update(continues_from="nope"), "continues_from 'nope', which is not a shot"),
        (lambda d: d["shots"][1].update(end_s=2.01), "end_s=2.01 is not on the 24 fps frame grid"),
    ],
)
def test_plan_validation_names_shot_and_field(mutate, expected):
    d = plan_dict()
    mutate(d)
    with pytest.raises(ValidationError) as e:
        ShotPlan.model_validate(d)
    assert expected in str(e.value)


def test_continuity_cycle_is_rejected_with_ids():
    d = plan_dict()
    d["shots"][0]["continues_from"] = "verse1-02"
    d["shots"][1]["continues_from"] = "verse1-01"
    with pytest.raises(ValidationError, match="cycle: verse1-0[12] → verse1-0[12] → verse1-0[12]"):
        ShotPlan.model_validate(d)


def test_graph_has_continuity_edges():
    d = plan_dict()
    d["shots"][1]["continues_from"] = "verse1-01"
    g = ShotPlan.model_validate(d).graph()
    assert list(g.edges) == [("verse1-01", "verse1-02")]


def test_last_shot_may_end_on_the_frame_nearest_the_song_end():
    plan = make_plan(bounds=(0.0, 2.0, 4.0, 6.0), duration=6.01)  # 144.24 frames → 144
    assert plan.n_frames == 144


def test_field_rules():
    with pytest.raises(ValidationError, match="width 1281 is odd"):
        RenderSettings(width=1281, height=720)
    with pytest.raises(ValidationError, match="fps 0.5 is outside 1..120"):
        RenderSettings(fps=0.5)
    with pytest.raises(ValidationError, match="'cut' transition has no length"):
        Transition(kind="cut", beats=1)
    with pytest.raises(ValidationError, match="start at t=0 and end at t=1"):
        Camera(keyframes=[CameraKeyframe(t=0.2), CameraKeyframe(t=1.0)])
    with pytest.raises(ValidationError, match="outside 0..1"):
        EnergyCurve(fps=10, values=[0.5, 1.5])
    with pytest.raises(ValidationError, match="strictly increasing"):
        full_analysis().model_copy(update={}).model_validate(
            {**json.loads(full_analysis().model_dump_json()),
             "beats": [{"t_s": 1, "bar": 1, "position": 1}, {"t_s": 1, "bar": 1, "position": 2}]})


def test_analysis_helpers():
    a = full_analysis()
    assert a.downbeats[:2] == [0.0, 2.0]
    assert a.energy.at(0.1) == 0.5
    assert ReferenceInfo(path="r", sha256="x", width=1, height=1).primary_face is None


def test_schema_export_is_json_schema():
    s = ShotPlan.model_json_schema()
    assert s["type"] == "object"
    assert {"song", "shots"} <= set(s["required"])
