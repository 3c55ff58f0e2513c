"""The shared rules: frame grid, fps and size bounds, codecs and containers, stages, language codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvdirector.rules import (
    CODECS,
    STAGES,
    check_container,
    check_force,
    check_fps,
    check_language,
    frame_index,
    on_frame_grid,
    parse_size,
    snap_to_grid,
)


def test_frame_grid():
    assert on_frame_grid(1.0 / 24 * 7, 24)
    assert not on_frame_grid(0.01, 24)
    assert snap_to_grid(0.01, 24) == 0.0
    assert abs(snap_to_grid(1001 / 24000 * 5, 24000 / 1001) - 5 * 1001 / 24000) < 1e-12
    assert frame_index(2.0 - 1e-9, 24) == 48 and frame_index(1 / 48 + 1e-9, 24) == 1


def test_fps_bounds():
    assert check_fps(1.0) == 1.0 and check_fps(120.0) == 120.0
    for bad in (0.0, 0.99, 120.5, 500):
        with pytest.raises(ValueError, match=r"is outside 1\.\.120"):
            check_fps(bad)


@pytest.mark.parametrize(
    ("text", "size", "error"),
    [
        ("1280x720", (1280, 720), None),
        (" 720 × 1280 ", (720, 1280), None),
        ("16X16", (16, 16), None),
        ("big", None, "is not WIDTHxHEIGHT"),
        ("641x360", None, "width 641 is odd"),
        ("640x361", None, "height 361 is odd"),
        ("8x8", None, "width 8 is outside 16..7680"),
        ("7680x4322", None, "height 4322 is outside 16..4320"),
    ],
)
def test_parse_size(text, size, error):
    if error is None:
        assert parse_size(text) == size
    else:
        with pytest.raises(ValueError, match=error):
            parse_size(text)


def test_codec_containers():
    assert set(CODECS) == {"h264", "h265", "prores"}
    check_container("h264", Path("a.MP4"))
    check_container("prores", Path("a.mov"))
    with pytest.raises(ValueError, match=r"'x.avi' cannot hold h264; name it with one of \.mp4"):
        check_container("h264", Path("x.avi"))
    with pytest.raises(ValueError, match="cannot hold prores"):
        check_container("prores", Path("x.mp4"))
    with pytest.raises(ValueError, match="codec 'foo' is unknown"):
        check_container("foo", Path("x.mp4"))


def test_force_stages_and_language_codes():
    assert [check_force(s) for s in (*STAGES, "all")] == [*STAGES, "all"]
    with pytest.raises(ValueError, match="--force rendr is not a stage"):
        check_force("rendr")
    assert check_language("EN") == "en" and check_language("yue") == "yue"
    for bad in ("english", "e", "en-US", "12"):
        with pytest.raises(ValueError, match="not an ISO 639 code"):
            check_language(bad)


def test_formats_name_an_aspect_and_optionally_a_size():
    from mvdirector.rules import ASPECTS, check_formats, fitting_size, parse_format, split_formats

    assert parse_format("9:16").resolved_size((1280, 720)) == (1080, 1920)
    assert parse_format("1:1").resolved_size((1280, 720)) == (1080, 1080)
    assert parse_format("16:9").resolved_size((854, 480)) == (854, 480)  # --size, within even rounding
    assert parse_format(" 9x16 = 90x160 ").size == (90, 160)
    assert ASPECTS["9:16"].tag == "9x16" and ASPECTS["4:5"].default_size == (1080, 1350)
    assert check_formats(("16x9", "9:16=720x1280")) == ("16:9", "9:16=720x1280")
    for bad, message in [("4:3", "format '4:3' is unknown"), ("9:16=91x160", "width 91 is odd"),
                         ("1:1=90x100", "90x100, which is not 1:1"), ("1:1=2x2", "outside 16..7680")]:
        with pytest.raises(ValueError, match=message):
            parse_format(bad)
    with pytest.raises(ValueError, match="given twice"):
        check_formats(("1:1", "1x1=90x90"))
    assert split_formats(" 16:9, 9x16 ,") == ("16:9", "9x16") and split_formats(["1:1"]) == ["1:1"]
    assert fitting_size(ASPECTS["9:16"], 1080, 16) == (1072, 1904)  # 1080x1920 is no multiple of 16
    assert fitting_size(ASPECTS["1:1"], 1080, 16) == (1072, 1072) and fitting_size(ASPECTS["4:5"], 90, 2) == (90, 112)
    for empty in ("", " , "):  # a typo, not a request for the plain single video
        with pytest.raises(ValueError, match="names no format"):
            split_formats(empty)
    with pytest.raises(ValueError, match="would be rendered at 1920x800"):
        parse_format("16:9").resolved_size((1920, 800))


def test_subtitle_languages_follow_each_containers_iso_639_2_form():
    from mvdirector.rules import subtitle_language

    assert [subtitle_language("de", s) for s in (".mp4", ".m4v", ".mov", ".mkv")] == ["deu", "deu", "ger", "ger"]
    assert subtitle_language("EN", ".mp4") == "eng" and subtitle_language("fr", ".mkv") == "fre"
    assert subtitle_language("zh", ".mp4") == "zho" and subtitle_language("yue", ".mkv") == "yue"
    assert subtitle_language(None, ".mp4") == subtitle_language("xx", ".mp4") == "und"
