"""The assembler takes identity and colour from what the renderer measured (no decoding and no face
search for those shots) and puts a strip of mouth crops over a sung line into report.html."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from skimage import data

from mvdirector.report import write_report_html
from mvdirector.schemas import (
    AudioAnalysis,
    AudioSource,
    Beat,
    EnergyCurve,
    LyricLine,
    LyricOverlay,
    Lyrics,
    RenderSettings,
    Section,
    Shot,
    ShotClip,
    ShotPlan,
    SongRef,
    Word,
)
from stages.assemble import AssembleConfig, assemble, consistency
from stages.assemble.measured import STRIP_NAME, from_metrics
from stages.procedural import ProceduralRenderer
from stages.reference import inspect_reference
from stages.render import ShotJob


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("measured")
    ref_path = tmp / "astronaut.png"
    Image.fromarray(data.astronaut()).save(ref_path)
    ref = inspect_reference(ref_path)
    words = [Word(start_s=0.2 + 0.4 * i, end_s=0.5 + 0.4 * i, text=w) for i, w in enumerate("we are the fire".split())]
    lines = [LyricLine(start_s=0.2, end_s=1.7, text="we are the fire", words=words)]
    analysis = AudioAnalysis(
        source=AudioSource(path="s.wav", sha256="0" * 64, duration_s=4.0, sample_rate=16000), bpm=120,
        beats_per_bar=4, beats=[Beat(t_s=0.5 * i, bar=i // 4 + 1, position=i % 4 + 1) for i in range(8)],
        sections=[Section(start_s=0, end_s=4.0, label="verse")], energy=EnergyCurve(fps=10, values=[0.5] * 40),
        lyrics=Lyrics(source="file", lines=lines))
    shots = [Shot(id="verse1-01", start_s=0.0, end_s=2.0, section="verse", framing="close_up",
                  lyric=LyricOverlay(line="we are the fire", words=words)),
             Shot(id="verse1-02", start_s=2.0, end_s=4.0, section="verse", framing="wide")]
    plan = ShotPlan(song=SongRef(path="s.wav", sha256="0" * 64, duration_s=4.0),
                    render=RenderSettings(width=320, height=180, fps=24.0), shots=shots)
    song = tmp / "song.wav"
    sf.write(song, np.zeros(4 * 16000, np.float32), 16000)
    clips = []
    r = ProceduralRenderer()
    for shot in shots:
        out = tmp / f"{shot.id}.mp4"
        m = r.render_shot(ShotJob(plan, shot, analysis, ref, ref_path, song), out)
        clips.append(ShotClip(shot_id=shot.id, path=str(out), frames=48, fps=24.0, width=320, height=180,
                              cache_key="k", metrics=m))
    return tmp, plan, clips, song, ref


def test_renderer_metrics_replace_the_assemblers_own_measuring(rendered, monkeypatch):
    tmp, plan, clips, song, ref = rendered
    stats, ident = from_metrics(clips[0].metrics)
    assert stats is not None and ident is not None and ident.frames_sampled == 1
    assert from_metrics(clips[1].metrics)[1].frames_sampled == 0  # a wide shot: identity is not asked

    def no_search(*a, **k):
        raise AssertionError("the assembler searched for faces although the renderer measured them")

    monkeypatch.setattr(consistency, "shot_identity", no_search)
    report = assemble(plan, clips, song, tmp / "video.mp4", AssembleConfig(thumbnails_dir=str(tmp / "video.thumbs")),
                      reference=ref)
    first = report.shots[0]
    assert first.identity_distance == pytest.approx(clips[0].metrics["identity_distance"])
    assert first.identity_distance <= 0.35 and first.lab_mean is not None and first.thumbnail
    assert report.mouth_strip == f"video.thumbs/{STRIP_NAME}" and report.mouth_strip_line
    html = (write_report_html(report, tmp / "report.html", tmp / "video.thumbs")).read_text()
    assert "mouth strip" in html and (tmp / "video.thumbs" / STRIP_NAME).is_file()


def test_clips_without_metrics_are_still_measured_from_the_video(rendered):
    tmp, plan, clips, song, ref = rendered
    bare = [c.model_copy(update={"metrics": {}}) for c in clips]
    report = assemble(plan, bare, song, tmp / "bare.mp4", AssembleConfig(thumbnails_dir=str(tmp / "bare")),
                      reference=ref)
    assert report.shots[0].identity_distance is not None and report.shots[0].identity_distance < 0.6
