"""One caption line at a time, transitions included: two shots with different lines joined by a
crossfade never show both lines on one frame of the assembled video (checked on its pixels)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mvdirector.media.video import read_frames
from mvdirector.schemas import (
    AudioAnalysis,
    AudioSource,
    Beat,
    EnergyCurve,
    LyricOverlay,
    RenderSettings,
    Section,
    Shot,
    ShotClip,
    ShotPlan,
    SongRef,
    Transition,
    Word,
)
from stages.assemble import AssembleConfig, assemble
from stages.assemble.timeline import transition_windows
from stages.procedural import ProceduralRenderer
from stages.reference import inspect_reference
from stages.render import ShotJob
from stages.render.caption_fade import caption_opacity
from stages.render.captions import CaptionRenderer

GREY = 128
SIZE = (320, 180)
LINES = ("la la la", "we are the fire in the night")


def _lyric(line: str, duration: float) -> LyricOverlay:
    words = line.split()
    step = duration / len(words)
    return LyricOverlay(line=line, words=[Word(start_s=i * step, end_s=(i + 0.8) * step, text=w)
                                          for i, w in enumerate(words)])


def _plan(kind: str = "crossfade", beats: float = 1.0, lines=LINES) -> ShotPlan:
    shots = [
        Shot(id="verse1-01", start_s=0.0, end_s=2.0, section="verse", framing="wide", lyric=_lyric(lines[0], 2.0)),
        Shot(id="verse1-02", start_s=2.0, end_s=4.0, section="verse", framing="wide", lyric=_lyric(lines[1], 2.0),
             transition_in=Transition(kind=kind, beats=beats)),
    ]
    return ShotPlan(song=SongRef(path="s.wav", sha256="0" * 64, duration_s=4.0, bpm=120.0),
                    render=RenderSettings(width=SIZE[0], height=SIZE[1], fps=24.0), shots=shots)


def _templates(plan: ShotPlan) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per line: (text mask, panel mask) of its caption drawn alone on the grey picture."""
    out = []
    for shot in plan.shots:
        drawn = CaptionRenderer(shot.lyric, *SIZE).apply(np.full((SIZE[1], SIZE[0], 3), GREY, np.uint8), 0.0)
        luma = drawn.astype(int).mean(axis=2)
        out.append((luma > GREY + 25, luma != GREY))
    return out


def _visible(frame: np.ndarray, text: np.ndarray, other_text: np.ndarray, both_boxes: np.ndarray) -> float:
    """How much brighter a line's own glyph pixels are than the bare panel around them (0 = not there),
    looking only where both captions' panels lie."""
    luma = frame.astype(int).mean(axis=2)
    own = text & ~other_text & both_boxes
    bare = both_boxes & ~text & ~other_text
    return float(luma[own].mean() - luma[bare].mean())


@pytest.fixture(scope="module")
def grey_reference(tmp_path_factory):
    p = tmp_path_factory.mktemp("grey") / "grey.png"
    Image.fromarray(np.full((300, 400, 3), GREY, np.uint8)).save(p)
    return p, inspect_reference(p)


def _render(plan: ShotPlan, ref, tmp) -> list[ShotClip]:
    path, info = ref
    analysis = AudioAnalysis(
        source=AudioSource(path="s.wav", sha256="0" * 64, duration_s=4.0, sample_rate=16000), bpm=120,
        beats_per_bar=4, beats=[Beat(t_s=0.5 * i, bar=i // 4 + 1, position=i % 4 + 1) for i in range(8)],
        sections=[Section(start_s=0, end_s=4.0, label="verse")], energy=EnergyCurve(fps=10, values=[0.5] * 40))
    r = ProceduralRenderer(grain=0.0, vignette=0.0, beat_zoom=0.0, downbeat_lift=0.0, rig=False, measure=False)
    clips = []
    for shot in plan.shots:
        out = tmp / f"{shot.id}.mp4"
        r.render_shot(ShotJob(plan, shot, analysis, info, path, tmp / "none.wav"), out)
        n = shot.n_frames(24.0)
        clips.append(ShotClip(shot_id=shot.id, path=str(out), frames=n, fps=24.0, width=SIZE[0], height=SIZE[1],
                              cache_key="k"))
    return clips


def test_the_caption_hand_over_is_planned_by_construction():
    plan = _plan()
    (w,) = transition_windows(plan)
    a, b = caption_opacity(plan, 0), caption_opacity(plan, 1)
    assert a[-1] == 0.0 and b[0] == 0.0  # the frames held under the other half carry no caption
    assert a[: len(a) - w.before].min() == 1.0 and b[w.after:].min() == 1.0  # full strength outside the window
    assert np.all(np.diff(a[-w.before:]) < 0) and np.all(np.diff(b[: w.after + 1]) > 0)  # fades, no jumps
    same = _plan(lines=("one line", "one line"))
    assert caption_opacity(same, 0).min() == 1.0  # the same line is held across the cut
    assert caption_opacity(_plan(kind="flash"), 1).min() == 1.0  # flashes never show two shots at once


def test_no_two_caption_lines_on_one_frame_of_a_crossfade(grey_reference, tmp_path):
    plan = _plan()
    clips = _render(plan, grey_reference, tmp_path)
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros(4 * 16000, np.float32), 16000)
    out = tmp_path / "video.mp4"
    assemble(plan, clips, song, out, AssembleConfig(consistency=False))
    (w,) = transition_windows(plan)
    (text_a, box_a), (text_b, box_b) = _templates(plan)
    rows, cols = np.nonzero(box_a)
    panels = np.zeros_like(box_a)
    panels[rows.min() + 2:rows.max() - 1, cols.min() + 2:cols.max() - 1] = True  # inside the narrower panel
    panels &= box_b
    seen = []
    for k, frame in enumerate(read_frames(out, start=w.start - 3, count=w.length + 6)):
        va = _visible(frame, text_a, text_b, panels)
        vb = _visible(frame, text_b, text_a, panels)
        seen.append((w.start - 3 + k, round(va, 1), round(vb, 1)))
        assert min(va, vb) < 12, f"frame {w.start - 3 + k} shows both lines ({va:.0f}, {vb:.0f}): {seen}"
    # Outside the window each shot's own line is clearly there.
    assert seen[0][1] > 40 and seen[-1][2] > 40, seen
