"""One plan, several formats: the singer stays in every 9:16 shot (the renderer's own framing of eyes, nose
and mouth, through each shot's camera move), eyes on the upper third in close-ups, and captions inside
each format's safe area; the final mux carries chapters that match the sections and the subtitle track."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from factories import make_plan, synthetic_analysis
from PIL import Image
from skimage import data

from mvdirector.deliver import format_plan
from mvdirector.request import Delivery
from mvdirector.rules import ASPECTS, subtitle_language
from mvdirector.schemas import LyricOverlay, Section, Word
from stages.assemble import AssembleConfig, assemble
from stages.direct import DirectConfig, direct
from stages.procedural import ProceduralRenderer
from stages.procedural.projection import apply_homography
from stages.publish import chapters, lyric_cues, render, to_ffmetadata
from stages.reference import inspect_reference
from stages.render import ShotJob
from stages.render.captions import SAFE, SAFE_BOTTOM_VERTICAL, CaptionRenderer

FEATURES = [36, 39, 42, 45, 30, 48, 54, 57]  # eye corners, nose tip, mouth corners, lower lip


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    p = tmp_path_factory.mktemp("fmt") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(p)
    return p, inspect_reference(p)


@pytest.mark.parametrize("aspect", ["9:16", "1:1"])
def test_every_shot_of_a_whole_plan_keeps_the_face_in_frame(ref, aspect):
    path, info = ref
    analysis = synthetic_analysis()
    plan = direct(analysis, info, DirectConfig(width=160, height=90, fps=12.0))
    w, h = {"9:16": (90, 160), "1:1": (96, 96)}[aspect]
    fplan = format_plan(plan, Delivery(ASPECTS[aspect], w, h, Path("v.mp4")))
    assert fplan.shots == plan.shots and (fplan.render.width, fplan.render.height) == (w, h)
    renderer = ProceduralRenderer(parallax=False, rig=False, grain=0.0)
    pts = np.asarray(info.primary_face.landmarks)[FEATURES]
    eyes = np.asarray(info.primary_face.landmarks)[36:48].mean(axis=0, keepdims=True)
    framings = set()
    for shot in fplan.shots:
        frames = renderer.frames(ShotJob(fplan, shot, analysis, info, path, path))
        assert frames.width == w and frames.height == h
        n = len(frames)
        for i in sorted({0, n // 2, n - 1}):
            xy = apply_homography(frames.face_homography(i), pts)
            assert (xy[:, 0] > 0).all() and (xy[:, 0] < w).all(), (shot.id, shot.framing, shot.camera.move, i)
            assert (xy[:, 1] > 0).all() and (xy[:, 1] < h).all(), (shot.id, shot.framing, shot.camera.move, i)
        if shot.framing == "close_up" and shot.camera.move == "static":
            ey = apply_homography(frames.face_homography(0), eyes)[0, 1]
            assert abs(ey / h - 1 / 3) < 0.06, "eye line on the upper third"
        framings.add(shot.framing)
    assert len(fplan.shots) > 20 and {"close_up", "medium", "wide"} <= framings


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (1080, 1080), (1080, 1350)])
def test_captions_sit_in_each_formats_safe_area(size):
    w, h = size
    line = "and we never look back again tonight under the burning city lights"
    cap = CaptionRenderer(LyricOverlay(line=line, words=[Word(start_s=0.1, end_s=0.3, text="and")]), w, h)
    _, alpha, (x0, y0) = cap._draw(cap.state(0.2))
    bh, bw = alpha.shape[:2]
    bottom = SAFE_BOTTOM_VERTICAL if h > w else SAFE
    assert x0 >= SAFE * w - 1 and x0 + bw <= (1 - SAFE) * w + 1
    assert y0 >= SAFE * h and y0 + bh <= (1 - bottom) * h + 1
    assert len(cap.lines) <= 2


def _clips(plan, folder):
    from mvdirector.media.video import VideoWriter
    from mvdirector.schemas import ShotClip

    r = plan.render
    out = []
    for i, shot in enumerate(plan.shots):
        p = folder / f"{shot.id}.mp4"
        with VideoWriter(p, r.width, r.height, r.fps) as wr:
            for _ in range(shot.n_frames(r.fps)):
                wr.write(np.full((r.height, r.width, 3), 60 + 40 * i, np.uint8))
        out.append(ShotClip(shot_id=shot.id, path=str(p), frames=shot.n_frames(r.fps), fps=r.fps, width=r.width,
                            height=r.height, cache_key=f"k{i}"))
    return out


@pytest.mark.parametrize(("suffix", "codec", "language", "default"),
                         [(".mp4", "mov_text", "deu", True), (".mkv", "srt", "ger", False)])  # soft / both
def test_the_final_mux_carries_chapters_matching_the_sections_and_the_track(tmp_path, suffix, codec, language,
                                                                             default):
    fps = 12.0
    plan = make_plan(bounds=(0.0, 2.0, 4.0, 6.0), fps=fps, size=(64, 36), song="song.wav")
    lyric = LyricOverlay(line="hallo welt", words=[Word(start_s=0.2, end_s=0.5, text="hallo"),
                                                   Word(start_s=0.6, end_s=1.0, text="welt")])
    plan = plan.model_copy(update={"shots": [plan.shots[0], plan.shots[1].model_copy(update={"lyric": lyric}),
                                             plan.shots[2]]})
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros(int(6.0 * 22050), np.float32) + 0.01, 22050)
    analysis = synthetic_analysis().model_copy(update={"sections": [
        Section(start_s=0.0, end_s=2.04, label="intro"), Section(start_s=2.04, end_s=4.0, label="chorus"),
        Section(start_s=4.0, end_s=6.0, label="chorus")]})
    found = chapters(analysis, plan)
    (tmp_path / "chapters.txt").write_text(to_ffmetadata(found))
    (tmp_path / "track.srt").write_text(render(".srt", lyric_cues(plan)))
    out = tmp_path / f"video{suffix}"
    cfg = AssembleConfig(consistency=False, chapters=str(tmp_path / "chapters.txt"),
                         subtitles=str(tmp_path / "track.srt"), subtitle_language=subtitle_language("de", suffix),
                         subtitle_default=default)
    report = assemble(plan, _clips(plan, tmp_path), song, out, cfg)
    assert report.frames == 72 and report.copied_shots == 3, "chapters and subtitles cost no re-encode"
    assert not report.warnings
    with av.open(str(out)) as c:
        got = [(float(ch["start"] * ch["time_base"]), float(ch["end"] * ch["time_base"]), ch["metadata"]["title"])
               for ch in c.chapters()]
        (sub,) = c.streams.subtitles
        assert sub.codec_context.name == codec and sub.metadata["language"] == language
        assert bool(sub.disposition & av.stream.Disposition.default) == default  # under burned lines: off
        texts = [p for p in c.demux(sub) if p.size]
        assert len(texts) >= 1
    assert [t for _, _, t in got] == ["Intro", "Chorus 1", "Chorus 2"]
    sections = analysis.sections
    for (a, b, _), s in zip(got, sections, strict=True):
        assert abs(a - s.start_s) <= 1 / fps and abs(b - min(s.end_s, 6.0)) <= 1 / fps
