"""Publish-ready outputs through the CLI: several formats from one plan, the soft subtitle track with its
language, lyric files beside the video, covers, ``--captions`` in the shot keys, adding a format later,
a song without lyrics, and outputs that would overwrite an input."""

from __future__ import annotations

import json
import shutil

import av
import pytest
from factories import cli

from mvdirector.media.video import probe_video
from mvdirector.planio import load_plan
from mvdirector.request import RenderRequest
from mvdirector.schemas import AudioAnalysis
from stages.publish import lyric_cues, read_lrc, read_srt, read_vtt

W, H, FPS = 160, 90, 12
LRC = """[00:00.50]light falls over the city
[00:02.50]we run through the night
[00:04.50]and never look back again
[00:06.50]
"""


def render(song, portrait, d, *extra):
    proc = cli("render", str(song), "--ref", str(portrait), "-o", str(d / "out" / "video.mp4"), "--size", f"{W}x{H}",
               "--fps", str(FPS), "--workdir", str(d / "wd"), "--asr", "none", "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    reports = json.loads(proc.stdout)
    return (reports if isinstance(reports, list) else [reports]), proc.stderr


@pytest.fixture(scope="module")
def published(tmp_path_factory, click_song, portrait):
    d = tmp_path_factory.mktemp("publish")
    (d / "words.lrc").write_text(LRC)
    reports, err = render(click_song, portrait, d, "--lyrics", str(d / "words.lrc"), "--language", "fr",
                          "--captions", "both", "--formats", "16:9,9:16=90x160")
    return d, reports, err


def test_every_format_is_delivered_with_its_size_track_and_cover(published):
    d, reports, _ = published
    out = d / "out"
    assert [r["aspect"] for r in reports] == ["16:9", "9:16"]
    for name, size in (("video.16x9.mp4", (W, H)), ("video.9x16.mp4", (90, 160))):
        info = probe_video(out / name)
        assert (info.width, info.height) == size and info.frames == round(8 * FPS) and info.has_audio
        with av.open(str(out / name)) as c:
            (sub,) = c.streams.subtitles
            assert sub.codec_context.name == "mov_text" and sub.metadata["language"] == "fra"  # fr → ISO 639-2/T
        assert (out / name).with_suffix(".jpg").stat().st_size > 500
    assert sorted(p.name for p in out.iterdir()) == [
        "video.16x9.jpg", "video.16x9.mp4", "video.9x16.jpg", "video.9x16.mp4", "video.lrc", "video.srt", "video.vtt"]
    assert reports[0]["subtitle_language"] == "fra" and reports[0]["lyric_files"][0].endswith("video.srt")
    wd = d / "wd"
    for tag in ("16x9", "9x16"):
        assert (wd / "formats" / tag / "report.json").exists() and (wd / "formats" / tag / "report.html").exists()
    assert not (wd / "report.json").exists(), "the single-video layout is only used without --formats"
    plan, _ = load_plan(wd / "plan.json")
    clips = list((wd / "shots").glob("*.mp4"))
    assert len(clips) == 2 * len(plan.shots), "each format's clips sit side by side, keyed apart"


def test_lyric_files_round_trip_against_the_plan_and_the_analysis(published):
    d, _, _ = published
    wd = d / "wd"
    plan, _ = load_plan(wd / "plan.json")
    analysis = AudioAnalysis.model_validate_json((wd / "analysis.json").read_text())
    cues = lyric_cues(plan)
    assert len(cues) == 3
    words = [w for line in analysis.lyrics.lines for w in line.words]
    for suffix, read in ((".srt", read_srt), (".vtt", read_vtt), (".lrc", read_lrc)):
        back = read((d / "out" / f"video{suffix}").read_text())
        assert [b.text for b in back] == [c.text for c in cues]
        for b, c in zip(back, cues, strict=True):
            assert abs(b.start_s - c.start_s) < 1 / FPS and abs(b.end_s - c.end_s) < 1 / FPS
            assert abs(b.start_s - c.words[0].start_s) < 1 / FPS  # the line appears as its first word is sung
            if suffix != ".srt":
                sung = [w for w in words if c.start_s - 1 / FPS < w.start_s < c.end_s]
                assert [w.text for w in b.words] == [w.text for w in sung]
                assert all(abs(x.start_s - y.start_s) < 1 / FPS for x, y in zip(b.words, sung, strict=True))


def test_adding_a_format_later_renders_only_that_format(published, click_song, portrait):
    d, first, _ = published
    before = {p: p.stat().st_mtime_ns for p in (d / "out").glob("*.mp4")}
    reports, _ = render(click_song, portrait, d, "--lyrics", str(d / "words.lrc"), "--language", "fr",
                        "--captions", "both", "--formats", "16:9,9:16=90x160,1:1=90x90")
    assert [r["aspect"] for r in reports] == ["16:9", "9:16", "1:1"]
    assert [r["rendered"] for r in reports] == [0, 0, len(first[0]["shots"])]
    assert {p: p.stat().st_mtime_ns for p in before} == before, "the finished formats were not even re-assembled"
    assert probe_video(d / "out" / "video.1x1.mp4").width == 90


def test_captions_soft_renders_without_burning_and_keys_apart(published, click_song, portrait):
    d, first, _ = published
    reports, _ = render(click_song, portrait, d, "--lyrics", str(d / "words.lrc"), "--language", "fr",
                        "--captions", "soft", "--formats", "16:9")
    (report,) = reports
    assert report["rendered"] == len(first[0]["shots"]), "another --captions is another picture: new keys"
    metrics = [json.loads(p.read_text()) for p in (d / "wd" / "shots").glob("*.json")]
    burned = sorted(m["captions"] for m in metrics)
    assert burned.count(0.0) == len(report["shots"]) and 1.0 in burned, "soft clips draw no caption, 'both' ones do"
    assert report["subtitle_language"] == "fra"


def test_a_song_without_lyrics_writes_no_lyric_files_and_says_so_once(tmp_path, click_song, portrait):
    reports, err = render(click_song, portrait, tmp_path, "--captions", "soft", "--formats", "16:9,1:1=90x90")
    assert err.count("no lyric lines in the plan") == 1, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "video.16x9.jpg", "video.16x9.mp4", "video.1x1.jpg", "video.1x1.mp4"]
    with av.open(str(tmp_path / "out" / "video.1x1.mp4")) as c:
        assert not c.streams.subtitles
    assert all(r["lyric_files"] == [] and r["subtitle_language"] is None for r in reports)


