"""The procedural renderer end to end: exact frame counts, determinism, and camera motion that
matches the plan for every named move (measured from the rendered pixels)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from factories import flat_analysis
from PIL import Image
from skimage import data

from mvdirector.errors import InputError, PlanError
from mvdirector.schemas import (
    CAMERA_MOVES,
    AudioAnalysis,
    Camera,
    EnergyCurve,
    LyricOverlay,
    RenderSettings,
    Shot,
    ShotPlan,
    SongRef,
    Word,
)
from stages.procedural import ProceduralRenderer
from stages.reference import inspect_reference
from stages.render import ShotJob, ShotRenderer, make_renderer

QUIET = {"grain": 0.0, "vignette": 0.0, "beat_zoom": 0.0, "downbeat_lift": 0.0, "captions": False, "rig": False}


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    p = tmp_path_factory.mktemp("proc") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(p)
    return p, inspect_reference(p)


@pytest.fixture(scope="module")
def quiet():
    return ProceduralRenderer(**QUIET)


def analysis(duration: float, bpm: float = 120.0, energy: float = 0.8) -> AudioAnalysis:
    return flat_analysis(duration, bpm=bpm, energy=energy)


def make_job(ref, framing="medium", move="static", intensity=0.5, direction=1, size=(256, 144), duration=0.5,
             seed=0, lyric=None, fps=24.0, style="cinematic", options=None, tmp=None) -> ShotJob:
    path, info = ref
    shot = Shot(id="chorus1-01", start_s=0.0, end_s=duration, section="chorus", framing=framing,
                camera=Camera(move=move, intensity=intensity, direction=direction), seed=seed, energy=0.8,
                lyric=lyric, renderer_options=options or {})
    plan = ShotPlan(song=SongRef(path="song.wav", sha256="0" * 64, duration_s=duration),
                    render=RenderSettings(width=size[0], height=size[1], fps=fps, style=style), shots=[shot])
    return ShotJob(plan=plan, shot=shot, analysis=analysis(duration), reference=info, reference_image=path,
                   song_path=path.parent / "missing.wav")


# ------------------------------------------------------------------------------ protocol and output


def test_registry_builds_a_shot_renderer():
    r = make_renderer("procedural", grain=0.5)
    assert isinstance(r, ShotRenderer)
    assert r.name == "procedural" and r.VERSION
    fp = r.fingerprint()
    assert fp["grain"] == "0.5" and fp["version"] == r.VERSION
    assert fp != make_renderer("procedural").fingerprint()


def test_render_shot_writes_exactly_the_shots_frames(ref, tmp_path):
    from mvdirector.media.video import probe_video

    lyric = LyricOverlay(line="fly me to the moon", words=[
        Word(start_s=0.1 * i, end_s=0.1 * i + 0.1, text=t) for i, t in enumerate("fly me to the moon".split())])
    job = make_job(ref, framing="close_up", move="push_in", size=(160, 90), duration=1.0, fps=25.0, lyric=lyric)
    out = tmp_path / "shot.mp4"
    calls = []
    metrics = ProceduralRenderer().render_shot(job, out, progress=lambda f, msg: calls.append(f))
    info = probe_video(out)
    assert info.frames == job.n_frames == 25
    assert (info.width, info.height) == (160, 90)
    assert info.video_codec == "h264" and not info.has_audio
    assert metrics["frames"] == 25 and metrics["captions"] == 1.0 and metrics["face_framed"] == 1.0
    assert calls and calls[-1] == 1.0 and calls == sorted(calls)
    assert not list(tmp_path.glob(".*tmp*")), "no temporary files are left behind"


def test_odd_frame_counts_and_fractional_fps(ref, tmp_path):
    job = make_job(ref, move="handheld", size=(96, 96), duration=7 / 23.976 * 1.0, fps=23.976)
    frames = ProceduralRenderer(**QUIET).frames(job)
    assert len(frames) == job.n_frames == 7
    assert sum(1 for _ in frames) == 7


def test_deterministic_per_seed(ref, quiet):
    a = [f.copy() for f in ProceduralRenderer().frames(make_job(ref, move="handheld", seed=3, size=(128, 72)))]
    b = [f.copy() for f in ProceduralRenderer().frames(make_job(ref, move="handheld", seed=3, size=(128, 72)))]
    c = [f.copy() for f in ProceduralRenderer().frames(make_job(ref, move="handheld", seed=4, size=(128, 72)))]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize("size", [(160, 90), (90, 160), (120, 120)])
def test_every_framing_and_aspect_keeps_the_face_in_frame(ref, quiet, size):
    seen = []
    for framing in ("extreme_close_up", "close_up", "medium", "wide", "extreme_wide"):
        frames = quiet.frames(make_job(ref, framing=framing, size=size))
        box = frames.face_box_out(0)
        w, h = size
        cx, cy = box.mean(axis=0)
        assert 0 < cx < w and 0 < cy < h, framing
        seen.append(box[2, 1] - box[0, 1])
        frame = frames.frame(0)
        assert frame.shape == (h, w, 3) and frame.dtype == np.uint8
    # Wider framings show a smaller face.
    assert seen == sorted(seen, reverse=True)


def test_close_up_puts_the_eyes_on_the_upper_third(ref, quiet):
    from stages.procedural.projection import apply_homography
    from stages.render.framing import eye_point

    frames = quiet.frames(make_job(ref, framing="close_up", size=(320, 180)))
    ex, ey = apply_homography(frames.face_homography(0), np.array([eye_point(ref[1].primary_face)]))[0]
    assert abs(ey - 180 / 3) < 6
    assert abs(ex - 160) < 320 / 6 + 4


def test_no_face_reference_renders_by_saliency(tmp_path):
    p = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(p)
    info = inspect_reference(p)
    job = make_job((p, info), framing="close_up", move="push_in", size=(128, 72))
    frames = ProceduralRenderer(**QUIET).frames(job)
    assert not frames.window.face_centred and frames.face_box_out(0) is None
    assert np.std(frames.frame(len(frames) - 1)) > 10


@pytest.mark.parametrize("side", [64, 900])
def test_tiny_and_large_references(tmp_path, side):
    p = tmp_path / f"astro{side}.png"
    Image.fromarray(data.astronaut()).resize((side, side)).save(p)
    info = inspect_reference(p)
    job = make_job((p, info), framing="extreme_wide", move="orbit", size=(96, 54))
    frames = list(ProceduralRenderer(**QUIET).frames(job))
    assert len(frames) == job.n_frames and all(f.shape == (54, 96, 3) for f in frames)


def test_unknown_options_are_rejected(ref):
    with pytest.raises(InputError, match="colour_boost"):
        ProceduralRenderer(colour_boost=2)
    with pytest.raises(InputError, match="preset"):
        ProceduralRenderer(preset="warp9")
    with pytest.raises(PlanError, match="chorus1-01"):
        ProceduralRenderer().frames(make_job(ref, options={"sparkle": True}))
    frames = ProceduralRenderer().frames(make_job(ref, options={"grain": 0, "grade_saturation": 0.0, "grade_split": 0}))
    f = frames.frame(0).astype(int)
    assert np.abs(f[..., 0] - f[..., 1]).max() <= 2, "grade_saturation=0 gives a monochrome frame"


# ------------------------------------------------------------------------------ motion vs plan


def _track(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    pts = cv2.goodFeaturesToTrack(ga, 300, 0.01, 4)
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(ga, gb, pts, None, winSize=(21, 21), maxLevel=3)
    ok = st.ravel() == 1
    return pts.reshape(-1, 2)[ok], nxt.reshape(-1, 2)[ok]


def _global_motion(frames) -> tuple[float, float, float]:
    """Similarity transform from the first to the last frame: (scale, tx, ty) about the centre."""
    idx = np.linspace(0, len(frames) - 1, 4).round().astype(int)
    total = np.eye(3)
    for i, j in zip(idx, idx[1:], strict=False):
        p, q = _track(frames.camera_frame(int(i)), frames.camera_frame(int(j)))
        m, _ = cv2.estimateAffinePartial2D(p, q, method=cv2.RANSAC, ransacReprojThreshold=1.5)
        total = np.vstack([m, [0, 0, 1]]) @ total
    s = float(np.sqrt(abs(np.linalg.det(total[:2, :2]))))
    c = np.array([frames.width / 2, frames.height / 2, 1.0])
    shift = total @ c - c
    return s, float(shift[0]), float(shift[1])


def _planned(frames, depth: float) -> tuple[float, float, float]:
    """The same quantities predicted from the plan's camera path for a layer at ``depth``."""
    h = frames.homography(len(frames) - 1, depth) @ np.linalg.inv(frames.homography(0, depth))
    h = h / h[2, 2]
    c = np.array([frames.width / 2, frames.height / 2, 1.0])
    q = h @ c
    shift = q[:2] / q[2] - c[:2]
    return float(np.sqrt(abs(np.linalg.det(h[:2, :2])))), float(shift[0]), float(shift[1])


