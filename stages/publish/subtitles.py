"""The one writer of lyric files — SubRip (``.srt``), WebVTT (``.vtt``), enhanced LRC (``.lrc``) — and their readers.

* SRT: numbered cues, ``hh:mm:ss,mmm`` spans, the line as text.
* WebVTT: the same cues with a timestamp tag before each sung word (``<hh:mm:ss.mmm>``, the karaoke
  form of the spec: strictly inside the cue and increasing), so players can highlight word by word.
* Enhanced LRC: ``[mm:ss.xx]`` at each line, ``<mm:ss.xx>`` before each word and after the last one
  (when it ends), and an empty ``[mm:ss.xx]`` line where the line leaves the screen.

Tokens of a line with no time of their own (a word sung while another line was on screen) ride with
the word before them. The readers return the same `Cue` objects, which is how the tests check the round
trip; ``.lrc`` and ``.srt`` files are also read back by ``mvdirector analyze --lyrics``.
"""

from __future__ import annotations

import html
import re

from stages.publish.cues import Cue, CueWord, token_starts

FORMATS = (".srt", ".vtt", ".lrc")
"""The lyric files written beside a video, by suffix."""


# ----------------------------------------------------------------------------- clocks


def _hms(t_s: float, sep: str) -> str:
    ms = max(0, int(round(t_s * 1000)))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _mmss(t_s: float) -> str:
    cs = max(0, int(round(t_s * 100)))
    m, rest = divmod(cs, 6000)
    s, cs = divmod(rest, 100)
    return f"{m:02d}:{s:02d}.{cs:02d}"


_HMS = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{3})"


def _secs(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac) / 10 ** len(frac)


# ----------------------------------------------------------------------------- groups


def _groups(cue: Cue) -> list[tuple[float, str]]:
    """(start, text) per sung word: untimed tokens ride with the timed word before them (or the cue start)."""
    groups: list[tuple[float, str]] = []
    for token, start in token_starts(cue):
        if start is not None and (not groups or start > groups[-1][0]):
            groups.append((start, token))
        elif groups:
            groups[-1] = (groups[-1][0], f"{groups[-1][1]} {token}")
        else:
            groups.append((cue.start_s, token))
    return groups


# ----------------------------------------------------------------------------- writers


def to_srt(cues: list[Cue]) -> str:
    """SubRip text of ``cues``."""
    blocks = [f"{i}\n{_hms(c.start_s, ',')} --> {_hms(c.end_s, ',')}\n{c.text}\n" for i, c in enumerate(cues, 1)]
    return "\n".join(blocks)


SIGNATURE = "made with mvdirector"
"""The NOTE of every WebVTT file written here (an LRC file says ``[re:mvdirector]``)."""


