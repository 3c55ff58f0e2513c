"""Subtitle cues from the plan's lyric overlays: what every subtitle format writes.

A cue is one run of consecutive shots showing the same lyric line (``Shot.lyric``), so an edit to
an overlay in ``plan.json`` changes every output. Its words are the overlays' timed words on the
song's clock (a word a cut splits in two is joined again). The cue starts on the frame boundary at
or before its first word and ends on the frame boundary at or after its last word plus ``HOLD_S``,
never after the last shot showing the line; a line without timed words spans its shots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mvdirector.schemas import ShotPlan

HOLD_S = 0.5
"""How long a line stays up after its last word ends (at most until its shots end)."""
JOIN_GAP_S = 0.002
"""Two same-text words closer than this across a cut are one word the cut split."""


@dataclass(frozen=True)
class CueWord:
    """A timed word of a cue, in seconds on the song's clock."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Cue:
    """One lyric line on screen: its span, text and timed words (empty when the line has none)."""

    start_s: float
    end_s: float
    text: str
    words: tuple[CueWord, ...] = ()


def lyric_cues(plan: ShotPlan) -> list[Cue]:
    """The cues of a plan's lyric overlays, in time order, on its frame grid."""
    fps = plan.render.fps
    runs: list[tuple[str, float, float, list[CueWord]]] = []
    for shot in plan.shots:
        line = shot.lyric.line.strip() if shot.lyric is not None else ""
        if not line:
            continue
        words = [CueWord(shot.start_s + w.start_s, shot.start_s + w.end_s, w.text.strip())
                 for w in shot.lyric.words if w.text.strip()]
        if runs and runs[-1][0] == line and abs(runs[-1][2] - shot.start_s) < 0.5 / fps:
            text, start, _, got = runs[-1]
            runs[-1] = (text, start, shot.end_s, _join(got, words))
        else:
            runs.append((line, shot.start_s, shot.end_s, words))
    cues = []
    for text, start, end, words in runs:
        if words:
            a = max(start, math.floor(words[0].start_s * fps + 1e-6) / fps)
            b = min(end, math.ceil((words[-1].end_s + HOLD_S) * fps - 1e-6) / fps)
            a, b = (a, b) if b > a else (start, end)
        else:
            a, b = start, end
        cues.append(Cue(a, b, text, tuple(words)))
    return cues


def _join(before: list[CueWord], after: list[CueWord]) -> list[CueWord]:
    """The words of two shots of one line, a word split by the cut joined again."""
    if before and after and before[-1].text == after[0].text and abs(after[0].start_s - before[-1].end_s) < JOIN_GAP_S:
        return [*before[:-1], CueWord(before[-1].start_s, after[0].end_s, before[-1].text), *after[1:]]
    return [*before, *after]


def token_starts(cue: Cue) -> list[tuple[str, float | None]]:
    """The cue's line as (token, start of the word sung there or None), tokens in line order.

    Timed words are matched to the line's tokens by their letters (a word missing from the overlay,
    sung while another line was on screen, has no time).
    """
    from stages.render.captions import align_words

    tokens = cue.text.split()
    starts: list[float | None] = [None] * len(tokens)
    for index, start, _ in align_words(tokens, list(cue.words)):
        starts[index] = start
    return list(zip(tokens, starts, strict=True))
