"""OpenTimelineIO export: frame-exact clips, transitions, song track and markers."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from factories import synthetic_analysis

from mvdirector.schemas import ShotPlan
from stages.direct import DirectConfig, direct
from stages.otio_export import write_otio


@pytest.fixture(scope="module")
def made() -> tuple:
    a = synthetic_analysis(bpm=97.0, structure=(("intro", 4), ("verse", 4), ("chorus", 4), ("outro", 4)), seed=2)
    plan = direct(a, None, DirectConfig(style="dreamy", fps=25.0, seed=4))
    return a, plan


def test_clips_tile_the_song_frame_exactly(made: tuple, tmp_path: Path) -> None:
    a, plan = made
    out = write_otio(plan, tmp_path / "edit.otio", analysis=a)
    tl = otio.adapters.read_from_file(str(out))
    video, audio = tl.tracks[0], tl.tracks[1]
    clips = [c for c in video if isinstance(c, otio.schema.Clip)]
    assert [c.name for c in clips] == [s.id for s in plan.shots]
    for c, s in zip(clips, plan.shots, strict=True):
        a0, b0 = s.frame_range(25.0)
        assert c.source_range.start_time.value == a0 and c.source_range.duration.value == b0 - a0
        assert c.metadata["mvdirector"]["framing"] == s.framing
    assert video.duration().value == plan.n_frames
    assert audio.duration().value == plan.n_frames and audio.kind == otio.schema.TrackKind.Audio
    transitions = [t for t in video if isinstance(t, otio.schema.Transition)]
    assert len(transitions) == sum(s.transition_in.kind != "cut" for s in plan.shots) > 0
    kinds = [m.metadata["kind"] for m in tl.tracks.markers]
    assert kinds.count("section") == len(a.sections) and kinds.count("lyric") == len(a.lyrics.lines)


def test_markers_from_the_plan_and_video_reference(made: tuple, tmp_path: Path) -> None:
    _, plan = made
    out = write_otio(plan, tmp_path / "e.otio", video_path=tmp_path / "video.mp4")
    tl = otio.adapters.read_from_file(str(out))
    sections = [m.name for m in tl.tracks.markers if m.metadata["kind"] == "section"]
    assert sections == ["intro", "verse", "chorus", "outro"]
    clip = next(iter(tl.tracks[0].find_clips()))
    assert clip.media_reference.target_url.endswith("video.mp4")
    assert ShotPlan.model_validate(plan.model_dump()) == plan