DIRECTED = ("pan", "tilt", "orbit", "crane")  # moves whose direction (+1/-1) matters


@pytest.mark.parametrize(
    ("move", "direction"), [(m, d) for m in CAMERA_MOVES for d in ((1, -1) if m in DIRECTED else (1,))]
)
def test_rendered_motion_matches_the_planned_camera(ref, quiet, move, direction):
    frames = quiet.frames(make_job(ref, framing="medium", move=move, direction=direction, intensity=0.6,
                                   duration=0.5, seed=5))
    s, tx, ty = _global_motion(frames)
    fg = _planned(frames, 1.0)
    bg = _planned(frames, frames.options.background_depth)
    if move == "static":
        assert abs(s - 1) < 0.005 and abs(tx) < 0.5 and abs(ty) < 0.5
    elif move in ("push_in", "pull_out"):
        assert (s > 1.04) if move == "push_in" else (s < 0.96)
        # The measured scale lies between the planned scales of the background and the subject.
        lo, hi = sorted((fg[0], bg[0]))
        assert lo - 0.02 < s < hi + 0.02
    elif move == "pan":
        assert np.sign(tx) == -direction and abs(tx) > 5 and abs(ty) < 0.3 * abs(tx)
        assert tx == pytest.approx(fg[1], abs=2.0)
    elif move == "tilt":
        assert np.sign(ty) == direction and abs(ty) > 4 and abs(tx) < 0.3 * abs(ty)
        assert ty == pytest.approx(fg[2], abs=2.0)
    elif move == "orbit":
        # The subject stays put while the background slides the way the camera turns.
        assert abs(fg[1]) < 1.0 and np.sign(bg[1]) == -direction and abs(bg[1]) > 3
        p, q = _track(frames.camera_frame(0), frames.camera_frame(len(frames) - 1))
        assert np.sign(np.median(q[:, 0] - p[:, 0])) in (0.0, -direction)
        assert abs(tx) <= abs(bg[1]) + 1.5
    elif move == "crane":
        assert abs(fg[2]) < 1.0 and abs(bg[2]) > 1.5
        p, q = _track(frames.camera_frame(0), frames.camera_frame(len(frames) - 1))
        moving = np.abs(q[:, 1] - p[:, 1]) > 0.75
        assert moving.any() and np.sign(np.median((q[:, 1] - p[:, 1])[moving])) == np.sign(bg[2])
    elif move == "dolly_zoom":
        # The subject keeps its size; the background shrinks behind it.
        assert fg[0] == pytest.approx(1.0, abs=0.01) and bg[0] < 0.95
        assert bg[0] - 0.02 < s < 1.02
    elif move == "handheld":
        shifts = [_track(frames.camera_frame(i), frames.camera_frame(i + 1)) for i in range(0, len(frames) - 1, 3)]
        jitter = [float(np.median(np.linalg.norm(q - p, axis=1))) for p, q in shifts]
        assert max(jitter) > 0.1 and max(jitter) < 6.0


