"""The face rig measured on rendered video with dlib's 68 landmarks: the mouth opens on sung words and
rests in gaps (fixture songs with known word times), closed and open portraits both open and close,
blinks close the eyes, the singer stays the singer, and memory does not grow with the shot."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from mvdirector.media.video import read_frames
from mvdirector.schemas import (
    AudioAnalysis,
    AudioSource,
    Beat,
    EnergyCurve,
    LyricLine,
    Lyrics,
    RenderSettings,
    Section,
    Shot,
    ShotPlan,
    SongRef,
)
from stages.procedural import ProceduralRenderer
from stages.reference import FaceAnalyzer, inspect_reference
from stages.render import ShotJob

SONGS = Path(__file__).resolve().parents[1] / "fixtures" / "songs"
SIZE, FPS = (640, 360), 12.0
GRACE_HOPPER = "sample_data/grace_hopper.jpg"  # public domain (US Navy), shipped with matplotlib


@pytest.fixture(scope="module")
def portraits(tmp_path_factory):
    """An open-mouth smile (the astronaut) and a closed mouth (Grace Hopper), inspected."""
    import matplotlib
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("portraits")
    astro = folder / "astronaut.png"
    Image.fromarray(data.astronaut()).save(astro)
    hopper = Path(matplotlib.get_data_path()) / GRACE_HOPPER
    return {"open": (astro, inspect_reference(astro)), "closed": (hopper, inspect_reference(hopper))}


def _analysis(name: str) -> tuple[AudioAnalysis, list[tuple[float, float]]]:
    truth = json.loads((SONGS / f"{name}.truth.json").read_text())
    dur = truth["duration_s"]
    lines = [LyricLine(**{k: v for k, v in line.items()}) for line in truth["lines"]]
    words = [(w.start_s, w.end_s) for line in lines for w in line.words]
    beats = [Beat(**b) for b in truth["beats"]]
    return AudioAnalysis(
        source=AudioSource(path=f"{name}.ogg", sha256="0" * 64, duration_s=dur, sample_rate=22050),
        bpm=float(np.median(truth["bpm"])), beats_per_bar=truth["beats_per_bar"], beats=beats,
        sections=[Section(start_s=0, end_s=dur, label="verse")],
        energy=EnergyCurve(fps=10, values=[0.6] * int(dur * 10)),
        lyrics=Lyrics(source="file", lines=lines)), words


def _job(portrait, song: str, start: float, end: float, framing: str = "close_up") -> tuple[ShotJob, list]:
    path, info = portrait
    analysis, words = _analysis(song)
    dur = analysis.source.duration_s
    shots = [Shot(id="a", start_s=0.0, end_s=start, section="verse"),
             Shot(id="sung", start_s=start, end_s=end, section="verse", framing=framing, seed=2),
             Shot(id="b", start_s=end, end_s=round(dur * FPS) / FPS, section="verse")]
    plan = ShotPlan(song=SongRef(path="s.ogg", sha256="0" * 64, duration_s=round(dur * FPS) / FPS),
                    render=RenderSettings(width=SIZE[0], height=SIZE[1], fps=FPS), shots=shots)
    return ShotJob(plan, shots[1], analysis, info, path, SONGS / f"{song}.ogg"), words


def _landmarks(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    x0, y0 = box.min(axis=0)
    x1, y1 = box.max(axis=0)
    return FaceAnalyzer.shared().landmarks(frame, [(int(x0), int(y0), int(x1), int(y1))])[0]


def _aperture(lm: np.ndarray) -> float:
    """Inner-lip opening over mouth width."""
    gap = np.mean([np.linalg.norm(lm[a] - lm[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
    return float(gap / np.linalg.norm(lm[54] - lm[48]))


def _eye_opening(lm: np.ndarray) -> float:
    """Eye aspect ratio averaged over both eyes."""
    def ear(e):
        return (np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])) / (2 * np.linalg.norm(e[0] - e[3]))
    return float((ear(lm[36:42]) + ear(lm[42:48])) / 2)


@pytest.mark.parametrize(("song", "start", "end", "kind"), [
    ("pop_120_4-4", 6.0, 10.0, "open"),
    ("waltz_90_3-4", 4.0, 8.5, "open"),
    ("ballad_72_pickup_4-4", 6.5, 10.5, "closed"),
])
def test_sung_words_open_the_mouth_wider_than_gaps(portraits, tmp_path, song, start, end, kind):
    job, words = _job(portraits[kind], song, start, end)
    renderer = ProceduralRenderer(grain=0.0)
    out = tmp_path / "shot.mp4"
    metrics = renderer.render_shot(job, out)
    frames = renderer.frames(job)
    sung, gaps, ident = [], [], []
    ref = np.asarray(job.reference.primary_face.embedding)
    for i, frame in enumerate(read_frames(out)):
        t = start + i / FPS
        lm = _landmarks(frame, frames.face_box_out(i))
        if any(a + 0.06 <= t <= b - 0.02 for a, b in words):
            sung.append(_aperture(lm))
        elif all(t < a - 0.2 or t > b + 0.2 for a, b in words):
            gaps.append(_aperture(lm))
        if i % 16 == 5:
            x0, y0 = frames.face_box_out(i).min(axis=0)
            x1, y1 = frames.face_box_out(i).max(axis=0)
            emb = FaceAnalyzer.shared().embeddings(frame, [(int(x0), int(y0), int(x1), int(y1))])[0]
            ident.append(float(np.linalg.norm(emb - ref)))
    assert len(sung) >= 8 and len(gaps) >= 4
    sep = np.mean(sung) - np.mean(gaps)
    print(f"{song} ({kind} mouth): aperture sung {np.mean(sung):.3f} gaps {np.mean(gaps):.3f} "
          f"separation {sep:.3f}; identity median {statistics.median(ident):.3f}")
    assert sep > 0.06, f"sung {np.mean(sung):.3f} vs gaps {np.mean(gaps):.3f}"
    # Identity holds (dlib distance; 0.6 is dlib's same-person bound) — measured here and by the renderer.
    assert statistics.median(ident) <= 0.35
    assert metrics["identity_frames"] >= 1 and metrics["identity_distance"] <= 0.35


@pytest.mark.parametrize("kind", ["open", "closed"])
def test_closed_and_open_portraits_both_open_and_close(portraits, kind):
    job, _ = _job(portraits[kind], "pop_120_4-4", 6.0, 7.0, framing="extreme_close_up")
    frames = ProceduralRenderer(grain=0.0, captions=False).frames(job)
    rig = frames.rig
    for k in rig.states:
        rig.states[k] = np.zeros(rig.n)  # no head motion, no blink: the mouth alone
    rest = rig.setup.geometry.rest_aperture / rig.setup.geometry.width

    def measured(aperture: float) -> float:
        rig.aperture = np.full(rig.n, aperture)
        rig.plan()
        return _aperture(_landmarks(frames.frame(0), frames.face_box_out(0)))

    photo, shut, wide = measured(rest), measured(0.0), measured(0.4)
    print(f"{kind} photo: rest {photo:.3f}, closed {shut:.3f}, open {wide:.3f}")
    assert wide > photo + 0.12  # opens
    assert shut < 0.05 and shut <= photo + 0.01  # closes (an open smile closes, a closed mouth stays closed)
    if kind == "open":
        assert photo > 0.08 and shut < photo - 0.05


def test_a_blink_closes_the_eyes(portraits):
    job, _ = _job(portraits["open"], "pop_120_4-4", 6.0, 7.0, framing="extreme_close_up")
    frames = ProceduralRenderer(grain=0.0, captions=False).frames(job)
    rig = frames.rig
    for k in rig.states:
        rig.states[k] = np.zeros(rig.n)
    rig.plan()
    open_ = _eye_opening(_landmarks(frames.frame(0), frames.face_box_out(0)))
    rig.states["blink"] = np.ones(rig.n)
    rig.plan()
    shut = _eye_opening(_landmarks(frames.frame(0), frames.face_box_out(0)))
    assert shut < 0.7 * open_, (open_, shut)


def test_memory_stays_flat_with_shot_length(portraits):
    import tracemalloc

    peaks = []
    for end in (7.0, 14.0):
        job, _ = _job(portraits["open"], "pop_120_4-4", 6.0, end)
        frames = ProceduralRenderer().frames(job)
        frames.frame_yuv(0)
        tracemalloc.start()
        for i in range(len(frames)):
            frames.frame_yuv(i)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.25 * peaks[0] + 2**20, peaks  # 8x the frames, (almost) the same memory
