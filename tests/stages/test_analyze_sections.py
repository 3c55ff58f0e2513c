"""Song structure on the form fixtures (tests/fixtures/form_songs), scored with mir_eval.

Sections are computed from the audio with the fixtures' true beats, so these tests judge the
structure analysis alone (the beat tracker has its own tests); one test runs the whole stage.
"""

from __future__ import annotations

import json
from pathlib import Path

import mir_eval
import numpy as np
import pytest

from mvdirector.schemas import Section, Segment
from stages.analyze import AnalyzeConfig, analyze
from stages.analyze import energy as energy_mod
from stages.analyze import vocals as vocals_mod
from stages.analyze.section_labels import SegmentInfo, label_segments, part_letter, voiced
from stages.analyze.sections import find_sections
from stages.analyze.stage import SR_FEATURES, decode

FORMS = Path(__file__).resolve().parents[1] / "fixtures" / "form_songs"
# boundary hit rate (F at ±3 s) each song must reach: a little under what is measured (see README)
HIT_RATE_3S = {
    "through_composed_piano": 0.9,
    "aaba_104": 0.8,
    "verse_pre_chorus_key_up_112": 0.7,
    "intro_outro_96": 0.9,
    "waltz_verse_chorus_84": 0.9,
}


def _sections(name: str) -> tuple[list[Section], dict]:
    truth = json.loads((FORMS / f"{name}.truth.json").read_text())
    y, source = decode(FORMS / f"{name}.ogg")
    loud = energy_mod.loudness(y, SR_FEATURES)
    score, _, fps = vocals_mod.vocal_score(y, SR_FEATURES)
    sections = find_sections(
        y,
        SR_FEATURES,
        truth["downbeats"],
        source.duration_s,
        loud,
        energy_mod.energy_curve(loud, 10.0),
        10.0,
        vocals_mod.segments_from_score(score, fps),
        beats=[b["t_s"] for b in truth["beats"]],
        meter=truth["beats_per_bar"],
    )
    return sections, truth


@pytest.fixture(scope="module")
def forms() -> dict[str, tuple[list[Section], dict]]:
    return {name: _sections(name) for name in HIT_RATE_3S}


def _label_at(sections: list, t: float) -> tuple[str, int]:
    s = next(s for s in reversed(sections) if (s["start_s"] if isinstance(s, dict) else s.start_s) <= t)
    return (s["label"], s["group"]) if isinstance(s, dict) else (s.label, s.group)


def _agreement(sections: list[Section], truth: dict) -> float:
    grid = np.arange(0.0, truth["duration_s"], 0.25)
    return float(np.mean([_label_at(sections, t)[0] == _label_at(truth["sections"], t)[0] for t in grid]))


@pytest.mark.parametrize("name", list(HIT_RATE_3S))
def test_boundaries_hit_the_form(forms, name: str) -> None:
    sections, truth = forms[name]
    dur = truth["duration_s"]
    ref = np.array([[s["start_s"], s["end_s"]] for s in truth["sections"]])
    est = np.array([[s.start_s, s.end_s] for s in sections])
    ref[-1, 1] = est[-1, 1] = dur
    _, _, f3 = mir_eval.segment.detection(ref, est, window=3.0, trim=True)
    assert f3 >= HIT_RATE_3S[name]
    assert sections[0].start_s == 0.0 and abs(sections[-1].end_s - dur) < 1e-3
    assert all(a.end_s == b.start_s for a, b in zip(sections, sections[1:], strict=False))


@pytest.mark.parametrize("name", ["aaba_104", "verse_pre_chorus_key_up_112", "intro_outro_96", "waltz_verse_chorus_84"])
def test_song_labels_follow_the_form(forms, name: str) -> None:
    sections, truth = forms[name]
    assert _agreement(sections, truth) >= 0.75
    assert "part" not in {s.label for s in sections}


def test_last_chorus_a_tone_up_is_still_the_chorus(forms) -> None:
    sections, truth = forms["verse_pre_chorus_key_up_112"]
    key_up = next(s for s in truth["sections"][::-1] if s["label"] == "chorus")  # the transposed one
    first = next(s for s in truth["sections"] if s["label"] == "chorus")
    mid = lambda s: 0.5 * (s["start_s"] + s["end_s"])  # noqa: E731
    assert _label_at(sections, mid(key_up)) == _label_at(sections, mid(first))
    assert _label_at(sections, mid(first))[0] == "chorus"
    # a verse and a pre-chorus were found too, each sharing a group with its repeat
    assert {"verse", "pre_chorus", "chorus"} <= {s.label for s in sections}


def test_intro_and_outro_are_found(forms) -> None:
    sections, truth = forms["intro_outro_96"]
    intro_end, outro_start = truth["sections"][1]["start_s"], truth["sections"][-1]["start_s"]
    assert sections[0].label == "intro" and abs(sections[0].end_s - intro_end) < 2.5
    assert sections[-1].label == "outro" and abs(sections[-1].start_s - outro_start) < 2.5


def test_aaba_bridge_between_verses(forms) -> None:
    sections, _ = forms["aaba_104"]
    labels = [s.label for s in sections]
    assert "bridge" in labels and "chorus" not in labels
    verses = {s.group for s in sections if s.label == "verse"}
    assert len(verses) == 1  # the A sections are one group


def test_through_composed_piece_gets_few_long_parts(forms) -> None:
    sections, truth = forms["through_composed_piano"]
    assert {s.label for s in sections} == {"part"}
    assert 3 <= len(sections) <= 8
    assert min(s.end_s - s.start_s for s in sections) > truth["duration_s"] / 12 - 1.0
    assert sections[0].group == sections[-1].group != sections[1].group  # A returns at the end


def test_waltz_is_not_all_chorus(forms) -> None:
    sections, _ = forms["waltz_verse_chorus_84"]
    labels = [s.label for s in sections]
    assert labels.count("chorus") >= 1 and labels.count("verse") >= 1
    assert sum(s.end_s - s.start_s for s in sections if s.label == "chorus") < 0.6 * sections[-1].end_s


def test_labels_in_part_mode_and_the_part_letter() -> None:
    segs = [SegmentInfo(0, 4, 0.0, 8.0, 0, 0.5, 0.0), SegmentInfo(4, 8, 8.0, 16.0, 1, 0.7, 0.0)]
    assert label_segments(segs, part_mode=True) == ["part", "part"]
    assert [part_letter(g) for g in (0, 1, 25, 26)] == ["A", "B", "Z", "A2"]


def test_vocals_without_recognised_words_are_no_voice() -> None:
    vocals = [Segment(start_s=0.0, end_s=30.0)]
    assert voiced(vocals, None) == vocals  # no ASR ran: trust the detector
    assert voiced(vocals, 0) == []  # Whisper heard nothing in 30 s of "singing"
    assert voiced(vocals, 40) == vocals


def test_whole_stage_on_a_form_song() -> None:
    a = analyze(FORMS / "intro_outro_96.ogg", AnalyzeConfig(asr="none"))
    labels = [s.label for s in a.sections]
    assert labels[0] == "intro" and labels[-1] == "outro" and "chorus" in labels and "verse" in labels
    assert "sections" in a.provenance and "transposition" in a.provenance["sections"]