def test_parallax_moves_layers_by_depth(ref, quiet):
    frames = quiet.frames(make_job(ref, framing="medium", move="push_in", intensity=1.0))
    assert frames.layered
    fg, bg = _planned(frames, 1.0), _planned(frames, frames.options.background_depth)
    assert fg[0] > bg[0] > 1.0
    flat = ProceduralRenderer(**QUIET, parallax=False).frames(make_job(ref, framing="medium", move="push_in",
                                                                      intensity=1.0))
    assert not flat.layered
    last = len(frames) - 1
    # The layered render differs from the flat one mostly away from the subject.
    diff = np.abs(frames.camera_frame(last).astype(int) - flat.camera_frame(last).astype(int)).sum(axis=2)
    assert diff.mean() > 3
    assert np.array_equal(frames.camera_frame(0), frames.camera_frame(0))


def test_beats_kick_the_zoom_and_downbeats_lift(ref):
    job = make_job(ref, framing="medium", duration=2.0, options={"grain": 0})
    frames = ProceduralRenderer().frames(job)
    beat_frames = [round(b.t_s * 24) for b in job.analysis.beats]
    assert all(frames.zoom[i] > 1.01 for i in beat_frames)
    assert frames.zoom[beat_frames[0] + 8] < frames.zoom[beat_frames[0]]
    # A downbeat lifts the brightness; by the next (ordinary) beat the lift has died away.
    assert frames.lift[0] > 0.02 and frames.lift[beat_frames[1]] < 0.05 * frames.lift[0]
    calm = ProceduralRenderer(beat_zoom=0).frames(job)
    assert np.all(calm.zoom == 1.0)


