"""Parts of the procedural renderer: grade, captions, layers, framing, options (the face rig: test_procedural_rig*)."""

from __future__ import annotations

import numpy as np
import pytest
from factories import flat_analysis
from skimage import data

from mvdirector.errors import InputError
from mvdirector.schemas import (
    AudioAnalysis,
    Face,
    LyricOverlay,
    ReferenceInfo,
    Word,
)
from stages.procedural.grade import FrameGrader, Grade, beat_envelopes, colour_matrix, grade_for, tone_lut
from stages.procedural.layers import build_layers, separate
from stages.procedural.options import ProceduralOptions
from stages.render.captions import SAFE, CaptionRenderer, font_path
from stages.render.framing import frame_window, saliency_centre


def _analysis(duration=4.0, vocals=((1.0, 2.0),), beats=(0.0, 0.5, 1.0, 1.5)) -> AudioAnalysis:
    return flat_analysis(duration, energy=0.5, vocals=vocals, beats=beats, label="verse", path="s.wav")


def _synthetic_face(cx=100.0, cy=100.0, size=80.0) -> Face:
    """A plausible 68-point layout (only the mouth, eyes, nose and jaw ends matter here)."""
    pts = np.zeros((68, 2))
    pts[:17, 0] = np.linspace(cx - size / 2, cx + size / 2, 17)
    pts[:17, 1] = cy + 0.1 * size
    pts[30] = (cx, cy + 0.1 * size)
    pts[36:42] = (cx - size / 4, cy - size / 6)
    pts[42:48] = (cx + size / 4, cy - size / 6)
    mouth_y = cy + 0.3 * size
    outer = np.linspace(-1, 1, 7)
    pts[48:55, 0] = cx + outer * size / 4
    pts[48:55, 1] = mouth_y - 2
    pts[55:60, 0] = cx + np.linspace(1, -1, 7)[1:6] * size / 4
    pts[55:60, 1] = mouth_y + 4
    pts[60:65, 0] = cx + np.linspace(-1, 1, 5) * size / 5
    pts[60:65, 1] = mouth_y
    pts[65:68, 0] = cx + np.linspace(0.5, -0.5, 3) * size / 5
    pts[65:68, 1] = mouth_y + 1
    box = (int(cx - size / 2), int(cy - size / 2), int(cx + size / 2), int(cy + size / 2))
    return Face(box=box, landmarks=[tuple(p) for p in pts], embedding=[0.0] * 128)


# ------------------------------------------------------------------------------------ grade


def test_neutral_grade_is_identity():
    g = Grade()
    assert np.allclose(colour_matrix(g), np.eye(3), atol=1e-6)
    assert np.array_equal(tone_lut(g)[:, 0, 0], np.arange(256))
    frame = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    assert np.array_equal(FrameGrader(g, 30, 20, seed=0).apply(frame.copy()), frame)


def test_section_grades_differ_and_overrides_apply():
    chorus, bridge = grade_for("cinematic", "chorus"), grade_for("cinematic", "bridge")
    assert chorus.saturation > bridge.saturation and chorus.warmth > bridge.warmth
    assert grade_for("unknown-style", "verse").grain > 0
    g = grade_for("cinematic", "chorus", {"grade_saturation": 0.0, "grade_vignette": 0, "crf": 20})
    assert g.saturation == 0.0 and g.vignette == 0.0
    lut = tone_lut(Grade(contrast=1.3))[:, 0, 0].astype(int)
    assert lut[0] == 0 and lut[255] == 255 and np.all(np.diff(lut) >= 0) and lut[64] < 64 < 192 < lut[192]