def signed(text: str) -> bool:
    """Whether lyric-file text (WebVTT or LRC) carries this program's mark."""
    head = text[:2048]
    return f"NOTE {SIGNATURE}" in head or "[re:mvdirector]" in head


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT text of ``cues``, with a timestamp tag before each word sung after the cue starts (the spec
    wants them strictly inside the cue; a word sung at the cue's start needs none)."""
    out = ["WEBVTT", "", f"NOTE {SIGNATURE}", ""]  # a comment block: marks the file as one this program wrote
    for c in cues:
        parts = []
        for start, text in _groups(c):
            tagged = c.start_s + 0.0005 < start < c.end_s - 0.0005
            parts.append((f"<{_hms(start, '.')}>" if tagged else "") + html.escape(text, quote=False))
        out += [f"{_hms(c.start_s, '.')} --> {_hms(c.end_s, '.')}", " ".join(parts), ""]
    return "\n".join(out)


def to_lrc(cues: list[Cue], title: str | None = None, length_s: float | None = None,
           creator: str = "mvdirector") -> str:
    """Enhanced LRC text of ``cues`` (word tags where the words are timed)."""
    out = [f"[ti:{title}]"] if title else []
    if length_s is not None:
        m, s = divmod(int(round(length_s)), 60)
        out.append(f"[length:{m:02d}:{s:02d}]")
    out.append(f"[re:{creator}]")
    for i, c in enumerate(cues):
        if c.words:
            body = " ".join(f"<{_mmss(start)}>{text}" for start, text in _groups(c))
            last = c.words[-1].end_s
            body += f" <{_mmss(last)}>" if last <= c.end_s else ""
        else:
            body = c.text
        out.append(f"[{_mmss(c.start_s)}]{body}")
        following = cues[i + 1].start_s if i + 1 < len(cues) else None
        if following is None or following - c.end_s > 0.005:
            out.append(f"[{_mmss(c.end_s)}]")
    return "\n".join(out) + "\n"


def render(suffix: str, cues: list[Cue], title: str | None = None, length_s: float | None = None) -> str:
    """The text of the lyric file with ``suffix`` (``.srt``, ``.vtt`` or ``.lrc``)."""
    if suffix == ".srt":
        return to_srt(cues)
    if suffix == ".vtt":
        return to_vtt(cues)
    if suffix == ".lrc":
        return to_lrc(cues, title, length_s)
    raise ValueError(f"no lyric file format for '{suffix}' (use {', '.join(FORMATS)})")


# ----------------------------------------------------------------------------- readers


def read_srt(text: str) -> list[Cue]:
    """The cues of SubRip text (no word times)."""
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        m = re.search(rf"{_HMS}\s*-->\s*{_HMS}", block)
        if m:
            g = m.groups()
            body = " ".join(ln.strip() for ln in block[m.end():].strip().splitlines())
            cues.append(Cue(_secs(*g[:4]), _secs(*g[4:]), body))
    return cues


def read_vtt(text: str) -> list[Cue]:
    """The cues of WebVTT text; words start at their timestamp tags (the first at the cue's start)."""
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        m = re.search(rf"{_HMS}\s*-->\s*{_HMS}", block)
        if not m:
            continue
        g = m.groups()
        start, end = _secs(*g[:4]), _secs(*g[4:])
        body = " ".join(ln.strip() for ln in block[m.end():].strip().splitlines())
        pieces = re.split(rf"<{_HMS}>", body)
        times = [start] + [_secs(*pieces[k:k + 4]) for k in range(1, len(pieces), 5)]
        texts = [html.unescape(re.sub(r"<[^>]*>", "", p)).strip() for p in pieces[::5]]
        words = [CueWord(t, 0.0, w) for t, w in zip(times, texts, strict=True) if w]
        cues.append(Cue(start, end, " ".join(w.text for w in words), _ends(words, end)))
    return cues


def read_lrc(text: str) -> list[Cue]:
    """The cues of (enhanced) LRC text: a line ends where the next line tag is (an empty one or another line)."""
    stamped: list[tuple[float, str]] = []
    for raw in text.splitlines():
        m = re.match(r"\s*\[(\d+):(\d{2})\.(\d{2,3})\](.*)$", raw)
        if m:
            stamped.append((_secs(None, m.group(1), m.group(2), m.group(3)), m.group(4).strip()))
    cues = []
    for i, (start, body) in enumerate(stamped):
        if not body:
            continue
        end = stamped[i + 1][0] if i + 1 < len(stamped) else start
        pieces = re.split(r"<(\d+):(\d{2})\.(\d{2,3})>", body)
        times = [_secs(None, *pieces[k:k + 3]) for k in range(1, len(pieces), 4)]
        texts = [p.strip() for p in pieces[::4]]
        if len(times) == 0:
            cues.append(Cue(start, end, texts[0]))
            continue
        words = [CueWord(t, 0.0, w) for t, w in zip(times, texts[1:], strict=True) if w]
        tail = times[-1] if not texts[-1] else end  # a closing tag gives the last word's end
        cues.append(Cue(start, end, " ".join(w.text for w in words), _ends(words, tail)))
    return cues


def _ends(words: list[CueWord], last_end: float) -> tuple[CueWord, ...]:
    """Words whose ends are the next word's start (the last one's ``last_end``)."""
    ends = [w.start_s for w in words[1:]] + [last_end]
    return tuple(CueWord(w.start_s, e, w.text) for w, e in zip(words, ends, strict=True))
