"""Odd songs, portraits, lyrics, styles and file names: one line before any work, nothing shown raw."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mvdirector.loaders import TEXT_LIMIT

FAST = ("--size", "160x90", "--fps", "12", "--asr", "none", "--quiet")


def _wav_header_claiming(nbytes: int) -> bytes:
    """A 44-byte WAV header that promises ``nbytes`` of 16-bit mono audio and holds none."""
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + nbytes) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", nbytes)


def _make_song(path, kind: str) -> None:
    rng = np.random.default_rng(0)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random bytes":
        path.write_bytes(rng.bytes(50_000))
    elif kind == "header only":
        path.write_bytes(_wav_header_claiming(0))
    elif kind == "header claiming 4 GB":
        path.write_bytes(_wav_header_claiming(0xFFFFFF00) + rng.bytes(1000))
    elif kind == "NaN samples":
        sf.write(str(path), np.full(22050 * 2, np.nan, np.float32), 22050, subtype="FLOAT")
    elif kind == "infinite samples":
        sf.write(str(path), np.full(22050 * 2, np.inf, np.float32), 22050, subtype="FLOAT")
    elif kind == "10 ms long":
        sf.write(str(path), rng.standard_normal(220).astype(np.float32) * 0.1, 22050)
    elif kind == "a folder":
        path.mkdir()
    elif kind == "a PNG named .wav":
        Image.new("RGB", (8, 8)).save(path, format="PNG")


@pytest.mark.parametrize("kind", ["empty", "random bytes", "header only", "header claiming 4 GB", "NaN samples",
                                  "infinite samples", "10 ms long", "a folder", "a PNG named .wav"])
def test_a_song_that_cannot_be_used_is_refused_before_any_work(ws, kind):
    _make_song(ws / "bad.wav", kind)
    ws.refused("render", "bad.wav", "--ref", "singer.png", *FAST)
    assert not (ws / "bad.mvd").exists()  # damaged samples show only when decoding: its work directory goes


def _make_image(path, kind: str) -> None:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated PNG":
        Image.new("RGB", (64, 64), (200, 150, 120)).save(path)
        path.write_bytes(path.read_bytes()[:60])
    elif kind == "decompression bomb":
        Image.new("1", (20000, 20000)).save(path, optimize=True)
    elif kind == "text named .png":
        path.write_text("hello")
    elif kind == "a folder":
        path.mkdir()
    elif kind == "a WAV named .png":
        sf.write(str(path), np.zeros(1000, np.float32), 22050, format="WAV")


@pytest.mark.parametrize("kind", ["empty", "truncated PNG", "decompression bomb", "text named .png", "a folder",
                                  "a WAV named .png"])
def test_a_portrait_that_cannot_be_used_is_refused(ws, kind):
    _make_image(ws / "bad.png", kind)
    ws.refused("render", "song.wav", "--ref", "bad.png", *FAST)


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("l.txt", np.random.default_rng(1).bytes(20_000), "binary"),
    ("l.txt", b"hi \x1b[2J there\x07\n", "control character"),
    ("l.txt", b"la la la\n" * (TEXT_LIMIT // 9 + 1), "MB"),
    ("l.txt", b"", "no lyric lines"),
    ("l.lrc", b"[00:01.00]hello\n[05:00.00]far past the end\n", "song ends"),
    ("l.srt", b"1\n00:00:03,000 --> 00:00:01,000\nbackwards\n", "l.srt"),
    ("l.doc", b"hello", "l.doc"),
])
def test_a_lyrics_file_that_cannot_be_used_is_refused(ws, name, content, needle):
    (ws / name).write_bytes(content)
    ws.refused("render", "song.wav", "--ref", "singer.png", "--lyrics", name, *FAST, needle=needle)


_ALIAS_BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n".encode() for a, b in zip("abcdef", "bcdefg", strict=True))
"""A billion-laughs style: seven levels of nine aliases (4.8 million values from a few hundred bytes)."""


@pytest.mark.parametrize(("text", "needle"), [
    (b"name: x\nprompt: \x00\x01\x02\x03\xff\n", "binary"),
    (b"!!python/object/apply:os.system ['echo owned']\n", "not valid YAML"),
    (b"name: x\nweights: {wide: 1e308}\n", "unknown field 'weights'"),
    (b"name: x\ngrades: {default: {saturation: abc}}\n", "saturation"),
    (b"name: x\ngrades: {default: {saturation: .nan}}\n", "grades.default.saturation"),
    (b"name: x\ngrades: {chorus: {evil: 1}}\n", "evil"),
    (b"name: x\nshot_s: [1.0e308, 1.0e309]\n", "shot_s"),
    (_ALIAS_BOMB, "values"),
])
def test_a_bad_style_file_is_one_line_and_runs_no_code(ws, text, needle):
    (ws / "tpl").mkdir()
    (ws / "tpl" / "x.yaml").write_bytes(text)
    ws.refused("templates", "--templates", "tpl", needle=needle)
    ws.refused("render", "song.wav", "--ref", "singer.png", "--templates", "tpl", *FAST)  # even when unused


@pytest.mark.parametrize("name", ["[/oops].wav", "[bold]x[/bold].wav", "\x1b]0;owned\x07\x1b[2J.wav", "a\u202eb.wav",
                                  "[/.wav", "line\nbreak.wav"])
def test_a_file_name_is_shown_escaped_never_interpreted(ws, name):
    line = ws.refused("render", name, "--ref", "singer.png", *FAST, needle="does not exist")
    if name.startswith("["):
        assert name in line  # console markup is printed as written, not applied
    assert "\u202e" not in line and "\n" not in line


def test_a_song_named_like_a_work_directory_is_not_taken_for_one(ws):
    (ws / "track.mvd").write_bytes((ws / "song.wav").read_bytes())
    ws.refused("render", "track.mvd", "--ref", "singer.png", *FAST, needle="is a file, not a folder")