def test_grain_and_vignette_are_seeded():
    g = Grade(grain=0.05, vignette=0.5)
    frame = np.full((40, 60, 3), 128, np.uint8)
    a = FrameGrader(g, 60, 40, seed=1).apply(frame.copy(), index=3)
    b = FrameGrader(g, 60, 40, seed=1).apply(frame.copy(), index=3)
    c = FrameGrader(g, 60, 40, seed=2).apply(frame.copy(), index=3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a[:5, :5].mean() < a[18:22, 28:32].mean()  # corners darker than the centre


def test_beat_envelopes_peak_on_beats():
    an = _analysis()
    beat, down, energy = beat_envelopes(an, 0.0, 48, 24.0)
    assert beat[0] == pytest.approx(1.0) and beat[12] == pytest.approx(1.0)
    assert beat[6] < 0.2 and down[12] < 0.02 and down[0] == pytest.approx(1.0)
    assert np.allclose(energy, 0.5)


# ---------------------------------------------------------------------------------- captions


def test_font_ships_with_matplotlib():
    assert font_path().name.startswith("DejaVuSans") and font_path().is_file()


def test_captions_highlight_the_sung_word_inside_the_safe_area():
    words = [Word(start_s=0.5 * i, end_s=0.5 * i + 0.2, text=t) for i, t in enumerate("let it be".split())]
    cap = CaptionRenderer(LyricOverlay(line="let it be", words=words), 320, 180)
    assert cap.state(0.0) == (1, True) and cap.state(0.48) == (1, False) and cap.state(1.1) == (3, True)
    assert cap.state(-1.0) == (0, False)
    base = np.full((180, 320, 3), 90, np.uint8)
    first = cap.apply(base.copy(), 0.1)
    third = cap.apply(base.copy(), 1.1)
    changed = np.argwhere(np.any(first != base, axis=2))
    (y0, x0), (y1, x1) = changed.min(axis=0), changed.max(axis=0)
    assert x0 >= SAFE * 320 - 1 and x1 <= (1 - SAFE) * 320 + 1 and y1 <= (1 - SAFE) * 180 + 1 and y0 > 90
    # The highlight colour (yellow: red and green high, blue low) moves from the first word to the last.
    yellow = lambda f: np.argwhere((f[..., 0] > 200) & (f[..., 1] > 170) & (f[..., 2] < 120))  # noqa: E731
    assert yellow(first)[:, 1].mean() < yellow(third)[:, 1].mean()


def test_captions_move_up_off_the_singers_mouth_but_not_onto_the_eyes():
    def rows(*avoid):
        frame = CaptionRenderer(LyricOverlay(line="let it be"), 320, 180, avoid=avoid).apply(
            np.zeros((180, 320, 3), np.uint8), 0.0)
        r = np.flatnonzero(frame.any(axis=(1, 2)))
        return r.min(), r.max()

    low = rows()
    assert low[1] > 0.8 * 180
    assert rows((20.0, 60.0)) == low  # the mouth is high in the frame: the caption stays at the bottom
    top, bottom = rows((120.0, 175.0), (70.0, 80.0))  # an extreme close-up: the mouth fills the bottom
    assert top >= SAFE * 180 - 1 and bottom < 70
    assert rows((120.0, 175.0), (20.0, 30.0)) == low  # the eyes are up there: the bottom, as always
    assert rows((10.0, 175.0)) == low  # nowhere clear


def test_long_lines_wrap_and_shrink():
    line = "a very long lyric line that cannot possibly fit on one line of a narrow vertical video frame"
    cap = CaptionRenderer(LyricOverlay(line=line), 180, 320)
    assert 1 <= len(cap.lines) <= 2 or cap.size == 10
    frame = cap.apply(np.zeros((320, 180, 3), np.uint8), 0.0)
    rows = np.flatnonzero(frame.any(axis=(1, 2)))
    assert rows.size and rows.max() <= 0.8 * 320 + 1  # above the controls vertical players draw


# ---------------------------------------------------------------------------------- layers, framing


def test_separation_finds_the_astronaut():
    img = data.astronaut()
    face = Face(box=(175, 76, 265, 166))
    ref = ReferenceInfo(path="a.png", sha256="0" * 64, width=512, height=512, faces=[face], primary=0)
    sep = separate(img, ref)
    s = sep.scale
    assert sep.usable
    assert sep.matte[int(120 * s), int(220 * s)] > 0.9  # the face
    assert sep.matte[int(20 * s), int(480 * s)] < 0.1  # the top-right background
    diff = np.abs(sep.background[int(120 * s), int(220 * s)].astype(int) - img[120, 220].astype(int)).sum()
    assert diff > 20  # the face is inpainted away from the background layer
    win = frame_window(ref, "extreme_wide", 320, 180)
    layers = build_layers(img, win, 180, sep)
    assert layers.subject.shape[2] == 4 and layers.background.shape == layers.flat.shape
    premult, alpha = layers.subject[..., :3].astype(int), layers.subject[..., 3:].astype(int)
    assert np.all(premult <= alpha + 1)


def test_saliency_centre_finds_the_object():
    img = np.full((120, 200, 3), 40, np.uint8)
    img[70:100, 140:180] = (250, 200, 30)
    cx, cy = saliency_centre(img)
    assert 120 < cx < 190 and 55 < cy < 110


def test_framing_follows_face_size_and_turn():
    face = _synthetic_face(300, 200, 60)
    ref = ReferenceInfo(path="a.png", sha256="0" * 64, width=600, height=800, faces=[face], primary=0)
    heights = [frame_window(ref, f, 1280, 720).height for f in ("extreme_close_up", "close_up", "medium")]
    assert heights == sorted(heights) and heights[1] == pytest.approx(2.3 * 60, rel=0.01)
    portrait = frame_window(ref, "close_up", 720, 1280)
    assert portrait.width == pytest.approx(2.3 * 60, rel=0.01)
    left = frame_window(ref, "medium", 1280, 720, side=-1)
    right = frame_window(ref, "medium", 1280, 720, side=1)
    assert left.cx > right.cx  # side=-1 puts the face on the left third: the window sits to its right
    # A face turned to image-right gets look room on the right: it sits left of centre whatever ``side`` says.
    pts = [tuple(p) for p in face.landmarks]
    pts[30] = (pts[30][0] + 20, pts[30][1])
    turned = ReferenceInfo(path="a.png", sha256="0" * 64, width=600, height=800,
                           faces=[face.model_copy(update={"landmarks": pts})], primary=0)
    assert frame_window(turned, "medium", 1280, 720, side=1).cx > 300 + 448 / 8


def test_options_validate_types():
    o = ProceduralOptions.from_mapping({"grain": "0.5", "captions": "off", "crf": 20})
    assert o.grain == 0.5 and o.captions is False and o.crf == 20
    for bad in ({"crf": 1.5}, {"captions": "maybe"}, {"crf": 99}, {"background_depth": 0.5}):
        with pytest.raises(InputError):
            ProceduralOptions.from_mapping(bad)


def test_caption_shows_the_whole_line_with_the_shots_words_timed():
    words = [Word(start_s=0.2, end_s=0.5, text="all"), Word(start_s=0.6, end_s=0.9, text="the")]
    cap = CaptionRenderer(LyricOverlay(line="I remember all the words, you know", words=words), 640, 360)
    assert cap.tokens[0] == "I" and len(cap.tokens) == 7
    assert cap.state(0.0) == (2, False)  # "I remember" was sung in an earlier shot
    assert cap.state(0.3) == (3, True) and cap.state(0.7) == (4, True) and cap.state(2.0) == (4, False)
    plain = CaptionRenderer(LyricOverlay(line="no timings here"), 640, 360)
    assert plain.state(1.0) == (3, False)


def test_framing_lens_matches_the_shared_camera_default():
    from models.camera import DEFAULT_FOV_DEG
    from stages.render.framing import BASE_FOV_DEG

    assert BASE_FOV_DEG == DEFAULT_FOV_DEG  # plans expanded by the director carry absolute dolly-zoom fovs


def test_template_grades_and_overrides_layer_in_order():
    tg = {"default": {"saturation": 0.5}, "chorus": {"warmth": 0.2}}
    g = grade_for("cinematic", "chorus", {"grade_warmth": -0.1}, tg)
    assert g.saturation == 0.5 and g.warmth == -0.1
    assert grade_for("cinematic", "verse", None, tg).warmth == grade_for("cinematic", "verse").warmth
    with pytest.raises(InputError, match="sparkle"):
        grade_for("cinematic", "chorus", None, {"chorus": {"sparkle": 1.0}})
    with pytest.raises(InputError, match="grade_sparkle"):
        grade_for("cinematic", "chorus", {"grade_sparkle": 1.0})


def test_guided_filter_snaps_a_soft_mask_to_the_picture_edge():
    from stages.procedural.layers import guided_filter

    guide = np.zeros((40, 80, 3), np.uint8)
    guide[:, 43:] = 255  # the picture's edge is at x = 43
    mask = np.zeros((40, 80), np.float32)
    mask[:, 38:] = 1.0  # the rough mask's edge is 5 px off
    out = guided_filter(guide, mask, radius=6, eps=1e-3)
    row = out[20]
    assert row[:30].max() < 0.1 and row[55:].min() > 0.9
    # The sharpest step now sits on the guide's edge, not on the mask's.
    steps = np.diff(row)
    assert int(np.argmax(steps)) == 42 and steps[42] > 0.2 and steps[37] < 0.1


def test_captions_drawn_in_threads_side_by_side_match_those_drawn_alone():
    """Shots render in threads: each gets its own FreeType font object, and the pixels do not depend on it."""
    from concurrent.futures import ThreadPoolExecutor

    from stages.render import captions

    lines = ["we are the fire in the night", "hold on hold on to the light", "city lights are calling"]

    def draw(k: int) -> np.ndarray:
        cap = CaptionRenderer(LyricOverlay(line=lines[k % 3]), 640, 360)
        return cap.apply(np.zeros((360, 640, 3), np.uint8), 0.0)

    alone = [draw(k) for k in range(3)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(draw, range(24)))
        fonts = list(pool.map(lambda _: id(captions._font(21)), range(8)))
    assert all(np.array_equal(t, alone[k % 3]) for k, t in enumerate(together))
    assert captions._font(21) is captions._font(21)  # kept within a thread
    assert len(set(fonts) | {id(captions._font(21))}) >= 2  # not shared between threads