def test_outputs_are_listed_once_and_never_land_on_an_input(tmp_path, click_song, portrait):
    req = RenderRequest.create(song=click_song, reference=portrait, out=tmp_path / "v.mkv", formats="16:9,9:16")
    assert [p.name for p in req.outputs()] == [
        "v.16x9.mkv", "v.9x16.mkv", "v.16x9.jpg", "v.9x16.jpg", "v.srt", "v.vtt", "v.lrc"]
    plain = RenderRequest.create(song=click_song, reference=portrait)
    assert [d.video.name for d in plain.deliveries()] == ["song.mp4"]
    lyrics = tmp_path / "v.lrc"
    lyrics.write_text(LRC)
    photo = tmp_path / "w.jpg"  # a person's own picture where the cover of w.mp4 would go: refused before work
    photo.write_bytes(_jpeg())
    proc = cli("render", str(click_song), "--ref", str(portrait), "-o", str(tmp_path / "w.mp4"), "--workdir",
               str(tmp_path / "wd0"))
    assert proc.returncode == 2 and "is not a cover image that mvdirector wrote" in proc.stderr, proc.stderr
    assert not (tmp_path / "wd0").exists()
    # the --lyrics file where v.lrc would go is kept, with a warning; the other lyric files are written
    proc = cli("render", str(click_song), "--ref", str(portrait), "-o", str(tmp_path / "v.mp4"), "--lyrics",
               str(lyrics), "--workdir", str(tmp_path / "wd"), "--size", "128x72", "--fps", "12")
    assert proc.returncode == 0, proc.stderr
    assert "v.lrc exists and is not a lyric file this work directory wrote: kept" in proc.stderr
    assert lyrics.read_text() == LRC and (tmp_path / "v.srt").exists() and (tmp_path / "v.vtt").exists()
    # a fresh work directory still knows its own lyric files by their mark (the .vtt NOTE; the .srt with it)
    shutil.rmtree(tmp_path / "wd")
    (tmp_path / "v.srt").write_text((tmp_path / "v.srt").read_text() + "\n")
    proc = cli("render", str(click_song), "--ref", str(portrait), "-o", str(tmp_path / "v.mp4"), "--lyrics",
               str(lyrics), "--workdir", str(tmp_path / "wd"), "--size", "128x72", "--fps", "12")
    assert proc.returncode == 0, proc.stderr
    assert "v.srt exists" not in proc.stderr and "v.vtt exists" not in proc.stderr and "v.lrc exists" in proc.stderr
    assert not (tmp_path / "v.srt").read_text().endswith("\n\n") and lyrics.read_text() == LRC


def _jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()