def test_memory_does_not_grow_with_shot_length(ref, quiet):
    import tracemalloc

    def peak(duration: float) -> int:
        frames = quiet.frames(make_job(ref, move="orbit", size=(96, 54), duration=duration))
        tracemalloc.start()
        tracemalloc.reset_peak()
        count = sum(1 for _ in frames)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert count == len(frames)
        return p

    short, long = peak(0.5), peak(5.0)
    assert long < short + 3 * 96 * 54 * 4, "frames must not accumulate while streaming"


def test_single_frame_shot(ref, quiet):
    frames = quiet.frames(make_job(ref, move="push_in", size=(64, 36), duration=1 / 24))
    assert len(frames) == 1 and [f.shape for f in frames] == [(36, 64, 3)]


def test_reference_inspected_at_another_size_is_rescaled(ref, quiet, tmp_path):
    path, info = ref
    half = tmp_path / "half.png"
    Image.open(path).resize((256, 256)).save(half)
    job = make_job((half, info), framing="close_up", size=(128, 72))
    frames = quiet.frames(job)
    assert frames.inputs.reference.width == 256
    cx, cy = frames.face_box_out(0).mean(axis=0)
    assert 20 < cx < 108 and 5 < cy < 67
    wide = tmp_path / "wide.png"
    Image.open(path).resize((400, 256)).save(wide)
    with pytest.raises(InputError, match="reference.json"):
        quiet.frames(make_job((wide, info), size=(128, 72)))


def test_beat_kick_scales_with_energy(ref):
    job = make_job(ref, duration=1.0)
    loud = ProceduralRenderer().frames(job)
    calm_analysis = job.analysis.model_copy(update={"energy": EnergyCurve(fps=10, values=[0.1] * 10)})
    calm = ProceduralRenderer().frames(ShotJob(job.plan, job.shot, calm_analysis, job.reference,
                                               job.reference_image, job.song_path))
    assert loud.zoom[0] - 1 > 1.5 * (calm.zoom[0] - 1) > 0


