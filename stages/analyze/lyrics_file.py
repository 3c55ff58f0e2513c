"""A user's lyrics file (.txt, .lrc, .srt): read, parsed into lines, and checked against the song.

The text is decoded by `mvdirector.loaders` (byte-order mark, else UTF-8, else Windows-1252
with a warning; binary refused). `check_lyrics` refuses, before any work, a file whose times
lie beyond the song or run backwards, and one with more words than a song of that length can
hold (``MAX_WORDS_PER_S``) — the alignment's time grows with the words, and a 10 MB text on a
12 s song is a wrong file, not lyrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvdirector.errors import InputError

LYRICS_LIMIT = 1 << 20
"""Largest lyrics file read (1 MiB; a long song's lyrics are a few kilobytes)."""
MAX_WORDS_PER_S = 8.0
"""Most words a second of song may carry (the fastest rap runs at about 7)."""
SLACK_WORDS = 64
"""Words allowed beyond that on any song (titles, credits, a short song)."""

_LRC_TIME = re.compile(r"\[(\d{1,4}):(\d{1,2}(?:[.:]\d{1,6})?)\]")
_LRC_TAG = re.compile(r"^\[[a-zA-Z]+:.*\]$")
_SRT_TIME = re.compile(
    r"(\d{1,3}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-->\s*(\d{1,3}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
)


@dataclass(frozen=True)
class FileLine:
    """A line of a user lyrics file with its times when the file gives them."""

    text: str
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class LyricsFile:
    """A parsed lyrics file: its kind (txt, lrc, srt), its lines, and a warning about its encoding."""

    kind: str
    lines: list[FileLine]
    warning: str | None = None

    @property
    def n_words(self) -> int:
        """Words in all lines."""
        return sum(len(ln.text.split()) for ln in self.lines)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"


def read_lyrics(path: str | Path) -> LyricsFile:
    """Read a .txt, .lrc or .srt lyrics file: its kind, its non-empty lines (with times if any), a warning."""
    from mvdirector.loaders import read_text

    p = Path(path)
    text, warning = read_text(p, "lyrics file", LYRICS_LIMIT)
    kind = p.suffix.lower().lstrip(".")
    if kind == "lrc":
        lines = _lrc(text)
    elif kind == "srt":
        lines = _srt(text)
    else:
        lines = [FileLine(ln.strip()) for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines:
        raise InputError(f"lyrics file '{p}' holds no lyric lines", "put one lyric line per line")
    return LyricsFile(kind, lines, warning)


def parse_lyrics_file(path: str | Path) -> tuple[str, list[FileLine]]:
    """The kind and lines of a lyrics file (see `read_lyrics`)."""
    f = read_lyrics(path)
    return f.kind, f.lines


def check_lyrics(path: str | Path, song_s: float) -> None:
    """InputError for a lyrics file that cannot belong to a song of ``song_s`` seconds."""
    f = read_lyrics(path)
    name = Path(path).name
    limit = int(MAX_WORDS_PER_S * song_s) + SLACK_WORDS
    if f.n_words > limit:
        raise InputError(
            f"lyrics file '{name}' holds {f.n_words} words but a {song_s:.0f} s song carries at most about {limit}",
            "check that this is the lyrics file of this song",
        )
    for i, ln in enumerate(f.lines, 1):
        if ln.start_s is not None and ln.start_s >= song_s:
            raise InputError(
                f"lyrics file '{name}' line {i} starts at {_clock(ln.start_s)} but the song ends at {_clock(song_s)}",
                "fix the times in the file, or give the lyrics of this song",
            )
        if ln.start_s is not None and ln.end_s is not None and ln.end_s < ln.start_s:
            raise InputError(
                f"lyrics file '{name}' line {i} ends at {_clock(ln.end_s)}, before it starts at {_clock(ln.start_s)}",
                "fix the times in the file",
            )


def fit_to_song(lines: list[FileLine], song_s: float) -> list[FileLine]:
    """Lines with their ends cut at the song's end (starts are checked by `check_lyrics`)."""
    return [
        FileLine(ln.text, ln.start_s, None if ln.end_s is None else min(ln.end_s, song_s))
        if ln.start_s is None or ln.start_s < song_s else FileLine(ln.text, song_s, song_s)
        for ln in lines
    ]


def _lrc(text: str) -> list[FileLine]:
    lines: list[FileLine] = []
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw or _LRC_TAG.match(raw):
            continue
        stamps = _LRC_TIME.findall(raw)
        words = _LRC_TIME.sub("", raw).strip()
        words = re.sub(r"<\d+:\d+(?:\.\d+)?>", "", words).strip()  # enhanced-LRC word stamps
        for mm, ss in stamps:
            lines.append(FileLine(words, int(mm) * 60 + float(ss.replace(":", "."))))
    lines.sort(key=lambda ln: ln.start_s or 0.0)
    lines = [
        FileLine(ln.text, ln.start_s, lines[i + 1].start_s if i + 1 < len(lines) else None)
        for i, ln in enumerate(lines)
    ]
    return [ln for ln in lines if ln.text]


def _srt(text: str) -> list[FileLine]:
    lines: list[FileLine] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        m = _SRT_TIME.search(block)
        if not m:
            continue
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        body = block[m.end() :].strip()
        for k, line in enumerate(ln.strip() for ln in body.splitlines() if ln.strip()):
            # a cue of several lines shares its span in proportion to line length
            lines.append(FileLine(re.sub(r"<[^>]+>", "", line), start if k == 0 else None, end))
    return _split_multiline_cues(lines)


def _split_multiline_cues(lines: list[FileLine]) -> list[FileLine]:
    out: list[FileLine] = []
    i = 0
    while i < len(lines):
        j = i + 1
        while j < len(lines) and lines[j].start_s is None:
            j += 1
        group = lines[i:j]
        start, end = group[0].start_s or 0.0, group[0].end_s or 0.0
        weights = np.array([max(1, len(g.text)) for g in group], dtype=float)
        edges = start + (end - start) * np.r_[0.0, np.cumsum(weights)] / weights.sum()
        out += [FileLine(g.text, float(edges[k]), float(edges[k + 1])) for k, g in enumerate(group)]
        i = j
    return out
