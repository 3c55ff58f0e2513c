"""Lyric files, chapters and the cover: cues from the plan's overlays, round trips through .srt/.vtt/.lrc within a
frame, chapter titles and ffmetadata, and a cover that prefers open eyes and a whole face."""

from __future__ import annotations

import re

import numpy as np
import pytest
from factories import flat_analysis, make_plan

from mvdirector.schemas import LyricOverlay, Section, Word
from stages.analyze.lyrics import parse_lyrics_file
from stages.publish import chapters, lyric_cues, read_lrc, read_srt, read_vtt, render, to_ffmetadata
from stages.publish.cues import HOLD_S

FPS = 24.0
LINES = [("light falls over the city", 0.3), ("we run through the night", 2.6), ("and never & look <back>", 4.3)]


def sung_plan():
    """Four shots; line 1 spans shots 1-2 and a cut splits its word 'over'; line 3 has an untimed token."""
    plan = make_plan(bounds=(0.0, 1.0, 2.5, 4.0, 6.0), fps=FPS)
    words = []  # absolute word times
    for line, t0 in LINES:
        for k, w in enumerate(line.split()):
            if w == "&":
                continue  # sung while another line was on screen: not in the overlay
            words.append((line, w, round(t0 + 0.2 * k, 3), round(t0 + 0.2 * k + 0.18, 3)))
    shots = []
    for shot in plan.shots:
        mine = [(ln, w, max(a, shot.start_s), min(b, shot.end_s)) for ln, w, a, b in words
                if a < shot.end_s and b > shot.start_s]
        if not mine:
            shots.append(shot)
            continue
        line = max({m[0] for m in mine}, key=lambda ln: sum(b - a for x, _, a, b in mine if x == ln))
        overlay = LyricOverlay(line=line, words=[
            Word(start_s=round(a - shot.start_s, 3), end_s=round(b - shot.start_s, 3), text=w)
            for x, w, a, b in mine if x == line])
        shots.append(shot.model_copy(update={"lyric": overlay}))
    return plan.model_copy(update={"shots": shots}), words


def test_cues_follow_the_overlays_joining_words_a_cut_split():
    plan, words = sung_plan()
    cues = lyric_cues(plan)
    assert [c.text for c in cues] == [line for line, _ in LINES]
    first = cues[0]
    assert [w.text for w in first.words] == "light falls over the city".split()
    city = next(w for w in first.words if w.text == "city")  # 1.1..1.28: the cut at 1.0 is before it
    assert (city.start_s, city.end_s) == pytest.approx((1.1, 1.28))
    for c in cues:
        assert round(c.start_s * FPS, 6).is_integer() and round(c.end_s * FPS, 6).is_integer(), "on the frame grid"
        assert c.words[0].start_s - 1 / FPS < c.start_s <= c.words[0].start_s
        assert c.words[-1].end_s + HOLD_S <= c.end_s + 1e-9 or c.end_s in {s.end_s for s in plan.shots}
        assert c.end_s - c.words[-1].end_s <= HOLD_S + 1 / FPS


def test_a_word_split_by_a_cut_is_one_word():
    plan = make_plan(bounds=(0.0, 1.0, 2.0), fps=FPS)
    a = LyricOverlay(line="hello there", words=[Word(start_s=0.5, end_s=0.8, text="hello"),
                                                 Word(start_s=0.9, end_s=1.0, text="there")])
    b = LyricOverlay(line="hello there", words=[Word(start_s=0.0, end_s=0.3, text="there")])
    plan = plan.model_copy(update={"shots": [plan.shots[0].model_copy(update={"lyric": a}),
                                             plan.shots[1].model_copy(update={"lyric": b})]})
    (cue,) = lyric_cues(plan)
    assert [(w.text, w.start_s, w.end_s) for w in cue.words] == [("hello", 0.5, 0.8), ("there", 0.9, 1.3)]


@pytest.mark.parametrize("suffix", [".srt", ".vtt", ".lrc"])
def test_files_round_trip_within_one_frame(suffix):
    plan, words = sung_plan()
    cues = lyric_cues(plan)
    text = render(suffix, cues, title="song", length_s=6.0)
    back = {".srt": read_srt, ".vtt": read_vtt, ".lrc": read_lrc}[suffix](text)
    assert len(back) == len(cues)
    for i, (c, b) in enumerate(zip(cues, back, strict=True)):
        assert abs(b.start_s - c.start_s) < 1 / FPS and abs(b.end_s - c.end_s) < 1 / FPS
        assert b.text == c.text
        if suffix == ".srt":
            continue
        # every timed word starts within a frame of its tag (an untimed token rides with the word before it),
        # against the plan's overlays and the analysis' word times they were made from
        starts = {w.text.split()[0]: w.start_s for w in b.words}
        assert len(starts) == len(c.words)
        for w in c.words:
            assert abs(starts[w.text] - w.start_s) < 1 / FPS, (suffix, w)
        for line, w, a, _ in words:
            if line == LINES[i][0]:
                assert abs(starts[w] - a) < 1 / FPS, (suffix, w)