def test_close_up_sings_with_the_vocals(ref, tmp_path):
    import soundfile as sf

    from mvdirector.schemas import Segment

    sr, dur = 16000, 1.0
    t = np.arange(int(sr * dur)) / sr
    # Loud syllables in the first half of every 0.5 s, silence in the second half.
    y = 0.3 * np.sin(2 * np.pi * 440 * t) * ((t % 0.5) < 0.25)
    song = tmp_path / "song.wav"
    sf.write(song, y.astype(np.float32), sr)
    job = make_job(ref, framing="close_up", size=(256, 144), duration=dur)
    analysis = job.analysis.model_copy(update={"vocal_activity": [Segment(start_s=0.0, end_s=dur)]})
    job = ShotJob(job.plan, job.shot, analysis, job.reference, job.reference_image, song)
    frames = ProceduralRenderer(**{**QUIET, "rig": True}).frames(job)
    assert frames.rig is not None
    rest = frames.rig.setup.geometry.rest_aperture / frames.rig.setup.geometry.width
    assert frames.rig.aperture[3] > rest + 0.05  # 0.125 s sings: the mouth opens past the photo's smile
    assert abs(frames.rig.aperture[9] - rest) < 0.02  # 0.375 s is silent: back to the photo's own mouth
    from stages.procedural.projection import apply_homography

    mouth = apply_homography(frames.face_homography(3), np.asarray(ref[1].primary_face.landmarks)[48:68])
    x0, y0 = mouth.min(axis=0).astype(int) - 2
    x1, y1 = mouth.max(axis=0).astype(int) + 8
    still = ProceduralRenderer(**{**QUIET, "rig": True, "mouth": False}).frames(job)  # same head motion, no lips
    sing = frames.frame(3)[y0:y1, x0:x1].astype(int)
    rest_px = frames.frame(9)[y0:y1, x0:x1].astype(int)
    assert np.abs(rest_px - still.frame(9)[y0:y1, x0:x1].astype(int)).mean() < 1.5  # at rest when silent
    assert np.abs(sing - still.frame(3)[y0:y1, x0:x1].astype(int)).mean() > 4.0  # open when singing
    assert sing.mean() < rest_px.mean()  # an open mouth is darker


def test_captions_stay_readable_on_white(tmp_path):
    img = np.full((300, 300, 3), 255, np.uint8)
    p = tmp_path / "white.png"
    Image.fromarray(img).save(p)
    info = inspect_reference(p)
    lyric = LyricOverlay(line="shine on", words=[Word(start_s=0.0, end_s=0.5, text="shine"),
                                                 Word(start_s=0.5, end_s=1.0, text="on")])
    frames = ProceduralRenderer(**{**QUIET, "captions": True}).frames(make_job((p, info), lyric=lyric, duration=1.0))
    f = frames.frame(0).astype(int)
    band = f[int(0.7 * 144): int(0.9 * 144)]
    assert band.min() < 60  # the dark panel and outline are there
    assert (band.min(axis=2) > 220).any() or (band[..., 2] < 120).any()  # bright or highlighted letters on it


@pytest.mark.parametrize(("pad_x", "pad_y"), [(512, 0), (0, 512)])
@pytest.mark.parametrize("size", [(128, 72), (72, 128)])
def test_panoramic_and_tall_references(ref, quiet, tmp_path, pad_x, pad_y, size):
    path, info = ref
    img = np.pad(data.astronaut(), ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="edge")
    p = tmp_path / "padded.png"
    Image.fromarray(img).save(p)
    faces = [f.model_copy(update={
        "box": (f.box[0] + pad_x, f.box[1] + pad_y, f.box[2] + pad_x, f.box[3] + pad_y),
        "landmarks": [(x + pad_x, y + pad_y) for x, y in f.landmarks]}) for f in info.faces]
    moved = info.model_copy(update={"width": img.shape[1], "height": img.shape[0], "faces": faces, "sha256": "1" * 64})
    for framing in ("close_up", "extreme_wide"):
        frames = quiet.frames(make_job((p, moved), framing=framing, move="orbit", size=size))
        cx, cy = frames.face_box_out(len(frames) - 1).mean(axis=0)
        assert 0 < cx < size[0] and 0 < cy < size[1]
        assert frames.frame(0).shape == (size[1], size[0], 3)


def test_camera_never_walks_into_the_picture(ref, quiet):
    from mvdirector.schemas import CameraKeyframe

    path, info = ref
    job = make_job(ref, framing="close_up", size=(96, 54))
    cam = Camera(move="push_in", keyframes=[CameraKeyframe(t=0.0, position=(0, 0, 0.7)),
                                            CameraKeyframe(t=1.0, position=(0, 0, 1.3))])
    shot = job.shot.model_copy(update={"camera": cam})
    frames = quiet.frames(ShotJob(job.plan, shot, job.analysis, info, path, job.song_path))
    assert frames.c2w[:, 2, 3].max() <= 0.8 + 1e-9
    last = frames.frame(len(frames) - 1)
    assert last.std() > 5  # still a picture, not a smear from behind the camera