def test_vtt_escapes_and_tags_strictly_inside_cues():
    plan, _ = sung_plan()
    text = render(".vtt", lyric_cues(plan))
    assert text.startswith("WEBVTT\n") and "&amp;" in text and "&lt;back&gt;" in text
    for block in text.split("\n\n")[1:]:
        if "-->" not in block:
            continue
        head, body = block.split("\n", 1)
        a, b = [read_vtt(f"WEBVTT\n\n{head}\nx")[0].start_s, read_vtt(f"WEBVTT\n\n{head}\nx")[0].end_s]
        tags = [w.start_s for w in read_vtt(f"WEBVTT\n\n{block}")[0].words][1:]
        assert all(a < t < b for t in tags) and tags == sorted(tags)


def test_lyric_files_read_back_by_the_analysis(tmp_path):
    plan, _ = sung_plan()
    cues = lyric_cues(plan)
    for suffix in (".lrc", ".srt"):
        path = tmp_path / f"lyrics{suffix}"
        path.write_text(render(suffix, cues, title="song"))
        kind, lines = parse_lyrics_file(path)
        plain = [re.sub(r"<[^>]*>", "", x).strip() for x in [c.text for c in cues] + [ln.text for ln in lines]]
        assert plain[len(cues):] == plain[:len(cues)]  # (its .srt reader drops markup such as <back>)
        assert all(abs(ln.start_s - c.start_s) < 0.01 for ln, c in zip(lines, cues, strict=True))


def test_an_edited_overlay_changes_every_file():
    plan, _ = sung_plan()
    shot = plan.shots[2]
    edited = shot.model_copy(update={"lyric": shot.lyric.model_copy(update={"line": "we ride through the night"})})
    other = plan.model_copy(update={"shots": [*plan.shots[:2], edited, *plan.shots[3:]]})
    for suffix in (".srt", ".vtt", ".lrc"):
        new = render(suffix, lyric_cues(other))
        assert new != render(suffix, lyric_cues(plan)) and "ride" in new


def test_no_overlays_no_cues():
    assert lyric_cues(make_plan()) == []


def test_chapters_number_repeats_and_snap_to_frames():
    plan = make_plan(bounds=(0.0, 10.0, 20.0, 30.0, 40.0), fps=FPS)
    a = flat_analysis(40.0)
    labels = [("intro", 0.0), ("verse", 5.01), ("chorus", 12.0), ("verse", 20.0), ("chorus", 28.0), ("outro", 36.0)]
    sections = [Section(start_s=s, end_s=(labels[i + 1][1] if i + 1 < len(labels) else 40.0), label=lab)
                 for i, (lab, s) in enumerate(labels)]
    a = a.model_copy(update={"sections": sections})
    found = chapters(a, plan)
    assert [c.title for c in found] == ["Intro", "Verse 1", "Chorus 1", "Verse 2", "Chorus 2", "Outro"]
    assert found[1].start_s == pytest.approx(120 / FPS) and found[-1].end_s == 40.0
    assert all(x.end_s == y.start_s for x, y in zip(found, found[1:], strict=False))
    meta = to_ffmetadata(found)
    assert meta.startswith(";FFMETADATA1\n") and meta.count("[CHAPTER]") == 6 and "START=5000\n" in meta
    one = a.model_copy(update={"sections": [Section(start_s=0, end_s=40, label="verse")]})
    assert chapters(one, plan) == []
    parts = a.model_copy(update={"sections": [Section(start_s=0, end_s=20, label="part", group=3),
                                              Section(start_s=20, end_s=40, label="part", group=5)]})
    assert [c.title for c in chapters(parts, plan)] == ["Part A", "Part B"]


def test_ffmetadata_escapes_its_specials():
    from stages.publish.chapters import Chapter

    assert "title=a\\=b\\;c\\#d\\\\e\n" in to_ffmetadata([Chapter(0, 1, "a=b;c#d\\e")])


@pytest.fixture(scope="module")
def faces():
    """A rendered close-up of the astronaut with open eyes, the same with a blink painted in, and a wide shot."""
    import cv2
    from PIL import Image
    from skimage import data

    from stages.reference import FaceAnalyzer

    img = np.asarray(Image.fromarray(data.astronaut()).resize((384, 384)))
    lm = FaceAnalyzer.shared().analyze(img)[0].landmarks
    lm = np.asarray(lm)
    blink = img.copy()
    for eye in (lm[36:42], lm[42:48]):
        x0, y0 = eye.min(axis=0) - 3
        x1, y1 = eye.max(axis=0) + 3
        skin = img[int(y1) + 6, int((x0 + x1) / 2)].tolist()
        cv2.rectangle(blink, (int(x0), int(y0)), (int(x1), int(y1)), skin, -1)
        cv2.line(blink, (int(x0), int((y0 + y1) / 2)), (int(x1), int((y0 + y1) / 2)), (40, 30, 30), 2)
    wide = cv2.resize(img, (96, 96))
    wide = cv2.copyMakeBorder(wide, 144, 144, 144, 144, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    return img, blink, wide


def test_cover_score_prefers_open_eyes_and_a_bigger_face(faces):
    from stages.publish.cover import score_frame

    img, blink, wide = faces
    open_score, height, ear, sharp = score_frame(img)
    assert open_score > 0 and ear > 0.2 and sharp > 0
    assert score_frame(blink)[0] < 0.5 * open_score
    assert score_frame(wide)[0] < open_score
    assert score_frame(np.full((120, 160, 3), 128, np.uint8)) == (0.0, 0.0, 0.0, 0.0)
